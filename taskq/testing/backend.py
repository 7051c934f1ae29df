"""The in-memory backend: taskq's real RedisStore and real Lua scripts on a fakeredis server
in the test's own process. No server, no subprocess, no network.

While installed (`with InMemoryBackend():`, or the `taskq_backend` fixture), every enqueue that
names no store lands here; `drain()` runs what is queued with the real Runner and decision
table, and a fake clock makes scheduled jobs and retries due without sleeping.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import weakref
from types import TracebackType
from typing import Any

from taskq import producer
from taskq.config import Settings
from taskq.errors import ConfigurationError, ResultTimeoutError, RunawayJobError
from taskq.job import Payload, decode
from taskq.store import RedisStore
from taskq.store.aio import AsyncStore
from taskq.task import Task
from taskq.testing.clock import FakeClock
from taskq.testing.runs import JobRun, RecordingRunner, job_run, off_loop

# Never used to connect: a path that cannot exist, so that a stray connect() fails at once
# instead of starting the embedded server or reaching the network.
IN_MEMORY_URL = "unix:///nonexistent/taskq-in-memory.sock"
LEASE_TTL = 24 * 3600.0  # a test's worker never loses its lease by being slow
DRAIN_WORKER = f"taskq-testing:{os.getpid()}:drain"
INSTALL_HINT = "taskq.testing needs fakeredis with Lua: pip install 'taskq[testing]'"

_installed: list[InMemoryBackend] = []

# Redis's cjson encodes an empty table as an object ({}); fakeredis's as an array ([]). Run
# once on each fake server (its Lua state lives as long as the server), so that the scripts
# leave the same bytes as on Redis. Empty tables are marked, encoded, then turned into {}.
_REDIS_CJSON = """
if cjson.taskq_redis_like then return 0 end
local encode, MARK = cjson.encode, 'taskq-testing:empty-table:3c9e'
local function mark(value)
  if type(value) ~= 'table' then return value end
  if next(value) == nil then return MARK end
  local out = {}
  for k, v in pairs(value) do out[k] = mark(v) end
  return out
end
cjson.encode = function(value)
  local marked = mark(value)
  if marked == MARK then return '{}' end
  return (string.gsub(encode(marked), '"taskq%-testing:empty%-table:3c9e"', '{}'))
end
cjson.taskq_redis_like = true
return 1
"""


def current() -> InMemoryBackend | None:
    """The backend installed last (None when none is)."""
    return _installed[-1] if _installed else None


def _fakeredis() -> Any:
    if importlib.util.find_spec("fakeredis") is None or importlib.util.find_spec("lupa") is None:
        raise ConfigurationError(INSTALL_HINT)
    import fakeredis

    return fakeredis


class InMemoryStore(RedisStore):
    """RedisStore on fakeredis; in eager mode an accepted enqueue also runs the job at once."""

    def __init__(self, client: Any, settings: Settings, backend: InMemoryBackend) -> None:
        super().__init__(client, settings, allow_pickle=True)
        self.backend = backend

    def enqueue(self, payloads: Any) -> list[Any]:
        if not self.backend.eager:
            return super().enqueue(payloads)
        from taskq.testing.eager import run_eagerly

        now = [p if p.eta is None else _replace_eta(p) for p in payloads]  # eager: run now
        outcomes = super().enqueue(now)
        for payload, outcome in zip(now, outcomes, strict=True):
            if outcome == 1:
                off_loop(run_eagerly, self.backend, payload)
        return outcomes


    def resolve(self, dependent: str, parent: str, ended: str, result: str) -> int:
        """Workflows: in eager mode, a dependent its last parent releases runs at once."""
        from taskq.store.workflows import split_ref
        from taskq.testing.eager import run_eagerly
        from taskq.workflows import RELEASED

        verdict = super().resolve(dependent, parent, ended, result)
        if self.backend.eager and verdict == RELEASED:
            queue, job_id = split_ref(dependent)
            raw = self.client.hget(self.keys.job(queue, job_id), "payload")
            if raw is not None:
                off_loop(run_eagerly, self.backend, decode(raw, allow_pickle=True), raw)
        return verdict

    def wait_for_end(self, queue: str, job_id: str, timeout: float) -> bool:
        """Never blocks: in a test nothing runs a job until the test drains (a blocking
        wait would only sit out its timeout), so say so at once."""
        status = self.job_record(queue, job_id).get("status")
        if status in ("done", "dead"):
            return True
        raise ResultTimeoutError(
            f"job {job_id} is {status or 'unknown'} and nothing runs it in a test until you "
            f"call drain() or run_until_empty() (or use eager mode)")


class InMemoryAsyncStore(AsyncStore):
    """What adelay()/aenqueue() and a handle's aresult() use while a backend is installed:
    reads on a fakeredis asyncio client of the same fake server; enqueue and waits go through
    the sync InMemoryStore in a thread, so that eager mode (which may run a coroutine task in
    its own asyncio.run) never runs inside the caller's loop."""

    def __init__(self, client: Any, settings: Settings, backend: InMemoryBackend) -> None:
        super().__init__(client, settings)
        self.backend = backend

    async def enqueue(self, payloads: Any) -> list[Any]:
        return await asyncio.to_thread(self.backend.store.enqueue, list(payloads))

    async def wait_for_end(self, queue: str, job_id: str, timeout: float) -> bool:
        return await asyncio.to_thread(self.backend.store.wait_for_end, queue, job_id, timeout)


