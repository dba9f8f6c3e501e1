/* Frontdesk operator console.
 *
 * Plain JS, no framework, no innerHTML: everything a visitor or operator typed is set
 * with textContent, so it is shown as text and never run. The protocol it speaks is
 * docs/realtime.md ("Operator websocket"): fetch the summaries once, then follow the
 * stored events by event_id over /ws/console, resuming with after_event on reconnect
 * instead of fetching again.
 */
(function () {
  "use strict";

  var data = readData();
  var i18n = data.i18n || {};
  var lang = document.documentElement.lang || "en";

  function readData() {
    var node = document.getElementById("fd-console-data");
    if (!node) return {};
    try { return JSON.parse(node.textContent) || {}; } catch (e) { return {}; }
  }

  function has(key) { return Object.prototype.hasOwnProperty.call(i18n, key); }

  // Plural entries ({one, few, many, other}) are resolved by /widget/plural.js.
  function t(key, params) {
    return window.fdPlural.text(has(key) ? i18n[key] : key, lang, params);
  }

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  // crypto.randomUUID needs a secure context; a console on plain http in a LAN has none.
  function uuid() {
    if (window.crypto && crypto.randomUUID) {
      try { return crypto.randomUUID(); } catch (e) { /* fall through */ }
    }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ---- time -------------------------------------------------------------------

  // Dates are formatted with the CLDR patterns and names the server sends (server/locales.py
  // date_names): Chromium's Intl has no Kazakh and would print "M03 5".
  var dates = data.dates || null;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function formatPattern(pattern, d) {
    return pattern.replace(/'([^']*)'|y+|M+|L+|d+|E+|c+|H+|h+|m+|a+/g, function (tok, quoted) {
      if (quoted !== undefined) return quoted || "'";
      var n = tok.length, h = d.getHours();
      switch (tok.charAt(0)) {
        case "y": return n === 2 ? pad(d.getFullYear() % 100) : String(d.getFullYear());
        case "M": case "L":
          return n >= 3 ? dates.months[d.getMonth()] : n === 2 ? pad(d.getMonth() + 1) : String(d.getMonth() + 1);
        case "d": return n === 2 ? pad(d.getDate()) : String(d.getDate());
        case "E": case "c": return dates.weekdays[(d.getDay() + 6) % 7];
        case "H": return n === 2 ? pad(h) : String(h);
        case "h": return n === 2 ? pad(h % 12 || 12) : String(h % 12 || 12);
        case "m": return pad(d.getMinutes());
        case "a": return dates.am_pm[h < 12 ? 0 : 1];
      }
      return tok;
    });
  }

  function fmt(kind, options) {
    if (dates && dates.patterns && dates.patterns[kind]) {
      return { format: function (d) { return formatPattern(dates.patterns[kind], d); } };
    }
    try { return new Intl.DateTimeFormat(lang, options); } catch (e) { return new Intl.DateTimeFormat("en", options); }
  }
  var fmtTime = fmt("time", { hour: "numeric", minute: "2-digit" });
  var fmtDay = fmt("day", { day: "numeric", month: "short" });
  var fmtDate = fmt("date", { day: "numeric", month: "short", year: "numeric" });
  var fmtFull = fmt("full", { dateStyle: "medium", timeStyle: "short" });

  function parseDate(iso) {
    var d = iso ? new Date(iso) : null;
    return d && !isNaN(d.getTime()) ? d : null;
  }

  function shortTime(iso) {
    var d = parseDate(iso);
    if (!d) return "";
    var now = new Date();
    if (d.toDateString() === now.toDateString()) return fmtTime.format(d);
    return (d.getFullYear() === now.getFullYear() ? fmtDay : fmtDate).format(d);
  }

  function timeEl(iso, className) {
    var d = parseDate(iso);
    var node = el("time", className, d ? shortTime(iso) : "");
    if (d) { node.dateTime = d.toISOString(); node.title = fmtFull.format(d); }
    return node;
  }

  // ---- errors -----------------------------------------------------------------

  // The server's message is already in the operator's language; the catalog is the
  // fallback for frames that carry only a code.
  function errorText(err) {
    if (err && err.message) return err.message;
    var code = err && err.code;
    if (code && err.field && has("error." + code + "." + err.field)) return t("error." + code + "." + err.field);
    if (code && has("error." + code)) return t("error." + code);
    return t("error.generic");
  }

  // What a 401 means to the page: the inbox says the session ended and keeps the draft.
  var onSessionEnded = function () { location.assign("/console/login"); };

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (r.status === 401) onSessionEnded();
        if (!r.ok) {
          var err = (body && body.error) || { code: "error" };
          err.status = r.status;
          throw err;
        }
        return body;
      });
    });
  }

  // ---- inbox ------------------------------------------------------------------

  function Inbox() {
    this.operator = data.operator || null;
    this.convs = new Map();        // id -> summary
    this.items = new Map();        // id -> <li>
    this.lastEventId = 0;
    this.openId = null;
    this.seqs = new Set();         // seqs shown in the open thread
    this.clientEls = new Map();    // client id -> message element in the open thread
    this.pending = new Map();      // client id -> {id, conversation_id, body}: sent, not acked
    this.visitorTyping = new Map(); // conversation id -> timer
    this.readSent = {};            // conversation id -> last_seq we sent conversation.read for
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.loadToken = 0;
    this.loaded = false;
    this.typingConv = null;
    this.typingSentAt = 0;
    this.typingStopTimer = null;
    this.expired = false;          // the session ended: no reconnects until the operator logs in again

    this.main = $("fd-main");
    this.announcer = $("fd-announce");
    // The width at which the CSS shows the list and the conversation one at a time.
    this.narrow = window.matchMedia("(max-width: 640px)");
    this.list = $("fd-conv-list");
    this.listStatus = $("fd-list-status");
    this.conn = $("fd-conn");
    this.thread = $("fd-thread");
    this.typing = $("fd-typing");
    this.reply = $("fd-reply");
    this.composerError = $("fd-composer-error");
    this.baseTitle = t("title.page", { page: t("inbox.title") });
  }

  Inbox.prototype.start = function () {
    var self = this;
    onSessionEnded = function () { self.sessionEnded(); };
    this.restoreDraft();
    window.addEventListener("pagehide", function () { if (self.expired) self.saveDraft(); });
    $("fd-composer").addEventListener("submit", function (e) { e.preventDefault(); self.sendReply(); });
    this.reply.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.isComposing) {
        e.preventDefault();
        self.sendReply();
      }
    });
    this.reply.addEventListener("input", function () {
      if (self.expired) { self.saveDraft(); return; }
      self.onTypingInput();
    });
    window.addEventListener("hashchange", function () { self.openFromHash(); });
    window.addEventListener("popstate", function () { self.openFromHash(); });
    $("fd-back").addEventListener("click", function () { self.back(); });
    $("fd-conv").addEventListener("keydown", function (e) {
      if (e.key === "Escape" && self.narrow.matches && !e.defaultPrevented) { e.preventDefault(); self.back(); }
    });
    this.list.addEventListener("keydown", function (e) { self.onListKey(e); });
    document.addEventListener("visibilitychange", function () { self.maybeMarkRead(); });
    window.addEventListener("online", function () { if (self.loaded && !self.ws && !self.expired) self.connect(); });

    getJSON("/api/console/v1/conversations").then(function (body) {
      (body.conversations || []).forEach(function (s) { self.convs.set(s.id, s); });
      self.lastEventId = body.last_event_id || 0;
      self.loaded = true;
      self.renderList();
      self.openFromHash();
      self.connect();
    }).catch(function (err) {
      self.listStatus.textContent = err && err.status ? errorText(err) : t("inbox.load_failed");
      self.listStatus.hidden = false;
    });
  };

  // --- list

  Inbox.prototype.visitorName = function (s) {
    var v = (s && s.visitor) || {};
    return v.name || t("inbox.visitor_fallback", { id: String(v.id || "").replace(/-/g, "").slice(0, 4) });
  };

  function sortKey(s) { return Date.parse(s.last_message_at || s.created_at) || 0; }

  Inbox.prototype.renderList = function () {
    var self = this;
    var all = Array.from(this.convs.values()).sort(function (a, b) { return sortKey(b) - sortKey(a); });
    this.listStatus.hidden = all.length > 0;
    if (!all.length) this.listStatus.textContent = t("inbox.empty_list");
    var focused = document.activeElement;
    var focusedId = focused && focused.dataset ? focused.dataset.convId : null;
    all.forEach(function (s, i) {
      var li = self.items.get(s.id);
      if (!li) { li = el("li"); self.items.set(s.id, li); }
      self.fillItem(li, s);
      if (self.list.children[i] !== li) self.list.insertBefore(li, self.list.children[i] || null);
    });
    if (focusedId && document.activeElement !== focused) {
      var again = this.items.get(focusedId);
      if (again) again.firstChild.focus();
    }
    this.updateTitle();
  };

  Inbox.prototype.fillItem = function (li, s) {
    var self = this;
    var button = el("button", "fd-conv-item");
    button.type = "button";
    button.dataset.convId = s.id;
    if (s.id === this.openId) button.setAttribute("aria-current", "true");
    var top = el("span", "fd-conv-top");
    top.appendChild(el("span", "fd-conv-name", this.visitorName(s)));
    top.appendChild(timeEl(s.last_message_at || s.created_at, "fd-conv-time"));
    button.appendChild(top);
    button.appendChild(el("span", "fd-conv-site", (s.site && s.site.name) || ""));
    var bottom = el("span", "fd-conv-bottom");
    if (this.visitorTyping.has(s.id)) {
      bottom.appendChild(el("span", "fd-conv-preview fd-conv-typing", t("inbox.typing_short")));
    } else {
      bottom.appendChild(el("span", "fd-conv-preview", s.last_message_preview || t("inbox.no_messages")));
    }
    if (s.unread_count > 0) {
      var badge = el("span", "fd-badge");
      badge.appendChild(el("span", null, String(s.unread_count))).setAttribute("aria-hidden", "true");
      badge.appendChild(el("span", "fd-sr", t("inbox.unread", { count: s.unread_count })));
      bottom.appendChild(badge);
      button.classList.add("fd-unread");
    }
    button.appendChild(bottom);
    button.addEventListener("click", function (e) {
      self.open(s.id, true);
      // A tap on a phone should not raise the on-screen keyboard over the thread the
      // operator came to read; Enter from the keyboard (detail 0) goes straight to the reply.
      if (self.narrow.matches && e.detail > 0) self.thread.focus({ preventScroll: true });
      else self.reply.focus();
    });
    var old = li.firstChild;
    var hadFocus = old && old === document.activeElement;
    li.replaceChildren(button);
    if (hadFocus) button.focus();
  };

  // Arrow keys, Home and End move between conversations, as in any list of choices;
  // Tab leaves the list.
  Inbox.prototype.onListKey = function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    var buttons = Array.prototype.slice.call(this.list.querySelectorAll(".fd-conv-item"));
    var i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    var to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: buttons.length - 1 }[e.key];
    if (to == null) return;
    e.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, to))].focus();
  };

  Inbox.prototype.updateTitle = function () {
    var total = 0;
    this.convs.forEach(function (s) { total += s.unread_count > 0 ? s.unread_count : 0; });
    document.title = total ? t("title.unread", { count: total, title: this.baseTitle }) : this.baseTitle;
  };

  Inbox.prototype.putSummary = function (s) {
    if (!s || !s.id) return;
    this.convs.set(s.id, s);
    this.renderList();
    if (s.id === this.openId) { this.renderHeader(); this.maybeMarkRead(); }
  };

  // --- the open conversation

  Inbox.prototype.openFromHash = function () {
    var m = /^#c=(.+)$/.exec(location.hash);
    if (m) {
      var id = decodeURIComponent(m[1]);
      if (id !== this.openId) this.open(id);
    } else if (!location.hash && this.openId) {
      this.close();   // back to the bare inbox URL; other fragments (the skip link's) are not ours
    }
  };

  // Phones show the list or the conversation (CSS, by data-view); wider screens both.
  Inbox.prototype.setView = function (view) { this.main.dataset.view = view; };

  // Opening from the list adds a history entry, so a phone's own back gesture returns to
  // the list; moving between conversations replaces it.
  Inbox.prototype.open = function (id, fromList) {
    var self = this;
    if (id === this.openId) { this.setView("conversation"); return; }
    var wasOpen = this.openId;
    this.stopTyping();
    this.openId = id;
    this.seqs = new Set();
    this.clientEls = new Map();
    this.thread.replaceChildren();
    this.thread.setAttribute("aria-busy", "true");
    this.showVisitorTyping(this.visitorTyping.has(id));
    this.showError(null);
    var hash = "#c=" + encodeURIComponent(id);
    if (location.hash !== hash) {
      if (fromList && !wasOpen) history.pushState({ fdOpened: true }, "", hash);
      else history.replaceState(history.state, "", hash);
    }
    $("fd-conv-empty").hidden = true;
    $("fd-conv").hidden = false;
    this.setView("conversation");
    this.renderHeader();
    this.renderList();
    var token = ++this.loadToken;
    getJSON("/api/console/v1/conversations/" + encodeURIComponent(id) + "/messages").then(function (body) {
      if (token !== self.loadToken) return;
      (body.messages || []).forEach(function (m) { self.upsertMessage(m); });
      self.pending.forEach(function (p) {
        if (p.conversation_id === id) self.upsertMessage(self.pendingMessage(p), "sending");
      });
      self.thread.removeAttribute("aria-busy");
      self.scrollToEnd(true);
      self.maybeMarkRead();
    }).catch(function (err) {
      if (token !== self.loadToken) return;
      self.thread.removeAttribute("aria-busy");
      self.showError(errorText(err));
    });
  };

  // The back button: undo our own history entry if there is one (popstate then closes),
  // so Back and the browser's back never disagree.
  Inbox.prototype.back = function () {
    if (history.state && history.state.fdOpened) { history.back(); return; }
    history.replaceState(null, "", location.pathname + location.search);
    this.close();
  };

  Inbox.prototype.close = function () {
    var id = this.openId;
    if (!id) return;
    this.stopTyping();
    this.openId = null;
    this.loadToken++;
    this.seqs = new Set();
    this.clientEls = new Map();
    this.thread.replaceChildren();
    this.thread.removeAttribute("aria-busy");
    this.showVisitorTyping(false);
    this.showError(null);
    $("fd-conv").hidden = true;
    $("fd-conv-empty").hidden = false;
    this.setView("list");
    this.renderList();
    var li = this.items.get(id);
    if (li && li.firstChild) li.firstChild.focus();
  };

  Inbox.prototype.renderHeader = function () {
    var s = this.convs.get(this.openId);
    var details = $("fd-details");
    if (!s) { $("fd-conv-title").textContent = ""; $("fd-conv-site").textContent = ""; details.hidden = true; return; }
    var v = s.visitor || {};
    $("fd-conv-title").textContent = this.visitorName(s);
    $("fd-conv-site").textContent = (s.site && s.site.name) || "";
    details.hidden = false;
    setDetail("fd-d-name", v.name);
    setDetail("fd-d-email", v.email, "mailto:");
    setDetail("fd-d-phone", v.phone_display || v.phone, "tel:", v.phone);
    setDetail("fd-d-site", s.site && s.site.name);
    var started = parseDate(s.created_at);
    setDetail("fd-d-started", started ? fmtFull.format(started) : null);
    setDetail("fd-d-status", s.status ? (has("status." + s.status) ? t("status." + s.status) : s.status) : null);
  };

  // A phone is shown as people write it (phone_display) and dialled as stored (E.164).
  function setDetail(id, value, hrefPrefix, hrefValue) {
    var dd = $(id);
    if (!value) { dd.replaceChildren(el("span", "fd-muted", t("inbox.not_given"))); return; }
    if (hrefPrefix) {
      var a = el("a", null, value);
      var target = hrefValue || value;
      a.href = hrefPrefix + (hrefPrefix === "tel:" ? String(target).replace(/[^\d+]/g, "") : target);
      dd.replaceChildren(a);
    } else {
      dd.replaceChildren(document.createTextNode(value));
    }
  }

  Inbox.prototype.pendingMessage = function (p) {
    return { client_id: p.id, body: p.body, created_at: null,
             author: { kind: "operator", name: this.operator ? this.operator.name : "" } };
  };

  // One element per message; confirmed messages (with a seq) sit in seq order, unacked
  // ones after them. A seq already shown is ignored, so replays and races are harmless.
  Inbox.prototype.upsertMessage = function (m, state) {
    if (m.seq != null && this.seqs.has(m.seq)) return;
    var node = m.client_id ? this.clientEls.get(m.client_id) : null;
    if (node && node.dataset.seq) return;
    var nearEnd = this.isNearEnd();
    if (!node) {
      node = this.buildMessage(m);
      if (m.client_id) this.clientEls.set(m.client_id, node);
    }
    if (m.seq != null) {
      this.seqs.add(m.seq);
      node.dataset.seq = String(m.seq);
      node.classList.remove("fd-msg-pending", "fd-msg-failed");
      node.querySelector(".fd-msg-state").textContent = "";
      node.querySelector("time").replaceWith(timeEl(m.created_at));
      var before = null;
      for (var c = this.thread.firstElementChild; c; c = c.nextElementSibling) {
        if (c === node) continue;
        if (!c.dataset.seq || Number(c.dataset.seq) > m.seq) { before = c; break; }
      }
      if (node.nextElementSibling !== before || node.parentNode !== this.thread) this.thread.insertBefore(node, before);
    } else {
      node.classList.toggle("fd-msg-pending", state === "sending");
      node.classList.toggle("fd-msg-failed", state === "failed");
      node.querySelector(".fd-msg-state").textContent = state === "failed" ? t("inbox.not_sent") : t("inbox.sending");
      if (!node.parentNode) this.thread.appendChild(node);
    }
    this.scrollToEnd(nearEnd || (m.author && m.author.kind === "operator" && !m.seq));
  };

  Inbox.prototype.buildMessage = function (m) {
    var kind = m.author && m.author.kind === "operator" ? "operator" : "visitor";
    var node = el("div", "fd-msg fd-msg-" + kind);
    var meta = el("div", "fd-msg-meta");
    // A visitor may give their name mid-conversation: show the name known now.
    var s = this.convs.get(this.openId);
    var name = kind === "visitor" ? (s && s.visitor && s.visitor.name) || (m.author && m.author.name) || this.visitorName(s)
                                  : (m.author && m.author.name) || "";
    meta.appendChild(el("span", "fd-msg-author", name));
    meta.appendChild(timeEl(m.created_at));
    node.appendChild(meta);
    node.appendChild(el("p", "fd-msg-body", m.body));
    node.appendChild(el("span", "fd-msg-state"));
    return node;
  };

  Inbox.prototype.isNearEnd = function () {
    var th = this.thread;
    return th.scrollHeight - th.scrollTop - th.clientHeight < 80;
  };

  Inbox.prototype.scrollToEnd = function (force) {
    if (force) this.thread.scrollTop = this.thread.scrollHeight;
  };

  Inbox.prototype.maybeMarkRead = function () {
    var s = this.convs.get(this.openId);
    if (!s || !this.ready || document.visibilityState !== "visible" || !(s.unread_count > 0)) return;
    if (this.readSent[s.id] === s.last_seq) return;
    this.readSent[s.id] = s.last_seq;
    this.send({ type: "conversation.read", conversation_id: s.id });
  };

  // --- composer

  Inbox.prototype.showError = function (text) {
    this.composerError.textContent = text || "";
    this.composerError.hidden = !text;
  };

  Inbox.prototype.sendReply = function () {
    if (!this.openId) return;
    if (this.expired) { this.saveDraft(); this.showError(t("error.unauthorized")); return; }
    var body = this.reply.value.trim();
    if (!body) { this.showError(t("error.invalid.body")); return; }
    if (body.length > 5000) { this.showError(t("error.too_large.body", { max: 5000 })); return; }
    this.showError(null);
    var p = { id: uuid(), conversation_id: this.openId, body: body };
    this.pending.set(p.id, p);
    this.upsertMessage(this.pendingMessage(p), "sending");
    this.scrollToEnd(true);
    this.reply.value = "";
    this.stopTyping();
    this.send({ type: "message.send", id: p.id, conversation_id: p.conversation_id, body: p.body });
  };

  Inbox.prototype.onTypingInput = function () {
    var self = this;
    if (!this.openId) return;
    this.showError(null);
    var now = Date.now();
    if (this.typingConv !== this.openId || now - this.typingSentAt >= 2000) {
      if (this.typingConv && this.typingConv !== this.openId) this.stopTyping();
      this.typingConv = this.openId;
      this.typingSentAt = now;
      this.send({ type: "typing", conversation_id: this.openId, typing: true });
    }
    clearTimeout(this.typingStopTimer);
    this.typingStopTimer = setTimeout(function () { self.stopTyping(); }, 3000);
  };

  Inbox.prototype.stopTyping = function () {
    clearTimeout(this.typingStopTimer);
    this.typingStopTimer = null;
    if (this.typingConv) this.send({ type: "typing", conversation_id: this.typingConv, typing: false });
    this.typingConv = null;
    this.typingSentAt = 0;
  };

  Inbox.prototype.setVisitorTyping = function (convId, on) {
    var self = this;
    clearTimeout(this.visitorTyping.get(convId));
    var was = this.visitorTyping.has(convId);
    if (on) {
      this.visitorTyping.set(convId, setTimeout(function () { self.setVisitorTyping(convId, false); }, 5000));
    } else {
      this.visitorTyping.delete(convId);
    }
    if (convId === this.openId) this.showVisitorTyping(on);
    if (was !== on && this.items.has(convId)) this.fillItem(this.items.get(convId), this.convs.get(convId));
  };

  Inbox.prototype.showVisitorTyping = function (on) { this.typing.hidden = !on; };

  // --- socket

  Inbox.prototype.setConn = function (state) {
    this.conn.dataset.state = state;
    if (state === "expired") {
      var link = el("a", null, t("conn.login"));
      link.href = "/console/login";
      this.conn.replaceChildren(document.createTextNode(t("conn.expired") + " "), link);
    } else {
      this.conn.textContent = t("conn." + state);
    }
  };

  Inbox.prototype.send = function (frame) {
    if (!this.ready) return false;
    try { this.ws.send(JSON.stringify(frame)); return true; } catch (e) { return false; }
  };

  Inbox.prototype.connect = function () {
    var self = this;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.expired) return;
    this.setConn(this.attempt ? "reconnecting" : "connecting");
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/console");
    var opened = false;
    this.ws = ws;
    ws.onopen = function () {
      opened = true;
      ws.send(JSON.stringify({ type: "hello", after_event: self.lastEventId }));
    };
    ws.onmessage = function (e) {
      var frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      if (frame && typeof frame === "object") self.onFrame(frame);
    };
    ws.onclose = function (e) {
      if (self.ws !== ws) return;
      self.ws = null;
      self.ready = false;
      clearInterval(self.pingTimer);
      if (e.code === 4401 || e.code === 4403) { self.sessionEnded(); return; }
      // A refused upgrade (an ended session) looks like a network error from here: ask.
      if (!opened) { self.checkSession(function () { self.scheduleReconnect(); }); return; }
      self.scheduleReconnect();
    };
  };

  // Calls `alive` unless the server says the session has ended (401).
  Inbox.prototype.checkSession = function (alive) {
    var self = this;
    fetch("/api/console/v1/conversations", { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) self.sessionEnded(); else alive();
    }, function () { alive(); });
  };

  // The session ended (logged out elsewhere, password or role changed, deactivated):
  // stop, say so where everyone sees and hears it, offer to log in again, and keep what
  // the operator was writing (restored after the login, in this tab).
  Inbox.prototype.sessionEnded = function () {
    if (this.expired) return;
    this.expired = true;
    this.ready = false;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    var ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(); } catch (e) { /* already closed */ } }
    this.setConn("expired");
    $("fd-session-ended").hidden = false;
    this.saveDraft();
  };

  var DRAFT_KEY = "fd-console-draft";

  Inbox.prototype.saveDraft = function () {
    var pending = [];
    this.pending.forEach(function (p) { pending.push(p); });
    var draft = { conversation_id: this.openId, body: this.reply.value, pending: pending };
    try { sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft)); } catch (e) { /* storage off: nothing to do */ }
  };

  // After logging in again: reopen the conversation, put the reply back, and queue the
  // messages that were sent but not acknowledged (re-sent with their ids: never doubled).
  Inbox.prototype.restoreDraft = function () {
    var self = this;
    var draft = null;
    try {
      draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
      sessionStorage.removeItem(DRAFT_KEY);
    } catch (e) { draft = null; }
    if (!draft || typeof draft !== "object") return;
    (Array.isArray(draft.pending) ? draft.pending : []).forEach(function (p) {
      if (p && typeof p.id === "string" && typeof p.conversation_id === "string" && typeof p.body === "string") {
        self.pending.set(p.id, { id: p.id, conversation_id: p.conversation_id, body: p.body });
      }
    });
    if (typeof draft.conversation_id === "string" && draft.conversation_id && !/^#c=/.test(location.hash)) {
      history.replaceState(null, "", "#c=" + encodeURIComponent(draft.conversation_id));
    }
    if (typeof draft.body === "string" && draft.body) this.reply.value = draft.body;
  };

  // Exponential back-off with jitter, so a restarted server is not hit by every
  // console at the same instant. After a few failures, ask whether the session is still
  // valid: a refused upgrade looks the same as a network error from here.
  Inbox.prototype.scheduleReconnect = function () {
    var self = this;
    this.attempt += 1;
    this.setConn("reconnecting");
    var delay = Math.min(30000, 500 * Math.pow(2, this.attempt)) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(function () {
      if (self.attempt < 3) { self.connect(); return; }
      self.checkSession(function () { self.connect(); });
    }, delay);
  };

  Inbox.prototype.onFrame = function (f) {
    var self = this;
    switch (f.type) {
      case "welcome":
        this.ready = true;
        this.attempt = 0;
        if (f.operator) this.operator = f.operator;
        this.setConn("connected");
        this.readSent = {};
        this.pending.forEach(function (p) {
          self.send({ type: "message.send", id: p.id, conversation_id: p.conversation_id, body: p.body });
        });
        this.maybeMarkRead();
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(function () { self.send({ type: "ping" }); }, 25000);
        return;
      case "ack":
        return this.onAck(f);
      case "error":
        if (f.code === "unauthorized" && !f.id) return this.sessionEnded();
        return this.onError(f);
      case "typing":
        return this.setVisitorTyping(f.conversation_id, !!f.typing);
      case "pong":
        return;
    }
    if (typeof f.event_id !== "number") return;
    if (f.event_id <= this.lastEventId) return;   // already applied: replays are idempotent
    this.lastEventId = f.event_id;
    // Other screens' modules (callbacks.js: callback reminders) hear the same events.
    document.dispatchEvent(new CustomEvent("frontdesk:event", { detail: f }));
    if (f.type === "conversation.created" || f.type === "conversation.updated") {
      this.putSummary(f.conversation);
    } else if (f.type === "message.created") {
      this.onMessage(f);
    }
  };

  Inbox.prototype.onMessage = function (f) {
    var m = f.message || {};
    var isVisitor = m.author && m.author.kind === "visitor";
    if (isVisitor) this.setVisitorTyping(f.conversation_id, false);
    this.putSummary(f.conversation);
    if (f.conversation_id === this.openId) this.upsertMessage(m);
    if (isVisitor) this.announce(t("inbox.announce", { name: this.visitorName(f.conversation), text: String(m.body || "").slice(0, 200) }));
    if (isVisitor && document.visibilityState === "hidden") this.notify(f.conversation, m);
  };

  // Screen readers read the polite live region when the operator is not busy.
  Inbox.prototype.announce = function (text) { this.announcer.textContent = text; };

  Inbox.prototype.onAck = function (f) {
    var p = this.pending.get(f.id);
    if (!p) return;
    this.pending.delete(f.id);
    if (p.conversation_id !== this.openId) return;
    var m = this.pendingMessage(p);
    m.seq = f.seq;
    m.created_at = f.created_at;
    this.upsertMessage(m);
  };

  Inbox.prototype.onError = function (f) {
    var p = f.id ? this.pending.get(f.id) : null;
    if (p) {
      // Re-sending a refused message cannot help: drop it from the outbox, mark it.
      this.pending.delete(f.id);
      if (p.conversation_id === this.openId) this.upsertMessage(this.pendingMessage(p), "failed");
    }
    this.showError(errorText(f));
  };

  Inbox.prototype.notify = function (s, m) {
    if (!("Notification" in window) || Notification.permission !== "granted" || !s) return;
    var at = parseDate(m.created_at);
    if (at && Date.now() - at.getTime() > 120000) return;   // an old message in a replay
    var self = this;
    try {
      var n = new Notification(t("notify.title", { name: this.visitorName(s) }),
                               { body: String(m.body || "").slice(0, 140), tag: s.id });
      n.onclick = function () { window.focus(); self.open(s.id); n.close(); };
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  };

  // ---- sites ------------------------------------------------------------------

  function setupCopyButtons() {
    document.querySelectorAll(".fd-copy").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.getElementById(button.dataset.copyTarget);
        var status = button.parentNode.querySelector(".fd-copy-status");
        if (!target) return;
        var done = function (ok) {
          if (status) status.textContent = ok ? button.dataset.copied || t("sites.copied") : button.dataset.failed || t("sites.copy_failed");
          if (!ok) {
            var range = document.createRange();
            range.selectNodeContents(target);
            var sel = window.getSelection();
            sel.removeAllRanges();
            sel.addRange(range);
          }
        };
        if (!navigator.clipboard || !navigator.clipboard.writeText) { done(false); return; }
        navigator.clipboard.writeText(target.textContent).then(function () { done(true); }, function () { done(false); });
      });
    });
  }

  // ---- language menu ----------------------------------------------------------

  // Come back to the same conversation after the page reloads in the new language.
  function keepPlaceOnLanguageChange() {
    var form = document.querySelector("form.fd-langs");
    if (!form) return;
    form.addEventListener("submit", function () {
      if (location.pathname.indexOf("/console") === 0) form.elements.next.value = location.pathname + location.hash;
    });
  }

  // ---- start ------------------------------------------------------------------

  // Ask for notification permission on the operator's first click, never on load
  // (browsers ignore or penalise unprompted requests).
  function askNotificationsOnFirstClick() {
    if (!("Notification" in window) || Notification.permission !== "default") return;
    document.addEventListener("click", function () {
      try { Notification.requestPermission(); } catch (e) { /* old Safari: callback form */ }
    }, { once: true });
  }

  function start() {
    if ($("fd-conv-list")) {
      askNotificationsOnFirstClick();
      new Inbox().start();
    }
    setupCopyButtons();
    keepPlaceOnLanguageChange();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
