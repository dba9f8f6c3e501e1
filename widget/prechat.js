/* Frontdesk pre-chat form (docs/leads.md), per site: off, optional or required, asking
 * what the site chose of name, email and phone.
 *
 * - off: nothing here runs.
 * - optional: the form sits above the thread with a Skip button; the message box below
 *   stays usable all along (typing a message never waits for the form).
 * - required: the message box is hidden until the form is accepted by the server.
 * Each field is checked here first (the server's rules, simplified: it has the last word),
 * then sent as visitor.identify; a field the server refuses shows its message (in the
 * visitor's language) under that field, and the others are kept. Done or skipped is
 * remembered, so a returning visitor is not asked again, nor one with a conversation.
 *
 * Hook (widget/panel.js): fdPrechat.start({mode, fields, tr, storage, hasConversation,
 * identify(data, done(accepted, refused)), focusInput}).
 */
(function () {
  'use strict';

  var FIELDS = ['name', 'email', 'phone'];
  var MAX = {name: 200, email: 254, phone: 32};
  var api = null, form = null, composer = null, bound = false;

  function $(id) { return document.getElementById(id); }

  // Same rules as the server's, in short: name 1-200 characters; an email with one @ and a
  // dot in its domain; a phone of digits, spaces, +, (), - and . with 6 to 15 digits.
  function check(field, value) {
    if (!value) return api.mode === 'required' ? 'prechat_missing_' + field : '';
    if (value.length > MAX[field]) return 'prechat_invalid_' + field;
    if (field === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return 'prechat_invalid_email';
    if (field === 'phone') {
      var digits = value.replace(/\D/g, '').length;
      if (!/^\+?[\d\s().-]+$/.test(value) || digits < 6 || digits > 15) return 'prechat_invalid_phone';
    }
    return '';
  }

  function setError(field, text) {
    var input = $('pc-' + field), error = $('pc-' + field + '-error');
    error.textContent = text;
    error.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  function finish(how) {
    api.storage.set('prechat', how);
    form.hidden = true;
    composer.hidden = false;
    api.focusInput();
  }

  function submit(event) {
    event.preventDefault();
    var data = {}, first = null;
    api.fields.forEach(function (field) {
      var value = $('pc-' + field).value.trim(), why = check(field, value);
      setError(field, why ? api.tr(why) : '');
      if (why && !first) first = $('pc-' + field);
      if (value && !why) data[field] = value;
    });
    if (first) return first.focus();
    if (!Object.keys(data).length) return finish('skipped');  // optional, nothing given
    var button = $('prechat-start');
    button.disabled = true;
    $('prechat-status').textContent = api.tr('prechat_saving');
    api.identify(data, function (accepted, refused) {
      button.disabled = false;
      $('prechat-status').textContent = '';
      var wrong = null;
      Object.keys(refused).forEach(function (field) {
        if (FIELDS.indexOf(field) < 0) return;
        setError(field, refused[field].message);  // from the server, in the visitor's language
        if (!wrong) wrong = $('pc-' + field);
      });
      if (wrong) return wrong.focus();
      finish('done');
    });
  }

  function start(given) {
    api = given;
    form = $('prechat');
    composer = $('composer');
    api.fields = known(api.fields);
    if (!form || api.mode === 'off' || !api.fields.length || api.storage.get('prechat') || api.hasConversation()) return;
    open();
  }

  function known(fields) {
    return (fields || []).filter(function (f) { return FIELDS.indexOf(f) >= 0; });
  }

  function open() {
    FIELDS.forEach(function (field) { $('pc-' + field + '-row').hidden = api.fields.indexOf(field) < 0; });
    $('prechat-skip').hidden = api.mode !== 'optional';
    if (!bound) {
      bound = true;
      $('prechat-skip').addEventListener('click', function () { finish('skipped'); });
      form.addEventListener('submit', submit);
    }
    form.hidden = false;
    if (api.mode === 'required') composer.hidden = true;
  }

  // The server refused a first message (prechat_required, naming the missing fields): the
  // site made the form required after this browser skipped it, say. Ask for them now, with
  // the server's words (the message box, and its error line, are hidden meanwhile).
  function again(fields, message) {
    if (!api || !form || !known(fields).length) return;
    api.mode = 'required';
    api.fields = known(fields);
    api.storage.set('prechat', null);
    open();
    $('prechat-status').textContent = message || '';
    api.focusInput();
  }

  window.fdPrechat = {start: start, again: again};
})();
