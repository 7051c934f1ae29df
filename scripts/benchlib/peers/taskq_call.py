"""taskq's task for the one-call case, in its own module as an application's would be: it
imports redis-py and holds a client at module level, so the worker pays redis-py's import here
as every peer does (they all import it themselves). Only the one-call configs' workers import
this module; the other cases' workers load no client library through the bench's modules."""

from __future__ import annotations

import os

import redis

from benchlib.sink import CALL_KEY
from taskq import task

client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])  # redis-py re-connects after fork


@task
def call() -> None:
    client.incr(CALL_KEY)
