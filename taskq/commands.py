"""`taskq`'s click commands: thin, they parse, build settings and call library code.

`taskq.cli.main` (the console script and `python -m taskq`) runs `taskq worker` without
click when its arguments parse plainly (taskq.worker.start); everything else comes here."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from taskq.admin.options import prefix_option, queue_option, settings_from, url_option
from taskq.config import Settings
from taskq.errors import TaskqError
from taskq.log import LOG_FORMATS, LOG_LEVELS, configure_logging
from taskq.worker.start import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    dotted_name,
    run_worker,
)

__all__ = ["EXIT_CONFIG", "EXIT_OK", "EXIT_PROBLEM", "EXIT_USAGE", "main", "settings_from"]


def import_modules(modules: tuple[str, ...]) -> None:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in modules:
        dotted = dotted_name(name)
        if dotted:
            raise click.BadParameter(
                f"{name!r} is a file path; workers import tasks by module name: "
                f"taskq worker {dotted}", param_hint="MODULE")
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise click.BadParameter(f"cannot import {name!r}: {exc}", param_hint="MODULE") from exc


class TaskqGroup(click.Group):
    """Turns taskq errors into one readable line and a named exit code. The operating
    commands (taskq.admin) are imported on first use: a worker process never holds them."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            _register_admin()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _register_admin()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TaskqError as exc:
            click.echo(f"taskq: {exc}", err=True)
            ctx.exit(EXIT_CONFIG)


@click.group(cls=TaskqGroup)
@click.version_option(package_name="taskq")
def main() -> None:
    """taskq: a task queue on Redis that never loses a job."""
    # Library notices (an embedded server started, ...) go to stderr, never into the output.
    configure_logging("console", "info")


@main.command()
@click.argument("modules", nargs=-1)
@queue_option("Queue to serve, highest priority first (repeatable). Default: default.")
@click.option("-c", "--processes", type=click.IntRange(min=1), default=None,
              help="Child processes (default: one per core).")
@click.option("--single-process", is_flag=True,
              help="Run the one child inside the supervisor's process: the smallest memory "
                   "footprint; a hard timeout restarts the whole process, and after a crash "
                   "its jobs come back when the lease expires (see docs/internals.md).")
@click.option("--threads", type=click.IntRange(min=1), default=1,
              help="Threads per child, for I/O-bound tasks.")
@click.option("--async-concurrency", type=click.IntRange(min=1), default=10,
              show_default=True,
              help="Coroutine tasks (async def) each child runs at once, on its event loop.")
@click.option("--burst", is_flag=True,
              help="Run the jobs that are ready on the queues, then exit 0. Jobs delayed or "
                   "waiting for a retry stay scheduled (see --wait-scheduled).")
@click.option("--wait-scheduled", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --burst: also wait for and run scheduled jobs (delays, retries) "
                   "due within SECONDS; exit once none is due that soon.")
@click.option("--max-jobs", type=click.IntRange(min=1), default=None,
              help="Replace each child process after it ran this many jobs (counted per "
                   "child, across its --threads).")
@click.option("--grace", type=click.FloatRange(min=0), default=25.0, show_default=True,
              help="Seconds running jobs get to finish after SIGTERM.")
@click.option("--lease", type=click.FloatRange(min=0.05), default=None,
              help="Lease TTL in seconds (default 5): a worker whose processes are dead or "
                   "frozen is presumed dead after this long. A fetch blocks at most a "
                   "quarter of it.")
@click.option("--import-from", "import_from", multiple=True, metavar="PREFIX",
              help="Import a job's task module by its dotted name on first sight when it lies "
                   "under PREFIX (repeatable, e.g. --import-from workers); never any other.")
@click.option("--unknown-task-grace", type=click.FloatRange(min=0), default=None,
              help="Seconds a job whose task no live worker on its queue knows is handed back "
                   "before it is dead-lettered as unknown-task (default 60).")
@click.option("--result-ttl", type=click.IntRange(min=1), default=None, metavar="SECONDS",
              help="How long a finished job's result and record are kept (default 86400, "
                   "or $TASKQ_RESULT_TTL).")
@click.option("--ack-window", type=click.FloatRange(min=0, max=1000), default=5.0,
              show_default=True, metavar="MS",
              help="Acknowledge jobs that end back to back together, each waiting at most MS "
                   "milliseconds (and 32 at most). A worker killed -9 runs again a job that "
                   "ended within that time. 0: acknowledge each job at once.")
@click.option("--allow-pickle", is_flag=True, help="Accept pickle payloads (unsafe).")
@click.option("--idle-exit", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Exit 0 after no job started or ended for this long (scale to zero).")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="console",
              show_default=True)
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="info",
              show_default=True, help="Any case, as `logging` takes it (WARNING, warning).")
