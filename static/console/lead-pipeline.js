/* The pipeline controls in the lead card beside a conversation: status (lost asks for a
 * reason), owner, tags, private notes, which their author (or an admin) may edit or
 * delete (docs/leads.md, "The pipeline").
 *
 * Reads GET /console/api/leads/{id}, changes through the JSON API beside it (CSRF header),
 * and follows the lead.updated events the inbox's socket hands over (lead-card.js passes
 * them on), so another operator's change shows here at once. The DOM is built once and
 * updated in place: a page view re-rendering the card never eats a half-typed note.
 * Every value is set as text.
 */
import { t, el, errorText, data } from "./page.js";
import { getJSON, sendJSON } from "./http.js";
import { fmtFull, parseDate } from "./dates.js";

const api = (id, tail) => "/console/api/leads/" + encodeURIComponent(id) + (tail || "");

function field(tag, id, className) {
  const node = el(tag, className);
  node.id = id;
  return node;
}

function labelFor(id, text, className) {
  const label = el("label", className, text);
  label.htmlFor = id;
  return label;
}

function button(text, type, className) {
  const b = el("button", "fd-button" + (className ? " " + className : ""), text);
  b.type = type || "submit";
  return b;
}

class PipelinePanel {
  constructor() {
    this.leadId = null;
    this.view = null;        // {lead, pipeline, notes, owners, statuses, may_change_any_note}
    this.editing = null;     // {id, value}: the note being edited, and what is typed so far
    this.confirming = null;  // the id of the note whose deletion waits for a second click
    this.token = 0;
    // A <details>, as the card is: open beside the conversation on wide screens, one tap
    // away on a phone (where it would push the thread off the screen).
    this.element = field("details", "fd-pipeline", "fd-pl");
    this.element.open = window.matchMedia("(min-width: 1101px)").matches;
    this.element.hidden = true;
    this.build();
  }

  build() {
    const summary = el("summary", "fd-pl-summary");
    summary.appendChild(el("span", "fd-pl-title", t("pipeline.title")));
    this.badge = summary.appendChild(el("span", "fd-status"));
    this.badge.id = "fd-pl-badge";
    const head = el("div", "fd-pl-head");
    this.pageLink = head.appendChild(el("a", "fd-pl-page", t("pipeline.open_page")));
    this.pageLink.id = "fd-pl-page";

    // Status: a select and "Save status"; "lost" opens the reason field.
    this.statusForm = el("form", "fd-pl-form");
    this.statusForm.appendChild(labelFor("fd-pl-status", t("pipeline.status")));
    this.status = this.statusForm.appendChild(field("select", "fd-pl-status"));
    ["new", "contacted", "qualified", "won", "lost"].forEach((s) => {
      const o = el("option", null, t("leads.status." + s));
      o.value = s;
      this.status.appendChild(o);
    });
    this.reasonBox = this.statusForm.appendChild(el("span", "fd-pl-reason"));
    this.reasonBox.appendChild(labelFor("fd-pl-reason", t("pipeline.lost_reason")));
    this.reason = this.reasonBox.appendChild(field("input", "fd-pl-reason"));
    this.reason.type = "text";
    this.reason.maxLength = 500;
    this.statusForm.appendChild(button(t("pipeline.save_status")));
    this.status.addEventListener("change", () => this.showReason());
    this.statusForm.addEventListener("submit", (e) => { e.preventDefault(); this.saveStatus(); });
    this.lostLine = el("p", "fd-lost-reason");
    this.lostLine.id = "fd-pl-lost";

    // Owner.
    this.ownerForm = el("form", "fd-pl-form");
    this.ownerForm.appendChild(labelFor("fd-pl-owner", t("pipeline.owner")));
    this.owner = this.ownerForm.appendChild(field("select", "fd-pl-owner"));
    this.ownerForm.appendChild(button(t("pipeline.save_owner")));
    this.ownerForm.addEventListener("submit", (e) => { e.preventDefault(); this.saveOwner(); });

    // Tags.
    this.tags = field("ul", "fd-pl-tags", "fd-tags");
    this.tags.setAttribute("aria-label", t("pipeline.tags"));
    this.tagForm = el("form", "fd-pl-form");
    this.tagForm.appendChild(labelFor("fd-pl-tag", t("pipeline.new_tag"), "fd-sr"));
    this.tag = this.tagForm.appendChild(field("input", "fd-pl-tag"));
    this.tag.type = "text";
    this.tag.maxLength = 50;
    this.tag.autocomplete = "off";
    this.tag.placeholder = t("pipeline.new_tag");
    this.tagForm.appendChild(button(t("pipeline.add_tag")));
    this.tagForm.addEventListener("submit", (e) => { e.preventDefault(); this.addTag(); });

    // Notes: the newest first, then the box to write one.
    this.noteForm = el("form", "fd-note-form");
    this.noteForm.appendChild(labelFor("fd-pl-note", t("pipeline.new_note"), "fd-sr"));
    this.note = this.noteForm.appendChild(field("textarea", "fd-pl-note"));
    this.note.rows = 2;
    this.note.maxLength = 5000;
    this.note.placeholder = t("pipeline.new_note");
    this.noteForm.appendChild(button(t("pipeline.add_note"), "submit", "fd-button-primary"));
    this.noteForm.addEventListener("submit", (e) => { e.preventDefault(); this.addNote(); });
    this.notes = field("ol", "fd-pl-notes", "fd-lead-notes");

    this.error = field("p", "fd-pl-error", "fd-error fd-pl-error");
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;

    const h = (key) => el("h4", null, t(key));
    [summary, head, this.error, this.statusForm, this.lostLine, this.ownerForm, h("pipeline.tags"), this.tags, this.tagForm,
      h("pipeline.notes"), this.noteForm, this.notes].forEach((n) => this.element.appendChild(n));
  }

