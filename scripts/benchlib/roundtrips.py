"""Client-side round-trip counter for taskq's worker child.

Imported by the taskq bench task module when BENCH_COUNT_ROUNDTRIPS=1: wraps redis-py's
`Connection.send_packed_command`, which is called once per single command and once per
pipeline, so each call is one request/response round trip. The sentinel job reports the count.
"""

from __future__ import annotations

import os

_count = 0


def count() -> int:
    return _count


def install() -> None:
    if os.environ.get("BENCH_COUNT_ROUNDTRIPS") != "1":
        return
    from redis.connection import AbstractConnection

    original = AbstractConnection.send_packed_command
    if getattr(original, "_bench_wrapped", False):
        return

    def send_packed_command(self, command, check_health=True):  # type: ignore[no-untyped-def]
        global _count
        _count += 1
        return original(self, command, check_health)

    send_packed_command._bench_wrapped = True  # type: ignore[attr-defined]
    AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
