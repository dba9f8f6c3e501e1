/* Canned answers in the reply box: type "/" and a shortcut, and the answers whose
 * shortcut starts with it are offered; Tab or Enter (or a click) puts the chosen one in
 * place of "/shortcut", with {visitor_name} and {operator_name} filled in.
 */
import { t, $, el } from "./page.js";
import { getJSON } from "./http.js";

const MAX_SHOWN = 6;
// "/" at the start or after a space, then the shortcut typed so far, up to the caret.
const TOKEN = /(^|\s)\/([\p{L}\p{N}_-]{0,32})$/u;

export function fillVariables(body, values) {
  return body.replace(/\{(visitor_name|operator_name)\}/g, (_, name) => values[name] || "")
    .replace(/[ \t]+([,.!?;:])/g, "$1");   // "Hello , …" when a name is unknown
}

export class CannedAnswers {
  constructor(inbox, reply) {
    this.inbox = inbox;
    this.reply = reply;
    this.list = $("fd-canned-suggest");
    this.answers = [];
    this.shown = [];
    this.active = 0;
    this.token = null;        // {start, end} of "/shortcut" in the reply box
  }

  load() {
    return getJSON("/console/api/canned").then((body) => {
      this.answers = Array.isArray(body.canned) ? body.canned : [];
    }).catch(() => { /* none offered until the next load */ });
  }

  // Personal answers first: they win over a shared one with the same shortcut.
  matches(prefix) {
    const seen = new Set();
    return this.answers.slice().sort((a, b) => Number(a.shared) - Number(b.shared))
      .filter((a) => a.shortcut.startsWith(prefix) && !seen.has(a.shortcut) && seen.add(a.shortcut))
      .sort((a, b) => a.shortcut.localeCompare(b.shortcut))
      .slice(0, MAX_SHOWN);
  }

  onInput() {
    const caret = this.reply.selectionStart;
    const before = this.reply.value.slice(0, caret);
    const m = TOKEN.exec(before);
    if (!m || this.reply.selectionEnd !== caret) { this.hide(); return; }
    const prefix = m[2].toLowerCase();
    this.shown = this.matches(prefix);
    if (!this.shown.length) { this.hide(); return; }
    this.token = { start: caret - m[2].length - 1, end: caret };
    this.active = 0;
    this.render();
  }

  // True if the key was ours (the reply box must not act on it).
  onKey(e) {
    if (this.list.hidden || e.isComposing) return false;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const n = this.shown.length;
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      this.render();
    } else if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
      this.insert(this.shown[this.active]);
    } else if (e.key === "Escape") {
      this.hide();
    } else {
      return false;
    }
    e.preventDefault();
    e.stopPropagation();
    return true;
  }

  render() {
    this.list.replaceChildren(...this.shown.map((a, i) => {
      const li = el("li", "fd-canned-option");
      li.id = "fd-canned-option-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(i === this.active));
      li.appendChild(el("span", "fd-canned-shortcut", "/" + a.shortcut));
      li.appendChild(el("span", "fd-canned-preview", a.body));
      if (a.shared) li.appendChild(el("span", "fd-conv-tag", t("canned.shared")));
      // mousedown, not click: the reply box keeps focus (and the caret).
      li.addEventListener("mousedown", (e) => { e.preventDefault(); this.insert(a); });
      return li;
    }));
    this.list.hidden = false;
    this.reply.setAttribute("aria-controls", "fd-canned-suggest");
    this.reply.setAttribute("aria-activedescendant", "fd-canned-option-" + this.active);
  }

  hide() {
    this.list.hidden = true;
    this.token = null;
    this.reply.removeAttribute("aria-activedescendant");
  }

  insert(answer) {
    if (!answer || !this.token) return;
    const s = this.inbox.convs.get(this.inbox.openId);
    const text = fillVariables(answer.body, {
      visitor_name: (s && s.visitor && s.visitor.name) || "",
      operator_name: (this.inbox.operator && this.inbox.operator.name) || "",
    });
    const value = this.reply.value;
    this.reply.value = value.slice(0, this.token.start) + text + value.slice(this.token.end);
    const caret = this.token.start + text.length;
    this.reply.setSelectionRange(caret, caret);
    this.hide();
    this.reply.dispatchEvent(new Event("input", { bubbles: true }));   // typing, drafts
  }
}
