"""Plain-text rendering for the admin commands: tables, times, a job's story.

No colour codes: output is read in terminals, pasted into tickets and grepped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from taskq.admin.deadletters import DeadJob
from taskq.admin.inspect import JobStory, QueueStats, WorkerView

MAX_CELL = 60


def when(ts: float | None, now: float | None = None) -> str:
    """Local time plus how long ago, e.g. '2024-05-01 12:03:04 (3m ago)'."""
    if ts is None:
        return "-"
    now = time.time() if now is None else now
    stamp = datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp} ({duration(now - ts)} ago)"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"
    return f"{seconds // 86400:.0f}d{seconds % 86400 // 3600:02.0f}h"


def clip(text: str, width: int = MAX_CELL) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[clip(str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def short_task(name: str) -> str:
    """'workers.example.charge_card' -> 'example.charge_card' (the module path rarely helps)."""
    parts = name.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else name


def dead_table(jobs: Sequence[DeadJob], now: float | None = None) -> str:
    rows = [(j.id, short_task(j.task) or "?", j.queue,
             f"{j.error_type}: {j.error}" if j.error_type else (j.error or j.reason),
             j.attempts or "-", when(j.died_at, now)) for j in jobs]
    return table(("id", "task", "queue", "error", "attempts", "died"), rows)


def stats_table(stats: Sequence[QueueStats]) -> str:
    rows = [(s.queue, s.ready, s.scheduled, s.active, s.dead, s.workers, s.done_last_minute,
             s.failed_last_minute, duration(s.oldest_ready_age),
             f"{s.dead_fill:.0%} of {s.dead_cap:,}") for s in stats]
    return table(("queue", "ready", "scheduled", "active", "dead", "workers", "done/min",
                  "failed/min", "oldest ready", "dead cap"), rows)


def workers_table(views: Sequence[WorkerView], now: float | None = None) -> str:
    now = time.time() if now is None else now
    rows = []
    for w in views:
        jobs = ", ".join(f"{j['id'][:12]} ({duration(j['running_for'])})" for j in w.jobs)
        lease = (f"expires in {duration(w.lease_expires_in)}" if w.alive
                 else f"EXPIRED {duration(-w.lease_expires_in)} ago")
        up = duration(now - w.started_at) if w.started_at else "-"
        rows.append((w.id, w.host, w.pid, ",".join(w.queues), up, lease, jobs or "-"))
    return table(("worker", "host", "pid", "queues", "up", "lease", "current jobs"), rows)


def story(s: JobStory, now: float | None = None) -> str:
    """A job's full story for `taskq job` and `taskq dead show`."""
    r = s.record
    lines = [f"job {s.id}", f"  status     {r.get('status', '?')}", f"  queue      {s.queue}",
             f"  task       {r.get('task', '?')}"]
    for label, key in (("enqueued", "enqueued_at"), ("finished", "finished_at"),
                       ("failed", "failed_at")):
        if r.get(key):
            lines.append(f"  {label:<10} {when(float(r[key]), now)}")
    if r.get("died_at"):
        lines.append(f"  {'died':<10} {when(int(r['died_at']) / 1000, now)}")
    for key in ("reason", "attempts", "worker", "duration", "progress", "meta"):
        if r.get(key):
            lines.append(f"  {key:<10} {r[key]}")
    lines += _payload_lines(s)
    if r.get("result"):
        lines += ["", "result", "  " + r["result"]]
    if r.get("error_type") or r.get("error"):
        lines += ["", "error", f"  {r.get('error_type', '')}: {r.get('error', '')}"]
    if r.get("traceback"):
        lines += ["", "traceback", *("  " + t for t in r["traceback"].rstrip().splitlines())]
    if r.get("last_crash"):
        lines += ["", "last crash", "  " + r["last_crash"]]
    lines += _graph_lines(s)
    lines += ["", "history", *(_history_line(e) for e in s.history)]
    return "\n".join(lines)


def _graph_lines(s: JobStory) -> list[str]:
    lines = []
    if s.parents:
        lines += ["", "waits for (parents)"]
        lines += [f"  {p['ref']:<50} {p['status']:<9} recorded: {p['recorded']}"
                  for p in s.parents]
    if s.dependents:
        lines += ["", "waited for by (dependents)"]
        lines += [f"  {d['ref']:<50} {d['status']}" for d in s.dependents]
    return lines


def _payload_lines(s: JobStory) -> list[str]:
    if s.payload is None:
        return ["", "payload (does not decode)", f"  {s.payload_error}",
                "  raw: " + clip(s.record.get("payload", ""), 200)]
    p = s.payload
    lines = ["", "payload", f"  args       {json.dumps(p['args'])}",
             f"  kwargs     {json.dumps(p['kwargs'])}"]
    lines.append(f"  attempt    {p['attempt']} of {p['retries'] + 1}; crashes {p['crashes']}; "
                 f"requeues {p['requeues']}; timeout {p['timeout']}")
    return lines


def _history_line(entry: dict[str, Any]) -> str:
    at = entry.get("at")
    stamp = datetime.fromtimestamp(float(at)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if at else "?"
    details = {k: v for k, v in entry.items() if k not in ("at", "event") and v is not None}
    extra = " ".join(f"{k}={_compact(v)}" for k, v in details.items())
    return f"  {stamp}  {entry.get('event', '?'):<14} {extra}".rstrip()


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float):
        return datetime.fromtimestamp(value).strftime("%H:%M:%S") if value > 1e9 else str(value)
    return str(value)
