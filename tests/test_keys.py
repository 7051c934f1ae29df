"""Keys: one module spells them; all keys of a queue live in one cluster slot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from redis.crc import key_slot

from taskq.errors import ConfigurationError
from taskq.keys import Keys, check_queue_name

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("queue", ["default", "emails", "a.b-c_d", "x:y"])
def test_all_keys_of_a_queue_map_to_one_cluster_slot(queue: str) -> None:
    keys = Keys("taskq").queue_keys(queue, job_id="0123abcd", worker_id="host:12:ab")
    slots = {key_slot(k.encode()) for k in keys}
    assert len(slots) == 1, dict(zip(keys, slots, strict=False))
    assert all("{" + queue + "}" in k for k in keys)


def test_prefix_is_configurable() -> None:
    assert Keys("app1").ready("q") == "app1:{q}:ready"
    assert Keys().dead("q") == "taskq:{q}:dead"


def test_bad_queue_names_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        check_queue_name("has space")
    with pytest.raises(ConfigurationError):
        check_queue_name("{braces}")


def test_no_module_but_keys_py_spells_a_key() -> None:
    offenders = []
    # A key spelled elsewhere would join a hash tag by hand or start with the prefix.
    pattern = re.compile(r"""["']\{["'] \+|\+ ["']\}["']|["']taskq:[\w{]|\{\{\w*\}\}""")
    for path in (ROOT / "taskq").rglob("*.py"):
        if path.name == "keys.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_lua_scripts_get_keys_only_through_KEYS() -> None:
    for path in (ROOT / "taskq" / "lua").glob("*.lua"):
        code = "\n".join(line for line in path.read_text().splitlines()
                         if not line.lstrip().startswith("--"))
        # A key built inside Lua would concatenate onto a prefix or a hash tag.
        assert "taskq" not in code, path.name
        literals = re.findall(r"'[^']*'", code)
        assert not [lit for lit in literals if ":{" in lit or "}:" in lit], path.name
        for call in re.findall(r"redis\.call\('(\w+)', ([^,)]+)", code):
            command, first = call
            if command in ("ZADD", "LPUSH", "RPUSH", "HSET", "DEL", "ZREM", "LREM", "HGET",
                           "EXPIRE", "PERSIST", "INCR", "HDEL", "ZSCORE", "LLEN", "ZRANGE",
                           "ZRANGEBYSCORE", "RPOPLPUSH"):
                assert first.startswith(("KEYS[", "job", "history", "notify")), (path.name, call)
