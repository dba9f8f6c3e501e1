/* Callback reminders on every console screen, and the queue kept live.
 * A callback falling due (callback.due, sent once across nodes) rings: a short tone, a
 * desktop notification and a note linking to the queue. On the inbox the events come
 * from its socket (inbox.js re-dispatches them as "frontdesk:event"); on the queue
 * page this module opens its own and refreshes the queue on every callback.* event.
 * Only the assignee's console rings (every console while nobody has taken it). */
(function () {
  "use strict";
  var live = document.getElementById("fd-cb-live");
  var inbox = document.getElementById("fd-conv-list");
  if (!live && !inbox) return;
  var data = JSON.parse((document.getElementById("fd-console-data") || {}).textContent || "{}");
  var i18n = data.i18n || {};
  var ws = null, attempt = 0, refreshing = null;

  function t(key, vars) {
    var text = String(i18n[key] || key);
    Object.keys(vars || {}).forEach(function (k) { text = text.split("{" + k + "}").join(vars[k]); });
    return text;
  }

  // Fresh rows from the server, unless the operator is in the middle of a form.
  function refresh() {
    clearTimeout(refreshing);
    refreshing = setTimeout(function () {
      var active = document.activeElement;
      if (active && active.closest && active.closest(".fd-cb-actions select")) { refresh(); return; }
      fetch(location.pathname + location.search, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("fd-main");
        var main = document.getElementById("fd-main");
        if (fresh && main) {
          fresh.querySelector("#fd-cb-live").textContent = live.textContent;
          main.replaceWith(fresh);
          live = document.getElementById("fd-cb-live");
        }
      });
    }, 150);
  }

  function note(text) {
    if (live) { live.textContent = text; return; }
    var toast = document.getElementById("fd-cb-toast");
    if (!toast) {
      toast = document.createElement("a");
      toast.id = "fd-cb-toast";
      toast.className = "fd-cb-toast";
      toast.href = "/console/callbacks";
      toast.setAttribute("role", "status");
      document.body.appendChild(toast);
    }
    toast.textContent = text;
  }

  function ring(callback) {
    // A callback given to a colleague rings on their console; one nobody took rings on every one.
    var me = data.operator && data.operator.id;
    if (callback.assignee_id && me && callback.assignee_id !== me) return;
    var who = callback.name || callback.phone;
    note(t("callbacks.due_now", { name: who }));
    try {
      var audio = new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.08;
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.35);
    } catch (e) { /* no audio until the page was clicked: the text and notification remain */ }
    if ("Notification" in window && Notification.permission === "granted") {
      try { new Notification(t("callbacks.due_now", { name: who }), { body: callback.phone, tag: "cb-" + callback.id }); } catch (e) { /* service-worker-only browsers */ }
    }
  }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/console");
    ws.onopen = function () { attempt = 0; ws.send(JSON.stringify({ type: "hello", after_event: null })); };
    ws.onmessage = function (e) {
      var f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      if (!f || typeof f.type !== "string" || f.type.indexOf("callback.") !== 0) return;
      if (f.type === "callback.due" && f.callback) ring(f.callback);
      refresh();
    };
    ws.onclose = function (e) {
      if (e.code === 4401 || e.code === 4403) return;
      attempt += 1;
      setTimeout(connect, Math.min(30000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2));
    };
  }

  if (!live) {  // the inbox: its socket brings the events
    document.addEventListener("frontdesk:event", function (e) {
      var f = e.detail || {};
      if (f.type === "callback.due" && f.callback) ring(f.callback);
    });
    return;
  }
  if ("Notification" in window && Notification.permission === "default") {
    document.addEventListener("click", function () {
      try { Notification.requestPermission(); } catch (e) { /* old Safari */ }
    }, { once: true });
  }
  document.body.setAttribute("data-callbacks-live", "1");
  connect();
})();
