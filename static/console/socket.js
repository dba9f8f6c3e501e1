/* The operator socket, /ws/console (docs/realtime.md, "Operator websocket"): say hello
 * with the last event id seen, reconnect with back-off, keep the line alive, and tell the
 * page when the session has ended. It knows nothing about conversations: every frame
 * goes to `onFrame`.
 */

export class ConsoleSocket {
  // hooks: hello() -> the hello frame; onFrame(frame); onReady(); onState(state);
  // onSessionEnded().
  constructor(hooks) {
    this.hooks = hooks;
    this.ws = null;
    this.ready = false;
    this.attempt = 0;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.stopped = false;
  }

  get open() { return this.ws !== null; }

  send(frame) {
    if (!this.ready) return false;
    try { this.ws.send(JSON.stringify(frame)); return true; } catch (e) { return false; }
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.stopped) return;
    this.hooks.onState(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/console");
    let opened = false;
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify(this.hooks.hello()));
    };
    ws.onmessage = (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      if (frame && typeof frame === "object") this.onFrame(frame);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      clearInterval(this.pingTimer);
      if (e.code === 4401 || e.code === 4403) { this.hooks.onSessionEnded(); return; }
      // A refused upgrade (an ended session) looks like a network error from here: ask.
      if (!opened) { this.checkSession(() => this.scheduleReconnect()); return; }
      this.scheduleReconnect();
    };
  }

  onFrame(f) {
    if (f.type === "welcome") {
      this.ready = true;
      this.attempt = 0;
      this.hooks.onState("connected");
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), 25000);
    } else if (f.type === "pong") {
      return;
    } else if (f.type === "error" && f.code === "unauthorized" && !f.id) {
      this.hooks.onSessionEnded();
      return;
    }
    this.hooks.onFrame(f);
  }

  // Calls `alive` unless the server says the session has ended (401).
  checkSession(alive) {
    fetch("/api/console/v1/conversations", { credentials: "same-origin" }).then((r) => {
      if (r.status === 401) this.hooks.onSessionEnded(); else alive();
    }, () => alive());
  }

  // Exponential back-off with jitter, so a restarted server is not hit by every
  // console at the same instant. After a few failures, ask whether the session is still
  // valid: a refused upgrade looks the same as a network error from here.
  scheduleReconnect() {
    this.attempt += 1;
    this.hooks.onState("reconnecting");
    const delay = Math.min(30000, 500 * Math.pow(2, this.attempt)) * (0.5 + Math.random() / 2);
    this.reconnectTimer = setTimeout(() => {
      if (this.attempt < 3) { this.connect(); return; }
      this.checkSession(() => this.connect());
    }, delay);
  }

  // For good (the session ended): no reconnects until the operator logs in again.
  stop() {
    this.stopped = true;
    this.ready = false;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(); } catch (e) { /* already closed */ } }
  }
}