def _replace_eta(payload: Payload) -> Payload:
    from dataclasses import replace

    return replace(payload, eta=None)


class InMemoryBackend:
    """A fakeredis server running taskq's real scripts, a fake clock, and the runs so far.

    `eager`: `.delay()` runs the task at once in the caller (retries included, the clock
    advanced instead of waiting); a job that ends dead raises its exception in the caller
    unless `propagate` is False, when the handle reports it dead and it sits in dead letters.
    """

    def __init__(self, *, eager: bool = False, propagate: bool = True, prefix: str = "taskq",
                 max_runs: int = 1000) -> None:
        fakeredis = _fakeredis()
        self.server = fakeredis.FakeServer()
        self.client = fakeredis.FakeRedis(server=self.server)
        self.client.eval(_REDIS_CJSON, 0)
        # Every worker of a test is this process: a task unknown here is unknown everywhere,
        # so it is dead-lettered at once instead of being handed back for another worker.
        self.settings = Settings(url=IN_MEMORY_URL, prefix=prefix, lease_ttl=LEASE_TTL,
                                 unknown_task_grace=0)
        self.store = InMemoryStore(self.client, self.settings, self)
        self.clock = FakeClock()
        self.eager = eager
        self.propagate = propagate
        self.max_runs = max_runs
        self.runs: list[JobRun] = []  # every run so far, drained or eager, in order
        self._replaced: RedisStore | None = None
        self._replaced_async: Any = None
        self._async_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncStore] = (
            weakref.WeakKeyDictionary())

    def __repr__(self) -> str:
        return f"<InMemoryBackend eager={self.eager} runs={len(self.runs)}>"

    # --- installing -----------------------------------------------------------------------
    def install(self) -> InMemoryBackend:
        """Make this the store every `.delay()` / `.enqueue()` without `store=` uses."""
        self._replaced = producer.override_store(self.store)
        self._replaced_async = producer.override_async_store(self.async_store)
        _installed.append(self)
        return self

    def uninstall(self) -> None:
        if self in _installed:
            _installed.remove(self)
            producer.override_store(self._replaced)
            producer.override_async_store(self._replaced_async)

    def async_store(self) -> AsyncStore:
        """The async store for the running event loop (one per loop, as redis.asyncio's)."""
        loop = asyncio.get_running_loop()
        store = self._async_stores.get(loop)
        if store is None:
            client = _fakeredis().FakeAsyncRedis(server=self.server)
            store = self._async_stores[loop] = InMemoryAsyncStore(client, self.settings, self)
        return store

    def __enter__(self) -> InMemoryBackend:
        return self.install()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.uninstall()

    # --- running queued jobs -------------------------------------------------------------
    def queues(self) -> list[str]:
        """Every queue enqueued to so far, sorted."""
        return sorted(q.decode() for q in self.client.smembers(self.store.keys.queues()))

    def drain(self, queue: str | None = None) -> list[JobRun]:
        """Run every job that is ready now (and scheduled ones already due on the fake
        clock) in this process, with the real Runner; jobs they enqueue run too. Retries it
        schedules wait for the clock: see `advance` and `run_until_empty`."""
        return off_loop(self._drain, queue, self.max_runs)

    def run_until_empty(self, queue: str | None = None) -> list[JobRun]:
        """Like drain, then advance the fake clock to the next scheduled job (a delay, a
        retry's backoff) and drain again, until nothing is queued or scheduled."""
        return off_loop(self._run_until_empty, queue)

    def _run_until_empty(self, queue: str | None) -> list[JobRun]:
        runs: list[JobRun] = []
        while True:
            runs += self._drain(queue, self.max_runs - len(runs))
            pending = [self.store.promote_due(q, now=self.clock.now())
                       for q in self._queues(queue)]
            if any(moved for moved, _ in pending):
                continue
            dues = [due for _, due in pending if due is not None]
            if not dues:
                return runs
            self.clock.advance_to(min(dues))

    def advance(self, seconds: float) -> float:
        """Move the fake clock forward; the next drain runs what became due."""
        return self.clock.advance(seconds)

    def _queues(self, queue: str | None) -> list[str]:
        return [queue] if queue else self.queues()

    def _drain(self, queue: str | None, limit: int) -> list[JobRun]:
        runs: list[JobRun] = []
        while True:  # again while the jobs run enqueue into queues not seen before
            queues = self._queues(queue)
            runs += self._drain_queues(queues, limit - len(runs))
            if queue or self.queues() == queues:
                return runs

    def _drain_queues(self, queues: list[str], limit: int) -> list[JobRun]:
        if not queues:
            return []
        for q in queues:
            self.store.promote_due(q, now=self.clock.now())
        self.store.register(DRAIN_WORKER, queues, {"host": "taskq-testing", "pid": os.getpid()})
        runner = RecordingRunner(self.store, DRAIN_WORKER, queues, stop=threading.Event(),
                                 burst=True, clock=self.clock.now, adopt_orphans=False)
        runs: list[JobRun] = []
        try:
            while runner.run_once(block=False):
                for delivery, outcome in runner.executed:
                    run = job_run(self.store, delivery, outcome)
                    runs.append(run)
                    self.runs.append(run)
                runner.executed.clear()
                if len(runs) > limit:
                    raise RunawayJobError(
                        f"more than {self.max_runs} runs and still not empty: a task that "
                        f"always raises Retry, or keeps enqueuing? (InMemoryBackend(max_runs=))")
        finally:
            self.store.unregister(DRAIN_WORKER, queues)
        return runs

    # --- looking -------------------------------------------------------------------------
    def enqueued(self, task: Task[Any, Any] | str | None = None, queue: str | None = None
                 ) -> list[Payload]:
        """Jobs waiting (ready or scheduled), not run, in the order they were enqueued;
        optionally only those of one task (the Task or its full name) or one queue."""
        name = task.name if isinstance(task, Task) else task
        found: list[Payload] = []
        for q in self._queues(queue):
            lines = self.store.keys.ready_lines(q)
            raws = [*(raw for line in lines
                      for raw in reversed(self.client.lrange(line, 0, -1))),
                    *self.client.zrange(self.store.keys.scheduled(q), 0, -1)]
            found += [decode(raw, allow_pickle=True) for raw in raws]
        found.sort(key=lambda p: p.enqueued_at)
        return [p for p in found if name is None or p.task == name]

    def dead_letters(self, queue: str | None = None) -> list[dict[str, str]]:
        """The records of dead jobs (reason, error, traceback, ...), oldest death first,
        each with its `id`."""
        out = []
        for q in self._queues(queue):
            for job_id in self.client.zrange(self.store.keys.dead(q), 0, -1):
                jid = job_id.decode()
                out.append({"id": jid, **self.store.job_record(q, jid)})
        return out

    def reset(self) -> None:
        """Forget everything: queues, jobs, runs; the clock back to the wall clock."""
        self.client.flushall()
        self.runs.clear()
        self.clock.offset = 0.0
