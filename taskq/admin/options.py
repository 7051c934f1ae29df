"""Shared click plumbing for the admin commands: connection options, filter options, and the
parameter types for `--rate` and `--since`/`--before`."""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import click

from taskq.admin.deadletters import Filters
from taskq.config import Settings, url_problem
from taskq.errors import ConfigurationError
from taskq.keys import check_queue_name
from taskq.store import RedisStore


def _check_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A malformed URL is bad usage (exit 2), found before anything starts."""
    problem = url_problem(value) if value else None
    if problem:
        raise click.BadParameter(problem, ctx, param)
    return value


def _check_queues(ctx: click.Context, param: click.Parameter,
                  value: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(check_queue_name(q) for q in value)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


# The options every command shares (taskq.cli uses them too).
url_option = click.option("--url", envvar="TASKQ_REDIS_URL", default=None, callback=_check_url,
                          help="Redis URL (redis://, rediss://, unix://). Default: "
                               "$TASKQ_REDIS_URL, $REDIS_URL, else the project's embedded "
                               "server (.taskq/ in the folder holding pyproject.toml).")
prefix_option = click.option("--prefix", default=None, help="Key prefix (default: taskq).")


def queue_option(help: str) -> Callable[[Callable[..., Any]], Any]:
    """-q/--queue, repeatable; names checked at parse time (a bad one is exit 2)."""
    return click.option("-q", "--queue", "queues", multiple=True, callback=_check_queues,
                        help=help)


def settings_from(url: str | None, prefix: str | None) -> Settings:
    """Settings from the environment, then the command line. A bad REDIS_URL or prefix is a
    usage error too."""
    options: dict[str, Any] = {}
    if prefix:
        options["prefix"] = prefix
    try:
        base = _given_settings()  # a framework integration's (manage.py taskq ...)
        settings = Settings.from_env(**options) if base is None else replace(base, **options)
        return settings.with_url(url) if url else settings
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None


def _given_settings() -> Settings | None:
    """Settings handed to the command line as its context object (`main(obj=settings)`)."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, Settings) else None
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class When(click.ParamType):
    """A moment: '30m' / '2h' / '7d' ago, an ISO date or datetime (local time), or epoch
    seconds. Converted to epoch milliseconds."""

    name = "WHEN"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        match = _AGO.match(text)
        if match:
            return int((time.time() - float(match[1]) * _UNIT[match[2]]) * 1000)
        try:
            return int(float(text) * 1000)
        except ValueError:
            pass
        try:
            return int(datetime.fromisoformat(text).timestamp() * 1000)
        except ValueError:
            self.fail(f"{text!r} is not a time: use 30m, 2h, 7d (ago), 2024-05-01T12:00 or "
                      "epoch seconds", param, ctx)


class Rate(click.ParamType):
    """Jobs per second: '20', '20/s' or '600/m'."""

    name = "N/s"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip().lower()
        number, _, unit = text.partition("/")
        per = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60}.get(unit)
        try:
            rate = float(number) / per if per else -1.0
        except ValueError:
            rate = -1.0
        if rate <= 0:
            self.fail(f"{text!r} is not a rate: use e.g. 20/s or 600/m", param, ctx)
        return rate


def filter_options(limit_default: int | None) -> Callable[[Callable[..., Any]], Any]:
    """--queue, --task, --error, --since, --before, --limit, gathered into `filters`."""

    def decorate(fn: Callable[..., Any]) -> Any:
        @queue_option("Only this queue (repeatable). Default: every queue.")
        @click.option("--task", default=None,
                      help="Task name: exact, last part (charge_card) or glob (*.charge_*).")
        @click.option("--error", default=None,
                      help="Substring of the error type, message or reason (any case).")
        @click.option("--since", type=When(), default=None,
                      help="Died at or after: 30m, 2h, 7d (ago), ISO time or epoch s.")
        @click.option("--before", type=When(), default=None, help="Died before (same forms).")
        @click.option("--limit", type=click.IntRange(min=0), default=limit_default,
                      show_default=limit_default is not None,
                      help="At most this many jobs, newest first (0: no limit).")
        @functools.wraps(fn)
        def wrapper(queues: tuple[str, ...], task: str | None, error: str | None,
                    since: int | None, before: int | None, limit: int | None,
                    **kwargs: Any) -> Any:
            filters = Filters(queues, task, error, since, before, limit or None)
            return fn(filters=filters, **kwargs)

        return wrapper

    return decorate


@contextmanager
def open_store(url: str | None, prefix: str | None, *, start_server: bool = False
               ) -> Iterator[RedisStore]:
    """A store for one command. Commands that only read never start the embedded server
    (`start_server` False): with none running they say so and how to start one."""
    from taskq.connection import connect

    settings = settings_from(url, prefix)
    store = RedisStore(connect(settings, start=start_server), settings)
    try:
        yield store
    finally:
        store.client.close()


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def on_terminal() -> bool:
    return sys.stderr.isatty()
