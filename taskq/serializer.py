"""The one seam that turns job payloads into bytes and back.

JSON is the default: decoding runs no code, and `check_json` refuses at enqueue anything that
would not come back as it went in, naming the offending argument path. Pickle is an explicit,
documented-unsafe opt-in: anyone who can write to your Redis can run code in your workers.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Protocol

from taskq.errors import DecodeError, SerializationError


class Serializer(Protocol):
    name: str

    def check(self, value: Any, path: str) -> None:
        """Raise SerializationError naming `path` if `value` cannot round-trip."""

    def dumps(self, obj: dict[str, Any]) -> bytes: ...

    def loads(self, raw: bytes) -> dict[str, Any]: ...


# json.dumps with these options builds a new encoder at each call; one made once is the same.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class JSONSerializer:
    """Round-trips None, bool, int, float, str, list and dicts with string keys."""

    name = "json"

    def check(self, value: Any, path: str) -> None:
        check_json(value, path)

    def dumps(self, obj: dict[str, Any]) -> bytes:
        return _encode_json(obj).encode()

    def loads(self, raw: bytes) -> dict[str, Any]:
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError, TypeError) as exc:
            # RecursionError: "[" * 100000 nests deeper than the decoder can go.
            raise DecodeError(f"payload is not valid JSON: {type(exc).__name__}: "
                              f"{str(exc)[:200]}", raw) from None
        if not isinstance(obj, dict):
            raise DecodeError("payload is not a JSON object", raw)
        return obj


class PickleSerializer:
    """UNSAFE with an untrusted Redis: unpickling runs arbitrary code. Opt in knowingly.

    Payloads are still JSON (so admin tools can read them); only args and kwargs are pickled,
    hex-encoded into the `pickled` field.
    """

    name = "pickle"

    def check(self, value: Any, path: str) -> None:
        try:
            pickle.dumps(value)
        except Exception as exc:
            raise SerializationError(f"{path}: cannot be pickled: {exc}") from None

    def dumps(self, obj: dict[str, Any]) -> bytes:
        body = dict(obj)
        body["pickled"] = pickle.dumps((body.pop("args"), body.pop("kwargs"))).hex()
        return JSONSerializer().dumps(body)

    def loads(self, raw: bytes) -> dict[str, Any]:
        obj = JSONSerializer().loads(raw)
        if "pickled" in obj:
            try:
                obj["args"], obj["kwargs"] = pickle.loads(bytes.fromhex(obj.pop("pickled")))
            except Exception as exc:
                raise DecodeError(f"pickled arguments do not load: {exc}", raw) from None
        return obj


_JSON_SCALARS = (str, int, float, bool, type(None))


def check_json(value: Any, path: str) -> None:
    """Raise SerializationError unless `value` survives a JSON round trip unchanged."""
    if isinstance(value, _JSON_SCALARS):
        if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
            raise SerializationError(f"{path}: {value!r} is not valid JSON; pass None or a string")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise SerializationError(
                    f"{path}: dict key {key!r} is {type(key).__name__}; JSON keys must be str"
                )
            check_json(item, f"{path}[{key!r}]")
        return
    hint = "; convert it first (for example to a string or list)"
    if isinstance(value, tuple):
        hint = "; tuples come back as lists, pass a list"
    raise SerializationError(
        f"{path}: {type(value).__name__} is not JSON-serializable{hint}"
    )


SERIALIZERS: dict[str, Serializer] = {"json": JSONSerializer(), "pickle": PickleSerializer()}


def get_serializer(name: str) -> Serializer:
    try:
        return SERIALIZERS[name]
    except KeyError:
        raise SerializationError(
            f"unknown serializer {name!r}; choose one of {sorted(SERIALIZERS)}"
        ) from None
