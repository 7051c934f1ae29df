"""The failure-mode case: kill -9 a worker process in the middle of jobs, a few times, and count
what each system did with the jobs it was running.

Each system runs with its most reliable documented settings (its adapter's `reliable_config`
and `enqueue_work`). N jobs are queued before the worker starts; job i sleeps 50-200 ms (the
same durations for every system) and RPUSHes its start and its end, with its pid, to the bench
server (benchlib.sink.work). When a share of the jobs has started, the harness picks a job that
has run at least 20 ms and kills -9 the process running it. If that was the worker's main
process (single-process workers: huey, arq, SAQ) or the main process exits because a child died
(Dramatiq), the harness starts the worker again at once, as a process manager would; otherwise
the system's own supervisor handles it (taskq, Celery, RQ). Afterwards, from the records alone:

- interrupted: jobs that started in a killed process and never ended there;
- lost: jobs with no end record when the run ended (all others done plus a settle time, or the
  time cap): never finished;
- ran twice: jobs with more than one start record; finished twice: more than one end record;
- rerun after kill: for each interrupted job, from the kill to its next start (includes a
  worker restart where the system needs one).
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import time
from typing import Any

from benchlib import procs, sink

MIN_RUN = 0.02  # a job is "mid-run" once it has run this long


def durations(n: int, seed: int = 15) -> list[int]:
    """Job i's duration in ms, 50-200, the same list for every system."""
    rng = random.Random(seed)
    return [rng.randint(50, 200) for _ in range(n)]


def parse(raw: list[bytes]) -> list[tuple[int, int, float]]:
    out = []
    for item in raw:
        job, pid, at = item.decode().split()
        out.append((int(job), int(pid), float(at)))
    return out


class Records:
    def __init__(self, r: Any) -> None:
        self.r = r

    def starts(self) -> list[tuple[int, int, float]]:
        return parse(self.r.lrange(sink.FAIL_START_KEY, 0, -1))

    def ends(self) -> list[tuple[int, int, float]]:
        return parse(self.r.lrange(sink.FAIL_END_KEY, 0, -1))

    def victim(self, dead: set[int]) -> int | None:
        """The pid running the oldest job that has run at least MIN_RUN and not ended (in a
        process not already killed)."""
        ended = {(job, pid) for job, pid, _ in self.ends()}
        now = time.time()
        running = [(at, pid) for job, pid, at in self.starts()
                   if (job, pid) not in ended and pid not in dead and now - at >= MIN_RUN]
        return min(running)[1] if running else None


class Harness:
    """One system's run: its worker (restarted when its main process is gone), the kills."""

    def __init__(self, bench: Any, cfg: Any) -> None:
        self.bench, self.cfg = bench, cfg
        self.workers: list[Any] = []
        self.restarts = 0

    def ensure_running(self) -> None:
        if self.workers and all(w.poll() is None for w in self.workers):
            return
        if self.workers:  # a main process died: clear its group, start anew
            for w in self.workers:
                procs.stop(w)
            self.restarts += 1
        self.workers = self.bench.start_workers(self.cfg)

    def stop(self) -> None:
        for w in self.workers:
            procs.stop(w)


def run(bench: Any) -> dict[str, Any]:
    p = bench.params
    peer, r = bench.peer, bench.r
    n, kills, cap = p["n"], p["kills"], p["timeout"]
    cfg = peer.reliable_config() if not p.get("config") else next(
        c for c in peer.reliable_variants() if c.name == p["config"])
    r.flushall()
    peer.enqueue_work(list(enumerate(durations(n))))
    records = Records(r)
    harness = Harness(bench, cfg)
    started = time.time()
    killed: list[tuple[int, float]] = []  # (pid, when)
    try:
        harness.ensure_running()
        done_at = _drive(harness, records, n, kills, started + cap, killed)
        if done_at is not None:  # late duplicates: give them a moment to show
            _sleep_until(harness, min(started + cap, time.time() + p["settle"]))
    finally:
        harness.stop()
    return summarize(records.starts(), records.ends(), n, killed, cfg.describe,
                     time.time() - started, harness.restarts, capped=done_at is None)


def _drive(harness: Harness, records: Records, n: int, kills: int, deadline: float,
           killed: list[tuple[int, float]]) -> float | None:
    """Kill at 1/(kills+1), 2/(kills+1), ... of the jobs started; return when all jobs have
    ended (None: the time cap came first)."""
    while time.time() < deadline:
        harness.ensure_running()
        ended = {job for job, _, _ in records.ends()}
        if len(ended) >= n:
            return time.time()
        if len(killed) < kills:
            begun = {job for job, _, _ in records.starts()}
            if len(begun) >= (len(killed) + 1) * n // (kills + 1):
                pid = records.victim({pid for pid, _ in killed})
                if pid is not None:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        killed.append((pid, time.time()))
                    except ProcessLookupError:
                        pass
        time.sleep(0.01)
    return None


def _sleep_until(harness: Harness, until: float) -> None:
    while time.time() < until:
        harness.ensure_running()
        time.sleep(0.05)


def summarize(starts: list[tuple[int, int, float]], ends: list[tuple[int, int, float]], n: int,
              killed: list[tuple[int, float]], describe: str, seconds: float, restarts: int,
              capped: bool) -> dict[str, Any]:
    start_count: dict[int, int] = {}
    end_count: dict[int, int] = {}
    for job, _, _ in starts:
        start_count[job] = start_count.get(job, 0) + 1
    for job, _, _ in ends:
        end_count[job] = end_count.get(job, 0) + 1
    ended_in = {(job, pid) for job, pid, _ in ends}
    reruns, interrupted, never_rerun = [], 0, 0
    for pid, at in killed:
        for job, spid, sat in starts:
            if spid != pid or sat > at or (job, pid) in ended_in:
                continue
            interrupted += 1
            later = [t for j, _, t in starts if j == job and t > at]
            if later:
                reruns.append(min(later) - at)
            else:
                never_rerun += 1
    return {
        "describe": describe, "n": n, "kills": len(killed), "restarts": restarts,
        "interrupted": interrupted, "never_rerun": never_rerun,
        "lost": sum(1 for job in range(n) if job not in end_count),
        "ran_twice": sum(1 for c in start_count.values() if c > 1),
        "finished_twice": sum(1 for c in end_count.values() if c > 1),
        "rerun_median_s": statistics.median(reruns) if reruns else None,
        "rerun_max_s": max(reruns) if reruns else None,
        "seconds": seconds, "capped": capped,
    }
