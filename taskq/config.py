"""One frozen settings object: where Redis is and how taskq behaves.

Built explicitly (`Settings.from_url`, `Settings.from_env`); nothing here reads the environment
or connects at import time. Defaults live in this file only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from taskq.errors import ConfigurationError
from taskq.urls import SCHEMES, SINGLE, check_single, parse_multi, redact

URL_SCHEMES = tuple(SCHEMES)
ENV_URL_NAMES = ("TASKQ_REDIS_URL", "REDIS_URL")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Settings:
    """How to reach Redis and the knobs every taskq process shares.

    `url` None means: use the embedded Valkey server kept in `home` (see taskq.server).
    `home` defaults to the project's `.taskq/`, found from the current folder the way git
    finds its repository (see `find_project_home`).
    """

    url: str | None = field(default=None, repr=False)
    prefix: str = "taskq"
    home: Path = field(default_factory=lambda: find_project_home())
    result_ttl: int = 24 * 3600  # seconds a finished job's result and story are kept
    # A worker silent this long is presumed dead. Short, because its supervisor renews it for
    # its live children (a busy child keeps its lease): a worker killed with -9 has its jobs
    # running elsewhere within about lease * 1.25 + one BLMOVE.
    lease_ttl: float = 5.0
    poison_crashes: int = 3  # crashes after which a job is dead-lettered as poison
    # A job whose task no live worker on its queue knows is dead-lettered after this long
    # (meanwhile it is handed back, waiting for a worker that knows it: a deploy in progress).
    unknown_task_grace: float = 60.0
    socket_timeout: float | None = None
    # The per-queue event stream: at most about this many entries (0: no events are written),
    # and, when positive, none older than this many seconds.
    events_maxlen: int = 100_000
    events_max_age: float = 0.0
    # Dead-letter retention per queue, as Sidekiq keeps them: at most this many dead jobs and
    # none older than this many seconds; the oldest go first, with all their keys.
    dead_max: int = 10_000
    dead_max_age: float = 180 * 24 * 3600.0
    retry_request_limit: int = 1000  # a task raising Retry this often is dead-lettered

    def __post_init__(self) -> None:
        if self.url is not None:
            _validate_url(self.url)
        if not _PREFIX_RE.match(self.prefix):
            raise ConfigurationError(
                f"prefix {self.prefix!r} may hold only letters, digits, '_', '.' and '-'"
            )
        if self.lease_ttl <= 0 or self.result_ttl <= 0 or self.poison_crashes < 1:
            raise ConfigurationError(
                "lease_ttl and result_ttl must be positive and poison_crashes at least 1"
            )
        if self.dead_max < 1 or self.dead_max_age <= 0 or self.retry_request_limit < 1:
            raise ConfigurationError(
                "dead_max, dead_max_age and retry_request_limit must be positive")
        if self.events_maxlen < 0 or self.events_max_age < 0:
            raise ConfigurationError(
                "events_maxlen and events_max_age must be 0 (off) or positive")
        if self.unknown_task_grace < 0:
            raise ConfigurationError("unknown_task_grace must be 0 or more seconds")

    def __repr__(self) -> str:
        return (
            f"Settings(url={self.safe_url!r}, prefix={self.prefix!r}, home={str(self.home)!r}, "
            f"result_ttl={self.result_ttl}, lease_ttl={self.lease_ttl}, "
            f"poison_crashes={self.poison_crashes})"
        )

    @property
    def safe_url(self) -> str:
        """The URL with any password replaced by ***, fit for logs and screens; without a URL,
        which embedded server (its folder: one per project)."""
        return redact_url(self.url) if self.url else f"embedded server in {self.home}"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Settings:
        return cls(url=url, **options)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> Settings:
        """TASKQ_REDIS_URL, then REDIS_URL; TASKQ_PREFIX, TASKQ_HOME, TASKQ_RESULT_TTL,
        TASKQ_EVENTS_MAXLEN, TASKQ_EVENTS_MAX_AGE, TASKQ_DEAD_MAX and TASKQ_DEAD_MAX_AGE
        (seconds) when set."""
        env = os.environ if environ is None else environ
        url = next((env[name] for name in ENV_URL_NAMES if env.get(name)), None)
        for option, name, kind in (("result_ttl", "TASKQ_RESULT_TTL", int),
                                   ("events_maxlen", "TASKQ_EVENTS_MAXLEN", int),
                                   ("events_max_age", "TASKQ_EVENTS_MAX_AGE", float),
                                   ("dead_max", "TASKQ_DEAD_MAX", int),
                                   ("dead_max_age", "TASKQ_DEAD_MAX_AGE", float)):
            if option not in options and env.get(name):
                try:
                    options[option] = kind(env[name])
                except ValueError:
                    raise ConfigurationError(f"{name}={env[name]!r} is not a number") from None
        if "prefix" not in options and env.get("TASKQ_PREFIX"):
            options["prefix"] = env["TASKQ_PREFIX"]
        if "home" not in options and env.get("TASKQ_HOME"):
            options["home"] = Path(env["TASKQ_HOME"])
        return cls(url=url, **options)

    def with_url(self, url: str | None) -> Settings:
        return replace(self, url=url)


HOME_NAME = ".taskq"
PROJECT_MARKERS = ("pyproject.toml",)


def find_project_home(start: Path | None = None) -> Path:
    """The project's `.taskq/` folder: walking up from `start` (default: the current folder),
    the first folder that holds `.taskq/` or a pyproject.toml is the project's root, as git
    finds a repository from any sub-folder. With neither anywhere above, `start/.taskq`.
    So a command run from `src/app/` or a test run from `tests/` finds the one server."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / HOME_NAME).is_dir() or any((folder / m).is_file()
                                                for m in PROJECT_MARKERS):
            return folder / HOME_NAME
    return here / HOME_NAME


def url_problem(url: str) -> str | None:
    """Why `url` is not a usable Redis URL (None when it is), with what to write instead."""
    try:
        _validate_url(url)
    except ConfigurationError as exc:
        return str(exc)
    return None


def _validate_url(url: str) -> None:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in SCHEMES:
        raise ConfigurationError(
            f"Redis URL {redact_url(url)!r} must start with redis://, rediss:// (TLS), "
            f"unix://, redis+cluster:// or redis+sentinel://{_url_hint(url)}"
        )
    if SCHEMES[scheme] == SINGLE:
        check_single(url)
    else:
        parse_multi(url)


def _url_hint(url: str) -> str:
    """'localhost:6379' -> '; did you mean redis://localhost:6379/0?'"""
    bare = url.split("://", 1)[-1].split("/", 1)[0].rpartition("@")[2]
    host, _, port = bare.partition(":")
    if host and (not port or port.isdigit()):
        return f"; did you mean redis://{host}:{port or 6379}/0?"
    return ""


def redact_url(url: str) -> str:
    """Hide the password of a Redis URL; keep user, hosts, port and db."""
    return redact(url)
