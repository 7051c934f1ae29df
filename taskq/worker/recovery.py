"""Taking back the jobs a worker holds: after a crash, a timeout kill, a lost lease, or at
shutdown. Builds one plan per held job and hands it to the store's single `recover` script."""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from taskq.errors import DecodeError, UnknownTaskError
from taskq.job import decode, foreign_id, job_id_of
from taskq.retry import Backoff
from taskq.store import RedisStore, Release, history_entry
from taskq.task import get_task
from taskq.worker.decision import TIMED_OUT, Outcome, after_crash, decide

CRASH = "crash"
SHUTDOWN = "shutdown"


@dataclass(frozen=True)
class CrashInfo:
    host: str
    pid: int | None
    signal: str | None
    reason: str  # "killed by SIGKILL", "lease expired", ...

    def as_dict(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "signal": self.signal, "reason": self.reason}


def backoff_for(task_name: str) -> Backoff:
    try:
        return get_task(task_name).options.backoff
    except UnknownTaskError:
        return Backoff()


def plan(raw: bytes, mode: str, crash: CrashInfo | None, timed_out: Collection[str],
         poison_crashes: int, allow_pickle: bool = False,
         running: Collection[str] | None = None) -> Release:
    """Where one held job goes. `running`: the ids of the jobs the dead worker was running
    (from its slots), when known; the others it held (fetched ahead, or ended with their
    acknowledgement still waiting) never crashed it, so they go back uncounted."""
    now = time.time()
    try:
        payload = decode(raw, allow_pickle)
    except DecodeError as exc:
        job_id = job_id_of(raw)
        return Release(raw, raw, job_id, "dead", int(now * 1000),
                       history_entry("dead-lettered", reason="undecodable"),
                       {"reason": "undecodable", "error": str(exc)})
    if payload.id in timed_out:  # decode guarantees ids fit the timeout slots whole
        action = decide(Outcome(TIMED_OUT), payload, backoff_for(payload.task), now)
        fields = {"reason": "timed out", "error_type": "TimeoutError",
                  "error": f"ran longer than its timeout of {payload.timeout} s"}
        if action.kind == "retry" and action.next is not None:
            return Release(raw, action.next.encode(), payload.id, "scheduled",
                           int(action.due * 1000),
                           history_entry("retrying", reason="timed out", attempt=payload.attempt),
                           {**fields, "due": str(int(action.due * 1000))})
        return Release(raw, raw, payload.id, "dead", int(now * 1000),
                       history_entry("dead-lettered", reason="timed out",
                                     attempt=payload.attempt),
                       {**fields, "died_at": str(int(now * 1000))})
    if mode == SHUTDOWN or crash is None:
        return requeued(raw, payload.id, "worker shut down")
    if running is not None and payload.id not in running:
        return requeued(raw, payload.id, "its worker died; it was not running")
    verdict = after_crash(payload, poison_crashes)
    info = json.dumps(crash.as_dict())
    if verdict.dest == "dead":
        return Release(raw, verdict.next.encode(), payload.id, "dead", int(now * 1000),
                       history_entry("dead-lettered", reason="poison", crash=crash.as_dict()),
                       {"reason": "poison", "last_crash": info, "died_at": str(int(now * 1000)),
                        "error": f"killed {verdict.next.crashes} workers; last: {crash.reason}"})
    return Release(raw, verdict.next.encode(), payload.id, "ready", 0,
                   history_entry("crashed", crash=crash.as_dict(), attempt=payload.attempt),
                   {"last_crash": info})


def requeued(raw: bytes, job_id: str, reason: str) -> Release:
    """Back to the head of ready as it was: no attempt or crash counted."""
    return Release(raw, raw, job_id, "ready", 0, history_entry("requeued", reason=reason), {})


def recover_worker(store: RedisStore, queue: str, worker_id: str, mode: str, *,
                   crash: CrashInfo | None = None, timed_out: Collection[str] = (),
                   only_if_expired: bool = False, drop_lease: bool = True,
                   running: Collection[str] | None = None) -> int:
    """Move every job `worker_id` holds in `queue` to where the table says; returns how many
    moved (-1: the lease is still alive, nothing moved). A job the worker took while the
    list was being read is caught by reading again (a few times; after that the lease stays
    and the next scan retries)."""
    total = 0
    for _ in range(5):
        held = store.held(queue, worker_id)
        own = store.own_records(queue, held)
        releases = [safe_plan(raw, mode, crash, timed_out, store, running) if mine
                    else foreign(raw)
                    for raw, mine in zip(held, own, strict=True)]
        moved, left = store.release(queue, worker_id, releases, only_if_expired, drop_lease)
        if moved < 0:
            return -1
        total += moved
        if left == 0:
            break
    return total


def safe_plan(raw: bytes, mode: str, crash: CrashInfo | None, timed_out: Collection[str],
              store: RedisStore, running: Collection[str] | None = None) -> Release:
    """Plan one job; bytes that make planning fail are dead-lettered, never left held."""
    try:
        return plan(raw, mode, crash, timed_out, store.settings.poison_crashes,
                    store.allow_pickle, running)
    except Exception as exc:  # a foreign payload must not stop the recovery of the rest
        now = int(time.time() * 1000)
        return Release(raw, raw, job_id_of(raw), "dead", now,
                       history_entry("dead-lettered", reason="unrecoverable"),
                       {"reason": "undecodable", "error": f"cannot plan recovery: {exc!r}"})


def foreign(raw: bytes) -> Release:
    """A held payload that no job record holds (pushed by hand, or reusing a live job's id):
    dead at once under an id derived from its bytes, never written over another record."""
    now = int(time.time() * 1000)
    return Release(raw, raw, foreign_id(raw), "dead", now,
                   history_entry("dead-lettered", reason="foreign"),
                   {"reason": "foreign", "error": "no job record holds this payload (pushed "
                    "onto the queue by hand, or reusing another job's id)"})


def crash_info_from_worker_id(worker_id: str, reason: str, signal: str | None = None
                              ) -> CrashInfo:
    """Worker ids are host:pid:token, so a dead worker's host and pid survive it."""
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    return CrashInfo(host, int(pid_text) if pid_text.isdigit() else None, signal, reason)
