"""The job payload: what travels through Redis lists, and how it is encoded.

A payload is immutable. Each transition that changes it (retry, crash recovery, requeue)
produces a new one; because the encoded bytes then differ, an old holder can no longer
acknowledge it (that is part of the fencing, see docs/internals.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from taskq.errors import DecodeError
from taskq.serializer import get_serializer

SCHEMA_VERSION = 1
MAX_ID_BYTES = 64
# Ids taskq derives for payloads that are not a job's own (undecodable, or reusing another
# job's id): reserved, so that they cannot collide with a real job's record.
FOREIGN_ID_PREFIX = "bad-"
# How fetch.lua reads a payload's id (it marks the job running under it without decoding).
_LUA_ID = re.compile(rb'^\{"id":"([^"\\]+)"')
_MAX_COUNT = 10**9  # attempts, retries, crashes, requeues
_MAX_SECONDS = 10**10  # timestamps and timeouts: finite and below year 2286
HIGH, NORMAL, LOW = 1, 0, -1
PRIORITIES = (HIGH, NORMAL, LOW)


QUEUE_MARK = "@"  # never in a queue name nor in hex


def new_job_id(queue: str = "default") -> str:
    """128 random bits, as uuid4 has, without its overhead; `@queue` appended for any queue
    but "default" (when it fits the 64 bytes), so a job can be found from its id alone."""
    token = os.urandom(16).hex()
    if queue == "default" or len(token) + 1 + len(queue.encode()) > MAX_ID_BYTES:
        return token
    return f"{token}{QUEUE_MARK}{queue}"


def queue_of_id(job_id: str) -> str | None:
    """The queue a generated id names ("default" for a bare one), or None when the id does
    not say (a caller's own job_id): then the queue must be given or searched."""
    token, mark, queue = job_id.partition(QUEUE_MARK)
    if len(token) != 32 or not all(c in "0123456789abcdef" for c in token):
        return None
    return queue if mark else "default"


@dataclass(frozen=True)
class Payload:
    """One job as queued. `attempt` counts from 1 and names the run about to happen."""

    id: str
    task: str
    queue: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    retries: int = 3
    timeout: float | None = None
    enqueued_at: float = field(default_factory=time.time)
    eta: float | None = None
    crashes: int = 0
    requeues: int = 0
    deferrals: int = 0  # times the task raised Retry (reset by a requeue from dead letters)
    serializer: str = "json"
    v: int = SCHEMA_VERSION
    # A workflow step that takes its parents' results (taskq/workflows.py): {"mode": "chain"
    # or "group", "parents": ["queue|id", ...]}. Left out of the encoding when None.
    inputs: dict[str, Any] | None = None
    # Optional fields, left out of the bytes while None (most jobs use none of them):
    expires_at: float | None = None  # epoch s: not started by then, the job ends 'expired'
    keep_result: int | None = None  # s the result is kept at least (idempotency keys)
    # HIGH (1), NORMAL (0) or LOW (-1): the line it waits in within its queue. Encoded last,
    # and only when not NORMAL: fetch.lua and place.lua read it off the payload's end.
    priority: int = 0

    def encode(self) -> bytes:
        # Not dataclasses.asdict: it deep-copies the arguments. `id` must come first: the
        # fetch script reads it with a pattern instead of decoding the payload.
        # Read off the instance's dict in declaration order (a decoded payload's dict is
        # filled in another order, see _built).
        values = self.__dict__
        if self.serializer == "json":
            fast = _json_of(values)
            if fast is not None:
                return fast
        out = {name: values[name] for name in _FIELD_ORDER}
        for name in _OPTIONAL:
            if out[name] is None:
                del out[name]
        if not out["priority"]:
            del out["priority"]
        return get_serializer(self.serializer).dumps(out)

    def next_attempt(self) -> Payload:
        return replace(self, attempt=self.attempt + 1)

    def deferred(self) -> Payload:
        return replace(self, deferrals=self.deferrals + 1)

    def crashed(self) -> Payload:
        return replace(self, crashes=self.crashes + 1)

    def requeued(self) -> Payload:
        """A fresh start from dead letters: attempts and crashes reset, id kept."""
        return replace(self, attempt=1, crashes=0, deferrals=0, eta=None,
                       requeues=self.requeues + 1)

    @property
    def retries_left(self) -> int:
        return max(0, self.retries + 1 - self.attempt)


_FIELD_ORDER = tuple(f.name for f in fields(Payload))


def new_payload(*, id: str, task: str, queue: str, args: list[Any], kwargs: dict[str, Any],
                retries: int, timeout: float | None, eta: float | None, serializer: str,
                enqueued_at: float, expires_at: float | None,
                inputs: dict[str, Any] | None, priority: int) -> Payload:
    """Payload(...) of a new job (first attempt), without the frozen dataclass's __init__
    (one object.__setattr__ per field: half of building a job). The dict holds every field
    in declaration order (tests/test_serializer.py compares it with Payload(...))."""
    payload = object.__new__(Payload)
    payload.__dict__.update(
        id=id, task=task, queue=queue, args=args, kwargs=kwargs, attempt=1, retries=retries,
        timeout=timeout, enqueued_at=enqueued_at, eta=eta, crashes=0, requeues=0,
        deferrals=0, serializer=serializer, v=SCHEMA_VERSION, inputs=inputs,
        expires_at=expires_at, keep_result=None, priority=priority)
    return payload
_REQUIRED = frozenset(f.name for f in fields(Payload)
                      if f.default is MISSING and f.default_factory is MISSING)
_DEFAULTS = {f.name: f.default for f in fields(Payload) if f.default is not MISSING}
_FACTORIES = {f.name: f.default_factory for f in fields(Payload)
              if f.default_factory is not MISSING}


def _built(obj: dict[str, Any]) -> Payload:
    """Payload(**obj) for a dict of known fields, without the frozen dataclass's __init__
    (one object.__setattr__ per field: a fifth of decoding a job). Checked after, as ever."""
    values = {**_DEFAULTS, **obj}
    for name, factory in _FACTORIES.items():
        if name not in obj:
            values[name] = factory()
    payload = object.__new__(Payload)
    payload.__dict__.update(values)
    return payload
_OPTIONAL = frozenset({"inputs", "expires_at", "keep_result"})  # left out while None

# The JSON serializer's own text functions (ensure_ascii=False, compact separators).
_text = json.encoder.encode_basestring  # type: ignore[attr-defined]
_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_NUMBERS = ("attempt", "retries", "timeout", "enqueued_at", "eta", "crashes", "requeues",
            "deferrals", "v")


def _number(value: Any) -> str | None:
    """JSON text of an int, a finite float or None, as json writes it; None for others."""
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return "null" if value is None else None


def _json_of(v: dict[str, Any]) -> bytes | None:
    """The bytes the JSON serializer makes of a payload's fields (in _FIELD_ORDER, optional
    ones left out while None, priority while 0), written field by field: a third of the
    general encoder's time, paid once per enqueued job. None when a field is not of its
    usual type (the general encoder then decides)."""
    numbers = [_number(v[name]) for name in _NUMBERS]
    args, kwargs, inputs = v["args"], v["kwargs"], v["inputs"]
    if (None in numbers or type(v["id"]) is not str or type(v["task"]) is not str
            or type(v["queue"]) is not str or type(v["serializer"]) is not str
            or type(args) is not list or type(kwargs) is not dict
            or not (inputs is None or type(inputs) is dict)):
        return None
    attempt, retries, timeout, enqueued_at, eta, crashes, requeues, deferrals, version = numbers
    out: list[Any] = ['{"id":', _text(v["id"]), ',"task":', _text(v["task"]), ',"queue":',
           _text(v["queue"]), ',"args":', _json(args) if args else "[]", ',"kwargs":',
           _json(kwargs) if kwargs else "{}", ',"attempt":', attempt, ',"retries":', retries,
           ',"timeout":', timeout, ',"enqueued_at":', enqueued_at, ',"eta":', eta,
           ',"crashes":', crashes, ',"requeues":', requeues, ',"deferrals":', deferrals,
           ',"serializer":', _text(v["serializer"]), ',"v":', version]
    if inputs is not None:
        out += [',"inputs":', _json(inputs)]
    for name in ("expires_at", "keep_result"):
        if v[name] is not None:
            number = _number(v[name])
            if number is None:
                return None
            out += [f',"{name}":', number]
    if v["priority"]:
        number = _number(v["priority"])
        if number is None:
            return None
        out += [',"priority":', number]
    out.append("}")
    return "".join(out).encode()
_FIELDS = set(_FIELD_ORDER)


def decode(raw: bytes, allow_pickle: bool = False) -> Payload:
    """Bytes -> Payload, or DecodeError carrying the raw bytes.

    Pickled arguments are loaded only with `allow_pickle`: unpickling runs code.
    """
    obj = get_serializer("json").loads(raw)
    if obj.get("serializer") == "pickle":
        if not allow_pickle:
            raise DecodeError(
                "payload uses pickle; the worker refuses it without --allow-pickle", raw)
        obj = get_serializer("pickle").loads(raw)
    version = obj.get("v")
    if version != SCHEMA_VERSION:
        raise DecodeError(f"payload schema version {version!r} is not {SCHEMA_VERSION}", raw)
    unknown = set(obj) - _FIELDS
    if unknown:
        raise DecodeError(f"payload has unknown fields {sorted(unknown)}", raw)
    missing = _REQUIRED - obj.keys()
    if missing:
        raise DecodeError(f"payload is missing fields: {sorted(missing)}", raw)
    payload = _built(obj)
    problem = _type_problem(payload) or _range_problem(payload) or _text_problem(raw, obj)
    if problem:
        raise DecodeError(f"payload field {problem}", raw)
    if payload.serializer not in ("json", "pickle"):
        raise DecodeError(f"payload names an unknown serializer {payload.serializer!r}", raw)
    marked = running_mark(raw)
    if marked is not None and marked != payload.id.encode():
        # Two "id" keys, say: the fetch script marked the job running under another id.
        raise DecodeError("payload's leading id differs from its decoded id", raw)
    return payload


def running_mark(raw: bytes) -> bytes | None:
    """The id fetch.lua marks the job running under (same pattern), or None."""
    found = _LUA_ID.match(raw)
    return found.group(1) if found else None


# Field -> accepted types. A payload anyone could have written must not crash a worker later
# (an int id would break key names, a str attempt the arithmetic of retries).
_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "task": (str,), "queue": (str,), "args": (list,), "kwargs": (dict,),
    "attempt": (int,), "retries": (int,), "crashes": (int,), "requeues": (int,),
    "deferrals": (int,),
    "enqueued_at": (int, float), "timeout": (int, float, type(None)),
    "eta": (int, float, type(None)), "serializer": (str,), "inputs": (dict, type(None)),
    "priority": (int,),
    "expires_at": (int, float, type(None)), "keep_result": (int, type(None)),
}


