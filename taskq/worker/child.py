"""A worker child process: its own connection, lease, heartbeat and runner threads.

Children ignore SIGINT and SIGTERM: the supervisor alone decides when they stop (through the
`stop` event), so no signal can interrupt the bookkeeping that ends a job.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from taskq import hooks
from taskq.config import Settings
from taskq.connection import connect
from taskq.errors import LeaseLostError, StoreError
from taskq.log import configure_logging, get_logger
from taskq.store import RedisStore
from taskq.worker.acks import DEFAULT_MAX_JOBS, DEFAULT_WINDOW, AckBatch
from taskq.worker.aio import EventLoopThread, TaskCaller, serves_coroutines
from taskq.worker.budget import JobBudget
from taskq.worker.heartbeat import Heartbeat, OrphanWatch
from taskq.worker.recovery import SHUTDOWN, recover_worker
from taskq.worker.routing import known_task_names
from taskq.worker.runner import Runner, Slot

EXIT_OK = 0
EXIT_LEASE_LOST = 3
EXIT_ERROR = 4
EXIT_RECYCLE = 5  # ran --max-jobs jobs: replace me (also in a burst: the queue may not be dry)
EXIT_ORPHANED = 6  # the supervisor died and the job did not end within the grace


@dataclass(frozen=True)
class ChildSpec:
    settings: Settings
    queues: tuple[str, ...]
    threads: int = 1
    async_concurrency: int = 10  # runners per child when coroutine tasks are registered
    burst: bool = False
    max_jobs: int | None = None
    block_timeout: float = 1.0
    allow_pickle: bool = False
    log_format: str = "console"
    log_level: str = "info"
    orphan_grace: float = 25.0  # an orphaned child exits at the latest this long after
    import_from: tuple[str, ...] = ()  # module prefixes a task may be imported from on sight
    wait_scheduled: float | None = None  # burst: also run scheduled jobs due within this
    # Batched acknowledgements (taskq/worker/acks.py): how long a finished job's ack may
    # wait, in seconds (0: each job is acknowledged at once), and how many go together.
    ack_window: float = DEFAULT_WINDOW
    ack_batch: int = DEFAULT_MAX_JOBS


def blocking_timeout(spec: ChildSpec) -> float:
    """A BLMOVE lasts at most a quarter of the lease: the guard before it then passes while
    the heartbeat keeps time, and a job it lands always lands inside a live lease."""
    return min(spec.block_timeout, spec.settings.lease_ttl / 4)


def runner_count(spec: ChildSpec) -> int:
    """Jobs a child runs at once: --threads, or --async-concurrency when any registered
    task is a coroutine (plain functions among them still run at most --threads at a time)."""
    return max(spec.threads, spec.async_concurrency) if serves_coroutines() else spec.threads


def ack_batch(spec: ChildSpec, store: RedisStore, runners: int) -> AckBatch | None:
    """Batched acknowledgements for a child with one runner on one queue (the throughput
    setup: jobs back to back); a child of several runner threads acknowledges each job."""
    if spec.ack_window <= 0 or spec.ack_batch <= 1 or runners != 1 or len(spec.queues) != 1:
        return None
    return AckBatch(store, spec.ack_batch, spec.ack_window).start()


def make_worker_id(pid: int, token: str) -> str:
    return f"{socket.gethostname()}:{pid}:{token}"


class AnyEvent:
    def __init__(self, *events: Any) -> None:
        self.events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)


def child_main(spec: ChildSpec, token: str, stop: Any, slots: list[Slot]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    configure_logging(spec.log_format, spec.log_level)
    os._exit(run_child(spec, make_worker_id(os.getpid(), token), stop, slots))


def run_child(spec: ChildSpec, worker_id: str, stop: Any, slots: list[Slot], *,
              supervised: bool = True) -> int:
    """The child's work; `supervised=False` when it runs as a thread of the supervisor's own
    process (--single-process): there is no parent to watch then."""
    log = get_logger(worker=worker_id)
    store = RedisStore(connect(spec.settings), spec.settings, allow_pickle=spec.allow_pickle)
    try:
        store.register(worker_id, spec.queues, {
            "host": socket.gethostname(), "pid": os.getpid(), "queues": list(spec.queues),
            "started_at": time.time(), "threads": spec.threads,
            "concurrency": runner_count(spec)})
        # Before the first fetch: a worker lacking a task hands its jobs back to us.
        store.publish_tasks(spec.queues, known_task_names())
    except StoreError as exc:
        log.error("worker-register-failed", error=str(exc))
        return EXIT_ERROR
    hooks.worker_started(worker_id)
    heartbeat = Heartbeat(store, worker_id, spec.queues,
                          on_beat=lambda: store.publish_tasks(spec.queues, known_task_names()))
    heartbeat.start()
    watch = OrphanWatch(spec.orphan_grace, EXIT_ORPHANED)
    if supervised:  # in --single-process the parent is not a supervisor: nothing to watch
        watch.start()
    halt = threading.Event()  # one runner thread crashed: stop them all
    until = AnyEvent(stop, heartbeat.lost, watch.orphaned, halt)
    count = runner_count(spec)
    loop = EventLoopThread().start() if serves_coroutines() else None
    caller = TaskCaller(loop, threading.Semaphore(spec.threads) if count > spec.threads else None)
    budget = JobBudget(spec.max_jobs)  # --max-jobs counts per child, across its runners
    runners = [
        Runner(store, worker_id, spec.queues, stop=until, slot=slots[i], burst=spec.burst,
               budget=budget, block_timeout=blocking_timeout(spec),
               adopt_orphans=count == 1, caller=caller, import_from=spec.import_from,
               wait_scheduled=spec.wait_scheduled, acks=ack_batch(spec, store, count))
        for i in range(count)
    ]
    code = _run_all(runners, halt, log)
    if loop is not None:
        loop.stop()
    if code == EXIT_OK and budget.spent and not stop.is_set():
        code = EXIT_RECYCLE
    heartbeat.halt()
    hooks.worker_stopped(worker_id)
    if heartbeat.lost.is_set() or code == EXIT_LEASE_LOST:
        return EXIT_LEASE_LOST
    if code == EXIT_ERROR:
        # Leave the held jobs to the supervisor: it recovers them as a crash, so a job that
        # breaks the runner itself is counted and ends as poison instead of looping.
        return code
    try:  # leave nothing behind: anything still held goes back to the head of ready
        for queue in spec.queues:
            recover_worker(store, queue, worker_id, SHUTDOWN, drop_lease=True)
        store.unregister(worker_id, spec.queues)
    except StoreError as exc:
        log.warning("worker-unregister-failed", error=str(exc))
    return code


def _run_all(runners: list[Runner], halt: threading.Event, log: Any) -> int:
    codes = [EXIT_OK] * len(runners)

    def target(i: int) -> None:
        try:
            runners[i].run()
        except LeaseLostError:
            codes[i] = EXIT_LEASE_LOST
            halt.set()
        except Exception:
            log.exception("runner-crashed")
            codes[i] = EXIT_ERROR
            halt.set()

    if len(runners) == 1:
        target(0)
    else:
        threads = [threading.Thread(target=target, args=(i,), name=f"taskq-runner-{i}")
                   for i in range(len(runners))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return max(codes)
