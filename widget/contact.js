/* Frontdesk contact form: a view of the panel (loaded after panel.js).
 *
 * POST /api/widget/v1/sites/{key}/contact (docs/api.md). Nothing typed is lost: the fields
 * are kept in this browser until the message is accepted, a failed send keeps them and
 * says so, and a retry sends the same client id (a double click or a lost answer is one
 * message). The form is also what the chat offers when no operator is online: the chat's
 * text arrives here through FrontdeskPanel.showView('contact', text).
 * Anything a person typed goes into the DOM as text (values, textContent), never as HTML.
 */
(function () {
  'use strict';

  var P = window.FrontdeskPanel;
  if (!P) return;
  var FIELDS = ['name', 'email', 'phone', 'message'];
  var TYPES = {name: 'text', email: 'email', phone: 'tel'};
  var AUTOCOMPLETE = {name: 'name', email: 'email', phone: 'tel'};
  var MAX = {name: 200, email: 254, phone: 32, message: 5000};
  var ui = {inputs: {}, errors: {}, labels: {}};
  var built = false, sending = false, clientId = null, retriedTicket = false, waited = false;
  var section = P.addView('contact', {show: show, language: translate});

  function site() { return P.site() || {}; }
  function settings() { return site().contact || {required: ['email_or_phone']}; }
  function required(name) {
    var list = settings().required || [];
    return list.indexOf(name) >= 0;
  }

  // ---- the draft: kept in this browser until sent (a reload or a closed tab loses nothing)
  function draftKey() { return 'fd:' + (site().key || '') + ':contact'; }
  function saveDraft() {
    var draft = {};
    FIELDS.forEach(function (name) { draft[name] = ui.inputs[name].value; });
    try { localStorage.setItem(draftKey(), JSON.stringify(draft)); } catch (e) { /* storage off: memory only */ }
  }
  function loadDraft() {
    var draft = null;
    try { draft = JSON.parse(localStorage.getItem(draftKey()) || 'null'); } catch (e) { draft = null; }
    if (!draft || typeof draft !== 'object') return;
    FIELDS.forEach(function (name) {
      if (typeof draft[name] === 'string' && !ui.inputs[name].value) ui.inputs[name].value = draft[name];
    });
  }
  function clearDraft() { try { localStorage.removeItem(draftKey()); } catch (e) { /* nothing kept */ } }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = '';
    for (var i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1);
    return h;
  }

  // ---- building

  function build() {
    if (built) return;
    built = true;
    ui.form = P.el('form', 'contact-form');
    ui.form.noValidate = true;
    ui.intro = P.el('p', 'contact-intro');
    ui.form.appendChild(ui.intro);
    ui.error = P.el('p', 'contact-error');
    ui.error.id = 'contact-error';
    ui.error.setAttribute('role', 'alert');
    ui.error.hidden = true;
    FIELDS.forEach(function (name) {
      var wrap = P.el('div', 'field');
      var label = P.el('label');
      var input = P.el(name === 'message' ? 'textarea' : 'input');
      input.id = 'contact-' + name;
      input.name = name;
      input.maxLength = MAX[name];
      if (name === 'message') input.rows = 4;
      else {
        input.type = TYPES[name];
        input.autocomplete = AUTOCOMPLETE[name];
      }
      label.htmlFor = input.id;
      var error = P.el('p', 'field-error');
      error.id = input.id + '-error';
      error.hidden = true;
      input.setAttribute('aria-describedby', error.id);
      input.addEventListener('input', function () { fieldError(name, ''); saveDraft(); });
      wrap.appendChild(label);
      wrap.appendChild(input);
      wrap.appendChild(error);
      ui.form.appendChild(wrap);
      ui.inputs[name] = input;
      ui.labels[name] = label;
      ui.errors[name] = error;
    });
    // The honeypot: off screen, out of the tab order and hidden from screen readers; people
    // never fill it in, form-filling programs do.
    var trap = P.el('div', 'hp');
    trap.setAttribute('aria-hidden', 'true');
    ui.trap = P.el('input');
    ui.trap.name = 'website';
    ui.trap.tabIndex = -1;
    ui.trap.autocomplete = 'off';
    trap.appendChild(ui.trap);
    ui.form.appendChild(trap);

    ui.consentWrap = P.el('div', 'check');
    ui.consent = P.el('input');
    ui.consent.type = 'checkbox';
    ui.consent.id = 'contact-consent';
    ui.consentLabel = P.el('label');
    ui.consentLabel.htmlFor = ui.consent.id;
    ui.consentError = P.el('p', 'field-error');
    ui.consentError.id = 'contact-consent-error';
    ui.consentError.hidden = true;
    ui.consent.setAttribute('aria-describedby', ui.consentError.id);
    ui.consent.addEventListener('change', function () { fieldError('consent', ''); });
    ui.consentWrap.appendChild(ui.consent);
    ui.consentWrap.appendChild(ui.consentLabel);
    ui.form.appendChild(ui.consentWrap);
    ui.privacy = P.el('a', 'privacy');
    ui.privacy.target = '_blank';
    ui.privacy.rel = 'noopener noreferrer';
    ui.form.appendChild(ui.privacy);
    ui.form.appendChild(ui.consentError);
    ui.errors.consent = ui.consentError;

    ui.copyWrap = P.el('div', 'check');
    ui.copy = P.el('input');
    ui.copy.type = 'checkbox';
    ui.copy.id = 'contact-copy';
    ui.copyLabel = P.el('label');
    ui.copyLabel.htmlFor = ui.copy.id;
    ui.copyWrap.appendChild(ui.copy);
    ui.copyWrap.appendChild(ui.copyLabel);
    ui.form.appendChild(ui.copyWrap);

    ui.form.appendChild(ui.error);
    ui.send = P.el('button', 'contact-send');
    ui.send.type = 'submit';
    ui.form.appendChild(ui.send);
    ui.form.addEventListener('submit', function (event) { event.preventDefault(); submit(); });

    ui.done = P.el('div', 'contact-done');
    ui.done.hidden = true;
    ui.doneText = P.el('p');
    ui.doneText.setAttribute('role', 'status');
    ui.again = P.el('button', 'contact-again');
    ui.again.type = 'button';
    ui.again.addEventListener('click', function () {
      ui.done.hidden = true;
      ui.form.hidden = false;
      ui.inputs.message.focus();
    });
    ui.done.appendChild(ui.doneText);
    ui.done.appendChild(ui.again);

    section.appendChild(ui.form);
    section.appendChild(ui.done);
    section.classList.add('contact');
    loadDraft();
    translate();
  }

  function translate() {
    if (!built) return;
    var s = settings(), optional = P.tr('contact_optional');
    ui.intro.textContent = P.tr('contact_intro');
    FIELDS.forEach(function (name) {
      var need = name === 'message' || required(name);
      ui.labels[name].textContent = P.tr('contact_' + name) + (need ? ' *' : '');
      ui.inputs[name].required = need;
      if (!need && name !== 'message' && !(required('email_or_phone') && (name === 'email' || name === 'phone'))) {
        ui.labels[name].textContent += ' (' + optional + ')';
      }
    });
    var consents = s.consents || {};
    ui.consentLabel.textContent = consents[P.lang()] || s.consent || '';
    ui.privacy.hidden = !s.privacy_url;
    if (s.privacy_url && /^https?:\/\//i.test(s.privacy_url)) ui.privacy.href = s.privacy_url;
    ui.privacy.textContent = P.tr('contact_privacy');
    ui.copyLabel.textContent = P.tr('contact_copy');
    ui.send.textContent = P.tr(sending ? 'sending' : 'contact_send');
    ui.again.textContent = P.tr('contact_again');
    if (!ui.done.hidden) ui.doneText.textContent = P.tr('contact_sent');
  }

  function show(_section, carried) {
    build();
    if (carried && !ui.inputs.message.value) {
      ui.inputs.message.value = carried;
      saveDraft();
    }
    if (!ui.done.hidden && carried) {  // a new text to send: the form again
      ui.done.hidden = true;
      ui.form.hidden = false;
    }
    var first = ['name', 'email', 'phone', 'message'].filter(function (name) {
      return !ui.inputs[name].value && (name === 'message' || required(name) || name === 'email');
    })[0] || 'message';
    if (!ui.form.hidden) ui.inputs[first].focus({preventScroll: true});
  }

  // ---- sending

  function fieldError(name, text) {
    var error = ui.errors[name];
    var input = name === 'consent' ? ui.consent : ui.inputs[name];
    if (!error || !input) return false;
    error.textContent = text;
    error.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    return true;
  }

  function formError(text) {
    ui.error.textContent = text;
    ui.error.hidden = !text;
  }

  // The checks a person benefits from before a round trip; the server checks everything again.
  function checkLocally() {
    var value = function (name) { return ui.inputs[name].value.trim(); };
    var problems = [];
    ['name', 'email', 'phone'].forEach(function (name) {
      if (required(name) && !value(name)) problems.push([name, P.tr('contact_required')]);
    });
    if (required('email_or_phone') && !value('email') && !value('phone')) problems.push(['email', P.tr('contact_email_or_phone')]);
    if (!value('message')) problems.push(['message', P.tr('contact_required')]);
    if (!ui.consent.checked) problems.push(['consent', P.tr('contact_consent_needed')]);
    problems.forEach(function (p) { fieldError(p[0], p[1]); });
    return problems.length ? problems[0][0] : '';
  }

  function focusField(name) {
    (name === 'consent' ? ui.consent : ui.inputs[name]).focus();
  }

  function submit() {
    if (sending) return;
    formError('');
    FIELDS.concat(['consent']).forEach(function (name) { fieldError(name, ''); });
    var bad = checkLocally();
    if (bad) return focusField(bad);
    clientId = clientId || uuid();
    setSending(true);
    send();
  }

  function send() {
    var body = {
      id: clientId, consent: true, copy: ui.copy.checked, ticket: settings().ticket, language: P.lang(),
      website: ui.trap.value, page: {url: document.referrer}
    };
    FIELDS.forEach(function (name) { body[name] = ui.inputs[name].value.trim() || null; });
    P.visitor().then(function (token) {
      body.token = token;
      return P.request('POST', '/contact', body);
    }, function () {
      return P.request('POST', '/contact', body);  // no chat session: the form still reaches someone
    }).then(function (response) {
      if (response.ok) {
        if (P.follow && response.data.submission) P.follow(response.data.submission.conversation_id);
        return done();
      }
      var error = response.data.error || {};
      if (error.field === 'ticket' && !retriedTicket) return freshTicket();
      // Sent within seconds of the form appearing (a fast typist, or text carried over from
      // the chat): wait as long as the server says, then send by itself, once.
      if (error.code === 'not_accepted' && error.retry_after && !waited) {
        waited = true;
        return setTimeout(send, Math.min(error.retry_after, 10) * 1000);
      }
      setSending(false);
      if (!fieldError(error.field, error.message || P.tr('contact_failed'))) formError(error.message || P.tr('contact_failed'));
      else focusField(error.field);
    }).catch(function () {
      setSending(false);
      formError(P.tr('contact_failed'));
    });
  }

  // A form left open for a day: a fresh ticket from the config, then the same message again.
  function freshTicket() {
    retriedTicket = true;
    P.request('GET', '/config').then(function (response) {
      var contact = response.data.site && response.data.site.contact;
      if (contact && contact.ticket) settings().ticket = contact.ticket;
      send();
    }, function () {
      setSending(false);
      formError(P.tr('contact_failed'));
    });
  }

  function setSending(on) {
    sending = on;
    ui.send.disabled = on;
    ui.send.textContent = P.tr(on ? 'sending' : 'contact_send');
  }

  function done() {
    setSending(false);
    clientId = null;
    retriedTicket = false;
    waited = false;
    clearDraft();
    ui.inputs.message.value = '';
    ui.form.hidden = true;
    ui.done.hidden = false;
    ui.doneText.textContent = P.tr('contact_sent');
    ui.again.focus({preventScroll: true});
  }
})();
