"""The records that pass between the store and the worker: a delivery, a recovery plan, the
small encoders of hash fields and history events. No Redis state changes here."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from taskq.errors import DecodeError
from taskq.job import Payload, job_id_of


def history_entry(event: str, **details: Any) -> str:
    return json.dumps({"at": round(time.time(), 3), "event": event, **details})


def field_value(value: Any) -> str | bytes | int | float:
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate (from a hostile payload, say)
            return value.encode("utf-8", "backslashreplace")
        return value
    return value if isinstance(value, (bytes, int, float)) else json.dumps(value)


def safe_text(value: Any) -> Any:
    """Text with any lone surrogate escaped (Lua's cjson and Redis need valid UTF-8)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode()
    return value


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

    @property
    def job_id(self) -> str:
        return self.payload.id if self.payload is not None else job_id_of(self.raw)


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


