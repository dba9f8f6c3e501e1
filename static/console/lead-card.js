/* Frontdesk console: the lead card beside a conversation (docs/leads.md).
 *
 * Everything known about the person behind the open conversation's visitor: contact,
 * verified user, addresses and place, browser/OS/device, language, time zone and local
 * time, current page (live), pages seen (by visit), referrer and UTM tags, visits, first/last seen, and
 * every conversation of theirs (one click opens it: #c=<id>, which the inbox follows).
 * Fed by GET /api/console/v1/visitors/{id}/lead and kept live by the lead.* events the
 * inbox's socket hands over. Every value came from a visitor or their browser: textContent only.
 *
 * A side panel of details.js (addSidePanel: told which conversation is open); inbox.js
 * hands it the lead.* events (leadEvent).
 */
import { t, el } from "./page.js";
import { fmtFull, parseDate } from "./dates.js";
import { addSidePanel } from "./details.js";
import { pipelinePanel } from "./lead-pipeline.js";

var h = { t: t, formatDate: function (iso) { var d = parseDate(iso); return d ? fmtFull.format(d) : ""; } };
var shown = null;      // {visitorId, conversationId, card}
var root = el("div", "fd-lead-card");
root.id = "fd-lead-card";
var refetchTimer = 0, clockTimer = 0;

function show(visitorId, conversationId) {
  if (!visitorId) { shown = null; clearInterval(clockTimer); root.replaceChildren(); pipelinePanel.show(null); return; }
  if (shown && shown.visitorId === visitorId) { shown.conversationId = conversationId; render(); return; }
  shown = { visitorId: visitorId, conversationId: conversationId, card: null };
  root.replaceChildren();
  fetchCard();
}

function fetchCard() {
  var asked = shown;
  if (!asked) return;
  fetch("/api/console/v1/visitors/" + encodeURIComponent(asked.visitorId) + "/lead", {
    credentials: "same-origin", headers: { Accept: "application/json" }
  }).then(function (r) { return r.ok ? r.json() : null; }).then(function (card) {
    if (shown !== asked) return;
    asked.card = card;
    render();
  }, function () { /* the next lead event tries again */ });
}

// A lead.* event: the shown lead changed (a page view: the current page moves live), was
// merged, or a lead we have not seen yet appeared (the visitor registered meanwhile).
function event(f) {
  pipelinePanel.event(f);  // status, owner, tags, notes: changed by any operator, shown at once
  if (!shown) return;
  var lead = shown.card && shown.card.lead;
  var mine = lead && f.lead && (f.lead.id === lead.id || (f.merged && f.merged.id === lead.id));
  if (f.type === "lead.updated" && mine && f.lead.id === lead.id) {
    shown.card.lead = Object.assign({}, f.lead, { phone_display: lead.phone === f.lead.phone ? lead.phone_display : null });
    if (f.page) shown.card.pages = shown.card.pages.concat([f.page]).slice(-100);
    if (f.lead.phone !== lead.phone || (f.changed || []).indexOf("ip") >= 0) refetch();
    render();
  } else if (mine || !lead) {
    refetch();
  }
}

function refetch() {
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(fetchCard, 300);
}

function row(list, label, value, href) {
  if (value == null || value === "") return;
  var div = el("div");
  div.appendChild(el("dt", null, label));
  var dd = el("dd");
  if (href) { var a = el("a", null, value); a.href = href; dd.appendChild(a); }
  else if (value.nodeType) dd.appendChild(value);
  else dd.textContent = value;
  div.appendChild(dd);
  list.appendChild(div);
}

