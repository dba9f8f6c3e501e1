/* The board (/console/leads/board) and a lead's page (/console/leads/{id}) kept live.
 *
 * Both pages are server-rendered forms that work without this script. Here a console
 * socket follows the lead events from the position the page was rendered at
 * (console_data.last_event_id), and a change another operator makes fetches the page
 * again and swaps its <main>, keeping whatever this operator has typed or chosen but not
 * sent, and where the keyboard focus was.
 */
import { data, t, $ } from "./page.js";
import { ConsoleSocket } from "./socket.js";

const REFRESH_DELAY = 200;     // ms: a burst of events is one fetch
const BOARD_MIN_GAP = 2000;    // ms: a busy site's new visitors do not redraw the board constantly

// Values the operator changed and has not sent: [id, value] (selects by their chosen option).
function unsent(main) {
  const kept = [];
  main.querySelectorAll("input[id], textarea[id], select[id]").forEach((f) => {
    const changed = f.tagName === "SELECT"
      ? Array.prototype.some.call(f.options, (o) => o.selected !== o.defaultSelected)
      : f.type !== "hidden" && f.value !== f.defaultValue;
    if (changed) kept.push([f.id, f.value]);
  });
  return kept;
}

export function startLeadPages() {
  const main = $("fd-main");
  if (!main || !(main.classList.contains("fd-board-page") || main.classList.contains("fd-lead-page"))) return;
  const board = main.classList.contains("fd-board-page");
  const leadId = data.lead_id || null;
  let lastEvent = data.last_event_id || 0;
  let timer = null, lastRefresh = 0, by = null;

  function refresh() {
    fetch(location.pathname + location.search, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then((r) => (r.ok ? r.text() : null)).then((html) => {
        if (!html) return;
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("fd-main");
        const current = $("fd-main");
        if (!fresh || !current) return;
        const kept = unsent(current);
        const open = Array.prototype.map.call(current.querySelectorAll("details[id][open]"), (d) => d.id);
        const focused = document.activeElement && current.contains(document.activeElement) ? document.activeElement.id : null;
        const error = $("fd-pipeline-error");   // the answer to this operator's last change stays
        current.replaceWith(fresh);
        open.forEach((id) => { const d = document.getElementById(id); if (d) d.open = true; });  // a note being edited
        kept.forEach(([id, value]) => { const f = document.getElementById(id); if (f) f.value = value; });
        if (error && !$("fd-pipeline-error")) fresh.querySelector("h1").after(error);
        if (focused) { const f = document.getElementById(focused); if (f) f.focus({ preventScroll: true }); }
        const live = $("fd-live");
        if (live && by) live.textContent = t("pipeline.changed_by", { name: by });
      }, () => { /* the next event tries again */ });
  }

  function schedule() {
    clearTimeout(timer);
    const wait = board ? Math.max(REFRESH_DELAY, lastRefresh + BOARD_MIN_GAP - Date.now()) : REFRESH_DELAY;
    timer = setTimeout(() => { lastRefresh = Date.now(); refresh(); }, wait);
  }

  function relevant(f) {
    if (!f.lead || typeof f.type !== "string" || f.type.indexOf("lead.") !== 0) return false;
    if (!board) return f.lead.id === leadId || (f.merged && f.merged.id === leadId);
    // The board: the pipeline, a name or contact, a new or merged lead; not page views.
    if (f.type !== "lead.updated" || f.pipeline) return true;
    return (f.changed || []).some((c) => c === "name" || c === "email" || c === "phone");
  }

  const socket = new ConsoleSocket({
    hello: () => ({ type: "hello", after_event: lastEvent }),
    onFrame: (f) => {
      if (typeof f.event_id === "number") lastEvent = Math.max(lastEvent, f.event_id);
      if (!relevant(f)) return;
      by = f.by && f.by.name ? f.by.name : null;
      schedule();
    },
    onState: () => {},
    onSessionEnded: () => { socket.stop(); location.assign("/console/login"); },
  });
  socket.connect();
}