  // The lead to show (null: none). The same lead again changes nothing.
  show(leadId) {
    if (leadId === this.leadId) return;
    this.leadId = leadId;
    this.view = null;
    this.element.hidden = true;
    this.showError(null);
    this.tag.value = "";
    this.note.value = "";
    this.reason.value = "";
    this.editing = null;
    this.confirming = null;
    if (!leadId) return;
    this.fetch();
  }

  fetch() {
    const token = ++this.token, id = this.leadId;
    getJSON(api(id)).then((view) => {
      if (token !== this.token || id !== this.leadId) return;
      this.view = view;
      this.statusDirty = false;
      this.ownerDirty = false;
      this.render();
    }, () => { /* not ours or gone: the card shows the rest */ });
  }

  // A lead.updated with a pipeline (or a note) for our lead.
  event(f) {
    if (!this.view || !f || !f.lead) return;
    if (f.type === "lead.merged" && f.merged && f.merged.id === this.leadId) return; // the card moves to the survivor
    if (f.type !== "lead.updated" || f.lead.id !== this.view.lead.id || !f.pipeline) return;
    this.view.pipeline = f.pipeline;
    if (f.note) this.putNote(f.note);
    if (f.deleted_note) this.dropNote(f.deleted_note.id);
    this.render();
  }

  // A new note is added; an edited one replaces what was shown.
  putNote(note) {
    const at = this.view.notes.findIndex((n) => n.id === note.id);
    if (at < 0) this.view.notes.push(note);
    else this.view.notes[at] = note;
  }

  dropNote(id) {
    this.view.notes = this.view.notes.filter((n) => n.id !== id);
    if (this.editing && this.editing.id === id) this.editing = null;
    if (this.confirming === id) this.confirming = null;
  }

  // Its author, or an admin (the server decides; this only offers the buttons).
  mayChange(note) {
    const me = data.operator && data.operator.id;
    return !!(this.view.may_change_any_note || (note.author && note.author.id === me));
  }

