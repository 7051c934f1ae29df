"""Starting a worker, and `taskq worker` without click.

`run_worker` builds the child's spec and runs the supervisor (or the single-process worker);
both command lines end there. `lean_main` is what `taskq worker ...` runs when its arguments
parse plainly: it reads the same options as the click command (taskq.commands.worker), with
the same types and bounds, and imports neither click nor the operating commands, so a worker
process does not hold them (about 1 MB of its memory). Whenever anything is not plain (help,
an unknown or malformed option, a value out of range, any usage error, a module that does not
import) it returns None before starting anything, and the caller hands the same arguments to
click, which says what is wrong exactly as it always has. tests/test_cli_lean.py checks that
the two parsers agree.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import replace
from typing import Any

from taskq.config import Settings
from taskq.errors import ConfigurationError, TaskqError
from taskq.log import LOG_FORMATS, LOG_LEVELS, configure_logging

EXIT_OK = 0
EXIT_PROBLEM = 1  # the command ran and found a problem (doctor, failed demo)
EXIT_USAGE = 2  # click's own code for bad usage
EXIT_CONFIG = 3  # settings or Redis unusable

# option -> (parameter, kind, lower bound or (lower, upper) or choices); kinds: flag, str,
# many (repeatable), int, float, choice, ichoice (any case). In step with taskq.commands.worker.
OPTIONS: dict[str, tuple[str, str, Any]] = {
    "-q": ("queues", "many", None), "--queue": ("queues", "many", None),
    "-c": ("processes", "int", 1), "--processes": ("processes", "int", 1),
    "--single-process": ("single_process", "flag", None),
    "--threads": ("threads", "int", 1),
    "--async-concurrency": ("async_concurrency", "int", 1),
    "--burst": ("burst", "flag", None),
    "--wait-scheduled": ("wait_scheduled", "float", 0.0),
    "--max-jobs": ("max_jobs", "int", 1),
    "--grace": ("grace", "float", 0.0),
    "--lease": ("lease", "float", 0.05),
    "--import-from": ("import_from", "many", None),
    "--unknown-task-grace": ("unknown_task_grace", "float", 0.0),
    "--result-ttl": ("result_ttl", "int", 1),
    "--ack-window": ("ack_window", "float", (0.0, 1000.0)),
    "--allow-pickle": ("allow_pickle", "flag", None),
    "--idle-exit": ("idle_exit", "float", 0.1),
    "--log-format": ("log_format", "choice", LOG_FORMATS),
    "--log-level": ("log_level", "ichoice", LOG_LEVELS),
    "--url": ("url", "str", None),
    "--prefix": ("prefix", "str", None),
}
DEFAULTS: dict[str, Any] = {
    "modules": (), "queues": (), "processes": None, "single_process": False, "threads": 1,
    "async_concurrency": 10, "burst": False, "wait_scheduled": None, "max_jobs": None,
    "grace": 25.0, "lease": None, "import_from": (), "unknown_task_grace": None,
    "result_ttl": None, "ack_window": 5.0, "allow_pickle": False, "idle_exit": None,
    "log_format": "console", "log_level": "info", "url": None, "prefix": None,
}


class NotPlain(Exception):
    """The arguments need click: to parse them, or to say what is wrong with them."""


def dotted_name(module: str) -> str | None:
    """'workers/maths.py' -> 'workers.maths': the module name a file path stands for."""
    if not (module.endswith(".py") or "/" in module or "\\" in module):
        return None
    path = module.removesuffix(".py").replace("\\", "/").strip("/")
    while path.startswith("./"):
        path = path[2:]
    name = path.replace("/", ".")
    return name if name and all(part.isidentifier() for part in name.split(".")) else None


def _convert(kind: str, bound: Any, text: str) -> Any:
    try:
        if kind in ("str", "many"):
            return text
        if kind == "int":
            value: Any = int(text)
        elif kind == "float":
            value = float(text)
        elif kind == "choice":
            if text not in bound:
                raise NotPlain
            return text
        else:  # ichoice
            return next(c for c in bound if c.casefold() == text.casefold())
    except (ValueError, StopIteration):
        raise NotPlain from None
    low, high = bound if isinstance(bound, tuple) else (bound, None)
    if value < low or (high is not None and value > high):
        raise NotPlain
    return value


def parse(argv: list[str]) -> dict[str, Any]:
    """The worker's options from plain arguments (`--opt value`, `--opt=value`, `-c2`,
    modules anywhere, as click reads them); NotPlain for anything else."""
    out = dict(DEFAULTS)
    many: dict[str, list[str]] = {"queues": [], "import_from": [], "modules": []}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if not arg.startswith("-") or arg == "-":
            if arg == "-":
                raise NotPlain
            many["modules"].append(arg)
            continue
        name, value = arg, None
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
        elif not arg.startswith("--") and len(arg) > 2:
            name, value = arg[:2], arg[2:]
        if name not in OPTIONS:
            raise NotPlain
        param, kind, bound = OPTIONS[name]
        if kind == "flag":
            if value is not None:
                raise NotPlain
            out[param] = True
            continue
        if value is None:
            if not args:
                raise NotPlain
            value = args.pop(0)
        converted = _convert(kind, bound, value)
        if kind == "many":
            many[param].append(converted)
        else:
            out[param] = converted
    out.update({k: tuple(v) for k, v in many.items()})
    return out


def _settings(opts: dict[str, Any]) -> Settings:
    """As taskq.admin.options.settings_from, with --url read from $TASKQ_REDIS_URL too."""
    from taskq.config import url_problem
    from taskq.keys import check_queue_name

    # click reads $TASKQ_REDIS_URL (when not empty) only if --url is not given at all.
    url = opts["url"] if opts["url"] is not None else os.environ.get("TASKQ_REDIS_URL") or None
    try:
        if url and url_problem(url):
            raise NotPlain
        for queue in opts["queues"]:
            check_queue_name(queue)
        settings = Settings.from_env(**({"prefix": opts["prefix"]} if opts["prefix"] else {}))
        return settings.with_url(url) if url else settings
    except ConfigurationError:
        raise NotPlain from None


def lean_main(argv: list[str]) -> int | None:
    """`taskq worker ARGS` without click: the exit code, or None (nothing started yet) when
    click must handle these arguments."""
    try:
        opts = parse(argv)
        if (not opts["modules"] or (opts["wait_scheduled"] is not None and not opts["burst"])
                or any(not all(p.isidentifier() for p in prefix.split("."))
                       for prefix in opts["import_from"])
                or (opts["single_process"] and opts["processes"] not in (None, 1))
                or any(dotted_name(m) for m in opts["modules"])):
            raise NotPlain
        settings = _settings(opts)
    except NotPlain:
        return None
    configure_logging(opts["log_format"], opts["log_level"])
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    modules = opts.pop("modules")
    del opts["url"], opts["prefix"]
    try:
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:
                return None  # click imports it again and says why it cannot
        return run_worker(settings, **opts)
    except TaskqError as exc:  # as taskq.commands.TaskqGroup does
        print(f"taskq: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (EOFError, KeyboardInterrupt):  # as click's standalone mode does
        print(file=sys.stderr)
        print("Aborted!", file=sys.stderr)
        return 1


def run_worker(settings: Settings, *, queues: tuple[str, ...], processes: int | None,
               single_process: bool, threads: int, async_concurrency: int, burst: bool,
               wait_scheduled: float | None, max_jobs: int | None, grace: float,
               lease: float | None, import_from: tuple[str, ...],
               unknown_task_grace: float | None, result_ttl: int | None, ack_window: float,
               allow_pickle: bool, idle_exit: float | None, log_format: str, log_level: str) -> int:
    """Run a worker whose options are checked and whose task modules are imported; its
    exit code."""
    from taskq.doctor import warn_at_start
    from taskq.worker.child import ChildSpec

    if lease:
        settings = replace(settings, lease_ttl=lease)
    if unknown_task_grace is not None:
        settings = replace(settings, unknown_task_grace=unknown_task_grace)
    if result_ttl is not None:
        settings = replace(settings, result_ttl=result_ttl)
    spec = ChildSpec(settings=settings, queues=queues or ("default",),
                     threads=threads, async_concurrency=async_concurrency, burst=burst,
                     max_jobs=max_jobs, allow_pickle=allow_pickle, log_format=log_format,
                     log_level=log_level.lower(), import_from=import_from,
                     wait_scheduled=wait_scheduled, ack_window=ack_window / 1000)
    warn_at_start(settings)
    if single_process:
        from taskq.worker.inline import InlineSupervisor

        return InlineSupervisor(spec, grace, idle_exit).run()
    from taskq.worker.supervisor import Supervisor

    return Supervisor(spec, processes or os.cpu_count() or 1, grace, idle_exit).run()
