"""Workflows: `depends_on=[job, ...]`, chains, groups with a callback, and event triggers.

The model. A job with parents is enqueued *waiting* on its own queue (enqueue_waiting.lua):
its payload sits in its job hash, its parents in `{q}:deps:<id>` (each `pending`), and its id
in `{q}:waiting`. Each parent is then *linked* (link.lua, on the parent's queue): the parent
learns the dependent's ref and says how it stands; one that already ended is settled at once.
When a parent ends (ack or dead letter), its script replies 2 because it has dependents, and
the worker *settles* them: for each dependent, resolve.lua on the dependent's queue records
that parent's end (once: a parent recorded before changes nothing) and, when it was the last
pending one, moves the job to ready, exactly once; a parent that ended dead ends the
dependent dead ("parent failed", and so on down the graph) unless its policy is "run".

No script spans two queues: each script touches one queue's slot (the dependent's, or the
parent's), and what crosses from one to the other is a plain value (a parent's status and
result) carried by the worker, so a Redis Cluster works. What makes this safe when workers
die: resolve is idempotent and decided on the dependent's slot; and if a worker dies between
a parent's end and the settling, supervisors serving the dependent's queue check the parents
of waiting jobs (after 5 s, then backing off to once a minute) and resolve what they find
ended. So a dependent runs once, and never waits forever for a parent that ended.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taskq.errors import ConfigurationError
from taskq.handle import Job
from taskq.log import get_logger
from taskq.store import RedisStore
from taskq.store.workflows import ref, split_ref

if TYPE_CHECKING:
    from taskq.task import Task

POLICIES = ("dead", "run")
RELEASED, ENDED_DEAD = 2, 3
# A parent's statuses that settle its dependents: anything but done counts as dead for
# them (a cancelled or expired parent never produces the result they wait for).
PARENT_ENDED = ("done", "dead", "missing", "cancelled", "expired")
log = get_logger()


@dataclass(frozen=True)
class Signature:
    """A task call to be made later, as a workflow step: `task.s(*args, **kwargs)`."""

    task: Task[Any, Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # enqueue options (queue, ...)

    def enqueue(self, **extra: Any) -> Job:
        return self.task.enqueue(args=self.args, kwargs=dict(self.kwargs),
                                 **{**self.options, **extra})


@dataclass(frozen=True)
class GroupResult:
    members: list[Job]
    callback: Job | None



def chain(*steps: Signature, store: RedisStore | None = None) -> list[Job]:
    """Run each step after the one before succeeded, with its result as first argument.
    Returns the jobs in order; the last one's result is the chain's."""
    if not steps:
        raise ConfigurationError("chain() needs at least one step")
    jobs = [steps[0].enqueue(store=store)]
    for step in steps[1:]:
        jobs.append(step.enqueue(depends_on=[jobs[-1]], inputs="chain", store=store))
    return jobs


def group(members: Iterable[Signature], then: Signature | None = None, *,
          on_parent_failure: str = "dead", store: RedisStore | None = None) -> GroupResult:
    """Run the members (in parallel), then `then` once, with the list of their results (in
    member order) as first argument: Celery's chord, minus its lost callbacks."""
    jobs = [m.enqueue(store=store) for m in members]
    if not jobs:
        raise ConfigurationError("group() needs at least one member")
    callback = None
    if then is not None:
        callback = then.enqueue(depends_on=jobs, inputs="group",
                                on_parent_failure=on_parent_failure, store=store)
    return GroupResult(jobs, callback)


def enqueue_after(store: RedisStore, payload: Any, parents: Sequence[Job], policy: str) -> Any:
    """Enqueue a payload waiting for `parents`, link them, and settle the ones that already
    ended. Returns enqueue_waiting's reply (1, or the status of a duplicate id)."""
    if policy not in POLICIES:
        raise ConfigurationError(f"on_parent_failure must be one of {POLICIES}, got {policy!r}")
    refs = [ref(p.queue, p.id) for p in parents]
    outcome = store.enqueue_waiting(payload, refs, policy)
    if outcome != 1:
        return outcome
    me = ref(payload.queue, payload.id)
    for parent in refs:
        status, result = store.link(parent, me)
        if status in PARENT_ENDED:
            _resolve(store, me, parent, status, result)
    return outcome


