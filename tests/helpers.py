"""Small test helpers: round-trip counting and a runner that drains a queue in-process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from redis.connection import Connection

from taskq import wire
from taskq.store import RedisStore
from taskq.worker.runner import Runner


@contextmanager
def count_round_trips() -> Iterator[list[int]]:
    """Counts this thread's sends to the server: a pipeline or one command is one round trip
    (redis-py's connections, and taskq.wire's for one plain server)."""
    calls = [0]
    original = Connection.send_packed_command
    original_wire = wire.Connection.send_packed
    me = threading.get_ident()

    def counting(self: Connection, command: object, check_health: bool = True) -> None:
        if threading.get_ident() == me:
            calls[0] += 1
        original(self, command, check_health)  # type: ignore[arg-type]

    def counting_wire(self: wire.Connection, data: bytes) -> None:
        if threading.get_ident() == me:
            calls[0] += 1
        original_wire(self, data)

    Connection.send_packed_command = counting  # type: ignore[method-assign]
    wire.Connection.send_packed = counting_wire  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        Connection.send_packed_command = original  # type: ignore[method-assign]
        wire.Connection.send_packed = original_wire  # type: ignore[method-assign]


def drain(store: RedisStore, queues: tuple[str, ...] = ("default",),
          worker_id: str = "test:1:w") -> Runner:
    """Register a worker and run jobs until the queues are empty (a burst, in-process)."""
    store.register(worker_id, queues, {"host": "test", "pid": 1})
    runner = Runner(store, worker_id, queues, stop=threading.Event(), burst=True)
    runner.run()
    return runner
