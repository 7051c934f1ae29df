"""Medians over repetitions, the markdown tables, and taskq's targets."""

from __future__ import annotations

import statistics
from typing import Any

Results = dict[str, dict[str, list[dict[str, Any]]]]  # peer -> case key -> one dict per rep


def median_of(runs: list[dict[str, Any]], field: str) -> float | None:
    values = [r[field] for r in runs if isinstance(r.get(field), (int, float))]
    return statistics.median(values) if values else None


def processing_runs(cases: dict[str, list[dict[str, Any]]], prefix: str
                    ) -> dict[str, dict[str, Any]]:
    """Medians of each processing config whose result key starts with `prefix`."""
    out = {}
    for key, runs in cases.items():
        if key.startswith(prefix):
            ok = [r for r in runs if "rate" in r]
            calls = [r["calls"] / r["n"] for r in ok if "calls" in r]
            out[key.removeprefix(prefix)] = {
                "rate": median_of(ok, "rate"), "steady": median_of(ok, "steady"),
                "partial": any(r.get("partial") for r in ok),
                "describe": ok[0]["describe"] if ok else "",
                "errors": [r["error"] for r in runs if "error" in r],
                "roundtrips_per_job": median_of(ok, "roundtrips_per_job"),
                "commands_per_job": ok[0].get("commands_per_job") if ok else None,
                **({"calls_per_job": min(calls)} if calls else {}),
            }
    return out


