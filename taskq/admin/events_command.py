"""`taskq events`: tail and filter the event stream from a terminal."""

from __future__ import annotations

import contextlib
import json
import time

import click

from taskq.admin import inspect
from taskq.admin.options import json_option, open_store, prefix_option, url_option
from taskq.errors import JobNotFoundError
from taskq.events import END_EVENTS, Event, EventFeed
from taskq.store import RedisStore


@click.command()
@click.option("-q", "--queue", "queues", multiple=True,
              help="Only this queue (repeatable). Default: every queue.")
@click.option("--job", "job_id", default=None, help="Only this job's events.")
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing new events as they happen (Ctrl-C stops; with --job, "
                   "stops when the job ends).")
@click.option("--since", default=None, metavar="ID|DURATION",
              help="Start after this event id, or this long ago (30s, 5m, 2h, 1d). "
                   "Default: the last --last events.")
@click.option("-n", "--last", type=click.IntRange(min=0), default=20, show_default=True,
              help="Without --since: how many of the newest kept events to show first.")
@json_option
@url_option
@prefix_option
def events(queues: tuple[str, ...], job_id: str | None, follow: bool, since: str | None,
           last: int, as_json: bool, url: str | None, prefix: str | None) -> None:
    """Job events (enqueued, started, succeeded, retrying, dead, recovered, requeued, ...) as
    they were appended to each queue's stream, oldest first; --json prints one object a line."""
    with open_store(url, prefix) as store:
        if job_id and not queues:
            queues = _queue_of(store, job_id)
        feed = EventFeed(store, queues, job=job_id)
        with contextlib.suppress(KeyboardInterrupt):
            _run(feed, follow, since, last, as_json)


def _queue_of(store: RedisStore, job_id: str) -> tuple[str, ...]:
    try:
        return (inspect.find_queue(store, job_id, inspect.queue_names(store)),)
    except JobNotFoundError:
        return ()  # its record expired: look for its events in every queue


def _run(feed: EventFeed, follow: bool, since: str | None, last: int, as_json: bool) -> None:
    if since is not None:
        cursor = feed.since(since)
        lost = feed.gaps(cursor)
        if lost:
            click.echo(f"taskq: events of {', '.join(lost)} were trimmed after --since; "
                       "showing what is kept", err=True)
        shown: list[Event] = []
        while True:  # everything kept after --since, in pages
            batch = feed.read(cursor)
            _show(batch, as_json)
            shown = batch or shown
            if feed.last_count == 0:
                break
    else:
        cursor = feed.now()
        shown = feed.recent(last)
        _show(shown, as_json)
    if not follow or (feed.job and shown and shown[-1].event in END_EVENTS):
        return
    for event in feed.follow(cursor, stop_at_end=bool(feed.job), check_gaps=False):
        _show([event], as_json)


def _show(batch: list[Event], as_json: bool) -> None:
    for e in batch:
        if as_json:
            click.echo(json.dumps(e.as_dict()))
            continue
        when = time.strftime("%H:%M:%S", time.localtime(e.at)) + f".{int(e.at * 1000) % 1000:03d}"
        extra = " ".join(f"{k}={v}" for k, v in e.fields.items() if k != "detail")
        click.echo(f"{when}  {e.queue:<12} {e.event:<10} {e.job}  {extra}".rstrip())
