"""Serializer and payload: JSON round trips; refusals name the argument; bad bytes are kept."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from taskq.errors import DecodeError, SerializationError
from taskq.job import SCHEMA_VERSION, Payload, decode
from taskq.serializer import PickleSerializer, check_json


def test_json_types_round_trip_through_a_payload() -> None:
    args = [1, 2.5, "ü", None, True, [1, [2]], {"a": {"b": [None]}}]
    payload = Payload(id="j1", task="t", queue="q", args=args, kwargs={"k": {"x": 1}})
    again = decode(payload.encode())
    assert again == payload
    assert b'"v":%d' % SCHEMA_VERSION in payload.encode()


@pytest.mark.parametrize("value, path, words", [
    (datetime.datetime(2024, 1, 1), "kwargs['when']", "datetime is not JSON-serializable"),
    (Decimal("1.5"), "args[0]", "Decimal is not JSON-serializable"),
    ((1, 2), "args[1]", "tuples come back as lists"),
    ({1: "a"}, "kwargs['m']", "JSON keys must be str"),
    (float("nan"), "args[0]", "not valid JSON"),
    ({"deep": [1, {3}]}, "kwargs['x']", "kwargs['x']['deep'][1]: set"),
])
def test_non_json_values_are_refused_with_their_path(value: object, path: str,
                                                     words: str) -> None:
    with pytest.raises(SerializationError, match=words.replace("[", r"\[").replace("]", r"\]")
                       ) as info:
        check_json(value, path)
    assert str(info.value).startswith(path)


@pytest.mark.parametrize("raw", [b"\x80\x81garbage", b"[1,2]", b'{"v": 99, "id": "x"}',
                                 b'{"v": 1, "id": "x"}', b'{"v":1,"id":"x","task":"t",'
                                 b'"queue":"q","args":{},"kwargs":{}}'])
def test_decoding_garbage_raises_decode_error_with_raw_bytes(raw: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode(raw)
    assert info.value.raw == raw


def test_pickle_is_opt_in_and_refused_by_default() -> None:
    payload = Payload(id="p", task="t", queue="q", args=[{1, 2}], serializer="pickle")
    raw = payload.encode()
    with pytest.raises(DecodeError, match="pickle"):
        decode(raw)
    assert decode(raw, allow_pickle=True).args == [{1, 2}]
    PickleSerializer().check({1, 2}, "args[0]")  # sets pickle fine


def test_encoded_payload_starts_with_its_id() -> None:
    # fetch.lua reads the id with a pattern anchored at the start instead of decoding.
    for serializer in ("json", "pickle"):
        raw = Payload(id="abc", task="t", queue="q", serializer=serializer).encode()
        assert raw.startswith(b'{"id":"abc"'), raw


def test_a_decoded_payload_encodes_to_the_same_bytes() -> None:
    # A worker re-encodes what it decoded (a retry, a recovery): id first, priority last.
    for payload in (Payload(id="abc", task="t", queue="q", args=[1], kwargs={"a": None}),
                    Payload(id="abd", task="t", queue="q", priority=-1, expires_at=5.0)):
        raw = payload.encode()
        assert decode(raw).encode() == raw


@pytest.mark.parametrize("payload", [
    Payload(id="j1", task="t", queue="q"),
    Payload(id="j\u00fc\"\\\n", task="m.t", queue="q", args=[1, 2.5, "\u00fc", None, True],
            kwargs={"k": {"x": [1]}}, timeout=None, eta=1.5, priority=-1),
    Payload(id="j3", task="t", queue="q", inputs={"mode": "chain", "parents": ["q|a"]},
            expires_at=12.25, keep_result=60, priority=1, attempt=3, crashes=1),
    Payload(id="j4", task="t", queue="q", timeout=float("inf")),  # the general encoder's
    Payload(id="j5", task="t", queue="q", retries=True),  # type: ignore[arg-type]
])
def test_the_field_by_field_encoding_is_the_general_encoders(payload: Payload) -> None:
    import json

    general = {name: value for name, value in payload.__dict__.items()
               if value is not None or name not in ("inputs", "expires_at", "keep_result")}
    if not general["priority"]:
        del general["priority"]
    expected = json.dumps(general, separators=(",", ":"), ensure_ascii=False).encode()
    assert payload.encode() == expected


def test_a_new_payload_is_the_dataclass_one() -> None:
    from taskq.job import new_payload

    fields = {"id": "j1", "task": "t", "queue": "q", "args": [1], "kwargs": {"a": 2},
              "retries": 2, "timeout": 5.0, "eta": None, "serializer": "json",
              "enqueued_at": 3.5, "expires_at": 9.0, "inputs": None, "priority": 1}
    made, expected = new_payload(**fields), Payload(**fields)
    assert made == expected
    assert list(made.__dict__.items()) == list(expected.__dict__.items())
