"""Medians over repetitions, the markdown tables, and taskq's targets."""

from __future__ import annotations

import statistics
from typing import Any

Results = dict[str, dict[str, list[dict[str, Any]]]]  # peer -> case key -> one dict per rep


def median_of(runs: list[dict[str, Any]], field: str) -> float | None:
    values = [r[field] for r in runs if isinstance(r.get(field), (int, float))]
    return statistics.median(values) if values else None


def summarize(results: Results, peers: list[str]) -> dict[str, dict[str, Any]]:
    """Per peer: median of every metric, and which processing config was best."""
    out: dict[str, dict[str, Any]] = {}
    for peer in peers:
        cases = results.get(peer, {})
        s: dict[str, Any] = {}
        enq = cases.get("enqueue", [])
        s["enqueue_one"] = median_of(enq, "one")
        s["enqueue_bulk"] = median_of(enq, "bulk")
        processing = {}
        for key, runs in cases.items():
            if key.startswith("process:"):
                ok = [r for r in runs if "rate" in r]
                processing[key.removeprefix("process:")] = {
                    "rate": median_of(ok, "rate"), "steady": median_of(ok, "steady"),
                    "partial": any(r.get("partial") for r in ok),
                    "describe": ok[0]["describe"] if ok else "",
                    "errors": [r["error"] for r in runs if "error" in r],
                    "roundtrips_per_job": median_of(ok, "roundtrips_per_job"),
                    "commands_per_job": ok[0].get("commands_per_job") if ok else None,
                }
        s["processing"] = processing
        rated = {k: v for k, v in processing.items() if v["rate"]}
        if rated:
            best = max(rated, key=lambda k: rated[k]["rate"])
            s["best_config"], s["best"] = best, rated[best]
        s["default"] = processing.get("default")
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
             "(jobs/s) | process best (jobs/s) | best config | latency spaced p50 / p99 (ms) "
             "| latency burst p50 / p99 (ms) | idle RSS MB (procs) | idle PSS MB |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for peer, s in summary.items():
        default, best = s.get("default") or {}, s.get("best") or {}
        star = lambda r: "*" if r.get("partial") else ""  # noqa: E731
        lines.append(
            f"| {peer} | {fmt(s['enqueue_one'])} | {fmt(s['enqueue_bulk'])} "
            f"| {fmt(default.get('rate'))}{star(default)} | {fmt(best.get('rate'))}{star(best)} "
            f"| {best.get('describe', '—')} "
            f"| {fmt(s['spaced_p50_ms'], 2)} / {fmt(s['spaced_p99_ms'], 2)} "
            f"| {fmt(s['burst_p50_ms'], 1)} / {fmt(s['burst_p99_ms'], 1)} "
            f"| {fmt(s['rss_mb'], 1)} ({fmt(s['processes'])}) | {fmt(s['pss_mb'], 1)} |")
    lines.append("")
    lines.append("`*` = did not drain within the time bound; rate = jobs done / time.")
    lines += ["", "Steady-state processing (first job start to last job end, excludes worker "
              "start-up), every config tried:", "",
              "| system | config | jobs/s from worker start | jobs/s steady |",
              "|---|---|---:|---:|"]
    for peer, s in summary.items():
        for name, p in s["processing"].items():
            lines.append(f"| {peer} | {p['describe'] or name} | {fmt(p['rate'])}"
                         f"{'*' if p['partial'] else ''} | {fmt(p['steady'])} |")
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


def targets(summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    t = summary.get("taskq")
    peers = {k: v for k, v in summary.items() if k != "taskq"}
    if not t or not peers:
        return []

    def best_peer(get: Any) -> tuple[str, float] | None:
        vals = [(k, get(v)) for k, v in peers.items() if get(v)]
        return max(vals, key=lambda kv: kv[1]) if vals else None

    out = []

    def ratio(name: str, mine: float | None, other: tuple[str, float] | None, goal: float) -> None:
        if mine and other:
            r = mine / other[1]
            out.append({"target": name, "taskq": mine, "vs": other[0], "peer": other[1],
                        "ratio": round(r, 2), "goal": goal, "met": r >= goal})

    ratio("enqueue one-call", t["enqueue_one"], best_peer(lambda s: s["enqueue_one"]), 1.1)
    ratio("bulk enqueue", t["enqueue_bulk"], best_peer(lambda s: s["enqueue_bulk"]), 5.0)
    ratio("processing best", (t.get("best") or {}).get("rate"),
          best_peer(lambda s: (s.get("best") or {}).get("rate")), 2.5)
    p50 = t.get("spaced_p50_ms")
    lows = [(v["spaced_p50_ms"], k) for k, v in peers.items() if v.get("spaced_p50_ms")]
    if p50 is not None and lows:
        lowest = min(lows)
        out.append({"target": "latency p50 <= fastest peer and < 1 ms", "taskq": p50,
                    "vs": lowest[1], "peer": lowest[0], "met": p50 <= lowest[0] and p50 < 1})
    if t.get("spaced_p99_ms") is not None:
        out.append({"target": "latency p99 < 3 ms", "taskq": t["spaced_p99_ms"],
                    "met": t["spaced_p99_ms"] < 3})
    smallest = [v for v in (t.get("pss_mb"), (t.get("idle_single") or {}).get("pss_mb")) if v]
    huey = (peers.get("huey") or {}).get("pss_mb")
    if smallest and huey:
        out.append({"target": "smallest worker's idle PSS <= huey's", "taskq": min(smallest),
                    "vs": "huey", "peer": huey, "ratio": round(min(smallest) / huey, 2),
                    "met": min(smallest) <= huey})
    if t.get("rss_mb") and t.get("processes"):
        per = t["rss_mb"] / t["processes"]
        out.append({"target": "idle RSS <= 35 MB per process", "taskq": round(per, 1),
                    "met": per <= 35})
    return out


def targets_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| target | taskq | compared with | ratio | met |", "|---|---:|---|---:|---|"]
    for r in rows:
        vs = f"{r['vs']} {fmt(r['peer'], 2)}" if "vs" in r else "—"
        lines.append(f"| {r['target']} | {fmt(r['taskq'], 2)} | {vs} | "
                     f"{r.get('ratio', '—')} | {'yes' if r['met'] else '**no**'} |")
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