def fastest(processing: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    rated = {k: v for k, v in processing.items() if v["rate"]}
    if not rated:
        return None
    best = max(rated, key=lambda k: rated[k]["rate"])
    return best, rated[best]


def summarize(results: Results, peers: list[str]) -> dict[str, dict[str, Any]]:
    """Per peer: median of every metric, and which processing config was best (for no-op
    jobs, and for jobs making one Redis call)."""
    out: dict[str, dict[str, Any]] = {}
    for peer in peers:
        cases = results.get(peer, {})
        s: dict[str, Any] = {}
        enq = cases.get("enqueue", [])
        s["enqueue_one"] = median_of(enq, "one")
        s["enqueue_bulk"] = median_of(enq, "bulk")
        s["processing"] = processing_runs(cases, "process:")
        if best := fastest(s["processing"]):
            s["best_config"], s["best"] = best
        s["default"] = s["processing"].get("default")
        s["call"] = processing_runs(cases, "call:")
        if best := fastest(s["call"]):
            s["call_best_config"], s["call_best"] = best
        s["call_default"] = s["call"].get("default")
        s["call_skipped"] = cases.get("call_skipped", [])
        mix = {k.removeprefix("mix:"): {"rate": median_of(v, "rate"),
                                        "describe": v[0].get("describe", "")}
               for k, v in cases.items() if k.startswith("mix:")}
        if mix:
            s["mix"] = mix
        io = {k.removeprefix("io:"): {"rate": median_of(v, "rate"),
                                      "steady": median_of(v, "steady"),
                                      "seconds": median_of(v, "seconds"),
                                      "describe": next((r.get("describe") for r in v
                                                        if r.get("describe")), "")}
              for k, v in cases.items() if k.startswith("io:")}
        if io:
            s["io"] = io
        idle = [r for r in cases.get("idle", []) if "rss_mb" in r]
        for f in ("rss_mb", "pss_mb", "processes", "spaced_p50_ms", "spaced_p99_ms",
                  "burst_p50_ms", "burst_p99_ms"):
            s[f] = median_of(idle, f)
        single = [r for r in cases.get("idle:single", []) if "pss_mb" in r]
        if single:
            s["idle_single"] = {f: median_of(single, f) for f in ("rss_mb", "pss_mb",
                                                                  "processes")}
        fail = {k: [r for r in runs if "lost" in r] for k, runs in cases.items()
                if k.split(":")[0] == "failures"}
        if fail.get("failures"):
            s["failures"] = fail["failures"][0]
        s["failures_variants"] = [runs[0] for k, runs in fail.items()
                                  if k != "failures" and runs]
        s["errors"] = [f"{key}: {r['error']}" for key, runs in cases.items() for r in runs
                       if "error" in r]
        out[peer] = s
    return out


def fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{suffix}"


def tables(summary: dict[str, dict[str, Any]]) -> str:
    lines = ["| system | enqueue 1/call (jobs/s) | bulk enqueue (jobs/s) | process default "
             "(jobs/s) | process best (jobs/s) | best config | process best, 1 Redis call per "
             "job (jobs/s) | latency spaced p50 / p99 (ms) | latency burst p50 / p99 (ms) "
             "| idle RSS MB (procs) | idle PSS MB |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for peer, s in summary.items():
        default, best = s.get("default") or {}, s.get("best") or {}
        call = s.get("call_best") or {}
        lines.append(
            f"| {peer} | {fmt(s['enqueue_one'])} | {fmt(s['enqueue_bulk'])} "
            f"| {fmt(default.get('rate'))}{star(default)} | {fmt(best.get('rate'))}{star(best)} "
            f"| {best.get('describe', '—')} | {fmt(call.get('rate'))}{star(call)} "
            f"| {fmt(s['spaced_p50_ms'], 2)} / {fmt(s['spaced_p99_ms'], 2)} "
            f"| {fmt(s['burst_p50_ms'], 1)} / {fmt(s['burst_p99_ms'], 1)} "
            f"| {fmt(s['rss_mb'], 1)} ({fmt(s['processes'])}) | {fmt(s['pss_mb'], 1)} |")
    lines.append("")
    lines.append("`*` = did not drain within the time bound; rate = jobs done / time (such a "
                 "config runs in the first repetition only: it cannot be the best).")
    lines += ["", "Steady-state processing (first job start to last job end, excludes worker "
              "start-up), every config tried:", "",
              "| system | config | jobs/s from worker start | jobs/s steady |",
              "|---|---|---:|---:|"]
    for peer, s in summary.items():
        for name, p in s["processing"].items():
            lines.append(f"| {peer} | {p['describe'] or name} | {fmt(p['rate'])}"
                         f"{'*' if p['partial'] else ''} | {fmt(p['steady'])} |")
    if any(s.get("call") for s in summary.values()):
        lines += ["", call_table(summary)]
    taskq = summary.get("taskq")
    if taskq and taskq.get("mix"):
        lines += ["", "taskq realistic mix (1 KB argument, `time.sleep(0.001)` per job):", "",
                  "| config | jobs/s |", "|---|---:|"]
        lines += [f"| {m['describe']} | {fmt(m['rate'])} |" for m in taskq["mix"].values()]
    io_rows = [(peer, m) for peer, s in summary.items() for m in s.get("io", {}).values()]
    if io_rows:
        lines += ["", "Async I/O mix (1,000 jobs, each awaiting 50 ms of I/O; queued first; "
                  "time from worker start to the last job's end):", "",
                  "| system | config | seconds | jobs/s | jobs/s steady |",
                  "|---|---|---:|---:|---:|"]
        lines += [f"| {peer} | {m['describe']} | {fmt(m['seconds'], 2)} | {fmt(m['rate'])} "
                  f"| {fmt(m['steady'])} |" for peer, m in io_rows]
    if taskq and taskq.get("idle_single"):
        m = taskq["idle_single"]
        lines += ["", f"taskq idle memory, `--single-process` (supervisor and child in one "
                  f"process): RSS {fmt(m['rss_mb'], 1)} MB, PSS {fmt(m['pss_mb'], 1)} MB "
                  f"({fmt(m['processes'])} process)."]
    if any(s.get("failures") for s in summary.values()):
        lines += ["", failures_table(summary)]
    if taskq and taskq.get("default") and taskq["default"].get("commands_per_job"):
        d = taskq["default"]
        cmds = ", ".join(f"{k} {v:g}" for k, v in d["commands_per_job"].items())
        lines += ["", f"taskq under load (`-c 1`): {fmt(d['roundtrips_per_job'], 3)} round "
                  f"trips per job (client side); server commands per job: {cmds}."]
    return "\n".join(lines)


def star(run: dict[str, Any]) -> str:
    return "*" if run.get("partial") else ""


def call_table(summary: dict[str, dict[str, Any]]) -> str:
    """The one-call case: every config run, the fastest marked, and the ones left out."""
    lines = ["Processing, each job making one Redis call of its own (an INCR on a bench key, "
             "through a client made once per process; arq and SAQ jobs await redis-py's "
             "asyncio client), every config run:", "",
             "| system | config | jobs/s from worker start | jobs/s steady |",
             "|---|---|---:|---:|"]
    skipped = []
    for peer, s in summary.items():
        for name, p in s.get("call", {}).items():
            rate = fmt(p["rate"])
            if name == s.get("call_best_config"):
                rate = f"**{rate}**"
            lines.append(f"| {peer} | {p['describe'] or name} | {rate}{star(p)} "
                         f"| {fmt(p['steady'])} |")
        skipped += [f"{peer} `{k['describe']}` ({fmt(k['noop_rate'])} no-op: {k['why']})"
                    for k in s.get("call_skipped", [])]
    lines += ["", "Bold: the system's best with one call."]
    if skipped:
        lines[-1] += (" Not run with one call (a job making one more call is not faster than "
                      "a no-op one, so these cannot be the best): " + "; ".join(skipped) + ".")
    return "\n".join(lines)


def targets(summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 15's targets, each from this run: taskq's value, the peer it is compared with,
    the ratio, met or not. A target whose values this run did not measure is left out."""
    t = summary.get("taskq")
    peers = {k: v for k, v in summary.items() if k != "taskq"}
    if not t or not peers:
        return []
    out: list[dict[str, Any]] = []

    def row(name: str, unit: str, mine: float | None, vs: str | None, other: float | None,
            met: Any) -> None:
        if mine is None or (vs is not None and not other):
            return
        ratio = round(mine / other, 2) if vs is not None and other else None
        out.append({"target": name, "unit": unit, "taskq": mine, "vs": vs, "peer": other,
                    "ratio": ratio, "met": bool(met(mine, other, ratio))})

    def fastest_peer(get: Any) -> tuple[str | None, float | None]:
        vals = [(k, get(v)) for k, v in peers.items() if get(v)]
        return max(vals, key=lambda kv: kv[1]) if vals else (None, None)

    def one_peer(name: str, field: str) -> tuple[str | None, float | None]:
        # a peer this run left out gives no value, and the row is left out with it
        return name, (peers.get(name) or {}).get(field)

    def rate(key: str) -> Any:
        return lambda s: (s.get(key) or {}).get("rate")

    row("processing best >= 2.5x the fastest peer's best", "jobs/s", rate("best")(t),
        *fastest_peer(rate("best")), lambda m, o, r: r >= 2.5)
    row("processing best, 1 Redis call per job, >= 1.6x the fastest peer's", "jobs/s",
        rate("call_best")(t), *fastest_peer(rate("call_best")), lambda m, o, r: r >= 1.6)
    row("enqueue, one call per job, >= 1.1x huey", "jobs/s", t.get("enqueue_one"),
        *one_peer("huey", "enqueue_one"), lambda m, o, r: r >= 1.1)
    row("bulk enqueue >= 3x RQ's bulk", "jobs/s", t.get("enqueue_bulk"),
        *one_peer("rq", "enqueue_bulk"), lambda m, o, r: r >= 3.0)
    lows = [(v["spaced_p50_ms"], k) for k, v in peers.items() if v.get("spaced_p50_ms")]
    low = min(lows) if lows else (None, None)
    row("latency p50 (spaced) < 1 ms and <= the fastest peer's", "ms", t.get("spaced_p50_ms"),
        low[1], low[0], lambda m, o, r: m < 1 and m <= o)
    row("latency p99 (spaced) < 3 ms", "ms", t.get("spaced_p99_ms"), None, None,
        lambda m, o, r: m < 3)
    smallest = [v for v in (t.get("pss_mb"), (t.get("idle_single") or {}).get("pss_mb")) if v]
    row("smallest worker's idle PSS (-c 1 or --single-process) <= huey's", "MB",
        min(smallest) if smallest else None, *one_peer("huey", "pss_mb"),
        lambda m, o, r: m <= o)
    return out


def targets_table(rows: list[dict[str, Any]]) -> str:
    digits = {"jobs/s": 0, "ms": 2, "MB": 1}
    lines = ["| target | taskq | compared with | ratio | met |", "|---|---:|---|---:|---|"]
    for r in rows:
        d, unit = digits.get(r["unit"], 2), r["unit"]
        vs = f"{r['vs']} {fmt(r['peer'], d)} {unit}" if r["vs"] else "—"
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "—"
        lines.append(f"| {r['target']} | {fmt(r['taskq'], d)} {unit} | {vs} | {ratio} | "
                     f"{'yes' if r['met'] else '**no**'} |")
    return "\n".join(lines)


def failures_table(summary: dict[str, dict[str, Any]]) -> str:
    """The failure-mode case: kill -9 a worker process mid-job, a few times."""
    rows = [(peer, f) for peer, s in summary.items() if s.get("failures")
            for f in [s["failures"], *s.get("failures_variants", [])]]
    n = rows[0][1]["n"]
    lines = [f"Failure modes ({n} jobs of 50-200 ms, each recording its start and end; kill -9 "
             "of the process running a job, several times; most reliable settings):", "",
             "| system | settings | kills | interrupted | lost | ran twice | finished twice "
             "| rerun after kill median / max (s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for peer, f in rows:
        cap = " (time cap)" if f.get("capped") else ""
        lines.append(
            f"| {peer} | {f['describe']} | {f['kills']} | {f['interrupted']} "
            f"| {f['lost']}{cap} | {f['ran_twice']} | {f['finished_twice']} "
            f"| {fmt(f['rerun_median_s'], 2)} / {fmt(f['rerun_max_s'], 2)} |")
    return "\n".join(lines)
