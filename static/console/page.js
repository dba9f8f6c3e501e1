/* What every console page shares: the data the server rendered into the page, the
 * operator's language (t), and the two DOM helpers. Nothing here touches the network.
 * Everything a visitor or operator typed is set with textContent (el), never as HTML.
 */

function readData() {
  const node = document.getElementById("fd-console-data");
  if (!node) return {};
  try { return JSON.parse(node.textContent) || {}; } catch (e) { return {}; }
}

export const data = readData();
const i18n = data.i18n || {};
export const lang = document.documentElement.lang || "en";

export function has(key) { return Object.prototype.hasOwnProperty.call(i18n, key); }

// Plural entries ({one, few, many, other}) are resolved by /widget/plural.js.
export function t(key, params) {
  return window.fdPlural.text(has(key) ? i18n[key] : key, lang, params);
}

export function $(id) { return document.getElementById(id); }

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

// crypto.randomUUID needs a secure context; a console on plain http in a LAN has none.
export function uuid() {
  if (window.crypto && crypto.randomUUID) {
    try { return crypto.randomUUID(); } catch (e) { /* fall through */ }
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.prototype.map.call(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}

// The server's message is already in the operator's language; the catalog is the
// fallback for frames that carry only a code.
export function errorText(err) {
  if (err && err.message) return err.message;
  const code = err && err.code;
  if (code && err.field && has("error." + code + "." + err.field)) return t("error." + code + "." + err.field);
  if (code && has("error." + code)) return t("error." + code);
  return t("error.generic");
}
