/* What an operator does to the open conversation besides answering: assign (or take it),
 * transfer to someone else with a private note, close, reopen. Each is a frame on the
 * socket; the change itself comes back as its event, to every console alike.
 */
import { t, $, el, uuid } from "./page.js";
import { getJSON } from "./http.js";

export class ConversationActions {
  constructor(inbox) {
    this.inbox = inbox;
    this.assign = $("fd-assign");
    this.closeButton = $("fd-close");
    this.reopenButton = $("fd-reopen");
    this.transfer = $("fd-transfer");
    this.transferNote = $("fd-transfer-note");
    this.transferTo = null;
    this.operators = [];
  }

  start() {
    this.closeButton.addEventListener("click", () => this.send({ type: "conversation.close" }));
    this.reopenButton.addEventListener("click", () => this.send({ type: "conversation.reopen" }));
    this.assign.addEventListener("change", () => this.onAssignChange());
    this.transfer.addEventListener("submit", (e) => {
      e.preventDefault();
      const note = this.transferNote.value.trim();
      this.send({ type: "conversation.assign", operator_id: this.transferTo, note: note || null });
      this.hideTransfer();
    });
    $("fd-transfer-cancel").addEventListener("click", () => { this.hideTransfer(); this.render(); this.assign.focus(); });
    this.transfer.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); this.hideTransfer(); this.render(); this.assign.focus(); }
    });
    getJSON("/api/console/v1/operators").then((body) => {
      this.operators = Array.isArray(body.operators) ? body.operators : [];
      this.renderOptions();
      this.render();
    }).catch(() => { /* the list stays as it is: assigning waits for a reload */ });
  }

  send(frame) {
    const id = this.inbox.openId;
    if (!id) return;
    if (!this.inbox.socket.send({ id: uuid(), conversation_id: id, ...frame })) {
      this.inbox.composer.showError(t("inbox.offline"));
    }
  }

  onAssignChange() {
    const s = this.inbox.convs.get(this.inbox.openId);
    if (!s) return;
    const to = this.assign.value ? Number(this.assign.value) : null;
    const from = s.assignee ? s.assignee.id : null;
    if (from != null && to != null && from !== to) {
      // A transfer: say why, for the colleague (only operators see it).
      this.transferTo = to;
      const name = (this.operators.find((o) => o.id === to) || {}).name || "";
      $("fd-transfer-label").textContent = t("inbox.transfer_note_label", { name });
      this.transferNote.value = "";
      this.transfer.hidden = false;
      this.transferNote.focus();
      return;
    }
    this.hideTransfer();
    this.send({ type: "conversation.assign", operator_id: to });
  }

  hideTransfer() { this.transfer.hidden = true; this.transferTo = null; }

  renderOptions() {
    const none = this.assign.firstElementChild;
    const options = this.operators.map((o) => { const opt = el("option", null, o.name); opt.value = String(o.id); return opt; });
    this.assign.replaceChildren(none, ...options);
  }

  // The controls follow the open conversation's summary (also when another console changes it).
  render() {
    const s = this.inbox.convs.get(this.inbox.openId);
    if (!s) { this.hideTransfer(); return; }
    const closed = s.status === "closed";
    this.closeButton.hidden = closed;
    this.reopenButton.hidden = !closed;
    if (!this.transfer.hidden) return;   // the operator is writing the transfer note
    const assignee = s.assignee ? String(s.assignee.id) : "";
    if (assignee && !Array.from(this.assign.options).some((o) => o.value === assignee)) {
      const opt = el("option", null, s.assignee.name || "");   // deactivated since, or new
      opt.value = assignee;
      this.assign.appendChild(opt);
    }
    this.assign.value = assignee;
  }
}
