/* Frontdesk panel: the "Call me back" view (window.FrontdeskPanel.addView).
 * Days, dates and times come from the server in the widget's language (Babel: Chromium's
 * Intl has no Kazakh); slots are in the visitor's zone, the site's time noted beside.
 * Everything shown is set as text. */
(function () {
  'use strict';
  var P = window.FrontdeskPanel;
  if (!P) return;
  var TZ = (function () { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (e) { return 'UTC'; } })();
  var section, ui = {}, offer = null, chosen = null, clientId = null, busy = false, loadedLang = '';

  function el(tag, cls, text) { return P.el(tag, cls, text); }
  function newId() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ('0' + x.toString(16)).slice(-2); }).join('');
  }
  function field(label, input, id) {
    var wrap = el('div', 'cb-field');
    var l = el('label', 'cb-label', P.tr(label));
    l.setAttribute('data-i18n', label);
    l.htmlFor = id;
    input.id = id;
    var err = el('p', 'cb-error');
    err.id = id + '-error';
    err.hidden = true;
    input.setAttribute('aria-describedby', err.id);
    wrap.append(l, input, err);
    ui[id + 'Error'] = err;
    return wrap;
  }

  function build() {
    section.textContent = '';
    var form = el('form', 'cb-form');
    form.noValidate = true;
    ui.form = form;
    ui.intro = el('p', 'cb-intro', P.tr('callback_intro'));
    ui.country = el('select', 'cb-country');
    ui.phone = el('input', 'cb-input');
    ui.phone.type = 'tel';
    ui.phone.autocomplete = 'tel';
    ui.phone.maxLength = 32;
    var phoneRow = el('div', 'cb-phone');
    ui.country.setAttribute('aria-label', P.tr('callback_country'));
    ui.when = el('div', 'cb-when');
    ui.whenError = el('p', 'cb-error');
    ui.whenError.hidden = true;
    ui.name = el('input', 'cb-input');
    ui.name.autocomplete = 'name';
    ui.name.maxLength = 200;
    ui.note = el('textarea', 'cb-input');
    ui.note.rows = 2;
    ui.note.maxLength = 500;
    ui.submit = el('button', 'cb-submit', P.tr('callback_submit'));
    ui.submit.type = 'submit';
    ui.formError = el('p', 'cb-error');
    ui.formError.setAttribute('role', 'alert');
    ui.formError.hidden = true;
    var phoneField = field('callback_phone', ui.phone, 'cb-phone');
    phoneField.insertBefore(phoneRow, phoneField.querySelector('.cb-error'));
    phoneRow.append(ui.country, ui.phone);  // the country picker beside the number
    form.append(ui.intro, phoneField, ui.when, ui.whenError, field('callback_name', ui.name, 'cb-name'),
      field('callback_note', ui.note, 'cb-note'), ui.formError, ui.submit);
    ui.done = el('div', 'cb-done');
    ui.done.setAttribute('role', 'status');
    ui.pending = el('div', 'cb-pending');
    ui.closed = el('div', 'cb-closed');
    section.append(ui.done, ui.pending, form, ui.closed);  // their requests first, then a new one
    form.addEventListener('submit', function (event) { event.preventDefault(); submit(); });
  }

  function defaultCountry() {
    var site = P.site() || {};
    if (offer && offer.country) return offer.country;
    var m = /-([A-Z]{2})$/.exec(navigator.language || '');
    if (m) return m[1];
    if (offer && offer.visitor_country) return offer.visitor_country;  // where their address is
    return {kk: 'KZ', ru: 'RU', uk: 'UA'}[P.lang()] || site.country || 'US';
  }

  function load() {
    loadedLang = P.lang();
    var q = '/callbacks/slots?countries=1&days=14&tz=' + encodeURIComponent(TZ) + '&lang=' + encodeURIComponent(P.lang());
    return P.request('GET', q).then(function (r) {
      offer = r.ok ? r.data : {enabled: false, days: [], failed: true};
      draw();
      return r.ok && loadPending();
    }, function () {
      offer = {enabled: false, days: [], failed: true};  // offline: say so, offer the chat
      draw();
    });
  }

  function draw() {
    ui.closed.textContent = '';
    var none = !offer.enabled || (!offer.asap && !offer.days.length);
    ui.form.hidden = none;
    if (none) {
      ui.closed.append(el('p', 'cb-intro', P.tr(offer.failed ? 'unavailable' : offer.enabled ? 'callback_none_left' : 'callback_off')));
      var chat = el('button', 'cb-submit', P.tr('callback_to_chat'));
      chat.type = 'button';
      chat.addEventListener('click', function () {
        var carried = [ui.name.value, ui.phone.value, ui.note.value].filter(Boolean).join('\n');
        if (!P.showView('contact', carried)) P.showView('chat', carried);
      });
      ui.closed.append(chat);
      return;
    }
    var keep = ui.country.value || defaultCountry();
    ui.country.textContent = '';
    (offer.countries || []).forEach(function (c) {
      if (offer.accepted && offer.accepted.length && offer.accepted.indexOf(c.code) < 0) return;
      var o = el('option', '', c.name + ' +' + c.dial);
      o.value = c.code;
      ui.country.append(o);
    });
    ui.country.value = keep;
    drawWhen();
  }

  function drawWhen() {
    ui.when.textContent = '';
    var group = el('fieldset', 'cb-days');
    group.append(el('legend', 'cb-label', P.tr('callback_when')));
    if (offer.asap) {
      group.append(choice('asap', P.tr('callback_asap'), null));
    }
    var days = el('select', 'cb-input');
    days.setAttribute('aria-label', P.tr('callback_day'));
    offer.days.forEach(function (d, i) {
      var o = el('option', '', d.label);
      o.value = String(i);
      days.append(o);
    });
    var times = el('div', 'cb-times');
    function drawTimes() {
      times.textContent = '';
      var day = offer.days[+days.value];
      if (!day) return;
      day.slots.forEach(function (s) {
        times.append(choice('slot', s.time + (s.site_time ? ' (' + s.site_time + ' ' + offer.site_zone + ')' : ''), s));
      });
    }
    days.addEventListener('change', drawTimes);
    if (offer.days.length) group.append(days, times);
    ui.when.append(group);
    drawTimes();
    if (offer.site_zone && offer.days.some(function (d) { return d.slots.some(function (s) { return s.site_time; }); })) {
      ui.when.append(el('p', 'cb-note', P.tr('callback_your_time')));
    }
  }

  function choice(kind, text, slot) {
    var label = el('label', 'cb-choice');
    var radio = el('input');
    radio.type = 'radio';
    radio.name = 'cb-slot';
    radio.value = slot ? slot.start : 'asap';
    radio.checked = chosen === radio.value;
    radio.addEventListener('change', function () { chosen = radio.value; });
    label.append(radio, document.createTextNode(' ' + text));
    return label;
  }

  function showError(target, message) {
    target.textContent = message || '';
    target.hidden = !message;
  }

  function submit() {
    if (busy) return;
    [ui['cb-phoneError'], ui['cb-noteError'], ui['cb-nameError'], ui.whenError, ui.formError].forEach(function (e) { showError(e, ''); });
    if (!ui.phone.value.trim()) { showError(ui['cb-phoneError'], P.tr('callback_phone_missing')); ui.phone.focus(); return; }
    if (!chosen) { showError(ui.whenError, P.tr('callback_choose_time')); return; }
    busy = true;
    ui.submit.disabled = true;
    clientId = clientId || newId();  // the same id on a retry: one callback, however often it is sent
    P.visitor().then(function (token) {
      var body = {token: token, id: clientId, phone: ui.phone.value, country: ui.country.value, name: ui.name.value,
        note: ui.note.value, tz: TZ, language: P.lang()};
      if (chosen === 'asap') body.asap = true; else body.slot = chosen;
      return P.request('POST', '/callbacks', body);
    }).then(function (r) {
      if (r.ok) {
        clientId = null;
        chosen = null;
        confirm(r.data.callback);
        return load();
      }
      var e = r.data.error || {};
      var target = {phone: ui['cb-phoneError'], note: ui['cb-noteError'], name: ui['cb-nameError'], slot: ui.whenError}[e.field] || ui.formError;
      showError(target, e.message || P.tr('unavailable'));
      if (e.field === 'slot') { clientId = null; chosen = null; return load(); }
      if (e.field !== 'id') clientId = null;
    }, function () { showError(ui.formError, P.tr('unavailable')); })
      .then(function () { busy = false; ui.submit.disabled = false; });
  }

  function whenText(c) {
    if (c.asap) return P.tr('callback_asap') + '.';
    var w = c.when;
    var text = P.tr('callback_at', {day: w.day, time: w.time});
    return (w.site_time ? text + ' (' + w.site_time + ' ' + (offer && offer.site_zone || '') + ')' : text) + '.';
  }

  function confirm(c) {
    ui.done.textContent = '';
    var ok = el('p', 'cb-ok', P.tr('callback_confirmed', {phone: c.phone_display}) + ' ' + whenText(c));
    ok.tabIndex = -1;
    ui.done.append(ok);
    ok.focus({preventScroll: true});
    section.scrollTop = 0;
  }

  function withIdentity(body) {
    var who = P.identity ? P.identity() : {};
    if (who.user_id && who.user_hash) { body.user_id = who.user_id; body.user_hash = who.user_hash; }
    return body;
  }

  function loadPending() {
    return P.visitor().then(function (token) {
      // With a verified identity: also what the same user asked for in another browser.
      return P.request('POST', '/callbacks/pending', withIdentity({token: token, tz: TZ, language: P.lang()}));
    }).then(function (r) {
      ui.pending.textContent = '';
      var list = r.ok ? r.data.callbacks : [];
      if (!list.length) return;
      ui.pending.append(el('h2', 'cb-label', P.tr('callback_pending')));
      list.forEach(function (c) {
        var row = el('p', 'cb-row', c.phone_display + ' — ' + whenText(c) + ' ');
        var cancel = el('button', 'cb-link', P.tr('callback_cancel'));
        cancel.type = 'button';
        cancel.addEventListener('click', function () {
          cancel.disabled = true;
          P.visitor().then(function (token) {
            return P.request('POST', '/callbacks/' + encodeURIComponent(c.id) + '/cancel', withIdentity({token: token, tz: TZ}));
          }).then(function () { ui.done.textContent = ''; return load(); });
        });
        row.append(cancel);
        ui.pending.append(row);
      });
    });
  }

  section = P.addView('callback', {
    show: function (s, carried) {
      if (!ui.form) build();
      if (carried && !ui.note.value) ui.note.value = carried.slice(0, 500);
      if (!offer || loadedLang !== P.lang()) load();
      ui.phone.focus({preventScroll: true});
    },
    language: function () {
      if (!ui.form) return;
      var typed = [ui.phone.value, ui.name.value, ui.note.value, ui.country.value];
      build();
      ui.phone.value = typed[0]; ui.name.value = typed[1]; ui.note.value = typed[2]; ui.country.value = typed[3];
      offer = null;
      if (!section.hidden) load();
    }
  });
})();
