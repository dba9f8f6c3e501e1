/* The FAQ view: search as the visitor types, the answer inline, "did this help?".
 * Everything shown is text (textContent) except an answer's HTML, which the server
 * rendered from Markdown and cleaned (no script, handlers or javascript: links). */
(function () {
  'use strict';
  var P = window.FrontdeskPanel;
  if (!P) return;
  var section = P.addView('faq', {show: show, language: translate});
  var el = P.el, timer = null, asked = 0, lastQuery = '';

  var form = el('form', 'faq-form');
  form.setAttribute('role', 'search');
  var label = el('label', 'visually-hidden');
  label.htmlFor = 'faq-q';
  var input = el('input', 'faq-input');
  input.id = 'faq-q';
  input.type = 'search';
  input.maxLength = 200;
  input.autocomplete = 'off';
  form.appendChild(label);
  form.appendChild(input);
  var status = el('p', 'faq-status');
  status.setAttribute('role', 'status');
  var list = el('ul', 'faq-results');
  var answer = el('article', 'faq-answer');
  answer.hidden = true;
  var ask = el('button', 'faq-ask');
  ask.type = 'button';
  section.appendChild(form);
  section.appendChild(status);
  section.appendChild(list);
  section.appendChild(answer);
  section.appendChild(ask);

  function translate() {
    label.textContent = P.tr('faq_search_label');
    input.placeholder = P.tr('faq_placeholder');
    ask.textContent = P.tr('faq_ask');
  }
  translate();

  function show(_section, carried) {
    if (carried && !input.value) { input.value = carried; search(); }
    input.focus({preventScroll: true});
  }

  // Debounced: one request when the visitor pauses, and only the latest answer counts.
  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  form.addEventListener('submit', function (event) { event.preventDefault(); clearTimeout(timer); search(); });
  ask.addEventListener('click', function () { leave(input.value.trim()); });

  function search() {
    var q = input.value.trim(), mine = ++asked;
    lastQuery = q;
    answer.hidden = true;
    list.hidden = false;
    if (!q) { list.textContent = ''; status.textContent = ''; return; }
    P.request('GET', '/faq/search?q=' + encodeURIComponent(q) + '&lang=' + P.lang()).then(function (r) {
      if (mine !== asked) return;
      list.textContent = '';
      var results = r.ok && r.data.results || [];
      status.textContent = r.ok ? (results.length ? '' : P.tr('faq_none')) : ((r.data.error || {}).message || '');
      results.forEach(function (item) {
        var li = el('li'), button = el('button', 'faq-result', item.question);
        button.type = 'button';
        button.setAttribute('lang', item.lang);
        button.addEventListener('click', function () { open(item.id); });
        li.appendChild(button);
        if (item.snippet) li.appendChild(el('p', 'faq-snippet', item.snippet));
        list.appendChild(li);
      });
    }, function () { if (mine === asked) status.textContent = P.tr('unavailable'); });
  }

  function open(id) {
    P.request('GET', '/faq/articles/' + id).then(function (r) {
      if (!r.ok) { status.textContent = (r.data.error || {}).message || ''; return; }
      answer.textContent = '';
      var back = el('button', 'faq-back', P.tr('faq_back'));
      back.type = 'button';
      back.addEventListener('click', function () {
        answer.hidden = true;
        list.hidden = false;
        var first = list.querySelector('button');
        (first || input).focus();
      });
      var title = el('h2', 'faq-question', r.data.question);
      var body = el('div', 'faq-body');
      body.innerHTML = r.data.answer_html; // cleaned by the server: the only HTML we insert
      var vote = el('div', 'faq-vote');
      var yes = el('button', 'faq-yes', P.tr('faq_yes')), no = el('button', 'faq-no', P.tr('faq_no'));
      yes.type = no.type = 'button';
      vote.appendChild(el('span', null, P.tr('faq_helped')));
      vote.appendChild(yes);
      vote.appendChild(no);
      answer.setAttribute('lang', r.data.lang);
      answer.appendChild(back);
      answer.appendChild(title);
      answer.appendChild(body);
      answer.appendChild(vote);
      answer.hidden = false;
      list.hidden = true;
      yes.addEventListener('click', function () { voted(id, true, vote); });
      no.addEventListener('click', function () { voted(id, false, vote); });
      title.tabIndex = -1;
      title.focus();
    });
  }

  function voted(id, helpful, vote) {
    var query = lastQuery;
    P.request('POST', '/faq/articles/' + id + '/feedback?lang=' + P.lang(), {helpful: helpful, query: query});
    vote.textContent = helpful ? P.tr('faq_thanks') : '';
    if (!helpful) leave(query);
  }

  // "No" (or "ask us"): the contact form when the site has one, else the chat, with the question.
  function leave(text) {
    if (!P.showView('contact', text)) P.showView('chat', text);
  }
})();
