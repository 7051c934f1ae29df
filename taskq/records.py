"""The records that pass between the store and the worker: a delivery, a recovery plan, the
small encoders of hash fields and history events. No Redis state changes here."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import NoScriptError

from taskq.errors import DecodeError
from taskq.job import Payload, job_id_of


def history_entry(event: str, **details: Any) -> str:
    return json.dumps({"at": round(time.time(), 3), "event": event, **details})


def field_value(value: Any) -> str | bytes | int | float:
    return value if isinstance(value, (str, bytes, int, float)) else json.dumps(value)


def flat(fields: dict[str, Any]) -> list[Any]:
    """A dict as field, value, field, value... for HSET inside a script."""
    out: list[Any] = []
    for key, value in fields.items():
        out += [key, field_value(value)]
    return out


@dataclass(frozen=True)
class Delivery:
    """One job handed to one worker. `raw` (with the worker's active list) is the fencing
    token: only the holder of these exact bytes in that list can end the delivery."""

    queue: str
    worker_id: str
    raw: bytes
    payload: Payload | None
    error: DecodeError | None
    claim: PendingReply | None = None  # a claim whose reply is read before the job ends

    @property
    def job_id(self) -> str:
        return self.payload.id if self.payload is not None else job_id_of(self.raw)


class PendingReply:
    """A command sent on a connection of its own, its reply read later: the job starts while
    the server records the claim, instead of one round trip later."""

    def __init__(self, client: Any, args: list[Any], fallback: Callable[[], Any]) -> None:
        self.pool = client.connection_pool
        self.fallback = fallback  # the same call made the ordinary way (after NOSCRIPT)
        self.conn = self.pool.get_connection()
        try:
            self.conn.send_command(*args)
        except BaseException:
            self.pool.release(self.conn)
            raise

    def result(self) -> Any:
        try:
            return self.conn.read_response()
        except NoScriptError:
            return self.fallback()
        finally:
            self.pool.release(self.conn)


@dataclass(frozen=True)
class Release:
    """Where recovery sends one held job: 'ready' (head of line), 'scheduled' or 'dead'."""

    held: bytes
    next: bytes
    job_id: str
    dest: str
    score: int
    event: str
    fields: dict[str, str]


