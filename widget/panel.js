/* Frontdesk chat panel. Runs in an iframe on the Frontdesk origin, under a strict CSP.
 *
 * Server side: the widget HTTP API and the visitor websocket of docs/realtime.md.
 *   - every message gets its client id when it is typed, at any moment (before the
 *     visitor is known or the socket is up too), and waits in the outbox (localStorage)
 *     until acked; the outbox is re-sent, in order, after every welcome;
 *   - on (re)connect we say the highest seq we hold and de-duplicate by seq and client id.
 * Host side: embed.js on the site's page, over postMessage with exact origins both ways.
 *   panel -> host: ready {css}, close, message {data: {conversation_id, message}},
 *                  launcher {open, close, badge, css, icon}: the launcher's names in the panel's
 *                  language (the unread count in the first), its badge's text and style,
 *                  its icon's SVG path (a close mark while open),
 *                  identified {ref, result: {accepted, refused}, warn: [lines for console.warn]}
 *   host -> panel: open, close, identify {data: {name, email, phone, user_id, user_hash}, ref},
 *                  page {url, title, ref}: the host page now (at start and on each URL change),
 *                  consent (withdrawn: forget what is stored, keep nothing from now on)
 * Views: chat is built in; a view's own script, loaded after this one, adds another tab
 * (FAQ, contact form, callback) through window.FrontdeskPanel.addView; a tab shows only
 * when the site switched it on (config site.tabs), and the tab row only with two or more.
 * Nothing is registered, stored or connected for a page view alone: only once the visitor
 * opens the panel, the page identifies them, they already have a token or an outbox from an
 * earlier visit, or the site asks for every visitor live (sites.live_visitors).
 * The journey (docs/leads.md) follows the same rule: the host page's address, title and
 * referrer are only remembered here, and sent as page.viewed once the socket is welcomed.
 * Anything a person typed is put in the DOM with textContent, never parsed as HTML.
 */
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var SITE = params.get('site') || '';
  var HOST_ORIGIN = params.get('origin') || '';
  var FORCED_LANG = params.get('lang') || '';
  var LANGS = ['en', 'ru', 'uk', 'kk'];
  var MAX_CHARS = 5000;
  var API = '/api/widget/v1/sites/' + encodeURIComponent(SITE);
  var FRAMED = window.parent !== window;

  // How embed.js places this iframe on the host page when open (kept here so that the
  // loader stays tiny): above the launcher, or full screen on a phone (embed.js then sets
  // its top and height to the visual viewport's, which the on-screen keyboard shrinks).
  // x, y: the launcher's offsets from its corner (the script tag's, else the site's), CSS px.
  var X = offsetParam('x'), Y = offsetParam('y');
  var BOX = 'background:#fff;box-shadow:0 4px 16px #0005;border-radius:12px;bottom:' + (Y + 72) + 'px;' +
    'width:min(380px,100vw - ' + 2 * X + 'px);height:min(600px,100dvh - ' + (Y + 88) + 'px);';
  var GEOMETRY = {right: BOX + 'right:' + X + 'px', left: BOX + 'left:' + X + 'px', full: 'inset:0;width:100%;height:100%;background:#fff'};

  // The launcher's badge (drawn by embed.js, styled from here): the unread count on red, a
  // green dot while someone is online, else nothing. White on #d00 is 5.3:1.
  var BADGE = 'position:absolute;border:2px solid #fff;border-radius:12px;font:700 12px/20px sans-serif;color:#fff;text-align:center;';
  var BADGE_UNREAD = BADGE + 'top:-4px;right:-4px;min-width:12px;height:20px;padding:0 4px;background:#d00';
  var BADGE_ONLINE = BADGE + 'top:2px;right:2px;width:10px;height:10px;background:#080';

  // The launcher's icon (an SVG path in px): a speech bubble, a close mark while the panel is open.
  var ICON_CHAT = 'M5 6h16v12H10l-5 4z';
  var ICON_CLOSE = 'M7 8.4 8.4 7 13 11.6 17.6 7 19 8.4 14.4 13 19 17.6 17.6 19 13 14.4 8.4 19 7 17.6 11.6 13z';

  var BACKOFF_MIN = 500, BACKOFF_MAX = 15000, ACK_TIMEOUT = 10000, PING_EVERY = 25000;
  var IDENTIFY_TRIES = 3;    // sockets an identify may go out on unanswered before we give up
  var TYPING_EVERY = 2000, TYPING_IDLE = 3000, TYPING_SHOWN = 5000;

  var ui = {};
  var catalog = {};
  var lang = 'en';
  var catalogLang = '';      // the language whose catalog is loaded and applied
  var site = null;
  var token = null;
  var online = false;
  var problem = '';          // a connection or start-up problem shown in the notice bar
  var ready = false;         // site known and translated: the panel is shown (typing works before too)
  var isOpen = !FRAMED;      // opened on the host page (or shown on its own)

  var ws = null, welcomed = false, attempt = 0, hadLoss = false, failed = false;
  var retryTimer = 0, ackTimer = 0, pingTimer = 0, pongTimer = 0, problemTimer = 0;
  var conversationId = null;
  var maxSeq = 0;            // highest seq received from the stream: our last_seq
  var liveFrom = null;       // seqs up to this were history when this page loaded
  var bySeq = {}, byId = {}, posted = {}, drawn = [];
  var waiting = {};          // client ids sent on this socket, not acked yet
  var identifies = [];       // {frame, ref, refused, tries}: visitor.identify frames, kept until answered
  var verified = null;       // {user_id, user_hash} the server accepted: the same user in every browser
  var seen = null;           // highest seq the visitor has had in front of them
  var readSeq = 0;           // highest seq an operator has read: the visitor's messages up to it show "Seen"
  var unread = 0, launcherPosted = '';
  var typingSentAt = 0, typingOn = false, typingStopTimer = 0, typingHideTimer = 0;
  var wanted = !FRAMED;      // a reason to register and connect (see the top): until then, nothing
  var hostPage = null, pageSent = '';  // the host page now, and the last one reported

  // Our files' content-hashed URLs, listed by the server in panel.html (cached for good).
  var ASSETS = (function () {
    try { return JSON.parse(document.getElementById('frontdesk-assets').textContent); } catch (e) { return {}; }
  })();
  function assetUrl(name) { return ASSETS[name] || '/widget/' + name; }

  var views = {chat: {}};    // name -> hooks {show(section), language()} of a registered view
  var followWanted = '';     // a conversation a view made, not yet followed by the socket
  var currentView = 'chat';

  function offsetParam(name) {
    var value = parseInt(params.get(name), 10);
    return value >= 0 && value <= 1000 ? value : 16;
  }

  // ---- storage: localStorage when it works, memory when it does not; never throws

  var storage = (function () {
    var prefix = 'fd:' + SITE + ':', memory = {}, broken = false;
    return {
      get: function (key) {
        if (!broken) {
          try { return (memory[key] = localStorage.getItem(prefix + key)); } catch (e) { broken = true; }
        }
        return key in memory ? memory[key] : null;
      },
      set: function (key, value) {
        memory[key] = value;
        if (broken) return;
        try {
          if (value == null) localStorage.removeItem(prefix + key);
          else localStorage.setItem(prefix + key, value);
        } catch (e) { broken = true; }
      },
      // Frontdesk('consent', false): what this site's widget stored in the browser is
      // removed, and from now on it is kept in memory only (this page's chat goes on).
      forget: function () {
        broken = true;
        try {
          for (var i = localStorage.length - 1; i >= 0; i--) {
            var key = localStorage.key(i);
            if (key && key.indexOf(prefix) === 0) localStorage.removeItem(key);
          }
        } catch (e) { /* nothing stored, or nothing we may touch */ }
      }
    };
  })();

  // The outbox is re-read from storage on every change so that two tabs do not
  // overwrite each other's pending messages.
  function readOutbox() {
    var list;
    try { list = JSON.parse(storage.get('outbox') || '[]'); } catch (e) { return []; }
    return Array.isArray(list) ? list.filter(function (item) {
      return item && typeof item.id === 'string' && typeof item.body === 'string';
    }) : [];
  }
  function writeOutbox(list) { storage.set('outbox', list.length ? JSON.stringify(list) : null); }
  function outboxAdd(item) { var list = readOutbox(); list.push(item); writeOutbox(list); }
  function outboxRemove(id) {
    var list = readOutbox(), kept = list.filter(function (item) { return item.id !== id; });
    if (kept.length !== list.length) writeOutbox(kept);
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = '';
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1) + ([3, 5, 7, 9].indexOf(i) >= 0 ? '-' : '');
    return h;
  }

  // ---- translations

  // Plural entries ({one, few, many, other}) are resolved by widget/plural.js.
  // A text the site's owner wrote for this key (site settings: offline_note, placeholder)
  // wins, in the panel's language, else their default; else the catalog's words.
  function tr(key, vars) {
    var own = site && site.texts && site.texts[key];
    return own && (own[lang] || own['']) || window.fdPlural.text(catalog[key], lang, vars);
  }

  // "uk-UA", "kk_KZ", "kk" -> a language we speak; the first one that is, else English.
  function pickLanguage(candidates) {
    for (var i = 0; i < candidates.length; i++) {
      var code = String(candidates[i] || '').split(/[-_]/)[0].toLowerCase();
      if (LANGS.indexOf(code) >= 0) return code;
    }
    return 'en';
  }

  function browserLanguages() { return navigator.languages || [navigator.language]; }

  // Load the catalog of ``code`` and apply it (unless another language was chosen meanwhile).
  function useLanguage(code) {
    lang = code;
    if (catalogLang === code) return Promise.resolve();
    return fetch(assetUrl('i18n/' + code + '.json')).then(function (response) {
      if (!response.ok) throw new Error('catalog ' + response.status);
      return response.json();
    }).then(function (data) {
      if (lang !== code) return;
      catalog = data;
      catalogLang = code;
      translatePage();
    });
  }

  // The language menu in the header: the visitor's choice wins over the page's, the site's
  // and the browser's, and is remembered (storage never throws). translatePage redraws
  // every text, the site's greeting and the launcher's names in it; the server hears it
  // with the visitor's next registration.
  function applyLanguage(code) {
    if (LANGS.indexOf(code) < 0) return;
    storage.set('lang', code);
    if (code === lang && code === catalogLang) return;
    useLanguage(code).then(function () {
      if (lang === code && token) register(false).catch(function () { /* said again on the next visit */ });
    }, function () {
      // Offline: keep the texts we have, and say so in the menu.
      if (lang !== code) return;
      lang = catalogLang || 'en';
      ui.lang.value = lang;
    });
  }

  function translatePage() {
    document.documentElement.lang = lang;
    ui.lang.value = lang;
    updateLauncher();
    document.title = tr('title');
    each('[data-i18n]', function (el) { el.textContent = tr(el.getAttribute('data-i18n')); });
    each('[data-i18n-label]', function (el) { el.setAttribute('aria-label', tr(el.getAttribute('data-i18n-label'))); });
    each('[data-i18n-title]', function (el) { el.title = tr(el.getAttribute('data-i18n-title')); });
    each('[data-i18n-placeholder]', function (el) { el.placeholder = tr(el.getAttribute('data-i18n-placeholder')); });
    drawn.forEach(draw); // messages typed before the words for "sending" were known, or in another language
    if (ready) drawGreeting();
    if (ui.typing && !ui.typing.hidden) ui.typing.textContent = tr('typing');
    if (errorKind === 'length') checkLength();
    Object.keys(views).forEach(function (name) { if (views[name].language) views[name].language(); });
    updateStatus();
  }

  function each(selector, fn) { Array.prototype.forEach.call(document.querySelectorAll(selector), fn); }

  // ---- HTTP

  function request(method, path, body) {
    var headers = {'Accept-Language': lang};
    if (body) headers['Content-Type'] = 'application/json';
    return fetch(path, {
      method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
      credentials: 'omit', cache: 'no-store'
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return {status: response.status, ok: response.ok, data: data || {}};
      });
    });
  }

  // An HTTP error that waiting will not fix (unknown site, refused origin, ...).
  function Refused(response) {
    var error = response.data.error || {};
    this.message = error.message || tr('unavailable');
    this.code = error.code || 'http_' + response.status;
  }

  function register(retried) {
    return request('POST', API + '/visitors', {
      token: token || storage.get('token'), language: lang, page: {url: document.referrer, title: ''}
    }).then(function (response) {
      if (response.status === 401 && !retried) {
        token = null;
        storage.set('token', null);
        return register(true);
      }
      if (!response.ok || !response.data.token) throw new Refused(response);
      token = response.data.token;
      storage.set('token', token);
      if (response.data.conversation) conversationId = response.data.conversation.id;
      setOnline(response.data.operators_online);
    });
  }

  // The catalog of the likeliest language at once (the panel says "Connecting…" in it),
  // the site config (name, colour, greeting, forced language), then the visitor and socket.
  function start() {
    var early = useLanguage(pickLanguage([storage.get('lang'), FORCED_LANG].concat(browserLanguages())));
    early.catch(function () { /* handled below, or replaced by the site's language */ });
    request('GET', API + '/config').then(function (response) {
      if (response.ok && response.data.site) {
        site = response.data.site;
        online = !!response.data.operators_online;
      }
      // The visitor's choice in the menu (read again: it may have been made meanwhile),
      // the page's, the site's, the browser's.
      var chosen = pickLanguage([storage.get('lang'), FORCED_LANG, site && site.language].concat(browserLanguages()));
      return chosen === lang ? early : useLanguage(chosen);
    }).then(function () {
      show();
      // A returning visitor (token, or messages still to send) or a site that shows
      // every visitor live connects now; anyone else when they open the chat.
      if (storage.get('token') || readOutbox().length || site && site.live_visitors) wanted = true;
      if (wanted) connect();
    }).catch(function () {
      // The network or the server is down: try again, as the socket would.
      retryTimer = setTimeout(start, backoff());
    });
  }

  // The visitor opened the chat or the page identified them: register and connect now
  // (at once if the site is known, else when start() has it).
  function wake() {
    if (wanted) return;
    wanted = true;
    if (ready && !failed) connect();
  }

  function fail(message) {
    failed = true;
    problem = message;
    ui.input.disabled = ui.send.disabled = true;
    updateStatus();
  }

  // ---- the websocket

  function backoff() {
    var delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, attempt++));
    return delay * (0.7 + Math.random() * 0.6);
  }

  function connect() {
    clearTimeout(retryTimer);
    if (ws) return;
    if (!token) {
      register(false).then(connect, function (error) {
        if (error instanceof Refused) fail(error.message);
        else retryTimer = setTimeout(connect, backoff());
      });
      return;
    }
    var url = (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host +
      '/ws/visitor?site=' + encodeURIComponent(SITE) + '&lang=' + lang;
    var socket = ws = new WebSocket(url);
    var helloTimer = setTimeout(function () { if (ws === socket && !welcomed) drop(); }, ACK_TIMEOUT);
    welcomed = false;
    socket.onopen = function () {
      socket.send(JSON.stringify({type: 'hello', token: token, last_seq: maxSeq}));
    };
    socket.onmessage = function (event) {
      if (ws !== socket) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame === 'object') handle(frame);
    };
    socket.onclose = function (event) {
      clearTimeout(helloTimer);
      if (ws !== socket) return;
      ws = null;
      lost(event.code);
    };
  }

  // Give up on this socket now (no ack, no pong) and reconnect.
  function drop() {
    var socket = ws;
    if (!socket) return;
    ws = null;
    socket.onclose = null;
    try { socket.close(); } catch (e) { /* already closing */ }
    lost(0);
  }

  function lost(code) {
    welcomed = false;
    hadLoss = true;
    waiting = {};
    clearTimeout(ackTimer);
    ackTimer = 0;
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    showTyping(false);
    updateStatus();
    Object.keys(byId).forEach(function (id) {
      var m = byId[id];
      if (!m.seq && m.state === 'sending') setState(m, 'retrying');
    });
    if (!problemTimer) problemTimer = setTimeout(function () { problem = tr('reconnecting'); updateStatus(); }, 2000);
    if (code === 4401) { // the token was refused: start over as a new visitor
      token = null;
      storage.set('token', null);
      maxSeq = 0;
    }
    retryTimer = setTimeout(connect, backoff());
  }

  function sendFrame(frame) {
    if (!ws || !welcomed) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  // A frame that must be acked: if no ack comes within ACK_TIMEOUT, reconnect.
  function sendTracked(frame) {
    if (!sendFrame(frame)) return;
    waiting[frame.id] = true;
    if (!ackTimer) ackTimer = setTimeout(drop, ACK_TIMEOUT);
  }

  function acked(id) {
    delete waiting[id];
    clearTimeout(ackTimer);
    ackTimer = Object.keys(waiting).length ? setTimeout(drop, ACK_TIMEOUT) : 0;
  }

  function handle(frame) {
    clearTimeout(pongTimer);
    switch (frame.type) {
      case 'welcome': return onWelcome(frame);
      case 'ack': return onAck(frame);
      case 'identified': return onIdentified(frame);
      case 'message.created': return onMessage(frame);
      case 'typing': return showTyping(!!frame.typing);
      case 'presence': return setOnline(frame.operators_online);
      case 'site.updated': return reloadSite();
      case 'conversation.read': return onRead(frame.read_seq);
      case 'error': return onError(frame);
    }
  }

  function onWelcome(frame) {
    welcomed = true;
    attempt = 0;
    hadLoss = false;
    clearTimeout(problemTimer);
    problemTimer = 0;
    problem = '';
    if (frame.conversation) {
      conversationId = frame.conversation.id;
      onRead(frame.conversation.read_seq);
    }
    if (followWanted && conversationId !== followWanted) { followWanted = ''; setTimeout(drop, 0); }
    else followWanted = '';
    if (liveFrom === null) {
      liveFrom = frame.conversation ? frame.conversation.last_seq || 0 : 0;
      if (seen === null) storage.set('seen', String(seen = liveFrom));
    }
    setOnline(frame.operators_online);
    // Who the visitor is goes first (a required form's fields, the name on a first message),
    // then everything not acked yet, oldest first (a repeated id is harmless).
    identifies = identifies.filter(function (item) {
      if (item.tries++ >= IDENTIFY_TRIES) {
        // Sent on several sockets that all closed unanswered: give up, or it never ends.
        reportIdentify(item, [], refuseAll(item, {code: 'no_answer', message: tr('unavailable')}));
        return false;
      }
      sendTracked(item.frame);
      return true;
    });
    readOutbox().forEach(function (item) {
      var m = byId[item.id] || addPending(item);
      if (m.seq) outboxRemove(m.id);
      else if (m.state !== 'failed') transmit(m);
    });
    reportPage();
    clearInterval(pingTimer);
    pingTimer = setInterval(function () {
      if (sendFrame({type: 'ping'})) pongTimer = setTimeout(drop, ACK_TIMEOUT);
    }, PING_EVERY);
  }

  function onAck(frame) {
    acked(frame.id);
    var m = byId[frame.id];
    if (!m) return;
    outboxRemove(m.id);
    if (frame.conversation_id) conversationId = frame.conversation_id;
    if (!m.seq && typeof frame.seq === 'number') {
      m.seq = frame.seq;
      bySeq[m.seq] = m;
    }
    if (frame.created_at) m.at = frame.created_at;
    setState(m, 'sent');
  }

  function onMessage(frame) {
    var x = frame.message;
    if (!x || typeof x.seq !== 'number') return;
    if (frame.conversation_id) conversationId = frame.conversation_id;
    if (x.seq > maxSeq) maxSeq = x.seq;
    var m = bySeq[x.seq] || (x.client_id && byId[x.client_id]);
    if (m) { // our own message coming back: merge
      if (!m.seq) m.seq = x.seq;
      bySeq[x.seq] = m;
      m.at = x.created_at || m.at;
      if (m.state !== 'sent') {
        outboxRemove(m.id);
        acked(m.id);
      }
      setState(m, 'sent');
    } else {
      var author = x.author || {};
      m = {
        seq: x.seq, id: x.client_id || null, mine: author.kind === 'visitor', name: author.name,
        body: String(x.body), at: x.created_at, state: 'sent'
      };
      bySeq[m.seq] = m;
      if (m.id) byId[m.id] = m;
      draw(m);
    }
    if (!m.mine) showTyping(false);
    if (x.seq > liveFrom && !posted[x.seq]) {
      posted[x.seq] = true;
      // Said once by the polite live region; the thread itself is not live, so redrawing
      // or reordering it (states, a language switch, history) is never read out again.
      if (!m.mine) ui.announce.textContent = tr('announce', {name: m.name || tr('operator'), text: m.body.slice(0, 300)});
      toHost('message', {data: {conversation_id: conversationId, message: x}});
    }
    updateUnread();
  }

  function onError(frame) {
    if (frame.code === 'invalid_token') return; // the close (4401) that follows starts over
    if (frame.id) acked(frame.id);
    var item = takeIdentify(frame.id);
    if (item) { // the host page's data, refused as a whole: tell the page, not the visitor
      var error = {code: frame.code || 'error', message: frame.message || tr('unavailable')};
      if (frame.field && frame.field in item.frame) {
        var only = {};
        only[frame.field] = error;
        return reportIdentify(item, [], only);
      }
      return reportIdentify(item, [], refuseAll(item, error));
    }
    var m = frame.id && byId[frame.id];
    if (m && !m.seq && frame.code === 'prechat_required' && window.fdPrechat) {
      // A required form this browser did not fill in (widget/prechat.js): asked again, and
      // the refused text leaves the thread for the box, to be sent when the form is done.
      outboxRemove(m.id);
      delete byId[m.id];
      drawn = drawn.filter(function (d) { return d !== m; });
      if (m.li.parentNode) m.li.parentNode.removeChild(m.li);
      ui.input.value = ui.input.value ? ui.input.value + '\n' + m.body : m.body;
      autosize();
      window.fdPrechat.again(frame.fields, frame.message);
      return;
    }
    if (m && !m.seq) {
      if (frame.code === 'rate_limited') {
        setState(m, 'retrying');
        setTimeout(function () { if (!m.seq) transmit(m); }, 5000);
      } else {
        outboxRemove(m.id);
        setState(m, 'failed');
      }
    }
    showError(frame.message || tr('unavailable'));
  }

  // ---- messages in the thread

  function addPending(item) {
    var m = {id: item.id, mine: true, body: item.body, at: item.created_at, state: 'sending'};
    byId[m.id] = m;
    draw(m);
    return m;
  }

  function transmit(m) {
    setState(m, welcomed || !hadLoss ? 'sending' : 'retrying');
    sendTracked({type: 'message.send', id: m.id, body: m.body});
  }

  // An operator has read the conversation up to `seq` (a read receipt): "Sent" becomes "Seen".
  function onRead(seq) {
    if (typeof seq !== 'number' || seq <= readSeq) return;
    readSeq = seq;
    drawn.forEach(function (m) { if (m.mine && m.seq && m.seq <= seq) draw(m); });
  }

  function setState(m, state) {
    m.state = state;
    draw(m);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  // Times only (no month or weekday names), so Intl serves every language we speak: CLDR's
  // short time ("06:00"); Chromium has no Kazakh data, but its fallback is that same "06:00".
  function time(iso) {
    var date = iso ? new Date(iso) : null;
    return date && !isNaN(date) ? date.toLocaleTimeString(lang, {timeStyle: 'short'}) : '';
  }

  var STATE_TEXT = {sending: 'sending', sent: 'sent', retrying: 'retrying', failed: 'not_sent'};

  function draw(m) {
    if (!ui.thread) return;
    var isNew = !m.li;
    if (isNew) {
      m.li = el('li');
      m.who = m.li.appendChild(el('p', m.mine ? 'visually-hidden' : 'who'));
      m.li.appendChild(el('p', 'bubble', m.body));
      m.meta = m.li.appendChild(el('p', 'meta'));
      drawn.push(m);
    }
    m.who.textContent = m.mine ? tr('you') + ':' : m.name || tr('operator');
    m.li.className = 'msg ' + (m.mine ? 'me' : 'op') + (m.state === 'retrying' || m.state === 'failed' ? ' ' + m.state : '');
    var parts = [time(m.at)];
    if (m.mine) parts.push(tr(m.state === 'sent' && m.seq && m.seq <= readSeq ? 'seen' : STATE_TEXT[m.state]));
    m.meta.textContent = parts.filter(Boolean).join(' · ');
    place(m.li, m.seq, isNew || m.mine);
  }

  // Keep the thread in seq order; messages without a seq yet (pending) stay at the end.
  function place(li, seq, scroll) {
    var thread = ui.thread, list = ui.list, ref = null;
    var atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
    if (seq) {
      for (var node = list.firstChild; node; node = node.nextSibling) {
        if (node !== li && (node.fdSeq === undefined || node.fdSeq > seq)) { ref = node; break; }
      }
    }
    li.fdSeq = seq || undefined;
    if (li.parentNode !== list || (seq && li.nextSibling !== ref)) list.insertBefore(li, ref);
    if (scroll && atBottom) thread.scrollTop = thread.scrollHeight;
  }

  // The owner's greeting in the panel's language, else the site's default; drawn again in
  // the new language when the visitor switches.
  function drawGreeting() {
    var texts = site && site.greetings || {};
    var text = texts[lang] || texts[''] || '';
    if (!ui.greeting) {
      if (!text) return;
      ui.greeting = el('li', 'msg op');
      ui.greeting.appendChild(el('p', 'who', site.name || tr('operator')));
      ui.greeting.appendChild(el('p', 'bubble'));
      ui.greeting.fdSeq = 0;
      ui.list.insertBefore(ui.greeting, ui.list.firstChild);
    }
    ui.greeting.hidden = !text;
    ui.greeting.firstChild.textContent = site.name || tr('operator'); // the name may have changed (site.updated)
    ui.greeting.lastChild.textContent = text;
  }

  // ---- header, notices, typing, errors

  function setOnline(value) {
    online = !!value;
    updateStatus();
    updateLauncher();
  }

  // The header says "Connecting…" until the socket is welcomed (and again while it is
  // down), then whether someone is online; the notice bar says what is wrong, if anything.
  function updateStatus() {
    if (!ui.head) return;
    var connecting = !welcomed && !failed;
    ui.head.classList.toggle('connecting', connecting);
    ui.head.classList.toggle('online', welcomed && online);
    ui.status.textContent = failed ? '' : tr(connecting ? 'connecting' : online ? 'online' : 'offline');
    updateNotice();
  }

  function updateNotice() {
    // Nobody online and the site has the contact form: offer it, carrying what was typed.
    var offer = !problem && welcomed && !online && enabledViews().indexOf('contact') >= 0;
    var text = problem || (welcomed && !online ? tr(offer ? 'offline_offer' : 'offline_note') : '');
    ui.notice.textContent = text;
    ui.notice.hidden = !text;
    ui.notice.classList.toggle('problem', !!problem);
    if (offer && currentView === 'chat') {
      var button = el('button', 'offer', tr('offline_offer_button'));
      button.type = 'button';
      button.addEventListener('click', function () { showView('contact', ui.input.value.trim()); });
      ui.notice.appendChild(button);
    }
  }

  function showTyping(on) {
    clearTimeout(typingHideTimer);
    if (!ui.typing) return;
    ui.typing.hidden = !on;
    ui.typing.textContent = on ? tr('typing') : '';
    if (on) typingHideTimer = setTimeout(function () { showTyping(false); }, TYPING_SHOWN);
  }

  var errorKind = '';
  function showError(text, kind) {
    errorKind = text ? kind || 'server' : '';
    ui.error.textContent = text || '';
    ui.error.hidden = !text;
    ui.input.setAttribute('aria-invalid', kind === 'length' ? 'true' : 'false');
  }

  // ---- unread count for the launcher badge

  function updateUnread() {
    if (isOpen && document.visibilityState !== 'hidden' && maxSeq > (seen || 0)) {
      seen = maxSeq;
      storage.set('seen', String(seen));
    }
    var count = 0;
    Object.keys(bySeq).forEach(function (seq) { if (!bySeq[seq].mine && +seq > (seen || 0)) count++; });
    unread = count;
    updateLauncher();
  }

  // The launcher says how many messages wait ("Open chat, 2 unread messages", in the plural
  // form the number needs) and shows the count; sent when anything in it changes.
  function updateLauncher() {
    if (!catalogLang) return;
    var launcher = {
      open: unread ? tr('launcher_unread', {count: unread}) : tr('launcher_open'),
      close: tr('launcher_close'),
      badge: unread ? (unread > 99 ? '99+' : String(unread)) : '',
      css: unread ? BADGE_UNREAD : online ? BADGE_ONLINE : 'display:none',
      icon: isOpen ? ICON_CLOSE : ICON_CHAT
    };
    var said = JSON.stringify(launcher);
    if (said === launcherPosted) return;
    launcherPosted = said;
    toHost('launcher', launcher);
  }

  // ---- composer

  function chars(text) { return Array.from(text).length; } // code points, as the server counts

  function checkLength() {
    var count = chars(ui.input.value.trim());
    if (count > MAX_CHARS) showError(tr('too_long', {count: count, max: MAX_CHARS}), 'length');
    else if (errorKind) showError('');
    return count <= MAX_CHARS;
  }

  function autosize() {
    var input = ui.input;
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 140) + 'px';
  }

  // Whatever the moment (catalog, visitor or socket not there yet), a message goes to the
  // outbox and the thread as "sending"; the welcome sends it.
  function submit() {
    var body = ui.input.value.trim();
    if (!body || ui.input.disabled) return;
    if (!checkLength()) return ui.input.focus();
    stopTyping();
    var m = {id: uuid(), mine: true, body: body, at: new Date().toISOString(), state: 'sending'};
    byId[m.id] = m;
    outboxAdd({id: m.id, body: m.body, created_at: m.at});
    ui.input.value = '';
    autosize();
    showError('');
    draw(m);
    ui.thread.scrollTop = ui.thread.scrollHeight;
    transmit(m);
  }

  function typing() {
    if (!ui.input.value.trim()) return stopTyping();
    var now = Date.now();
    if (now - typingSentAt >= TYPING_EVERY && sendFrame({type: 'typing', typing: true})) {
      typingSentAt = now;
      typingOn = true;
    }
    clearTimeout(typingStopTimer);
    typingStopTimer = setTimeout(stopTyping, TYPING_IDLE);
  }

  function stopTyping() {
    clearTimeout(typingStopTimer);
    if (typingOn) sendFrame({type: 'typing', typing: false});
    typingOn = false;
    typingSentAt = 0;
  }

  // ---- the host page

  function toHost(type, message) {
    if (!FRAMED || !HOST_ORIGIN) return;
    message = message || {};
    message.fd = 1;
    message.type = type;
    try { window.parent.postMessage(message, HOST_ORIGIN); } catch (e) { /* not a valid origin */ }
  }

  function onHostMessage(event) {
    if (!FRAMED || event.source !== window.parent || event.origin !== HOST_ORIGIN) return;
    var m = event.data;
    if (!m || m.fd !== 1) return;
    if (m.type === 'open') {
      isOpen = true;
      wake();
      focusInput();
      updateUnread();
    } else if (m.type === 'close') {
      isOpen = false;
      stopTyping();
      updateLauncher();
    } else if (m.type === 'identify') {
      identify(m.data, m.ref);
      wake();
    } else if (m.type === 'consent') {
      storage.forget();
    } else if (m.type === 'page' && typeof m.url === 'string') {
      hostPage = {url: m.url, title: String(m.title || ''), referrer: String(m.ref || '')};
      reportPage();
    }
  }

  // The page the (registered, connected) visitor is on, for the operator's lead card; the
  // time zone comes from this browser's Intl (the host page's is the same).
  function reportPage() {
    if (!hostPage || hostPage.url === pageSent || !welcomed) return;
    var zone = '';
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { /* no Intl */ }
    if (sendFrame({type: 'page.viewed', url: hostPage.url.slice(0, 2048), title: hostPage.title.slice(0, 300),
      referrer: hostPage.referrer.slice(0, 2048), timezone: zone})) pageSent = hostPage.url;
  }

  // Frontdesk('identify', data, callback) on the host page. Every given field is either
  // stored or refused with a reason; the page hears which (console.warn, the callback).
  var IDENTITY = ['name', 'email', 'phone', 'user_id', 'user_hash'];

  function identify(data, ref, done) {
    var item = {frame: {type: 'visitor.identify', id: uuid()}, ref: ref, refused: {}, tries: 0, done: done};
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      item.refused.data = {code: 'invalid', message: tr('identify_not_object')};
      return reportIdentify(item, [], {});
    }
    var any = false;
    Object.keys(data).forEach(function (key) {
      var value = data[key];
      if (IDENTITY.indexOf(key) < 0) {
        item.refused[key] = {code: 'unknown_field', message: tr('identify_unknown_field')};
      } else if (value != null && String(value).trim()) { // null or blank: nothing to store
        item.frame[key] = typeof value === 'string' || typeof value === 'number' ? String(value).trim() : value;
        any = true;
      }
    });
    if (!any) return reportIdentify(item, [], {});
    identifies.push(item);
    if (welcomed) {
      item.tries++;
      sendTracked(item.frame);
    }
  }

  function takeIdentify(id) {
    var found = null;
    identifies = identifies.filter(function (item) {
      if (item.frame.id !== id) return true;
      found = item;
      return false;
    });
    return found;
  }

  function refuseAll(item, error) {
    var refused = {};
    IDENTITY.forEach(function (key) { if (key in item.frame) refused[key] = error; });
    return refused;
  }

  function onIdentified(frame) {
    acked(frame.id);
    var item = takeIdentify(frame.id);
    if (item && Array.isArray(frame.accepted) && frame.accepted.indexOf('user_id') >= 0) {
      verified = {user_id: item.frame.user_id, user_hash: item.frame.user_hash};
    }
    if (item) reportIdentify(item, Array.isArray(frame.accepted) ? frame.accepted : [], frame.refused || {});
    if (frame.token) adopt(frame.token);
  }

  // The page vouched for a logged-in user (user_id + user_hash) whose conversation another
  // device started: this device takes that user's token and shows their conversation
  // (docs/leads.md, "Verified identity across devices"). What it showed until now goes from
  // the thread; messages not sent yet stay and leave with the new token.
  function adopt(newToken) {
    if (typeof newToken !== 'string' || newToken === token) return;
    token = newToken;
    storage.set('token', token);
    drawn = drawn.filter(function (m) {
      if (!m.seq) return true;
      if (m.li.parentNode) m.li.parentNode.removeChild(m.li);
      delete bySeq[m.seq];
      if (m.id) delete byId[m.id];
      return false;
    });
    conversationId = null;
    maxSeq = readSeq = 0;
    liveFrom = seen = null;
    posted = {};
    pageSent = '';  // the page is reported again, to the user's lead
    storage.set('seen', null);
    updateUnread();
    drop();  // the next hello names the new token, from seq 0: the user's whole conversation
  }

  function reportIdentify(item, accepted, refused) {
    Object.keys(refused).forEach(function (key) { item.refused[key] = refused[key]; });
    var warn = Object.keys(item.refused).map(function (key) {
      var why = item.refused[key];
      return 'Frontdesk: identify did not store "' + key + '" (' + why.code + '): ' + why.message;
    });
    if (item.done) return item.done(accepted, item.refused);  // the pre-chat form's, not the page's
    toHost('identified', {ref: item.ref, result: {accepted: accepted, refused: item.refused}, warn: warn});
  }

  // The open panel keeps focus inside: Tab from its last control goes to its first and
  // Shift+Tab from the first to the last, instead of out to the host page. Esc closes it
  // (embed.js then gives the launcher its focus back).
  function trapFocus(event) {
    var all = Array.prototype.filter.call(
      document.querySelectorAll('select, button, textarea, input, a[href], [tabindex="0"]'),
      function (node) { return !node.disabled && !node.hidden && node.offsetParent; }
    );
    var at = all.indexOf(document.activeElement), last = all.length - 1;
    if (last < 0) return;
    if (event.shiftKey ? at <= 0 : at === last || at < 0) {
      event.preventDefault();
      all[event.shiftKey ? last : 0].focus();
    }
  }

  function focusInput() {
    if (!isOpen) return;
    var target = ui.composer.hidden ? document.querySelector('.prechat-field:not([hidden]) input') : ui.input;
    if (target && !target.disabled) target.focus({preventScroll: true});
  }

  // ---- views

  // A view's tab and section: made here so that every view's markup is alike.
  function addView(name, hooks) {
    if (views[name]) return document.getElementById('view-' + name);
    views[name] = hooks || {};
    var tab = el('button', 'tab');
    tab.type = 'button';
    tab.id = 'tab-' + name;
    tab.setAttribute('role', 'tab');
    tab.setAttribute('aria-controls', 'view-' + name);
    tab.setAttribute('aria-selected', 'false');
    tab.setAttribute('data-view', name);
    tab.setAttribute('data-i18n', 'tab_' + name);
    tab.tabIndex = -1;
    tab.textContent = tr('tab_' + name);
    document.getElementById('tabs').appendChild(tab);
    var section = el('section', 'view');
    section.id = 'view-' + name;
    section.setAttribute('role', 'tabpanel');
    section.setAttribute('aria-labelledby', tab.id);
    section.hidden = true;
    document.querySelector('.panel').appendChild(section);
    if (ready) drawTabs();
    return section;
  }

  function enabledViews() {
    var wanted = site && Array.isArray(site.tabs) ? site.tabs : ['chat'];
    return wanted.filter(function (name) { return views[name]; });
  }

  function drawTabs() {
    var names = enabledViews();
    if (names.indexOf(currentView) < 0) currentView = names[0] || 'chat';
    ui.tabs.hidden = names.length < 2;
    each('.tab', function (tab) {
      var name = tab.getAttribute('data-view');
      tab.hidden = names.indexOf(name) < 0;
      tab.setAttribute('aria-selected', String(name === currentView));
      tab.tabIndex = name === currentView ? 0 : -1;
      document.getElementById('view-' + name).hidden = name !== currentView;
    });
  }

  // Show a view; ``carried``: text the visitor typed elsewhere, put in the view's input
  // (the chat's box, or whatever the view's show() does with it): nothing typed is lost.
  function showView(name, carried) {
    if (!views[name] || enabledViews().indexOf(name) < 0) return false;
    currentView = name;
    drawTabs();
    updateNotice();
    if (name === 'chat') {
      if (carried && !ui.input.value) {
        ui.input.value = carried;
        autosize();
        checkLength();
      }
      focusInput();
    } else if (views[name].show) {
      views[name].show(document.getElementById('view-' + name), carried);
    }
    return true;
  }

  function onTabKey(event) {
    var names = enabledViews(), at = names.indexOf(currentView), next = -1;
    if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      next = (at + (event.key === 'ArrowRight' ? 1 : names.length - 1)) % names.length;
    } else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = names.length - 1;
    if (next < 0) return;
    event.preventDefault();
    showView(names[next]);
    document.getElementById('tab-' + names[next]).focus();
  }

  // What a view's script may use: the panel's words, HTTP, site and visitor session.
  window.FrontdeskPanel = {
    addView: addView,
    showView: showView,
    tr: tr,
    lang: function () { return lang; },
    site: function () { return site; },
    // The verified identity (identify's user_id + user_hash), or {}: a view's requests may prove it.
    identity: function () { return verified || {}; },
    request: function (method, path, body) { return request(method, API + path, body); },
    // Registers the visitor and connects (a person's own act): resolves with the token.
    visitor: function () {
      wake();
      return token ? Promise.resolve(token) : register(false).then(function () { return token; });
    },
    // A view made a conversation over HTTP (the contact form): follow it on the socket, so
    // the operator's answer shows in the chat (a reconnect's hello names the newest one).
    follow: function (id) {
      if (!id || id === conversationId) return;
      followWanted = id;
      if (ws && welcomed) drop();
    },
    el: el
  };

  // ---- start

  // The site is known and its language's words are loaded: name, colours, greeting.
  function show() {
    if (ready) return;
    ready = true;
    applySite();
    drawGreeting();
    updateStatus();
    if (window.fdPrechat && site && site.prechat) {  // widget/prechat.js
      window.fdPrechat.start({
        mode: site.prechat.mode, fields: site.prechat.fields, tr: tr, storage: storage, focusInput: focusInput,
        hasConversation: function () { return !!conversationId || drawn.length > 0; },
        identify: function (data, done) { identify(data, 0, done); wake(); }
      });
    }
    focusInput();
  }

  // An admin changed the site's settings: read them again and redraw, without a reload
  // of the host page (the launcher's corner and colour follow on the next page load).
  function reloadSite() {
    request('GET', API + '/config').then(function (response) {
      if (!response.ok || !response.data.site) return;
      site = response.data.site;
      applySite();
      translatePage();
    }).catch(function () { /* the next page load reads it */ });
  }

  function applySite() {
    ui.name.textContent = site && site.name || '';
    ui.name.hidden = !ui.name.textContent;
    var style = document.documentElement.style, color = site && /^#[0-9a-f]{6}$/i.test(site.color) ? site.color : '';
    if (color) {
      // The brand colour as it is, with black or white text on it (the server picks
      // whichever reaches a 4.5:1 contrast).
      var light = site.text_color === '#000000';
      style.setProperty('--fd', color);
      style.setProperty('--fd-text', light ? '#000' : '#fff');
      // Focus rings sit on white: a light brand colour would hardly show there.
      style.setProperty('--fd-ring', light ? '#1f2937' : color);
    }
    drawTabs();
    // The chat tab switched off: nothing to type into. A required pre-chat form still
    // showing keeps the box hidden too (widget/prechat.js shows it when done).
    var form = document.getElementById('prechat');
    ui.composer.hidden = !!(site && site.tabs && site.tabs.indexOf('chat') < 0) ||
      !!(form && !form.hidden && site && site.prechat && site.prechat.mode === 'required');
  }

  function init() {
    ['thread', 'input', 'send', 'error', 'notice', 'typing', 'close', 'composer', 'announce'].forEach(function (id) {
      ui[id] = document.getElementById(id);
    });
    ui.head = document.querySelector('.head');
    ui.list = document.getElementById('messages');
    ui.name = document.getElementById('site-name');
    ui.lang = document.getElementById('lang');
    ui.status = document.getElementById('status-text');
    ui.tabs = document.getElementById('tabs');
    var stored = storage.get('seen');
    if (stored !== null) seen = +stored || 0;
    readOutbox().forEach(addPending); // from an earlier page: shown now, re-sent after welcome

    ui.composer.addEventListener('submit', function (event) { event.preventDefault(); submit(); });
    ui.input.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });
    ui.input.addEventListener('input', function () {
      autosize();
      checkLength();
      typing();
    });
    ui.close.addEventListener('click', function () { toHost('close'); });
    ui.lang.addEventListener('change', function () { applyLanguage(ui.lang.value); });
    ui.tabs.addEventListener('click', function (event) {
      var tab = event.target.closest('[role="tab"]');
      if (tab) showView(tab.getAttribute('data-view'));
    });
    ui.tabs.addEventListener('keydown', onTabKey);
    document.addEventListener('keydown', function (event) {
      if (event.key === 'Escape') toHost('close');
      if (event.key === 'Tab' && FRAMED) trapFocus(event);
    });
    // A thread scrolled to its end stays there when the panel shrinks (on-screen keyboard).
    var atEnd = true;
    ui.thread.addEventListener('scroll', function () {
      atEnd = ui.thread.scrollHeight - ui.thread.scrollTop - ui.thread.clientHeight < 8;
    });
    window.addEventListener('resize', function () { if (atEnd) ui.thread.scrollTop = ui.thread.scrollHeight; });
    document.addEventListener('visibilitychange', updateUnread);
    window.addEventListener('message', onHostMessage);
    window.addEventListener('online', function () {
      if (ready && wanted && !ws && !failed) {
        attempt = 0;
        connect();
      }
    });

    toHost('ready', {css: GEOMETRY});
    start();
  }

  init();
})();
