/* Dates in the operator's language, formatted with the CLDR patterns and names the
 * server sends (server/locales.py date_names): Chromium's Intl has no Kazakh and would
 * print "M03 5".
 */
import { data, lang, el } from "./page.js";

const dates = data.dates || null;

function pad(n) { return (n < 10 ? "0" : "") + n; }

function formatPattern(pattern, d) {
  return pattern.replace(/'([^']*)'|y+|M+|L+|d+|E+|c+|H+|h+|m+|a+/g, (tok, quoted) => {
    if (quoted !== undefined) return quoted || "'";
    const n = tok.length, h = d.getHours();
    switch (tok.charAt(0)) {
      case "y": return n === 2 ? pad(d.getFullYear() % 100) : String(d.getFullYear());
      case "M": case "L":
        return n >= 3 ? dates.months[d.getMonth()] : n === 2 ? pad(d.getMonth() + 1) : String(d.getMonth() + 1);
      case "d": return n === 2 ? pad(d.getDate()) : String(d.getDate());
      case "E": case "c": return dates.weekdays[(d.getDay() + 6) % 7];
      case "H": return n === 2 ? pad(h) : String(h);
      case "h": return n === 2 ? pad(h % 12 || 12) : String(h % 12 || 12);
      case "m": return pad(d.getMinutes());
      case "a": return dates.am_pm[h < 12 ? 0 : 1];
    }
    return tok;
  });
}

function fmt(kind, options) {
  if (dates && dates.patterns && dates.patterns[kind]) {
    return { format: (d) => formatPattern(dates.patterns[kind], d) };
  }
  try { return new Intl.DateTimeFormat(lang, options); } catch (e) { return new Intl.DateTimeFormat("en", options); }
}
const fmtTime = fmt("time", { hour: "numeric", minute: "2-digit" });
const fmtDay = fmt("day", { day: "numeric", month: "short" });
const fmtDate = fmt("date", { day: "numeric", month: "short", year: "numeric" });
export const fmtFull = fmt("full", { dateStyle: "medium", timeStyle: "short" });

export function parseDate(iso) {
  const d = iso ? new Date(iso) : null;
  return d && !isNaN(d.getTime()) ? d : null;
}

function shortTime(iso) {
  const d = parseDate(iso);
  if (!d) return "";
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return fmtTime.format(d);
  return (d.getFullYear() === now.getFullYear() ? fmtDay : fmtDate).format(d);
}

export function timeEl(iso, className) {
  const d = parseDate(iso);
  const node = el("time", className, d ? shortTime(iso) : "");
  if (d) { node.dateTime = d.toISOString(); node.title = fmtFull.format(d); }
  return node;
}
