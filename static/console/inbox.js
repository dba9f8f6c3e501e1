/* The inbox page: the controller that owns what is known (conversation summaries, the
 * last event applied, which conversation is open) and wires the parts together: the list
 * (list.js), the thread (thread.js), the reply box (composer.js), the details and side
 * panels (details.js), and the socket (socket.js).
 *
 * The protocol is docs/realtime.md ("Operator websocket"): fetch the summaries once, then
 * follow the stored events by event_id over /ws/console, resuming with after_event on
 * reconnect instead of fetching again.
 */
import { data, t, $, errorText } from "./page.js";
import { getJSON, setSessionEndedHandler } from "./http.js";
import { ConsoleSocket } from "./socket.js";
import { ConversationList } from "./list.js";
import { Thread } from "./thread.js";
import { Composer } from "./composer.js";
import { renderDetails } from "./details.js";
import { Filters } from "./filters.js";
import { ConversationActions } from "./actions.js";
import { CannedAnswers } from "./canned.js";
import { CannedManager } from "./canned-manager.js";
import { Notifier, notificationTitle } from "./notify.js";
import { leadEvent } from "./lead-card.js";

export class Inbox {
  constructor() {
    this.operator = data.operator || null;
    this.convs = new Map();        // id -> summary
    this.lastEventId = 0;
    this.openId = null;
    this.visitorTyping = new Map(); // conversation id -> timer
    this.readSent = {};            // conversation id -> last_seq we sent conversation.read for
    this.loadToken = 0;
    this.loaded = false;
    this.expired = false;          // the session ended: no reconnects until the operator logs in again

    this.main = $("fd-main");
    this.announcer = $("fd-announce");
    // The width at which the CSS shows the list and the conversation one at a time.
    this.narrow = window.matchMedia("(max-width: 640px)");
    this.conn = $("fd-conn");
    this.typing = $("fd-typing");
    this.baseTitle = t("title.page", { page: t("inbox.title") });

    this.filters = new Filters(this);
    this.list = new ConversationList(this, $("fd-conv-list"), $("fd-list-status"));
    this.actions = new ConversationActions(this);
    this.thread = new Thread(this, $("fd-thread"));
    this.composer = new Composer(this);
    this.canned = new CannedAnswers(this, $("fd-reply"));
    this.cannedManager = new CannedManager(this.canned);
    this.notifier = new Notifier(this.operator);
    this.socket = new ConsoleSocket({
      hello: () => ({ type: "hello", after_event: this.lastEventId }),
      onFrame: (f) => this.onFrame(f),
      onState: (state) => this.setConn(state),
      onSessionEnded: () => this.sessionEnded(),
    });
  }