  noteItem(n) {
    const li = el("li", "fd-lead-note");
    li.dataset.noteId = String(n.id);
    const when = parseDate(n.created_at);
    let meta = (n.author ? n.author.name : "—") + " · " + (when ? fmtFull.format(when) : "");
    if (n.edited_at) meta += " · " + t("pipeline.note_edited");
    li.appendChild(el("p", "fd-lead-note-meta", meta));
    if (this.editing && this.editing.id === n.id) {
      li.appendChild(this.editForm(n));
      return li;
    }
    li.appendChild(el("p", "fd-lead-note-body", n.body));
    if (this.mayChange(n)) {
      const actions = li.appendChild(el("div", "fd-note-actions"));
      const edit = actions.appendChild(button(t("pipeline.edit_note"), "button"));
      edit.addEventListener("click", () => {
        this.editing = { id: n.id, value: n.body };
        this.confirming = null;
        this.render();
        const box = document.getElementById("fd-pl-edit-" + n.id);
        if (box) box.focus();
      });
      if (this.confirming === n.id) {  // a second, deliberate step (no native dialog)
        const ask = actions.appendChild(el("span", "fd-note-ask", t("pipeline.delete_note_confirm")));
        ask.id = "fd-pl-ask-" + n.id;
        const yes = actions.appendChild(button(t("pipeline.delete_note"), "button", "fd-button-danger"));
        yes.id = "fd-pl-delete-" + n.id;
        yes.setAttribute("aria-describedby", ask.id);
        yes.addEventListener("click", () => this.deleteNote(n));
        const no = actions.appendChild(button(t("pipeline.cancel_edit"), "button"));
        no.addEventListener("click", () => { this.confirming = null; this.render(); });
      } else {
        const del = actions.appendChild(button(t("pipeline.delete_note"), "button", "fd-button-danger"));
        del.addEventListener("click", () => {
          this.confirming = n.id;
          this.render();
          const yes = document.getElementById("fd-pl-delete-" + n.id);
          if (yes) yes.focus();
        });
      }
    }
    return li;
  }

  editForm(n) {
    const form = el("form", "fd-note-edit-form");
    form.appendChild(labelFor("fd-pl-edit-" + n.id, t("pipeline.edit_note"), "fd-sr"));
    const box = form.appendChild(field("textarea", "fd-pl-edit-" + n.id));
    box.rows = 3;
    box.maxLength = 5000;
    box.value = this.editing.value;
    box.addEventListener("input", () => { if (this.editing) this.editing.value = box.value; });
    box.addEventListener("keydown", (e) => { if (e.key === "Escape") { this.editing = null; this.render(); } });
    const actions = form.appendChild(el("div", "fd-note-actions"));
    actions.appendChild(button(t("pipeline.save_note"), "submit", "fd-button-primary"));
    const cancel = actions.appendChild(button(t("pipeline.cancel_edit"), "button"));
    cancel.addEventListener("click", () => { this.editing = null; this.render(); });
    form.addEventListener("submit", (e) => { e.preventDefault(); this.saveNote(n.id, box.value); });
    return form;
  }

  showReason() {
    this.reasonBox.hidden = this.status.value !== "lost";
  }