def valid_job_id(job_id: object) -> bool:
    """Ids become key names and fill a fixed slot in the timeout table: 1 to 64 bytes of
    UTF-8, not starting with the prefix reserved for ids taskq derives."""
    if not isinstance(job_id, str) or job_id.startswith(FOREIGN_ID_PREFIX):
        return False
    try:
        return 0 < len(job_id.encode()) <= MAX_ID_BYTES
    except UnicodeEncodeError:  # a lone surrogate, written as a JSON escape
        return False


def _range_problem(payload: Payload) -> str | None:
    for name in ("attempt", "retries", "crashes", "requeues", "deferrals"):
        if not 0 <= getattr(payload, name) <= _MAX_COUNT:
            return f"{name!r} is out of range"
    for name in ("enqueued_at", "timeout", "eta"):
        value = getattr(payload, name)
        try:
            if value is not None and not (math.isfinite(value) and 0 <= value < _MAX_SECONDS):
                return f"{name!r} is out of range"
        except OverflowError:  # an int with hundreds of digits
            return f"{name!r} is out of range"
    if payload.timeout is not None and payload.timeout <= 0:
        return "'timeout' must be positive"
    return None


def _text_problem(raw: bytes, obj: dict[str, Any]) -> str | None:
    """Every text must be valid UTF-8, or encoding the payload again (a retry, a recovery)
    or writing its task name fails later. Only a JSON escape can smuggle in a lone
    surrogate, so payloads without one cost nothing here."""
    if b"\\u" not in raw:
        return None
    try:
        json.dumps(obj, ensure_ascii=False).encode()
    except TypeError:  # pickled arguments: not JSON, and not text either
        return None
    except (UnicodeEncodeError, RecursionError, ValueError):
        return "holds text that is not valid UTF-8 (a lone surrogate)"
    return None


