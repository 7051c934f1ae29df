// taskq dashboard: draws the page the path names, from the JSON API, and keeps it live with
// taskq-events.js. Every value from the server is put into the page as text (textContent),
// never as HTML, so a job argument like "<script>" shows as those characters.
(function () {
  "use strict";

  const main = document.getElementById("main");
  const params = new URLSearchParams(location.hash.slice(1));
  // A token handed over in the URL fragment (never sent to the server) moves to this tab's
  // storage, and out of the address bar.
  if (params.get("token")) {
    sessionStorage.setItem("taskq-token", params.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const transport = new URLSearchParams(location.search).get("transport") || "sse";
  document.getElementById("transport").textContent = transport === "ws" ? "WebSocket" : "SSE";

  // Test and debugging hooks: every event received, in order, and the channel's state.
  window.taskqLog = [];
  window.taskqResets = [];
  window.taskqState = "connecting";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v == null ? "" : String(v);
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else node.setAttribute(k, v);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(child == null ? "" : String(child)));
    }
    return node;
  }

  function table(headers, rows) {
    const head = el("tr", {}, ...headers.map((h) => el("th", {text: h})));
    return el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows));
  }

  async function getJson(path) {
    const response = await fetch(path, {headers: {"Accept": "application/json"}});
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function fmtAge(seconds) {
    if (seconds == null) return "–";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function fmtTime(epoch) {
    const d = new Date(epoch * 1000);
    return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }

  function throttle(fn, ms) {
    let timer = null;
    return function () {
      if (timer) return;
      timer = setTimeout(() => { timer = null; fn(); }, ms);
    };
  }

  function setLive(state) {
    window.taskqState = state;
    const badge = document.getElementById("live");
    badge.textContent = state === "live" ? "live" : "reconnecting…";
    badge.className = "live " + (state === "live" ? "on" : "off");
  }

  function follow(scope, onMessage) {
    const feed = new window.TaskqEvents("events", scope, {
      transport, onState: setLive,
      onMessage(msg) {
        if (msg.type === "event") window.taskqLog.push(msg.event);
        if (msg.type === "reset") window.taskqResets.push(msg);
        onMessage(msg);
      },
    });
    feed.start();
    window.taskqFeed = feed;
    return feed;
  }

  function logLine(event) {
    const extra = Object.entries(event)
      .filter(([k]) => !["id", "queue", "event", "job", "at", "detail"].includes(k))
      .map(([k, v]) => k + "=" + v).join(" ");
    const link = el("a", {href: "jobs/" + encodeURIComponent(event.job), text: event.job});
    return el("div", {class: "ev-" + event.event, "data-event-id": event.id},
      fmtTime(event.at) + "  " + event.queue.padEnd(10) + " " + event.event.padEnd(10) + " ",
      link, extra ? "  " + extra : "");
  }

  function appendLog(log, event) {
    log.prepend(logLine(event));
    while (log.childNodes.length > 300) log.lastChild.remove();
  }

  // --- Queues ------------------------------------------------------------------------------
  const COLS = [["ready", "ready"], ["scheduled", "scheduled"], ["active", "active"],
    ["dead", "dead"], ["workers", "workers"], ["done_last_minute", "done/min"],
    ["failed_last_minute", "failed/min"], ["oldest_ready_age", "oldest ready"]];

  function queueRows(queues) {
    return queues.map((q) => el("tr", {"data-queue": q.queue},
      el("td", {text: q.queue}),
      ...COLS.map(([key]) => el("td", {class: "num", "data-col": key,
        text: key === "oldest_ready_age" ? fmtAge(q[key]) : q[key]}))));
  }

  async function queuesPage() {
    const holder = el("div", {id: "queues"});
    const log = el("div", {id: "log"});
    main.append(el("h2", {text: "Queues"}), holder, el("h2", {text: "Events (newest first)"}), log);
    const draw = (queues) => {
      holder.replaceChildren(table(["queue", ...COLS.map(([, label]) => label)], queueRows(queues)));
    };
    const refresh = async () => { try { draw((await getJson("api/overview")).queues); } catch (e) { /* next tick */ } };
    const soon = throttle(refresh, 300);
    setInterval(refresh, 5000);
    follow({}, (msg) => {
      if (msg.snapshot) draw(msg.snapshot.queues || []);
      if (msg.type === "reset") log.replaceChildren();
      if (msg.type === "event") { appendLog(log, msg.event); soon(); }
    });
  }

  // --- Workers -----------------------------------------------------------------------------
  async function workersPage() {
    const holder = el("div", {id: "workers"});
    main.append(el("h2", {text: "Workers"}), holder);
    const refresh = async () => {
      const {workers} = await getJson("api/workers");
      holder.replaceChildren(table(["worker", "host", "pid", "queues", "lease left", "running"],
        workers.map((w) => el("tr", {},
          el("td", {text: w.id}), el("td", {text: w.host}), el("td", {text: w.pid}),
          el("td", {text: w.queues.join(", ")}), el("td", {class: "num", text: fmtAge(w.lease_expires_in)}),
          el("td", {}, ...w.jobs.map((j) => el("div", {},
            el("a", {href: "jobs/" + encodeURIComponent(j.id), text: j.id}),
            " (" + fmtAge(j.running_for) + ")")))))));
    };
    await refresh();
    const soon = throttle(refresh, 500);
    setInterval(refresh, 3000);
    follow({}, (msg) => { if (msg.type === "event") soon(); });
  }

  // --- One job -----------------------------------------------------------------------------
  function drawStory(holder, story) {
    if (!story) { holder.replaceChildren(el("p", {class: "msg error", text: "no such job (or its record expired)"})); return; }
    const rec = story.record || {};
    const parts = [
      table(["field", "value"], [["queue", story.queue], ["status", rec.status], ["task", rec.task],
        ["worker", rec.worker], ["attempts", rec.attempts], ["progress", rec.progress],
        ["meta", rec.meta], ["error", rec.error],
        ["reason", rec.reason]].filter(([, v]) => v != null && v !== "")
        .map(([k, v]) => el("tr", {}, el("td", {text: k}), el("td", {"data-field": k, text: v})))),
      el("h2", {text: "Arguments"}),
      el("pre", {class: "block", id: "args", text: story.payload
        ? JSON.stringify({args: story.payload.args, kwargs: story.payload.kwargs}, null, 2)
        : story.payload_error}),
    ];
    if (rec.result) parts.push(el("h2", {text: "Result"}), el("pre", {class: "block", text: rec.result}));
    if (rec.traceback) parts.push(el("h2", {text: "Traceback"}), el("pre", {class: "block", id: "traceback", text: rec.traceback}));
    parts.push(el("h2", {text: "Story"}), table(["when", "event", "details"], (story.history || []).map((h) =>
      el("tr", {}, el("td", {text: fmtTime(h.at)}), el("td", {text: h.event}),
        el("td", {text: Object.entries(h).filter(([k]) => k !== "at" && k !== "event")
          .map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(" ")})))));
    holder.replaceChildren(...parts);
  }

  // Progress as set_progress writes it (JSON): a fraction 0..1, or {"done": n, "total": m}.
  function progressPercent(text) {
    if (text == null || text === "") return null;
    let value;
    try { value = JSON.parse(text); } catch (e) { return null; }
    if (typeof value === "number") return value <= 1 ? value * 100 : value;
    if (value && typeof value === "object" && Number(value.total) > 0) {
      return 100 * Number(value.done ?? value.current ?? 0) / Number(value.total);
    }
    return null;
  }

  async function jobPage(jobId) {
    const holder = el("div", {id: "story"});
    const bar = el("progress", {id: "progress", max: "100", value: "0", hidden: ""});
    const log = el("div", {id: "log"});
    main.append(el("h2", {text: "Job " + jobId}), bar, holder, el("h2", {text: "Live events"}), log);
    const refresh = async () => {
      try { drawStory(holder, await getJson("api/jobs/" + encodeURIComponent(jobId))); }
      catch (e) { drawStory(holder, null); }
    };
    const showProgress = (text) => {
      const pct = progressPercent(text);
      if (pct == null) return;
      bar.hidden = false;
      bar.value = Math.max(0, Math.min(100, pct));
      bar.title = text;
    };
    const soon = throttle(refresh, 200);
    follow({job: jobId}, (msg) => {
      if (msg.snapshot && msg.snapshot.job) {
        drawStory(holder, msg.snapshot.job);
        showProgress((msg.snapshot.job.record || {}).progress);
      } else if (msg.snapshot) drawStory(holder, null);
      if (msg.type === "event") {
        appendLog(log, msg.event);
        showProgress(msg.event.progress);
        soon();
      }
    });
  }

  // --- Dead letters --------------------------------------------------------------------------
  async function deadPage() {
    const form = el("form", {class: "filters"},
      el("input", {name: "queue", placeholder: "queue"}), el("input", {name: "task", placeholder: "task"}),
      el("input", {name: "error", placeholder: "error contains"}), el("input", {name: "since", placeholder: "since (2h, 7d)"}),
      el("button", {type: "submit", text: "Filter"}));
    const message = el("div", {class: "msg", id: "message"});
    const holder = el("div", {id: "dead"});
    const buttons = el("div", {},
      el("button", {id: "requeue", type: "button", text: "Requeue selected", on: {click: () => act("requeue")}}),
      el("button", {id: "purge", type: "button", text: "Purge selected", on: {click: () => act("purge")}}));
    main.append(el("h2", {text: "Dead letters"}), form, buttons, message, holder);
    const load = async () => {
      const query = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
      const {dead} = await getJson("api/dead?" + query.toString());
      holder.replaceChildren(table(["", "job", "queue", "task", "died", "error", "reason", "attempts"],
        dead.map((d) => el("tr", {"data-job": d.id},
          el("td", {}, el("input", {type: "checkbox", value: d.id})),
          el("td", {}, el("a", {href: "jobs/" + encodeURIComponent(d.id), text: d.id})),
          el("td", {text: d.queue}), el("td", {text: d.task}), el("td", {text: new Date(d.died_at * 1000).toLocaleString()}),
          el("td", {text: (d.error_type ? d.error_type + ": " : "") + d.error}), el("td", {text: d.reason}),
          el("td", {class: "num", text: d.attempts})))));
    };
    async function act(kind) {
      const ids = [...holder.querySelectorAll("input[type=checkbox]:checked")].map((c) => c.value);
      if (!ids.length) { message.textContent = "select dead jobs first"; return; }
      if (kind === "purge" && !confirm("Delete " + ids.length + " dead jobs for good?")) return;
      const response = await fetch("api/dead/" + kind, {method: "POST", headers: {
        "Content-Type": "application/json", "X-Taskq-Token": sessionStorage.getItem("taskq-token") || ""},
        body: JSON.stringify({ids})});
      const body = await response.json();
      message.className = "msg" + (response.ok ? "" : " error");
      message.textContent = response.ok
        ? Object.entries(body.results).map(([id, r]) => id + ": " + r).join(", ")
        : "refused: " + body.error;
      await load();
    }
    form.addEventListener("submit", (e) => { e.preventDefault(); load(); });
    await load();
    const soon = throttle(load, 1000);
    follow({}, (msg) => { if (msg.type === "event" && ["dead", "requeued", "purged"].includes(msg.event.event)) soon(); });
  }

  async function start() {
    const root = new URL(document.baseURI).pathname;
    const path = decodeURIComponent(location.pathname.slice(root.length));
    const overview = await getJson("api/overview");
    document.getElementById("server").textContent = overview.server;
    if (overview.actions) {
      const form = document.getElementById("token-form");
      const input = document.getElementById("token");
      form.hidden = false;
      input.value = sessionStorage.getItem("taskq-token") || "";
      input.addEventListener("input", () => sessionStorage.setItem("taskq-token", input.value));
      form.addEventListener("submit", (e) => e.preventDefault());
    }
    const page = path.startsWith("jobs/") ? "job" : (path || "queues");
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.nav === page) a.classList.add("current");
    }
    if (page === "job") return jobPage(path.slice(5));
    if (page === "workers") return workersPage();
    if (page === "dead") return deadPage();
    return queuesPage();
  }

  start().catch((e) => main.append(el("p", {class: "msg error", text: "could not load: " + e.message})));
})();
