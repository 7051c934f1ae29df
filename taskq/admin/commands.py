"""Admin commands added to the `taskq` group: stats, job, workers, queues, doctor, dead."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from taskq.admin import control_commands, inspect, render
from taskq.admin.dead_commands import dead
from taskq.admin.events_command import events
from taskq.admin.options import (
    echo_json,
    json_option,
    open_store,
    prefix_option,
    queue_option,
    url_option,
)

EXIT_PROBLEM = 1  # same meaning as taskq.cli.EXIT_PROBLEM


def register(group: click.Group) -> None:
    """Attach the admin commands to the main group."""
    job.add_command(show)
    job.add_command(control_commands.cancel)
    for command in (stats, job, workers, queues, doctor, dead, control_commands.queue_group,
                    control_commands.periodic_list, events):
        group.add_command(command)


@click.command()
@queue_option("Only this queue (repeatable).")
@json_option
@click.option("--watch", is_flag=True, help="Refresh in place until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@url_option
@prefix_option
def stats(queues: tuple[str, ...], as_json: bool, watch: bool, interval: float,
          url: str | None, prefix: str | None) -> None:
    """Per queue: ready, scheduled, active, dead, alive workers, done and failed in the last
    minute, and how long the oldest ready job has waited."""
    with open_store(url, prefix) as store:
        while True:
            now = time.time()
            rows = inspect.queue_stats(store, inspect.queue_names(store, queues), now)
            _show_stats(rows, now, as_json, watch, store.settings.safe_url)
            if not watch:
                return
            try:
                time.sleep(interval)  # paces the display only
            except KeyboardInterrupt:
                return


def _show_stats(rows: list[inspect.QueueStats], now: float, as_json: bool, watch: bool,
                where: str) -> None:
    if as_json:
        data = {"at": round(now, 3), "queues": [r.as_dict() for r in rows]}
        # Watching, one JSON object per line (a stream an autoscaler can follow).
        if watch:
            click.echo(json.dumps(data))
        else:
            echo_json(data)
        return
    if watch:
        click.clear()
        click.echo(f"taskq stats  {where}  {time.strftime('%H:%M:%S')}  (Ctrl-C to stop)\n")
    click.echo(render.stats_table(rows) if rows else "no queues yet")
    for note in inspect.unserved_notes(rows):
        click.echo(f"UNSERVED: {note}")


class JobGroup(click.Group):
    """`taskq job ID` is `taskq job show ID`, as it always was."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] != "--help":
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=JobGroup)
def job() -> None:
    """One job: `taskq job ID` (its story) or `taskq job cancel ID [--force]`."""


@click.command("show")
@click.argument("job_id")
@queue_option("Look only in this queue.")
@json_option
@url_option
@prefix_option
def show(job_id: str, queues: tuple[str, ...], as_json: bool, url: str | None,
        prefix: str | None) -> None:
    """A job's full story: status, payload, result or error, and history."""
    with open_store(url, prefix) as store:
        story = inspect.job_story(store, job_id, queues)
    if as_json:
        echo_json(story.as_dict())
    else:
        click.echo(render.story(story))


@click.command()
@click.option("--all", "include_expired", is_flag=True,
              help="Also workers whose lease expired (presumed dead, not yet cleaned up).")
@json_option
@url_option
@prefix_option
def workers(include_expired: bool, as_json: bool, url: str | None, prefix: str | None) -> None:
    """Workers alive now: host, pid, queues, current jobs and lease."""
    with open_store(url, prefix) as store:
        views = inspect.workers(store, include_expired)
    if as_json:
        echo_json([w.as_dict() for w in views])
    elif views:
        click.echo(render.workers_table(views))
    else:
        click.echo("no workers alive")


@click.command()
@queue_option("Only this queue (repeatable).")
@json_option
@url_option
@prefix_option
def queues(queues: tuple[str, ...], as_json: bool, url: str | None, prefix: str | None) -> None:
    """Every queue taskq has seen, with its sizes."""
    with open_store(url, prefix) as store:
        rows = inspect.queue_stats(store, inspect.queue_names(store, queues))
    if as_json:
        echo_json([{k: getattr(r, k) for k in ("queue", "ready", "scheduled", "active", "dead")}
                   for r in rows])
    elif rows:
        click.echo(render.table(("queue", "ready", "scheduled", "active", "dead"),
                                [(r.queue, r.ready, r.scheduled, r.active, r.dead)
                                 for r in rows]))
    else:
        click.echo("no queues yet")


def _serving_check(store: Any) -> Any:
    """Queues with ready jobs that no live worker has served for over a minute."""
    from taskq.doctor import OK, WARN, Check

    notes = inspect.unserved_notes(inspect.queue_stats(store, inspect.queue_names(store)))
    if not notes:
        return Check("queues", OK, "every queue with ready jobs has a live worker")
    return Check("queues", WARN, "; ".join(notes),
                 "start a worker for each such queue (taskq worker MODULE -q QUEUE)")


@click.command()
@json_option
@url_option
@prefix_option
def doctor(as_json: bool, url: str | None, prefix: str | None) -> None:
    """Check the Redis server taskq points at; exits 1 on a problem that can lose jobs."""
    from taskq.doctor import problems, run_doctor

    with open_store(url, prefix) as store:
        checks = run_doctor(store.settings, store.client)
        if not problems([c for c in checks if c.name == "server"]):
            checks.append(_serving_check(store))
    if as_json:
        echo_json({"url": store.settings.safe_url, "checks": [c.as_dict() for c in checks]})
    else:
        click.echo(f"taskq doctor: {store.settings.safe_url}")
        for c in checks:
            click.echo(f"  [{c.level.upper():<7}] {c.name}: {c.detail}")
            if c.fix and c.level != "ok":
                click.echo(f"            fix: {c.fix}")
        found = problems(checks)
        click.echo(f"{len(found)} problem{'s' if len(found) != 1 else ''} that can lose jobs"
                   if found else "no problems that can lose jobs")
    if problems(checks):
        raise SystemExit(EXIT_PROBLEM)
