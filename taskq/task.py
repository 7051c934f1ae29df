"""`@task`: turns a plain function into something you can enqueue, and the task registry.

Calling the decorated function still runs it in-process. `delay()` / `enqueue()` check the
arguments against the function's signature and the serializer before anything leaves the
process, so a wrong call fails in the caller, with a message that names the bad value.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from taskq import control, hooks
from taskq.errors import BadArgumentsError, ConfigurationError, TaskqError, UnknownTaskError
from taskq.handle import Job

if TYPE_CHECKING:
    from taskq.workflows import Signature
from taskq.job import (
    FOREIGN_ID_PREFIX,
    MAX_ID_BYTES,
    NORMAL,
    PRIORITIES,
    Payload,
    new_job_id,
    new_payload,
    valid_job_id,
)
from taskq.keys import check_queue_name
from taskq.limits import LimitSpec
from taskq.retry import Backoff
from taskq.serializer import get_serializer
from taskq.store import RedisStore

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_QUEUE = "default"
_REGISTRY: dict[str, Task[Any, Any]] = {}


class DuplicateJobError(TaskqError):
    """A job with this id is still pending; ids given to enqueue(job_id=...) must be unique."""


ExceptionTypes = tuple[type[BaseException], ...]


@dataclass(frozen=True)
class TaskOptions:
    queue: str = DEFAULT_QUEUE
    retries: int = 3
    timeout: float | None = 300.0
    backoff: Backoff = field(default_factory=Backoff)
    serializer: str = "json"
    limits: LimitSpec = field(default_factory=LimitSpec)
    on: tuple[str, ...] = ()  # event names this task subscribes to (taskq.emit)
    priority: int = NORMAL  # HIGH, NORMAL or LOW: its line within the queue
    expires: float | None = None  # s after enqueue; not started by then: ends 'expired'
    retry_on: ExceptionTypes | None = None  # only these exceptions are retried
    dont_retry_on: ExceptionTypes = ()  # these go to dead letters at once

    def __post_init__(self) -> None:
        check_queue_name(self.queue)
        if self.retries < 0:
            raise ConfigurationError("retries must be 0 or more")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigurationError("timeout must be positive (or None for no limit)")
        check_expires(self.expires)
        for name in ("retry_on", "dont_retry_on"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, tuple) and all(
                    isinstance(t, type) and issubclass(t, BaseException) for t in value)):
                raise ConfigurationError(
                    f"{name} must be a tuple of exception classes, got {value!r}")
        get_serializer(self.serializer)
        check_priority(self.priority)


def check_expires(expires: float | None) -> None:
    if expires is not None and (not isinstance(expires, (int, float)) or expires <= 0):
        raise ConfigurationError(f"expires must be a number of seconds > 0, got {expires!r}")


class Task(Generic[P, R]):
    """A registered task. Call it to run in-process; `delay` to run it in a worker."""

    def __init__(self, fn: Callable[P, R], name: str, options: TaskOptions) -> None:
        self.fn = fn
        self.name = name
        self.options = options
        self.signature = inspect.signature(fn)
        self._arity = _plain_arity(self.signature)
        options.limits.check_key(self.signature, name)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<Task {self.name} queue={self.options.queue!r}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    @property
    def is_coroutine(self) -> bool:
        """An `async def` task: workers run it on their event loop (--async-concurrency)."""
        return inspect.iscoroutinefunction(self.fn)

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """This task with these arguments, as a workflow step (chain, group)."""
        from taskq.workflows import Signature

        return Signature(self, args, kwargs)

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """Enqueue with the task's defaults. One round trip."""
        return self.enqueue(args=args, kwargs=kwargs)

    def enqueue(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        delay: float | None = None,
        eta: float | None = None,
        job_id: str | None = None,
        queue: str | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        expires: float | None = None,
        unique_key: str | None = None,
        unique_for: float = 3600,
        idempotency_key: str | None = None,
        idempotency_ttl: float = 24 * 3600,
        store: RedisStore | None = None,
        depends_on: Sequence[Job] | None = None,
        on_parent_failure: str = "dead",
        inputs: str | None = None,
        on_commit: bool = False,
        priority: int | None = None,
    ) -> Job:
        """Enqueue with options. `delay` (seconds) or `eta` (epoch seconds) schedules it.
        `depends_on=[job, ...]`: run once all those jobs are done (any queue); if one ends
        dead, this one ends dead ("parent failed"), or runs anyway with
        `on_parent_failure="run"`. `inputs` ("chain" | "group", set by taskq.chain/group):
        the parents' results come first in the arguments. `on_commit`: check now, send when
        the current database transaction commits (nothing if it rolls back; see
        taskq.oncommit); the returned Job's id is already fixed. `priority`: taskq.HIGH,
        NORMAL or LOW, its line within the queue (default: the task's).
        `expires`: seconds from now; not started by then, it never runs and ends 'expired'.
        `unique_key`: while a job holding it is pending or running (at most `unique_for`
        s), return that job instead (`job.existing` is True). `idempotency_key`: the same,
        and once that job succeeded, return it with its stored result, for
        `idempotency_ttl` s: it never runs again."""
        guard = control.guard_of(unique_key, unique_for, idempotency_key, idempotency_ttl)
        if guard is not None and (depends_on or on_commit):
            raise ConfigurationError("unique_key and idempotency_key do not combine with "
                                     "depends_on or on_commit; enqueue without them")
        payload = self.build(args, kwargs, delay=delay, eta=eta, job_id=job_id, queue=queue,
                             retries=retries, timeout=timeout, depends_on=depends_on,
                             inputs=inputs, priority=priority,
                             expires=expires)
        store = store or _default_store()
        if guard is not None:
            return self._enqueue_guarded(store, payload, guard)
        job = Job(payload.id, payload.queue, store)

        def send() -> None:
            _send(store, payload, depends_on, on_parent_failure)
            hooks.enqueued(job, self.name, False)

        if on_commit:
            from taskq import oncommit

            oncommit.defer(send)
        else:
            send()
        return job

    def _enqueue_guarded(self, store: RedisStore, payload: Payload, guard: control.Guard
                         ) -> Job:
        if guard.kind == "idempotent":
            payload = replace(payload, keep_result=guard.ttl)
        outcome, found = store.enqueue_guarded(payload, guard.kind, guard.key, guard.ttl)
        existing = outcome == "existing"
        if outcome != 1 and not existing:
            raise DuplicateJobError(f"job id {payload.id!r} is already {outcome}")
        job = Job(found, payload.queue, store, existing=existing)
        hooks.enqueued(job, self.name, existing)
        return job
    def delay_on_commit(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """`delay`, sent only when the current database transaction commits."""
        return self.enqueue(args=args, kwargs=kwargs, on_commit=True)

    async def adelay(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        """`delay` for async code: enqueues on redis.asyncio without blocking the loop."""
        return await self.aenqueue(args=args, kwargs=kwargs)

    async def aenqueue(
        self,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        delay: float | None = None,
        eta: float | None = None,
        job_id: str | None = None,
        queue: str | None = None,
        retries: int | None = None,
        timeout: float | None = None,
        priority: int | None = None,
    ) -> Job:
        """`enqueue` for async code: the same checks and the same enqueue script."""
        from taskq.producer import default_async_store

        payload = self.build(args, kwargs, delay=delay, eta=eta, job_id=job_id, queue=queue,
                             retries=retries, timeout=timeout, priority=priority)
        store = await default_async_store()
        (outcome,) = await store.enqueue([payload])
        if outcome != 1:
            raise DuplicateJobError(f"job id {payload.id!r} is already {outcome}")
        return Job(payload.id, payload.queue, astore=store)

    def enqueue_many(
        self, calls: Iterable[tuple[Sequence[Any], Mapping[str, Any]] | Sequence[Any]],
        *, queue: str | None = None, store: RedisStore | None = None,
        priority: int | None = None,
    ) -> list[Job]:
        """Enqueue a batch in one round trip. Each call is `(args, kwargs)` or just `args`.
        Every call is checked before any is sent, so a bad one enqueues nothing."""
        payloads = []
        for call in calls:
            if (isinstance(call, tuple) and len(call) == 2 and isinstance(call[1], Mapping)
                    and isinstance(call[0], (list, tuple))):
                payloads.append(self.build(call[0], call[1], queue=queue, priority=priority))
            else:
                payloads.append(self.build(call, None, queue=queue,  # type: ignore[arg-type]
                                           priority=priority))
        store = store or _default_store()
        outcomes = store.enqueue(payloads)
        refused = [p.id for p, o in zip(payloads, outcomes, strict=True) if o != 1]
        if refused:
            raise DuplicateJobError(f"job ids already pending, not enqueued again: {refused}")
        jobs = [Job(p.id, p.queue, store) for p in payloads]
        for job in jobs:
            hooks.enqueued(job, self.name, False)
        return jobs

    def build(
        self, args: Sequence[Any], kwargs: Mapping[str, Any] | None, *,
        delay: float | None = None, eta: float | None = None, job_id: str | None = None,
        queue: str | None = None, retries: int | None = None, timeout: float | None = None,
        depends_on: Sequence[Job] | None = None, inputs: str | None = None,
        priority: int | None = None,
        expires: float | None = None,
    ) -> Payload:
        """Check a call and turn it into a payload, without touching Redis."""
        if self.name.startswith("__main__."):
            raise ConfigurationError(
                f"task {self.name!r} is defined in the script being run, which workers cannot "
                f"import; move it to a module (for example workers/tasks.py) and run "
                f"`taskq worker workers.tasks`, or give it a name with @task(name=...)")
        args, kwargs = list(args), dict(kwargs or {})
        if depends_on and (delay is not None or eta is not None):
            raise ConfigurationError(
                "a job with depends_on runs when its parents are done; delay/eta cannot "
                "apply (delay the parents, or have the task enqueue a delayed job)")
        if inputs is not None and inputs not in ("chain", "group"):
            raise ConfigurationError(f"inputs must be 'chain' or 'group', got {inputs!r}")
        # A workflow step gets its parents' results first: check the call with a stand-in.
        self.check_arguments([None, *args] if inputs else args, kwargs)
        if delay is not None and eta is not None:
            raise ConfigurationError("give delay or eta, not both")
        if delay is not None:
            if delay < 0:
                raise ConfigurationError("delay must be 0 or more seconds")
            eta = time.time() + delay
        opts = self.options
        check_expires(expires)
        expires = opts.expires if expires is None else expires
        enqueued_at = time.time()
        if expires is not None and eta is not None and eta >= enqueued_at + expires:
            raise ConfigurationError(
                f"the job would expire ({expires} s after enqueue) before it is due; "
                f"give a longer expires or a shorter delay")
        if retries is not None and (not isinstance(retries, int) or retries < 0):
            raise ConfigurationError(f"retries must be a whole number >= 0, got {retries!r}")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ConfigurationError(f"timeout must be a number of seconds > 0, got {timeout!r}")
        if job_id is not None and not valid_job_id(job_id):
            raise ConfigurationError(
                f"job_id must be a str of 1 to {MAX_ID_BYTES} bytes, not starting with "
                f"'{FOREIGN_ID_PREFIX}' (reserved), got {job_id!r}")
        target = check_queue_name(queue) if queue else opts.queue
        return new_payload(
            id=job_id or new_job_id(target), task=self.name, queue=target,
            args=args, kwargs=kwargs,
            retries=opts.retries if retries is None else retries,
            timeout=opts.timeout if timeout is None else timeout,
            eta=eta, serializer=opts.serializer, enqueued_at=enqueued_at,
            expires_at=None if expires is None else enqueued_at + expires,
            inputs={"mode": inputs, "parents": [f"{p.queue}|{p.id}" for p in depends_on or ()]}
            if inputs else None,
            priority=opts.priority if priority is None else check_priority(priority),
        )

    def check_arguments(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        arity = self._arity
        # Positional arguments only, to a function of plain parameters: binding can only
        # fail on their count, so the count is the check (the common call, made cheap).
        if kwargs or arity is None or not arity[0] <= len(args) <= arity[1]:
            try:
                self.signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise BadArgumentsError(f"{self.name}{self.signature}: {exc}") from None
        serializer = get_serializer(self.options.serializer)
        for i, value in enumerate(args):
            serializer.check(value, f"args[{i}]")
        for key, value in kwargs.items():
            serializer.check(value, f"kwargs[{key!r}]")


def _plain_arity(signature: inspect.Signature) -> tuple[int, int] | None:
    """(required, total) when every parameter is a plain positional-or-keyword one (no
    *args, **kwargs, keyword-only or positional-only), else None."""
    params = signature.parameters.values()
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return None
    required = sum(1 for p in params if p.default is inspect.Parameter.empty)
    return required, len(signature.parameters)


def _send(store: RedisStore, payload: Payload, depends_on: Sequence[Job] | None = None,
          on_parent_failure: str = "dead") -> None:
    if depends_on:
        from taskq.workflows import enqueue_after

        outcome = enqueue_after(store, payload, depends_on, on_parent_failure)
    else:
        (outcome,) = store.enqueue([payload])
    if outcome != 1:
        raise DuplicateJobError(f"job id {payload.id!r} is already {outcome}")


def check_priority(priority: object) -> int:
    if priority not in PRIORITIES or isinstance(priority, bool):
        raise ConfigurationError(
            f"priority must be taskq.HIGH (1), taskq.NORMAL (0) or taskq.LOW (-1), "
            f"got {priority!r}")
    return priority  # type: ignore[return-value]


def _default_store() -> RedisStore:
    from taskq.producer import default_store

    return default_store()


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *, name: str | None = ..., queue: str = ..., retries: int = ...,
    timeout: float | None = ..., backoff: Backoff | None = ..., serializer: str = ...,
    rate: str | None = ..., concurrency: int | None = ..., limit_key: str | None = ...,
    on: str | Sequence[str] = ..., priority: int = ...,
    expires: float | None = ..., retry_on: ExceptionTypes | None = ...,
    dont_retry_on: ExceptionTypes = ...,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[P, R] | None = None, /, *, name: str | None = None,
         queue: str = DEFAULT_QUEUE, retries: int = 3, timeout: float | None = 300.0,
         backoff: Backoff | None = None, serializer: str = "json", rate: str | None = None,
         concurrency: int | None = None, limit_key: str | None = None,
         on: str | Sequence[str] = (), priority: int = NORMAL, expires: float | None = None,
         retry_on: ExceptionTypes | None = None, dont_retry_on: ExceptionTypes = ()) -> Any:
    """Register a function as a task: `@task` or `@task(queue=..., retries=..., ...)`.

    `rate="100/m"` and `concurrency=5` limit its starts and its running jobs across every
    worker (enforced on the server); `limit_key="customer_id"` applies them per value of that
    argument. A job held back waits (parked or scheduled), it does not fail.
    `on="order.created"`: `taskq.emit("order.created", data)` enqueues this task with data.
    `expires`: seconds after enqueue after which a job not started never runs.
    `retry_on` / `dont_retry_on`: exception classes that are retried (only those) / never
    retried (dead letter at once, the reason says why)."""
    options = TaskOptions(queue=queue, retries=retries, timeout=timeout,
                          backoff=backoff or Backoff(), serializer=serializer,
                          limits=LimitSpec(concurrency, rate, limit_key),
                          on=(on,) if isinstance(on, str) else tuple(on), priority=priority,
                          expires=expires, retry_on=retry_on, dont_retry_on=dont_retry_on)

    def register(f: Callable[P, R]) -> Task[P, R]:
        task_name = name or f"{f.__module__}.{f.__qualname__}"
        existing = _REGISTRY.get(task_name)
        if existing is not None and existing.fn is not f and _origin(existing.fn) != _origin(f):
            raise ConfigurationError(f"two different functions are registered as {task_name!r}")
        registered = Task(f, task_name, options)
        _REGISTRY[task_name] = registered
        return registered

    return register(fn) if fn is not None else register


def _origin(fn: Callable[..., Any]) -> tuple[str, int]:
    code = getattr(fn, "__code__", None)
    return (getattr(code, "co_filename", ""), getattr(code, "co_firstlineno", 0))


def get_task(name: str) -> Task[Any, Any]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTaskError(
            f"no task named {name!r} is registered in this worker; import the module that "
            f"defines it (taskq worker MODULE ...)") from None


def registered_tasks() -> dict[str, Task[Any, Any]]:
    return dict(_REGISTRY)
