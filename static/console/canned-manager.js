/* The canned answers dialog: list, add, edit, delete (console HTTP API with the page's
 * CSRF token). Shared answers are changed by admins; the server says so to anyone else.
 */
import { t, $, el, errorText } from "./page.js";
import { sendJSON } from "./http.js";

export class CannedManager {
  constructor(canned) {
    this.canned = canned;
    this.dialog = $("fd-canned-dialog");
    this.list = $("fd-canned-list");
    this.form = $("fd-canned-form");
    this.shortcut = $("fd-canned-shortcut");
    this.body = $("fd-canned-body");
    this.shared = $("fd-canned-shared");
    this.error = $("fd-canned-error");
    this.cancel = $("fd-canned-cancel");
    this.editing = null;   // the answer being edited, or null for a new one
    this.opener = null;
  }

  start() {
    $("fd-canned-open").addEventListener("click", (e) => this.open(e.currentTarget));
    $("fd-canned-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => { if (this.opener) this.opener.focus(); });
    this.cancel.addEventListener("click", () => this.edit(null));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.save(); });
  }

  open(opener) {
    this.opener = opener;
    this.edit(null);
    this.canned.load().then(() => this.render());
    this.render();
    this.dialog.showModal();
    this.shortcut.focus();
  }

  render() {
    const items = this.canned.answers.map((a) => {
      const li = el("li", "fd-canned-item");
      const head = el("div", "fd-canned-item-head");
      head.appendChild(el("code", "fd-canned-shortcut", "/" + a.shortcut));
      head.appendChild(el("span", "fd-conv-tag", t(a.shared ? "canned.shared" : "canned.personal")));
      const edit = el("button", "fd-button", t("canned.edit"));
      edit.type = "button";
      edit.setAttribute("aria-label", t("canned.edit_label", { shortcut: "/" + a.shortcut }));
      edit.addEventListener("click", () => this.edit(a));
      const del = el("button", "fd-button", t("canned.delete"));
      del.type = "button";
      del.setAttribute("aria-label", t("canned.delete_label", { shortcut: "/" + a.shortcut }));
      del.addEventListener("click", () => this.remove(a));
      head.appendChild(edit);
      head.appendChild(del);
      li.appendChild(head);
      li.appendChild(el("p", "fd-canned-body", a.body));
      return li;
    });
    if (!items.length) items.push(el("li", "fd-muted", t("canned.empty")));
    this.list.replaceChildren(...items);
  }

  edit(answer) {
    this.editing = answer;
    this.showError(null);
    $("fd-canned-form-heading").textContent = t(answer ? "canned.editing" : "canned.new");
    this.shortcut.value = answer ? answer.shortcut : "";
    this.body.value = answer ? answer.body : "";
    this.shared.checked = answer ? answer.shared : false;
    this.shared.disabled = !!answer;   // the scope stays what it was
    this.cancel.hidden = !answer;
    if (answer) this.shortcut.focus();
  }

  showError(text) {
    this.error.textContent = text || "";
    this.error.hidden = !text;
  }

  save() {
    const payload = { shortcut: this.shortcut.value, body: this.body.value };
    const request = this.editing
      ? sendJSON("PUT", "/console/api/canned/" + this.editing.id, payload)
      : sendJSON("POST", "/console/api/canned", { ...payload, shared: this.shared.checked });
    request.then(() => this.canned.load()).then(() => {
      this.edit(null);
      this.render();
      this.shortcut.focus();
    }).catch((err) => this.showError(errorText(err)));
  }

  remove(answer) {
    sendJSON("DELETE", "/console/api/canned/" + answer.id).then(() => this.canned.load()).then(() => {
      if (this.editing && this.editing.id === answer.id) this.edit(null);
      this.render();
      this.shortcut.focus();
    }).catch((err) => this.showError(errorText(err)));
  }
}