# The same, by exact type: what json.loads gives passes here at the cost of a set lookup.
_EXACT_TYPES = tuple((name, frozenset(types)) for name, types in _TYPES.items())


def _type_problem(payload: Payload) -> str | None:
    for name, exact in _EXACT_TYPES:
        value = getattr(payload, name)
        if type(value) in exact:
            continue
        if not isinstance(value, _TYPES[name]) or isinstance(value, bool):
            return f"{name!r} has the wrong type ({type(value).__name__})"
    if payload.priority not in PRIORITIES:
        return f"'priority' must be one of {PRIORITIES}"
    if not valid_job_id(payload.id):
        return f"'id' must be 1 to {MAX_ID_BYTES} bytes"
    return None



def peek_id(raw: bytes) -> str | None:
    """The job id of a payload that may not decode fully, for dead-lettering it."""
    try:
        obj = get_serializer("json").loads(raw)
    except DecodeError:
        return None
    job_id = obj.get("id")
    return job_id if valid_job_id(job_id) else None


def foreign_id(raw: bytes) -> str:
    """An id derived from the bytes, in the reserved namespace: two undecodable payloads
    never share a dead-letter entry, and none shares a real job's."""
    return FOREIGN_ID_PREFIX + hashlib.sha1(raw).hexdigest()[:16]


def job_id_of(raw: bytes) -> str:
    """An id for any stored bytes: the payload's own, else a derived one. (Whether the
    payload really is that job's is decided by the store, against the job's record.)"""
    return peek_id(raw) or foreign_id(raw)