@url_option
@prefix_option
def worker(modules: tuple[str, ...], queues: tuple[str, ...], processes: int | None,
           single_process: bool, threads: int, async_concurrency: int, burst: bool,
           wait_scheduled: float | None, max_jobs: int | None,
           grace: float, lease: float | None, import_from: tuple[str, ...],
           unknown_task_grace: float | None, result_ttl: int | None, ack_window: float,
           allow_pickle: bool, idle_exit: float | None,
           log_format: str, log_level: str, url: str | None, prefix: str | None) -> None:
    """Run jobs from QUEUEs with tasks from MODULEs (e.g. taskq worker workers.example)."""
    if not modules:
        raise click.UsageError("name the modules that define your tasks, for example: "
                               "taskq worker workers.example")
    if wait_scheduled is not None and not burst:
        raise click.UsageError("--wait-scheduled goes with --burst (a worker without --burst "
                               "runs scheduled jobs anyway)")
    for prefix_ in import_from:
        if not all(part.isidentifier() for part in prefix_.split(".")):
            raise click.BadParameter(f"{prefix_!r} is not a dotted module prefix (e.g. workers)",
                                     param_hint="--import-from")
    if single_process and processes not in (None, 1):
        raise click.UsageError(f"--single-process runs one child; drop -c {processes} or "
                               "--single-process")
    settings = settings_from(url, prefix)  # bad settings are usage errors, before any start
    log_level = log_level.lower()
    configure_logging(log_format, log_level)
    import_modules(modules)
    sys.exit(run_worker(
        settings, queues=queues, processes=processes, single_process=single_process,
        threads=threads, async_concurrency=async_concurrency, burst=burst,
        wait_scheduled=wait_scheduled, max_jobs=max_jobs, grace=grace, lease=lease,
        import_from=import_from, unknown_task_grace=unknown_task_grace, result_ttl=result_ttl,
        ack_window=ack_window, allow_pickle=allow_pickle, idle_exit=idle_exit,
        log_format=log_format, log_level=log_level))


@main.command()
@click.option("--port", type=int, default=None, help="Port (default: a free one).")
@click.option("--stop", is_flag=True, help="Stop the running embedded server instead.")
def server(port: int | None, stop: bool) -> None:
    """Run the embedded Valkey server in the foreground (data in .taskq/, AOF on)."""
    from taskq.server import EmbeddedServer

    settings = Settings.from_env()
    embedded = EmbeddedServer(settings.home)
    if stop:
        click.echo("stopped" if embedded.stop() else "no embedded server was running")
        return
    url = embedded.running_url()
    if url:
        raise click.ClickException(f"an embedded server already runs for {settings.home} at "
                                   f"{url}; stop it with: taskq server --stop")
    click.echo(f"taskq: embedded server for {embedded.home} on port "
               f"{port or 'auto'} (AOF on)", err=True)
    embedded.run_foreground(port)


@main.command()
@url_option
def demo(url: str | None) -> None:
    """The main job end to end: server, worker, example jobs, results, dead letters, stop."""
    from taskq.demo import run_demo

    sys.exit(run_demo(settings_from(url, None)))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (127.0.0.1: this machine only).")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--token", envvar="TASKQ_WEB_TOKEN", default=None,
              help="Token that actions (requeue, purge) must carry. Default: $TASKQ_WEB_TOKEN, "
                   "else a fresh one, printed here.")
@click.option("--read-only", is_flag=True, help="Refuse every action that changes state.")
@url_option
@prefix_option
def web(host: str, port: int, token: str | None, read_only: bool, url: str | None,
        prefix: str | None) -> None:
    """The live dashboard, event push (SSE, WebSocket) and /metrics (needs taskq[web])."""
    import secrets

    try:
        import uvicorn

        from taskq.web.app import create_app
    except ImportError as exc:
        raise click.ClickException(f"taskq web needs the web extra ({exc.name} is missing): "
                                   "pip install 'taskq[web]'") from None
    settings = settings_from(url, prefix)
    if not read_only and not token:
        token = secrets.token_urlsafe(16)
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    link = f"http://{shown}:{port}/"
    click.echo(f"taskq web: {link} (Redis: {settings.safe_url})", err=True)
    if read_only:
        click.echo("taskq web: read-only; actions are refused", err=True)
    else:
        click.echo(f"taskq web: actions need the token; open {link}#token={token} "
                   "to use it in this browser tab", err=True)
    uvicorn.run(create_app(settings, token=token, read_only=read_only), host=host, port=port,
                log_level="warning")


_admin_registered = False


def _register_admin() -> None:
    global _admin_registered
    if _admin_registered:
        return
    _admin_registered = True
    from taskq.admin.commands import register

    register(main)

