/* Desktop notifications while the console tab is in the background. Permission is asked
 * on the operator's first click, never on load (browsers ignore or penalise unprompted
 * requests).
 */
import { parseDate } from "./dates.js";

export function askNotificationsOnFirstClick() {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  document.addEventListener("click", () => {
    try { Notification.requestPermission(); } catch (e) { /* old Safari: callback form */ }
  }, { once: true });
}

// onClick: what a click on the notification does (open the conversation).
export function notify(title, m, tag, onClick) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const at = parseDate(m.created_at);
  if (at && Date.now() - at.getTime() > 120000) return;   // an old message in a replay
  try {
    const n = new Notification(title, { body: String(m.body || "").slice(0, 140), tag });
    n.onclick = () => { window.focus(); onClick(); n.close(); };
  } catch (e) { /* some browsers allow notifications only from a service worker */ }
}