def settle(store: RedisStore, queue: str, job_id: str, ended: str, result: str) -> int:
    """A job with dependents ended (done or dead): tell each of them, down the graph when one
    ends dead for it. Returns how many dependents were released to ready."""
    released = 0
    todo = [(queue, job_id, ended, result)]
    while todo:
        q, jid, status, res = todo.pop()
        me = ref(q, jid)
        for dependent in store.dependents_of(q, jid):
            verdict = _resolve(store, dependent, me, status, res)
            released += verdict == RELEASED
            if verdict == ENDED_DEAD:
                dq, did = split_ref(dependent)
                todo.append((dq, did, "dead", ""))
        store.settled(q, jid)
    return released


def _resolve(store: RedisStore, dependent: str, parent: str, ended: str, result: str) -> int:
    verdict = store.resolve(dependent, parent, ended, result)
    if verdict == ENDED_DEAD:
        dq, did = split_ref(dependent)
        log.warning("job-dead-lettered", job_id=did, queue=dq, reason="parent failed",
                    parent=parent)
    return verdict


def sweep_waiting(store: RedisStore, queue: str) -> int:
    """The safety net (supervisors, every few seconds): resolve waiting jobs whose parents
    ended without telling them (a worker died in between). Returns how many resolved."""
    resolved = 0
    for job_id in store.due_waiting(queue):
        deps = store.deps_record(queue, job_id)
        pending = [key[2:] for key, value in deps.items()
                   if key.startswith("p:") and value == "pending"]
        me = ref(queue, job_id)
        for parent, (status, result) in zip(pending, store.parent_states(pending),
                                            strict=True):
            if status in PARENT_ENDED:
                verdict = _resolve(store, me, parent, status, result)
                resolved += verdict != 0
                if verdict == ENDED_DEAD:
                    settle(store, queue, job_id, "dead", "")
                    break
        store.check_later(queue, job_id, int(deps.get("checks", "0")))
    return resolved


def inputs_for(store: RedisStore, queue: str, job_id: str, inputs: Mapping[str, Any]) -> Any:
    """The first argument of a chain step (its parent's result) or a group's callback (the
    members' results, in order): what resolve.lua recorded."""
    deps = store.deps_record(queue, job_id)
    results = [json.loads(deps.get(f"r:{parent}", "null")) for parent in inputs["parents"]]
    return results[0] if inputs.get("mode") == "chain" else results


# --- event triggers -----------------------------------------------------------------------
def subscribers(event: str) -> list[Task[Any, Any]]:
    from taskq.task import registered_tasks

    return [t for t in registered_tasks().values() if event in t.options.on]


def publish_subscriptions(store: RedisStore) -> None:
    """Workers announce their modules' subscriptions, so producers that did not import
    them still reach them (taskq.emit)."""
    from taskq.task import registered_tasks

    entries = {f"{event}|{t.name}": t.options.queue
               for t in registered_tasks().values() for event in t.options.on}
    if entries:
        store.client.hset(store.keys.subscriptions(), mapping=entries)


def emit(event: str, data: Any = None, *, event_id: str | None = None,
         store: RedisStore | None = None) -> list[Job]:
    """Enqueue one job per task subscribed to `event` (`@task(on=event)`), each called with
    `data`. Each job's id is derived from the event id, so an emit repeated with the same
    `event_id` (a retry after an error) enqueues nothing twice. Subscribers: the tasks this
    process imported, and those workers announced."""
    from taskq.job import Payload
    from taskq.producer import default_store

    store = store or default_store()
    event_id = event_id or uuid.uuid4().hex
    local = {t.name: t for t in subscribers(event)}
    queues = {name: t.options.queue for name, t in local.items()}
    for key, queue in store.client.hgetall(store.keys.subscriptions()).items():
        name_event, _, task_name = key.decode().partition("|")
        if name_event == event:
            queues.setdefault(task_name, queue.decode())
    payloads = []
    for name, queue in sorted(queues.items()):
        job_id = f"ev-{event_id}-{uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:12]}"
        if name in local:  # checked against the signature and serializer like any enqueue
            payloads.append(local[name].build([data], None, job_id=job_id))
        else:  # announced by a worker, not imported here: the worker checks the call
            payloads.append(Payload(id=job_id, task=name, queue=queue, args=[data]))
    store.enqueue(payloads)  # a pending duplicate (a repeated event id) is left as it is
    return [Job(p.id, p.queue, store) for p in payloads]