  start() {
    setSessionEndedHandler(() => this.sessionEnded());
    this.composer.restoreDraft();
    this.composer.start();
    this.filters.start();
    this.actions.start();
    this.cannedManager.start();
    this.notifier.start();
    this.canned.load();
    window.addEventListener("pagehide", () => { if (this.expired) this.composer.saveDraft(); });
    window.addEventListener("hashchange", () => this.openFromHash());
    window.addEventListener("popstate", () => this.openFromHash());
    $("fd-back").addEventListener("click", () => this.back());
    $("fd-conv").addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.narrow.matches && !e.defaultPrevented) { e.preventDefault(); this.back(); }
    });
    document.addEventListener("visibilitychange", () => this.maybeMarkRead());
    window.addEventListener("online", () => { if (this.loaded && !this.socket.open && !this.expired) this.socket.connect(); });

    getJSON("/api/console/v1/conversations").then((body) => {
      (body.conversations || []).forEach((s) => this.convs.set(s.id, s));
      this.lastEventId = body.last_event_id || 0;
      this.loaded = true;
      this.renderList();
      this.openFromHash();
      this.socket.connect();
    }).catch((err) => {
      this.list.status.textContent = err && err.status ? errorText(err) : t("inbox.load_failed");
      this.list.status.hidden = false;
    });
  }

  visitorName(s) {
    const v = (s && s.visitor) || {};
    return v.name || t("inbox.visitor_fallback", { id: String(v.id || "").replace(/-/g, "").slice(0, 4) });
  }

  // --- the list

  renderList() {
    this.filters.update();
    this.list.render();
    this.updateTitle();
  }

  updateTitle() {
    let total = 0;
    this.convs.forEach((s) => { total += s.unread_count > 0 ? s.unread_count : 0; });
    document.title = total ? t("title.unread", { count: total, title: this.baseTitle }) : this.baseTitle;
  }

  putSummary(s) {
    if (!s || !s.id) return;
    this.convs.set(s.id, s);
    this.renderList();
    if (s.id === this.openId) { this.renderHeader(); this.maybeMarkRead(); }
  }

  openFromList(id, e) {
    this.open(id, true);
    // A tap on a phone should not raise the on-screen keyboard over the thread the
    // operator came to read; Enter from the keyboard (detail 0) goes straight to the reply.
    if (this.narrow.matches && e.detail > 0) this.thread.el.focus({ preventScroll: true });
    else this.composer.focus();
  }

  // --- the open conversation

  openFromHash() {
    const m = /^#c=(.+)$/.exec(location.hash);
    if (m) {
      const id = decodeURIComponent(m[1]);
      if (id !== this.openId) this.open(id);
    } else if (!location.hash && this.openId) {
      this.deselect();   // back to the bare inbox URL; other fragments (the skip link's) are not ours
    }
  }

  // Phones show the list or the conversation (CSS, by data-view); wider screens both.
  setView(view) { this.main.dataset.view = view; }

  // Opening from the list adds a history entry, so a phone's own back gesture returns to
  // the list; moving between conversations replaces it.
  open(id, fromList) {
    if (id === this.openId) { this.setView("conversation"); return; }
    const wasOpen = this.openId;
    this.composer.stopTyping();
    this.openId = id;
    this.thread.clear();
    this.thread.el.setAttribute("aria-busy", "true");
    this.showVisitorTyping(this.visitorTyping.has(id));
    this.composer.showError(null);
    const hash = "#c=" + encodeURIComponent(id);
    if (location.hash !== hash) {
      if (fromList && !wasOpen) history.pushState({ fdOpened: true }, "", hash);
      else history.replaceState(history.state, "", hash);
    }
    $("fd-conv-empty").hidden = true;
    $("fd-conv").hidden = false;
    this.setView("conversation");
    this.renderHeader();
    this.renderList();
    const token = ++this.loadToken;
    getJSON("/api/console/v1/conversations/" + encodeURIComponent(id) + "/messages").then((body) => {
      if (token !== this.loadToken) return;
      (body.messages || []).forEach((m) => this.thread.upsert(m));
      (body.entries || []).forEach((e) => this.thread.addEntry(e));
      this.composer.pendingFor(id).forEach((m) => this.thread.upsert(m, "sending"));
      this.thread.el.removeAttribute("aria-busy");
      this.thread.scrollToEnd(true);
      this.maybeMarkRead();
    }).catch((err) => {
      if (token !== this.loadToken) return;
      this.thread.el.removeAttribute("aria-busy");
      this.composer.showError(errorText(err));
    });
  }

  // The back button: undo our own history entry if there is one (popstate then closes),
  // so Back and the browser's back never disagree.
  back() {
    if (history.state && history.state.fdOpened) { history.back(); return; }
    history.replaceState(null, "", location.pathname + location.search);
    this.deselect();
  }

  // No conversation open any more (the view, not the conversation's status).
  deselect() {
    const id = this.openId;
    if (!id) return;
    this.composer.stopTyping();
    this.openId = null;
    this.loadToken++;
    this.thread.clear();
    this.thread.el.removeAttribute("aria-busy");
    this.showVisitorTyping(false);
    this.composer.showError(null);
    $("fd-conv").hidden = true;
    $("fd-conv-empty").hidden = false;
    this.setView("list");
    this.renderList();
    this.list.focus(id);
  }

  renderHeader() {
    renderDetails(this, this.convs.get(this.openId));
    this.actions.render();
  }

  maybeMarkRead() {
    const s = this.convs.get(this.openId);
    if (!s || !this.socket.ready || document.visibilityState !== "visible" || !(s.unread_count > 0)) return;
    if (this.readSent[s.id] === s.last_seq) return;
    this.readSent[s.id] = s.last_seq;
    this.socket.send({ type: "conversation.read", conversation_id: s.id });
  }

  // --- the visitor typing

  setVisitorTyping(convId, on) {
    clearTimeout(this.visitorTyping.get(convId));
    const was = this.visitorTyping.has(convId);
    if (on) {
      this.visitorTyping.set(convId, setTimeout(() => this.setVisitorTyping(convId, false), 5000));
    } else {
      this.visitorTyping.delete(convId);
    }
    if (convId === this.openId) this.showVisitorTyping(on);
    if (was !== on) this.list.refresh(convId);
  }

  showVisitorTyping(on) { this.typing.hidden = !on; }

  // --- the connection

  setConn(state) {
    this.conn.dataset.state = state;
    if (state === "expired") {
      const link = document.createElement("a");
      link.textContent = t("conn.login");
      link.href = "/console/login";
      this.conn.replaceChildren(document.createTextNode(t("conn.expired") + " "), link);
    } else {
      this.conn.textContent = t("conn." + state);
    }
  }

  // The session ended (logged out elsewhere, password or role changed, deactivated):
  // stop, say so where everyone sees and hears it, offer to log in again, and keep what
  // the operator was writing (restored after the login, in this tab).
  sessionEnded() {
    if (this.expired) return;
    this.expired = true;
    this.socket.stop();
    this.setConn("expired");
    $("fd-session-ended").hidden = false;
    this.composer.saveDraft();
  }

  // --- frames

  onFrame(f) {
    switch (f.type) {
      case "welcome":
        if (f.operator) this.operator = f.operator;
        this.readSent = {};
        this.composer.resendPending();
        this.maybeMarkRead();
        return;
      case "ack":
        return this.composer.onAck(f);
      case "done":
        return this.composer.onDone(f);
      case "error":
        return this.composer.onError(f);
      case "typing":
        return this.setVisitorTyping(f.conversation_id, !!f.typing);
    }
    if (typeof f.event_id !== "number") return;
    if (f.event_id <= this.lastEventId) return;   // already applied: replays are idempotent
    this.lastEventId = f.event_id;
    // Other modules on the page (callbacks.js: callback reminders) hear the same events.
    document.dispatchEvent(new CustomEvent("frontdesk:event", { detail: f }));
    const handler = EVENT_HANDLERS[f.type];
    if (handler) handler(this, f);
  }

  onMessage(f) {
    const m = f.message || {};
    const isVisitor = m.author && m.author.kind === "visitor";
    if (isVisitor) this.setVisitorTyping(f.conversation_id, false);
    this.putSummary(f.conversation);
    if (f.conversation_id === this.openId) this.thread.upsert(m);
    if (isVisitor) this.announce(t("inbox.announce", { name: this.visitorName(f.conversation), text: String(m.body || "").slice(0, 200) }));
    // A message in a conversation that is mine, or nobody's yet (someone must see it).
    const s = f.conversation;
    const assignee = s && s.assignee ? s.assignee.id : null;
    // (A new conversation's first message is told by onCreated.)
    if (isVisitor && s && m.seq !== 1 && (assignee == null || (this.operator && assignee === this.operator.id))) {
      this.notifier.alert(notificationTitle("message", this.visitorName(s)), m.body, m.created_at, s.id, () => this.open(s.id));
    }
  }

  // A new conversation: every operator hears of it.
  onCreated(f) {
    const s = f.conversation;
    this.putSummary(s);
    if (s && s.id) {
      this.notifier.alert(notificationTitle("new", this.visitorName(s)), s.last_message_preview, s.created_at, s.id,
        () => this.open(s.id));
    }
  }

  // A note or a system line ("Anna assigned this to Boris"), with the summary it changed.
  onEntry(f) {
    this.putSummary(f.conversation);
    if (f.conversation && f.conversation.id === this.openId) this.thread.addEntry(f.entry);
  }

  // Screen readers read the polite live region when the operator is not busy.
  announce(text) { this.announcer.textContent = text; }
}

// Stored events by type: one line each, so a new event type is one new entry.
const EVENT_HANDLERS = {
  "conversation.created": (inbox, f) => inbox.onCreated(f),
  "conversation.updated": (inbox, f) => inbox.putSummary(f.conversation),
  "conversation.read": (inbox, f) => inbox.putSummary(f.conversation),
  "message.created": (inbox, f) => inbox.onMessage(f),
  "conversation.assigned": (inbox, f) => inbox.onEntry(f),
  "conversation.closed": (inbox, f) => inbox.onEntry(f),
  "conversation.reopened": (inbox, f) => inbox.onEntry(f),
  "note.created": (inbox, f) => inbox.onEntry(f),
  "lead.created": (inbox, f) => leadEvent(f),   // the lead card (lead-card.js) follows its lead live
  "lead.updated": (inbox, f) => leadEvent(f),
  "lead.merged": (inbox, f) => leadEvent(f),
};