// Only http(s) pages become links (the server accepts no other URL; this holds anyway).
function pageLink(url, title) {
  var a = el("a", "fd-lead-page", title || url);
  if (/^https?:\/\//i.test(url)) { a.href = url; a.target = "_blank"; a.rel = "noopener noreferrer"; }
  a.title = url;
  return a;
}

function countryName(code) {
  if (!code) return "";
  try {
    var name = new Intl.DisplayNames([document.documentElement.lang || "en", "en"], { type: "region" }).of(code);
    return name && name !== code ? name + " (" + code + ")" : code;
  } catch (e) { return code; }
}

function localTime(zone) {
  try {
    return new Date().toLocaleTimeString("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  } catch (e) { return ""; }
}

// Pages split into visits as the server counts them: a new one after 30 idle minutes
// (services/leads.py VISIT_GAP), or on another of the person's browsers.
var VISIT_GAP_MS = 30 * 60 * 1000;

function byVisit(pages) {
  var visits = [];
  pages.forEach(function (p, i) {
    var before = pages[i - 1], at = parseDate(p.at), last = before && parseDate(before.at);
    var fresh = !before || p.visitor_id !== before.visitor_id || (at && last && at - last > VISIT_GAP_MS);
    if (fresh) visits.push([p]);
    else visits[visits.length - 1].push(p);
  });
  return visits;
}

function render() {
  clearInterval(clockTimer);
  if (!root || !shown) return;
  var card = shown.card;
  if (!card) { root.replaceChildren(); pipelinePanel.show(null); return; }
  var t = h.t, lead = card.lead;
  // The pipeline first: built once and kept (lead-pipeline.js), not redrawn with the card.
  pipelinePanel.show(lead.id);
  if (pipelinePanel.element.parentNode !== root) root.insertBefore(pipelinePanel.element, root.firstChild);
  // A <details>: open beside the conversation on wide screens, one tap away on a phone.
  var box = el("details", "fd-lead-box");
  var old = root.querySelector(":scope > details.fd-lead-box");
  if (old) box.open = old.open;
  else box.open = window.matchMedia("(min-width: 1101px)").matches;
  var parts = [el("summary", "fd-lead-summary", t("card.title"))];

  var earlier = card.conversations.filter(function (c) { return c.id !== shown.conversationId; });
  if (earlier.length) {
    parts.push(el("p", "fd-lead-returning", t("card.returning", { count: earlier.length, date: h.formatDate(lead.first_seen_at) })));
  }

  var dl = el("dl", "fd-details fd-lead-details");
  row(dl, t("card.user_id"), lead.user_id);
  if (card.visitor_ids.length > 1) {  // one person on several browsers: what the others gave too
    row(dl, t("inbox.field.email"), lead.email, lead.email ? "mailto:" + lead.email : null);
    row(dl, t("inbox.field.phone"), lead.phone_display || lead.phone, lead.phone ? "tel:" + lead.phone.replace(/[^\d+]/g, "") : null);
  }
  row(dl, t("card.ip"), lead.ip);
  row(dl, t("card.place"), [lead.city, lead.region, countryName(lead.country)].filter(Boolean).join(", "));
  row(dl, t("card.browser"), lead.browser);
  row(dl, t("card.os"), lead.os);
  row(dl, t("card.device"), lead.device ? t("card.device." + lead.device) : null);
  row(dl, t("card.language"), lead.language);
  if (lead.timezone) {
    row(dl, t("card.timezone"), lead.timezone);
    var clock = el("span", "fd-lead-clock", localTime(lead.timezone));
    row(dl, t("card.local_time"), clock);
    clockTimer = setInterval(function () { clock.textContent = localTime(lead.timezone); }, 30000);
  }
  if (lead.current_url) row(dl, t("card.current_page"), pageLink(lead.current_url, lead.current_title));
  row(dl, t("card.referrer"), lead.referrer);
  var utm = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].filter(function (k) { return lead[k]; })
    .map(function (k) { return k.slice(4) + ": " + lead[k]; }).join(" · ");
  row(dl, t("card.utm"), utm);
  row(dl, t("card.visits"), String(lead.visits));
  row(dl, t("card.first_seen"), h.formatDate(lead.first_seen_at));
  row(dl, t("card.last_seen"), h.formatDate(lead.last_seen_at));
  parts.push(dl);

  if (card.pages.length) {
    parts.push(el("h4", null, t("card.pages")));
    var visits = byVisit(card.pages.slice(-20));
    visits.forEach(function (visit) {
      // Headed by when it began once there are several (another day, another device).
      if (visits.length > 1) parts.push(el("p", "fd-lead-visit fd-muted", t("card.visit", { date: h.formatDate(visit[0].at) })));
      var pages = el("ol", "fd-lead-pages");
      visit.forEach(function (p) {
        var li = el("li");
        li.appendChild(pageLink(p.url, p.title));
        pages.appendChild(li);
      });
      parts.push(pages);
    });
  }
  if (card.addresses.length > 1) {
    parts.push(el("h4", null, t("card.addresses")));
    var ips = el("ul", "fd-lead-addresses");
    card.addresses.forEach(function (a) { ips.appendChild(el("li", null, a.ip + (a.country ? " (" + a.country + ")" : ""))); });
    parts.push(ips);
  }
  if (card.conversations.length > 1) {
    parts.push(el("h4", null, t("card.conversations")));
    var convs = el("ul", "fd-lead-conversations");
    card.conversations.forEach(function (c) {
      var li = el("li");
      if (c.id === shown.conversationId) {
        li.textContent = h.formatDate(c.created_at) + " (" + t("card.this_conversation") + ")";
      } else {
        var a = el("a", null, t("card.open", { date: h.formatDate(c.created_at) }));
        a.href = "#c=" + encodeURIComponent(c.id);
        li.appendChild(a);
        if (c.last_message_preview) li.appendChild(el("div", "fd-muted", c.last_message_preview));
      }
      convs.appendChild(li);
    });
    parts.push(convs);
  }
  parts.forEach(function (p) { box.appendChild(p); });
  if (old) root.replaceChild(box, old); else root.appendChild(box);
}

addSidePanel({ element: root, show: function (s) { show(s && s.visitor ? s.visitor.id : null, s ? s.id : null); } });

export { event as leadEvent };
