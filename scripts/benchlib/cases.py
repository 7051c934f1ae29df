"""The measurements. Each call runs one case once, inside the peer's own venv:

    python -m benchlib.cases PEER CASE 'JSON PARAMS'   (cwd: scripts/, BENCH_REDIS_URL set)

and prints one JSON object on its last stdout line. Every wait is bounded; worker process
groups are always killed on the way out.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from benchlib import procs, sink
from benchlib.peer import Peer, WorkerConfig
from benchlib.peers import load

SCRIPTS = str(Path(__file__).resolve().parents[1])
LOGS = Path(SCRIPTS).parent / ".bench" / "logs"


def now_args() -> tuple[float]:
    return (time.time(),)


def no_args() -> tuple[()]:
    return ()


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else 0.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Bench:
    def __init__(self, peer: Peer, params: dict[str, Any]) -> None:
        self.peer = peer
        self.params = params
        self.r = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])

    # --- helpers --------------------------------------------------------------------------
    def config(self, name: str, configs: list[WorkerConfig] | None = None) -> WorkerConfig:
        for cfg in configs or self.peer.worker_configs():
            if cfg.name == name:
                return cfg
        raise SystemExit(f"{self.peer.name} has no worker config {name!r}")

    def start_workers(self, cfg: WorkerConfig, env: dict[str, str] | None = None) -> list[Any]:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = open(LOGS / f"{self.peer.name}-{cfg.name}.log", "a")  # noqa: SIM115
        full_env = {**os.environ, "PYTHONPATH": SCRIPTS, **cfg.env, **(env or {})}
        return [procs.start(cfg.argv, cwd=SCRIPTS, env=full_env, log=log)
                for _ in range(cfg.procs)]

    def wait_mark(self, name: str, timeout: float, workers: list[Any]) -> tuple[float, int, int]:
        """Block until the sentinel job `name` ran: (time, round trips so far, pid)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.r.blpop([sink.MARK_KEY.format(name)], timeout=0.5)
            if got:
                at, count, pid = got[1].decode().split()
                return float(at), int(count), int(pid)
            if all(w.poll() is not None for w in workers):
                raise RuntimeError(f"{self.peer.name} worker exited (see .bench/logs)")
        raise TimeoutError(f"sentinel {name!r} not seen within {timeout:.0f} s")

    def pending(self) -> int:
        kind, key = self.peer.pending_key
        return int(self.r.llen(key) if kind == "list" else self.r.zcard(key))

    def enqueue_quietly(self, task: str, n: int, args: Callable[[], Any]) -> None:
        """Fill the queue before a processing run (not timed): bulk where there is one."""
        if self.peer.bulk_api:
            self.peer.enqueue_bulk(task, n, args, 1000)
        else:
            self.peer.enqueue_each(task, n, args)

    def commandstats(self) -> dict[str, int]:
        info = self.r.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}

    # --- cases ----------------------------------------------------------------------------
    def enqueue(self) -> dict[str, Any]:
        p = self.params
        self.r.flushall()
        self.peer.enqueue_each("noop", 200, no_args)  # warm up connections and caches
        self.r.flushall()
        started = time.perf_counter()
        self.peer.enqueue_each("noop", p["n_one"], no_args)
        one = rate(p["n_one"], time.perf_counter() - started)
        bulk = None
        if self.peer.bulk_api:
            self.r.flushall()
            started = time.perf_counter()
            self.peer.enqueue_bulk("noop", p["n_bulk"], no_args, p["batch"])
            bulk = rate(p["n_bulk"], time.perf_counter() - started)
        self.r.flushall()
        return {"one": one, "bulk": bulk, "bulk_api": self.peer.bulk_api}

    def process(self) -> dict[str, Any]:
        """N jobs already queued; time from worker start until the final sentinel ran. The
        job is a no-op, or with `call` one that makes one Redis call of its own (an INCR)."""
        p = self.params
        configs = self.peer.mix_configs() if p.get("mix") else None  # type: ignore[attr-defined]
        if p.get("call") and hasattr(self.peer, "call_configs"):  # taskq: + the call module
            configs = self.peer.call_configs()
        n = p["n"]
        task = "mix" if p.get("mix") else "call" if p.get("call") else "noop"
        if p.get("io"):  # the async I/O mix: each config names its task (coroutine or not)
            io = dict((c.name, (c, t)) for c, t in self.peer.io_configs())  # type: ignore[attr-defined]
            configs, task = [io[p["config"]][0]], io[p["config"]][1]
        cfg = self.config(p["config"], configs)
        blob = "x" * 1024
        args = (lambda: (blob,)) if p.get("mix") else no_args
        self.r.flushall()
        self.peer.enqueue_each("mark", 1, lambda: ("first",))
        time.sleep(0.005)  # arq orders by enqueue time in ms: keep the sentinels apart
        self.enqueue_quietly(task, n, args)
        time.sleep(0.005)
        self.peer.enqueue_each("mark", 1, lambda: ("last",))
        self.r.config_resetstat()
        env = {"BENCH_COUNT_ROUNDTRIPS": "1"} if p.get("roundtrips") else {}
        started = time.time()
        workers = self.start_workers(cfg, env)
        try:
            first_at, first_rt, first_pid = self.wait_mark("first", p["timeout"], workers)
            left = p["timeout"] - (time.time() - started)
            try:
                last_at, last_rt, last_pid = self.wait_mark("last", left, workers)
            except TimeoutError:  # a slow system: report what it did within the bound
                elapsed = time.time() - started
                done = n - self.pending()
                return {"config": cfg.name, "describe": cfg.describe, "partial": True,
                        "rate": rate(done, elapsed), "steady": rate(done, elapsed),
                        "done": done, "seconds": elapsed}
            stats = self.commandstats()
            calls = int(self.r.get(sink.CALL_KEY) or 0)
        finally:
            for w in workers:
                procs.stop(w)
        out: dict[str, Any] = {
            "config": cfg.name, "describe": cfg.describe, "partial": False, "n": n,
            "seconds": last_at - started, "rate": rate(n, last_at - started),
            "steady": rate(n, last_at - first_at),
            "commands_per_job": {k: round(v / n, 3) for k, v in sorted(stats.items())
                                 if v / n >= 0.01},
        }
        if task == "call":  # every job made its call (a few may still be running)
            out["calls"] = calls
        if p.get("roundtrips") and first_pid == last_pid:
            out["roundtrips_per_job"] = (last_rt - first_rt) / n  # the sink's RPUSH is not counted
        return out

    def idle(self) -> dict[str, Any]:
        """One idle worker: memory, then latency of spaced jobs, then of a burst."""
        p = self.params
        cfg = self.config(p["config"])
        self.r.flushall()
        workers = self.start_workers(cfg)
        try:
            self.peer.enqueue_each("mark", 1, lambda: ("ready",))
            self.wait_mark("ready", p["timeout"], workers)
            time.sleep(p["settle"])
            memory = procs.tree_memory([w.pid for w in workers])
            spaced = self.latencies(p["spaced_n"], p["spacing"], p["timeout"])
            time.sleep(p["settle"])
            burst = self.latencies(p["burst_n"], 0.0, p["timeout"])
        finally:
            for w in workers:
                procs.stop(w)
        ms = 1000.0
        return {"config": cfg.name, "describe": cfg.describe, **memory,
                "spaced_p50_ms": percentile(spaced, 0.5) * ms,
                "spaced_p99_ms": percentile(spaced, 0.99) * ms,
                "burst_p50_ms": percentile(burst, 0.5) * ms,
                "burst_p99_ms": percentile(burst, 0.99) * ms,
                "spaced_n": len(spaced), "burst_n": len(burst), "spacing_s": p["spacing"]}

    def latencies(self, n: int, spacing: float, timeout: float) -> list[float]:
        self.r.delete(sink.LATENCY_KEY)
        for _ in range(n):
            self.peer.enqueue_each("latency", 1, now_args)
            if spacing:
                time.sleep(spacing)
        deadline = time.monotonic() + timeout
        while self.r.llen(sink.LATENCY_KEY) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.r.llen(sink.LATENCY_KEY)}/{n} latency jobs ran")
            time.sleep(0.02)
        return [float(v) for v in self.r.lrange(sink.LATENCY_KEY, 0, -1)]

    def failures(self) -> dict[str, Any]:
        """kill -9 a worker process mid-job a few times (benchlib.failures)."""
        from benchlib import failures

        return failures.run(self)

    def info(self) -> dict[str, Any]:
        io = getattr(self.peer, "io_configs", lambda: [])()
        return {"version": self.peer.version(), "bulk_api": self.peer.bulk_api,
                "configs": {c.name: c.describe for c in self.peer.worker_configs()},
                "io_configs": {c.name: c.describe for c, _ in io},
                "reliable": (self.peer.reliable_config().describe  # type: ignore[attr-defined]
                             if hasattr(self.peer, "reliable_config") else None),
                "reliable_variants": {c.name: c.describe for c in getattr(
                    self.peer, "reliable_variants", lambda: [])()}}


def main() -> None:
    peer_name, case, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    peer = load(peer_name)
    try:
        result = getattr(Bench(peer, params), case)()
    finally:
        peer.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
