"""Eager mode: `.delay()` runs the job at once in the caller.

The enqueue is the real one (signature and JSON checks in the caller, enqueue.lua's duplicate
check), then the job is taken straight into a worker's active list and run by the real
Runner, whose real finish (ack, retry or dead) records how it ended; a retry is run again at
once with the fake clock moved to its due time. The handle `.delay()` returns is therefore a
finished job: `status()` and `result()` read it from the in-memory store.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from taskq.errors import JobFailedError, RunawayJobError
from taskq.job import Payload
from taskq.testing.runs import DEAD, RETRY, RecordingRunner, job_run

if TYPE_CHECKING:
    from taskq.testing.backend import InMemoryBackend

# The test double's one step that fetch.lua cannot do: take one chosen job (the one just
# enqueued, or its retry) rather than the oldest, so that jobs queued before eager mode was
# switched on stay where they are. Runs on the fake server only.
_TAKE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 and redis.call('ZREM', KEYS[2], ARGV[1]) == 0
    and redis.call('LREM', KEYS[4], 1, ARGV[1]) == 0
    and redis.call('LREM', KEYS[5], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('LPUSH', KEYS[3], ARGV[1])
return 1
"""

_STOPPED = threading.Event()
_STOPPED.set()  # a runner that is told to stop fetches nothing after the job it is given
_ids = itertools.count(1)


def run_eagerly(backend: InMemoryBackend, payload: Payload, raw: bytes | None = None) -> None:
    """Run one just-enqueued job (stored as `raw`, by default its encoding) to its end in
    this thread; raise its exception if it ended dead and the backend propagates."""
    store, queue = backend.store, payload.queue
    worker = f"taskq-testing:{os.getpid()}:eager{next(_ids)}"  # nested runs get their own
    store.register(worker, [queue], {"host": "taskq-testing", "pid": os.getpid()})
    runner = RecordingRunner(store, worker, [queue], stop=_STOPPED, burst=True,
                             clock=backend.clock.now, adopt_orphans=False)
    k, raw = store.keys, raw or payload.encode()
    try:
        for _ in range(backend.max_runs):
            store.client.eval(_TAKE, 5, k.ready(queue), k.scheduled(queue),
                              k.active(queue, worker), k.ready_high(queue),
                              k.ready_low(queue), raw)
            delivery = store.delivery(queue, worker, raw)
            outcome = runner.execute(delivery)
            runner.finish(delivery, outcome)
            run = job_run(store, delivery, outcome)
            backend.runs.append(run)
            if run.ended == RETRY:
                raw, due = store.client.hmget(k.job(queue, payload.id), "payload", "due")
                if raw is None:
                    return
                backend.clock.advance_to(int(due or 0) / 1000)
                continue
            if run.ended == DEAD and backend.propagate:
                raise run.exception or JobFailedError(payload.id, "dead",
                                                      run.error or run.reason)
            return
        raise RunawayJobError(
            f"job {payload.id} ({payload.task}) asked to run again {backend.max_runs} times "
            f"in eager mode; a task that always raises Retry?")
    finally:
        store.unregister(worker, [queue])


@contextmanager
def eager(propagate: bool = True) -> Iterator[InMemoryBackend]:
    """`with taskq.testing.eager():` `.delay()` runs the task at once in the caller.

    Uses the installed in-memory backend (the `taskq_backend` fixture), or installs a fresh
    one for the block. With `propagate=False` a job that ends dead does not raise: its handle
    reports it dead and it sits in the backend's dead letters."""
    from taskq.testing.backend import InMemoryBackend, current

    backend = current()
    own = backend is None
    if backend is None:
        backend = InMemoryBackend().install()
    before = (backend.eager, backend.propagate)
    backend.eager, backend.propagate = True, propagate
    try:
        yield backend
    finally:
        backend.eager, backend.propagate = before
        if own:
            backend.uninstall()
