/* The open conversation's header and the details beside it: who the visitor is, which
 * site, since when, in what state. Side panels (the lead card) add themselves to
 * #fd-side with addSidePanel and are told which conversation is open.
 */
import { t, has, $, el } from "./page.js";
import { fmtFull, parseDate } from "./dates.js";

const sidePanels = [];

// A side panel: { element, show(summary or null) }. Its element goes into #fd-side.
export function addSidePanel(panel) {
  sidePanels.push(panel);
  const side = $("fd-side");
  if (side && panel.element) side.appendChild(panel.element);
}

// A phone is shown as people write it (phone_display) and dialled as stored (E.164).
function setDetail(id, value, hrefPrefix, hrefValue) {
  const dd = $(id);
  if (!value) { dd.replaceChildren(el("span", "fd-muted", t("inbox.not_given"))); return; }
  if (hrefPrefix) {
    const a = el("a", null, value);
    const target = hrefValue || value;
    a.href = hrefPrefix + (hrefPrefix === "tel:" ? String(target).replace(/[^\d+]/g, "") : target);
    dd.replaceChildren(a);
  } else {
    dd.replaceChildren(document.createTextNode(value));
  }
}

export function renderDetails(inbox, s) {
  const details = $("fd-details");
  sidePanels.forEach((p) => p.show(s || null));
  if (!s) { $("fd-conv-title").textContent = ""; $("fd-conv-site").textContent = ""; details.hidden = true; return; }
  const v = s.visitor || {};
  $("fd-conv-title").textContent = inbox.visitorName(s);
  $("fd-conv-site").textContent = (s.site && s.site.name) || "";
  details.hidden = false;
  setDetail("fd-d-name", v.name);
  setDetail("fd-d-email", v.email, "mailto:");
  setDetail("fd-d-phone", v.phone_display || v.phone, "tel:", v.phone);
  setDetail("fd-d-site", s.site && s.site.name);
  const started = parseDate(s.created_at);
  setDetail("fd-d-started", started ? fmtFull.format(started) : null);
  setDetail("fd-d-status", s.status ? (has("status." + s.status) ? t("status." + s.status) : s.status) : null);
}
