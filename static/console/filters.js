/* The inbox filters: mine / unassigned / open / closed / all, and a site. Counts are
 * live: they are recounted from the summaries the inbox holds whenever one changes.
 * The choice is kept for the tab (sessionStorage), so a reload keeps the view.
 */
import { $, el } from "./page.js";

const KEY = "fd-inbox-filter";
const FILTERS = ["mine", "unassigned", "open", "closed", "all"];

export class Filters {
  constructor(inbox) {
    this.inbox = inbox;
    this.filter = "open";
    this.site = "";
    this.buttons = Array.from(document.querySelectorAll(".fd-filter"));
    this.siteSelect = $("fd-site-filter");
    this.sites = new Map();   // id -> name, from the summaries
    try {
      const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
      if (saved && FILTERS.includes(saved.filter)) this.filter = saved.filter;
      if (saved && typeof saved.site === "string") this.site = saved.site;
    } catch (e) { /* storage off: the defaults */ }
  }

  start() {
    this.buttons.forEach((b) => b.addEventListener("click", () => {
      this.filter = b.dataset.filter;
      this.changed();
    }));
    this.siteSelect.addEventListener("change", () => { this.site = this.siteSelect.value; this.changed(); });
    // One Tab stop for the whole toolbar (the chosen filter); arrows move between them.
    const group = document.querySelector(".fd-filter-group");
    if (group) group.addEventListener("keydown", (e) => this.onKey(e));
    this.showPressed();
  }

  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const i = this.buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const n = this.buttons.length;
    const to = { ArrowRight: (i + 1) % n, ArrowLeft: (i + n - 1) % n, Home: 0, End: n - 1 }[e.key];
    if (to == null) return;
    e.preventDefault();
    this.buttons.forEach((b, j) => { b.tabIndex = j === to ? 0 : -1; });
    this.buttons[to].focus();
  }

  changed() {
    try { sessionStorage.setItem(KEY, JSON.stringify({ filter: this.filter, site: this.site })); } catch (e) { /* off */ }
    this.showPressed();
    this.inbox.renderList();
  }

  showPressed() {
    this.buttons.forEach((b) => {
      const on = b.dataset.filter === this.filter;
      b.setAttribute("aria-pressed", String(on));
      b.tabIndex = on ? 0 : -1;
    });
  }

  inFilter(s, filter) {
    const me = this.inbox.operator;
    const assignee = s.assignee ? s.assignee.id : null;
    switch (filter) {
      case "mine": return s.status !== "closed" && me != null && assignee === me.id;
      case "unassigned": return s.status !== "closed" && assignee == null;
      case "open": return s.status !== "closed";
      case "closed": return s.status === "closed";
      default: return true;
    }
  }

  inSite(s) { return !this.site || String(s.site && s.site.id) === this.site; }

  // Shown in the list now (the open conversation stays, whatever the filter says).
  shows(s) { return s.id === this.inbox.openId || (this.inSite(s) && this.inFilter(s, this.filter)); }

  // Recount every filter, and offer every site seen so far.
  update() {
    const counts = Object.fromEntries(FILTERS.map((f) => [f, 0]));
    let newSite = false;
    this.inbox.convs.forEach((s) => {
      if (s.site && !this.sites.has(String(s.site.id))) { this.sites.set(String(s.site.id), s.site.name || ""); newSite = true; }
      if (!this.inSite(s)) return;
      FILTERS.forEach((f) => { if (this.inFilter(s, f)) counts[f] += 1; });
    });
    document.querySelectorAll(".fd-filter-count").forEach((n) => { n.textContent = String(counts[n.dataset.count]); });
    if (newSite) this.renderSites();
  }

  renderSites() {
    const keep = this.siteSelect.firstElementChild;
    const options = Array.from(this.sites.entries()).sort((a, b) => a[1].localeCompare(b[1]))
      .map(([id, name]) => { const o = el("option", null, name); o.value = id; return o; });
    this.siteSelect.replaceChildren(keep, ...options);
    this.siteSelect.value = this.sites.has(this.site) ? this.site : "";
  }
}
