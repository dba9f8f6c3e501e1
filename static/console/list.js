/* The list of conversations: one button per conversation, newest activity first, kept
 * in place (and focus kept) as summaries change. Arrow keys move between them.
 */
import { t, el } from "./page.js";
import { timeEl } from "./dates.js";

function sortKey(s) { return Date.parse(s.last_message_at || s.created_at) || 0; }

export class ConversationList {
  constructor(inbox, listEl, statusEl) {
    this.inbox = inbox;
    this.list = listEl;
    this.status = statusEl;
    this.items = new Map();        // id -> <li>
    this.list.addEventListener("keydown", (e) => this.onKey(e));
  }

  render() {
    const inbox = this.inbox;
    const all = Array.from(inbox.convs.values()).filter((s) => inbox.filters.shows(s))
      .sort((a, b) => sortKey(b) - sortKey(a));
    this.status.hidden = all.length > 0;
    if (!all.length) this.status.textContent = t(inbox.convs.size ? "inbox.filter_empty" : "inbox.empty_list");
    const shown = new Set(all.map((s) => s.id));
    this.items.forEach((li, id) => { if (!shown.has(id)) { li.remove(); this.items.delete(id); } });
    const focused = document.activeElement;
    const focusedId = focused && focused.dataset ? focused.dataset.convId : null;
    all.forEach((s, i) => {
      let li = this.items.get(s.id);
      if (!li) { li = el("li"); this.items.set(s.id, li); }
      this.fill(li, s);
      if (this.list.children[i] !== li) this.list.insertBefore(li, this.list.children[i] || null);
    });
    if (focusedId && document.activeElement !== focused) {
      const again = this.items.get(focusedId);
      if (again) again.firstChild.focus();
    }
  }

  refresh(id) {
    const li = this.items.get(id);
    const s = this.inbox.convs.get(id);
    if (li && s) this.fill(li, s);
  }

  focus(id) {
    const li = this.items.get(id);
    if (li && li.firstChild) li.firstChild.focus();
  }

  fill(li, s) {
    const inbox = this.inbox;
    const button = el("button", "fd-conv-item");
    button.type = "button";
    button.dataset.convId = s.id;
    if (s.id === inbox.openId) button.setAttribute("aria-current", "true");
    const top = el("span", "fd-conv-top");
    top.appendChild(el("span", "fd-conv-name", inbox.visitorName(s)));
    top.appendChild(timeEl(s.last_message_at || s.created_at, "fd-conv-time"));
    button.appendChild(top);
    // The site, and who works it (or that it is closed).
    const site = el("span", "fd-conv-site", (s.site && s.site.name) || "");
    if (s.status === "closed") site.appendChild(el("span", "fd-conv-tag", t("status.closed")));
    else if (s.assignee) site.appendChild(el("span", "fd-conv-tag", s.assignee.name || ""));
    button.appendChild(site);
    const bottom = el("span", "fd-conv-bottom");
    if (inbox.visitorTyping.has(s.id)) {
      bottom.appendChild(el("span", "fd-conv-preview fd-conv-typing", t("inbox.typing_short")));
    } else {
      bottom.appendChild(el("span", "fd-conv-preview", s.last_message_preview || t("inbox.no_messages")));
    }
    if (s.unread_count > 0) {
      const badge = el("span", "fd-badge");
      badge.appendChild(el("span", null, String(s.unread_count))).setAttribute("aria-hidden", "true");
      badge.appendChild(el("span", "fd-sr", t("inbox.unread", { count: s.unread_count })));
      bottom.appendChild(badge);
      button.classList.add("fd-unread");
    }
    button.appendChild(bottom);
    button.addEventListener("click", (e) => inbox.openFromList(s.id, e));
    const old = li.firstChild;
    const hadFocus = old && old === document.activeElement;
    li.replaceChildren(button);
    if (hadFocus) button.focus();
  }

  // Arrow keys, Home and End move between conversations, as in any list of choices;
  // Tab leaves the list.
  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const buttons = Array.prototype.slice.call(this.list.querySelectorAll(".fd-conv-item"));
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: buttons.length - 1 }[e.key];
    if (to == null) return;
    e.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, to))].focus();
  }
}
