/* The open conversation's transcript as a CSV download (/console/conversations/<id>/transcript.csv).
 * The inbox keeps the open conversation in the address (#c=<id>, set with history.replaceState,
 * so no hashchange event): the link takes it just before it is followed, copied or focused.
 * The separator follows the console's language: ";" (Excel's list separator in Russian,
 * Ukrainian and Kazakh), "," in English.
 */
import { $ } from "./page.js";

export function setupTranscriptLink() {
  const link = $("fd-transcript");
  if (!link) return;
  const update = (event) => {
    const m = /^#c=([^&]+)$/.exec(location.hash);
    if (!m) {
      if (event && event.type === "click") event.preventDefault();
      return;
    }
    const sep = document.documentElement.lang === "en" ? "comma" : "semicolon";
    link.href = "/console/conversations/" + encodeURIComponent(decodeURIComponent(m[1])) + "/transcript.csv?sep=" + sep;
  };
  for (const type of ["click", "focus", "mouseenter", "contextmenu"]) link.addEventListener(type, update);
}
