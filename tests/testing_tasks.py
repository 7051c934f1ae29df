"""Tasks for the taskq.testing tests (importable, like any user's task module)."""

from __future__ import annotations

from taskq import Backoff, Retry, task

FAST = Backoff(initial=1.0, maximum=60.0, jitter=0.0)
calls: list[str] = []


@task(retries=2, backoff=FAST)
def flaky(key: str, fail_times: int) -> str:
    """Fails its first `fail_times` runs, then returns."""
    calls.append(key)
    if calls.count(key) <= fail_times:
        raise ConnectionError(f"{key}: try {calls.count(key)} failed")
    return f"{key} ok after {calls.count(key)}"


@task(retries=1, backoff=FAST)
def always_fails(message: str) -> None:
    raise ValueError(message)


@task
def later(seconds: float) -> None:
    raise Retry(delay=seconds, reason="not yet")


@task
def signup(email: str) -> str:
    """Enqueues a follow-up: in eager mode it runs inside this one."""
    welcome.delay(email)
    return email


@task(queue="emails")
def welcome(email: str) -> str:
    return f"welcome {email}"


@task
async def shout(word: str) -> str:
    """A coroutine task: the runner gives it an event loop of its own."""
    import asyncio

    await asyncio.sleep(0)
    return word.upper()
