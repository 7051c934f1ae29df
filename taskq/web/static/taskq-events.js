// taskq-events.js: follow taskq's event stream from a browser, resuming after any drop.
//
//   const feed = new TaskqEvents("events", {queue: "default"}, {
//     transport: "sse",                 // or "ws"
//     onMessage(msg) { ... },           // hello | resumed | reset | event | cursor
//     onState(state) { ... },           // "live" | "reconnecting"
//   });
//   feed.start();
//
// The server sends a cursor with every message; after a drop the client reconnects with
// backoff (0.5 s doubling to 15 s, with jitter) and resumes from the last cursor: by
// Last-Event-ID semantics for SSE (sent as ?cursor=, since EventSource cannot set headers on
// a new connection) and by a {"type": "resume"} message for WebSocket. Events that happened
// meanwhile arrive once each, in order. If the stream was trimmed past the cursor, a "reset"
// message carries a fresh snapshot.
(function (global) {
  "use strict";

  function TaskqEvents(base, scope, options) {
    this.base = base;
    this.scope = scope || {};
    this.options = options || {};
    this.transport = this.options.transport || "sse";
    this.cursor = this.options.cursor || null;
    this.attempt = 0;
    this.source = null;
    this.timer = null;
    this.stopped = true;
  }

  TaskqEvents.prototype.query = function (extra) {
    const params = new URLSearchParams();
    if (this.scope.queue) params.append("queue", this.scope.queue);
    if (this.scope.job) params.append("job", this.scope.job);
    for (const [k, v] of Object.entries(extra || {})) params.append(k, v);
    const text = params.toString();
    return text ? "?" + text : "";
  };

  TaskqEvents.prototype.start = function () {
    this.stopped = false;
    this.connect();
  };

  TaskqEvents.prototype.stop = function () {
    this.stopped = true;
    clearTimeout(this.timer);
    this.close();
  };

  TaskqEvents.prototype.close = function () {
    if (this.source) {
      const s = this.source;
      this.source = null;
      s.onmessage = s.onerror = s.onclose = s.onopen = null;
      s.close();
    }
  };

  TaskqEvents.prototype.handle = function (msg) {
    if (msg.cursor) this.cursor = msg.cursor;
    if (msg.type === "hello" || msg.type === "resumed" || msg.type === "reset") {
      this.attempt = 0;
      this.state("live");
    }
    if (this.options.onMessage) this.options.onMessage(msg);
  };

  TaskqEvents.prototype.state = function (name) {
    if (this.options.onState) this.options.onState(name);
  };

  TaskqEvents.prototype.retry = function () {
    this.close();
    if (this.stopped) return;
    this.state("reconnecting");
    const delay = Math.min(15000, 500 * Math.pow(2, this.attempt)) * (0.75 + Math.random() / 2);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  };

  TaskqEvents.prototype.connect = function () {
    this.close();
    if (this.transport === "ws") this.connectWs(); else this.connectSse();
  };

  TaskqEvents.prototype.connectSse = function () {
    const url = this.base + "/sse" + this.query(this.cursor ? {cursor: this.cursor} : {});
    const source = new EventSource(url);
    this.source = source;
    const onMessage = (e) => { if (this.source === source) this.handle(JSON.parse(e.data)); };
    for (const type of ["hello", "resumed", "reset", "event", "cursor", "error"]) {
      source.addEventListener(type, (e) => { if (e.data) onMessage(e); });
    }
    // EventSource would reconnect by itself at a fixed pace; take over to back off.
    source.onerror = () => { if (this.source === source) this.retry(); };
  };

  TaskqEvents.prototype.connectWs = function () {
    const http = new URL(this.base + "/ws" + this.query(), document.baseURI);
    http.protocol = http.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(http.toString());
    this.source = socket;
    socket.onopen = () => {
      socket.send(JSON.stringify(this.cursor ? {type: "resume", cursor: this.cursor}
                                             : {type: "subscribe"}));
    };
    socket.onmessage = (e) => { if (this.source === socket) this.handle(JSON.parse(e.data)); };
    socket.onclose = () => { if (this.source === socket) this.retry(); };
    socket.onerror = () => { if (this.source === socket) socket.close(); };
  };

  global.TaskqEvents = TaskqEvents;
})(window);