  render() {
    const v = this.view, p = v.pipeline;
    this.element.hidden = false;
    this.pageLink.href = "/console/leads/" + encodeURIComponent(v.lead.id);
    this.badge.className = "fd-status fd-status-" + p.status;
    this.badge.textContent = t("leads.status." + p.status);
    // What the operator has chosen but not saved stays; everything else follows the lead.
    if (!this.statusDirty || this.status.value === p.status) {
      this.status.value = p.status;
      this.reason.value = p.lost_reason || "";
      this.statusDirty = false;
    }
    this.showReason();
    this.lostLine.hidden = !(p.status === "lost" && p.lost_reason);
    this.lostLine.textContent = p.lost_reason ? t("pipeline.lost_because", { reason: p.lost_reason }) : "";

    const owners = v.owners.slice();
    if (p.owner && !owners.some((o) => o.id === p.owner.id)) owners.push(p.owner);
    const keep = this.ownerDirty ? this.owner.value : null;
    const none = el("option", null, t("pipeline.no_owner"));
    none.value = "";
    this.owner.replaceChildren(none, ...owners.map((o) => {
      const opt = el("option", null, o.name);
      opt.value = String(o.id);
      return opt;
    }));
    this.owner.value = keep !== null ? keep : (p.owner ? String(p.owner.id) : "");
    if (this.owner.value === (p.owner ? String(p.owner.id) : "")) this.ownerDirty = false;
    this.owner.onchange = () => { this.ownerDirty = true; };
    this.status.onchange = () => { this.statusDirty = true; this.showReason(); };

    this.tags.replaceChildren(...p.tags.map((tag) => {
      const li = el("li", "fd-tag");
      li.appendChild(el("span", "fd-tag-text", tag));
      const x = el("button", "fd-tag-x", "×");
      x.type = "button";
      x.setAttribute("aria-label", t("pipeline.remove_tag", { tag: tag }));
      x.addEventListener("click", () => this.removeTag(tag));
      li.appendChild(x);
      return li;
    }));
    if (!p.tags.length) this.tags.appendChild(el("li", "fd-muted", t("pipeline.no_tags")));

    // Rebuilt from the view; a note being edited keeps its box, what was typed and the focus.
    const focused = document.activeElement && this.notes.contains(document.activeElement) ? document.activeElement.id : null;
    this.notes.replaceChildren(...v.notes.slice().reverse().map((n) => this.noteItem(n)));
    if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
  }

  showError(err) {
    this.error.hidden = !err;
    this.error.textContent = err ? errorText(err) : "";
  }

  send(method, tail, payload) {
    const id = this.leadId;
    this.showError(null);
    return sendJSON(method, api(id, tail), payload).then((body) => {
      if (id !== this.leadId || !this.view) return null;
      if (body.pipeline) this.view.pipeline = body.pipeline;
      return body;
    }).catch((err) => {
      if (id === this.leadId) this.showError(err);
      throw err;
    });
  }

  saveStatus() {
    const lost = this.status.value === "lost";
    if (lost && !this.reason.value.trim()) {  // said here at once; the server checks it too
      this.showError({ message: t("error.invalid.lost_reason") });
      this.reason.focus();
      return;
    }
    this.send("PUT", "/status", { status: this.status.value, lost_reason: lost ? this.reason.value : null })
      .then(() => { this.statusDirty = false; this.render(); }, () => {});
  }

  saveOwner() {
    const value = this.owner.value;
    this.send("PUT", "/owner", { owner_id: value ? Number(value) : null })
      .then(() => { this.ownerDirty = false; this.render(); }, () => {});
  }

  addTag() {
    const tag = this.tag.value;
    if (!tag.trim()) { this.tag.focus(); return; }
    this.send("POST", "/tags", { tag: tag }).then(() => { this.tag.value = ""; this.render(); this.tag.focus(); }, () => {});
  }

  removeTag(tag) {
    this.send("DELETE", "/tags", { tag: tag }).then(() => { this.render(); this.tag.focus(); }, () => {});
  }

  saveNote(id, body) {
    if (!body.trim()) { this.showError({ message: t("error.invalid.body.empty_note") }); return; }
    this.send("PUT", "/notes/" + encodeURIComponent(id), { body: body }).then((res) => {
      this.editing = null;
      if (res && res.note) this.putNote(res.note);
      this.render();
    }, () => {});
  }

  deleteNote(n) {
    this.confirming = null;
    this.send("DELETE", "/notes/" + encodeURIComponent(n.id)).then(() => {
      this.dropNote(n.id);
      this.render();
      this.note.focus();
    }, () => {});
  }

  addNote() {
    const body = this.note.value;
    if (!body.trim()) { this.note.focus(); return; }
    this.send("POST", "/notes", { body: body }).then((res) => {
      this.note.value = "";
      if (res && res.note) this.putNote(res.note);
      this.render();
    }, () => {});
  }
}

export const pipelinePanel = new PipelinePanel();
