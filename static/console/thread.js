/* The open conversation's messages. One element per message; confirmed messages (with a
 * seq) sit in seq order, unacked ones after them. A seq already shown is ignored, so
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
  }

  clear() {
    this.seqs = new Set();
    this.clientEls = new Map();
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
      this.place(node, m.seq);
    } else {
      node.classList.toggle("fd-msg-pending", state === "sending");
      node.classList.toggle("fd-msg-failed", state === "failed");
      node.querySelector(".fd-msg-state").textContent = state === "failed" ? t("inbox.not_sent") : t("inbox.sending");
      if (!node.parentNode) this.el.appendChild(node);
    }
    this.scrollToEnd(nearEnd || (m.author && m.author.kind === "operator" && !m.seq));
  }

  // Before the first element with a greater seq, or the first unconfirmed one.
  place(node, seq) {
    let before = null;
    for (let c = this.el.firstElementChild; c; c = c.nextElementSibling) {
      if (c === node) continue;
      if (!c.dataset.seq || Number(c.dataset.seq) > seq) { before = c; break; }
    }
    if (node.nextElementSibling !== before || node.parentNode !== this.el) this.el.insertBefore(node, before);
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
