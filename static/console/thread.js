/* The open conversation's thread: messages, and the operators' entries (private notes,
 * system lines such as "Anna assigned this to Boris"). One element each. Confirmed
 * messages (with a seq) sit in seq order; an entry sits after the message it followed
 * (after_seq); unacked messages come last. A seq or entry id already shown is ignored, so
 * replays and races are harmless.
 */
import { t, el } from "./page.js";
import { timeEl } from "./dates.js";

export class Thread {
  constructor(inbox, threadEl) {
    this.inbox = inbox;
    this.el = threadEl;
    this.seqs = new Set();         // seqs shown
    this.clientEls = new Map();    // client id -> message element
    this.entryIds = new Set();     // entry ids shown
  }

  clear() {
    this.seqs = new Set();
    this.clientEls = new Map();
    this.entryIds = new Set();
    this.el.replaceChildren();
  }

  upsert(m, state) {
    if (m.seq != null && this.seqs.has(m.seq)) return;
    let node = m.client_id ? this.clientEls.get(m.client_id) : null;
    if (node && node.dataset.seq) return;
    const nearEnd = this.isNearEnd();
    if (!node) {
      node = this.build(m);
      if (m.client_id) this.clientEls.set(m.client_id, node);
    }
    if (m.seq != null) {
      this.seqs.add(m.seq);
      node.dataset.seq = String(m.seq);
      node.classList.remove("fd-msg-pending", "fd-msg-failed");
      node.querySelector(".fd-msg-state").textContent = "";
      node.querySelector("time").replaceWith(timeEl(m.created_at));
      this.place(node);
    } else {
      node.classList.toggle("fd-msg-pending", state === "sending");
      node.classList.toggle("fd-msg-failed", state === "failed");
      node.querySelector(".fd-msg-state").textContent = state === "failed" ? t("inbox.not_sent") : t("inbox.sending");
      if (!node.parentNode) this.el.appendChild(node);
    }
    this.scrollToEnd(nearEnd || (m.author && m.author.kind === "operator" && !m.seq));
  }

  // Before the first element that sorts after it: (seq, 0) for a message, (after_seq, 1,
  // id) for an entry, unconfirmed messages last.
  place(node) {
    const key = sortKey(node);
    let before = null;
    for (let c = this.el.firstElementChild; c; c = c.nextElementSibling) {
      if (c === node) continue;
      if (compare(sortKey(c), key) > 0) { before = c; break; }
    }
    if (node.nextElementSibling !== before || node.parentNode !== this.el) this.el.insertBefore(node, before);
  }

  addEntry(e) {
    if (!e || typeof e.id !== "number" || this.entryIds.has(e.id)) return;
    this.entryIds.add(e.id);
    const nearEnd = this.isNearEnd();
    const node = e.kind === "note" ? this.buildNote(e) : this.buildSystemLine(e);
    node.dataset.entry = String(e.id);
    node.dataset.afterSeq = String(e.after_seq || 0);
    this.place(node);
    this.scrollToEnd(nearEnd);
  }

  // A private note: for operators only, and it looks it (the visitor never gets it).
  buildNote(e) {
    const node = el("div", "fd-note");
    const meta = el("div", "fd-msg-meta");
    meta.appendChild(el("span", "fd-note-label", t("entry.note")));
    meta.appendChild(el("span", "fd-msg-author", (e.actor && e.actor.name) || ""));
    meta.appendChild(timeEl(e.created_at));
    node.appendChild(meta);
    node.appendChild(el("p", "fd-note-body", e.body || ""));
    return node;
  }

  buildSystemLine(e) {
    const node = el("div", "fd-entry");
    const line = el("p", "fd-entry-text");
    line.appendChild(document.createTextNode(entryText(e) + " "));
    line.appendChild(timeEl(e.created_at));
    node.appendChild(line);
    if (e.body) {   // a transfer's note: for operators only, like any note
      const note = el("p", "fd-entry-note");
      note.appendChild(el("span", "fd-note-label", t("entry.note") + ": "));
      note.appendChild(document.createTextNode(e.body));
      node.appendChild(note);
    }
    return node;
  }

  build(m) {
    const kind = m.author && m.author.kind === "operator" ? "operator" : "visitor";
    const node = el("div", "fd-msg fd-msg-" + kind);
    const meta = el("div", "fd-msg-meta");
    // A visitor may give their name mid-conversation: show the name known now.
    const s = this.inbox.convs.get(this.inbox.openId);
    const name = kind === "visitor" ? (s && s.visitor && s.visitor.name) || (m.author && m.author.name) || this.inbox.visitorName(s)
                                    : (m.author && m.author.name) || "";
    meta.appendChild(el("span", "fd-msg-author", name));
    meta.appendChild(timeEl(m.created_at));
    node.appendChild(meta);
    node.appendChild(el("p", "fd-msg-body", m.body));
    node.appendChild(el("span", "fd-msg-state"));
    return node;
  }

  isNearEnd() {
    const th = this.el;
    return th.scrollHeight - th.scrollTop - th.clientHeight < 80;
  }

  scrollToEnd(force) {
    if (force) this.el.scrollTop = this.el.scrollHeight;
  }
}

function sortKey(node) {
  if (node.dataset.seq) return [Number(node.dataset.seq), 0, 0];
  if (node.dataset.entry) return [Number(node.dataset.afterSeq), 1, Number(node.dataset.entry)];
  return [Infinity, 0, 0];
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

// "Anna assigned this to Boris": names are text parameters, never markup.
export function entryText(e) {
  const actor = (e.actor && e.actor.name) || "";
  const target = (e.target && e.target.name) || "";
  switch (e.kind) {
    case "assigned":
      return e.actor && e.target && e.actor.id === e.target.id ? t("entry.assigned_self", { actor }) : t("entry.assigned", { actor, target });
    case "transferred": return t("entry.transferred", { actor, target });
    case "unassigned": return t("entry.unassigned", { actor });
    case "closed": return t("entry.closed", { actor });
    case "reopened": return e.actor && e.actor.kind === "visitor" ? t("entry.reopened_by_visitor") : t("entry.reopened", { actor });
  }
  return e.kind;
}
