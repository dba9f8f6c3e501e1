/* The reply box: sending (with a client id, kept until acked and re-sent after a
 * reconnect: never doubled), the operator's typing indicator, and the draft kept across
 * an ended session. In "note" mode it writes private notes instead: no typing indicator
 * reaches the visitor, and the note goes to the operators only (note.create).
 */
import { t, $, uuid, errorText } from "./page.js";

const DRAFT_KEY = "fd-console-draft";
const MAX_BODY = 5000;

export class Composer {
  constructor(inbox) {
    this.inbox = inbox;
    this.form = $("fd-composer");
    this.reply = $("fd-reply");
    this.error = $("fd-composer-error");
    this.pending = new Map();      // client id -> {id, conversation_id, body}: sent, not acked
    this.typingConv = null;
    this.typingSentAt = 0;
    this.typingStopTimer = null;
    this.mode = "reply";
    this.notes = new Map();        // frame id -> note text: sent, not yet stored
  }

  start() {
    this.form.querySelectorAll(".fd-mode").forEach((b) => b.addEventListener("click", () => {
      this.setMode(b.dataset.mode);
      this.reply.focus();
    }));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.send(); });
    this.reply.addEventListener("keydown", (e) => {
      if (this.inbox.canned.onKey(e)) return;   // choosing a canned answer
      if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.isComposing) {
        e.preventDefault();
        this.send();
      }
    });
    this.reply.addEventListener("input", () => {
      this.inbox.canned.onInput();
      if (this.inbox.expired) { this.saveDraft(); return; }
      this.onTypingInput();
    });
  }

  focus() { this.reply.focus(); }

  showError(text) {
    this.error.textContent = text || "";
    this.error.hidden = !text;
  }

  pendingMessage(p) {
    const op = this.inbox.operator;
    return { client_id: p.id, body: p.body, created_at: null, author: { kind: "operator", name: op ? op.name : "" } };
  }

  // The unacked messages of a conversation, to show after its history has loaded.
  pendingFor(conversationId) {
    return Array.from(this.pending.values()).filter((p) => p.conversation_id === conversationId)
      .map((p) => this.pendingMessage(p));
  }

  setMode(mode) {
    if (mode === this.mode) return;
    if (mode === "note") this.stopTyping();
    this.mode = mode;
    this.form.dataset.mode = mode;
    this.form.querySelectorAll(".fd-mode").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.mode === mode)));
    this.reply.placeholder = this.reply.dataset[mode === "note" ? "notePlaceholder" : "replyPlaceholder"];
    $("fd-reply-label").textContent = t(mode === "note" ? "inbox.mode_note" : "inbox.reply_label");
    $("fd-send").textContent = t(mode === "note" ? "inbox.add_note" : "inbox.send");
  }

  send() {
    const inbox = this.inbox;
    if (!inbox.openId) return;
    if (inbox.expired) { this.saveDraft(); this.showError(t("error.unauthorized")); return; }
    const body = this.reply.value.trim();
    if (!body) { this.showError(t("error.invalid.body")); return; }
    if (body.length > MAX_BODY) { this.showError(t("error.too_large.body", { max: MAX_BODY })); return; }
    this.showError(null);
    if (this.mode === "note") { this.sendNote(body); return; }
    const p = { id: uuid(), conversation_id: inbox.openId, body };
    this.pending.set(p.id, p);
    inbox.thread.upsert(this.pendingMessage(p), "sending");
    inbox.thread.scrollToEnd(true);
    this.reply.value = "";
    this.inbox.canned.hide();
    this.stopTyping();
    inbox.socket.send(this.frame(p));
  }

  // The box empties at once; the note shows when it is stored (its event), and its text
  // comes back into the box if it is refused.
  sendNote(body) {
    const id = uuid();
    if (!this.inbox.socket.send({ type: "note.create", id, conversation_id: this.inbox.openId, body })) {
      this.showError(t("inbox.offline"));
      return;
    }
    this.notes.set(id, body);
    this.reply.value = "";
  }

  onDone(f) { this.notes.delete(f.id); }

  frame(p) { return { type: "message.send", id: p.id, conversation_id: p.conversation_id, body: p.body }; }

  // After (re)connecting: the same ids again, so the server stores each message once.
  resendPending() {
    this.pending.forEach((p) => this.inbox.socket.send(this.frame(p)));
  }

  onAck(f) {
    const p = this.pending.get(f.id);
    if (!p) return;
    this.pending.delete(f.id);
    if (p.conversation_id !== this.inbox.openId) return;
    const m = this.pendingMessage(p);
    m.seq = f.seq;
    m.created_at = f.created_at;
    this.inbox.thread.upsert(m);
  }

  onError(f) {
    const note = f.id ? this.notes.get(f.id) : undefined;
    if (note !== undefined) {
      this.notes.delete(f.id);
      if (!this.reply.value) { this.setMode("note"); this.reply.value = note; }
    }
    const p = f.id ? this.pending.get(f.id) : null;
    if (p) {
      // Re-sending a refused message cannot help: drop it from the outbox, mark it.
      this.pending.delete(f.id);
      if (p.conversation_id === this.inbox.openId) this.inbox.thread.upsert(this.pendingMessage(p), "failed");
    }
    this.showError(errorText(f));
  }

  onTypingInput() {
    const openId = this.inbox.openId;
    if (!openId) return;
    this.showError(null);
    if (this.mode === "note") return;   // the visitor must not see "typing…" for a note
    const now = Date.now();
    if (this.typingConv !== openId || now - this.typingSentAt >= 2000) {
      if (this.typingConv && this.typingConv !== openId) this.stopTyping();
      this.typingConv = openId;
      this.typingSentAt = now;
      this.inbox.socket.send({ type: "typing", conversation_id: openId, typing: true });
    }
    clearTimeout(this.typingStopTimer);
    this.typingStopTimer = setTimeout(() => this.stopTyping(), 3000);
  }

  stopTyping() {
    clearTimeout(this.typingStopTimer);
    this.typingStopTimer = null;
    if (this.typingConv) this.inbox.socket.send({ type: "typing", conversation_id: this.typingConv, typing: false });
    this.typingConv = null;
    this.typingSentAt = 0;
  }

  saveDraft() {
    const draft = { conversation_id: this.inbox.openId, body: this.reply.value, pending: Array.from(this.pending.values()) };
    try { sessionStorage.setItem(DRAFT_KEY, JSON.stringify(draft)); } catch (e) { /* storage off: nothing to do */ }
  }

  // After logging in again: reopen the conversation, put the reply back, and queue the
  // messages that were sent but not acknowledged (re-sent with their ids: never doubled).
  restoreDraft() {
    let draft = null;
    try {
      draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
      sessionStorage.removeItem(DRAFT_KEY);
    } catch (e) { draft = null; }
    if (!draft || typeof draft !== "object") return;
    (Array.isArray(draft.pending) ? draft.pending : []).forEach((p) => {
      if (p && typeof p.id === "string" && typeof p.conversation_id === "string" && typeof p.body === "string") {
        this.pending.set(p.id, { id: p.id, conversation_id: p.conversation_id, body: p.body });
      }
    });
    if (typeof draft.conversation_id === "string" && draft.conversation_id && !/^#c=/.test(location.hash)) {
      history.replaceState(null, "", "#c=" + encodeURIComponent(draft.conversation_id));
    }
    if (typeof draft.body === "string" && draft.body) this.reply.value = draft.body;
  }
}
