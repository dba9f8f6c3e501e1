/* Plural categories (CLDR) for the languages Frontdesk speaks, and catalogue entries that
 * use them. Shared by the widget panel and the operator console; the server's twin is
 * server/locales.py (Babel), and tests compare the two for 0..200.
 *
 * A catalogue entry is a string, or {"one": …, "few": …, "many": …, "other": …} chosen by
 * the number passed as `count`, or as the parameter named by "_count" (e.g. "max").
 * Own rules rather than Intl.PluralRules: the same answer in every browser, for every
 * language we ship, whatever locale data the browser has.
 */
(function (w) {
  'use strict';

  function category(lang, n) {
    if (typeof n !== 'number' || !isFinite(n) || Math.floor(n) !== n) return 'other';
    n = Math.abs(n);
    if (lang === 'ru' || lang === 'uk') {
      var d = n % 10, h = n % 100;
      if (d === 1 && h !== 11) return 'one';
      if (d >= 2 && d <= 4 && (h < 12 || h > 14)) return 'few';
      return 'many';
    }
    return n === 1 ? 'one' : 'other'; // en, kk
  }

  // The text of a catalogue entry for these parameters, placeholders filled in.
  function text(entry, lang, vars) {
    vars = vars || {};
    if (entry && typeof entry === 'object') {
      entry = entry[category(lang, vars[entry._count || 'count'])] || entry.other || '';
    }
    return String(entry == null ? '' : entry).replace(/\{(\w+)\}/g, function (all, name) {
      return name in vars && vars[name] != null ? String(vars[name]) : all;
    });
  }

  w.fdPlural = {category: category, text: text};
})(window);
