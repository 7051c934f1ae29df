"""`taskq dead ...`: list, show, requeue, purge, export and import dead letters.

The same commands run as `scripts/deadletters ...`. Bulk moves go one job at a time, each in
one script, so an interrupted command leaves every job either moved or still dead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import IO, Any

import click

from taskq.admin import render
from taskq.admin.deadletters import DeadJob, DeadLetters, Filters, Throttle, parse_export
from taskq.admin.inspect import job_story
from taskq.admin.options import (
    Rate,
    echo_json,
    filter_options,
    json_option,
    on_terminal,
    open_store,
    prefix_option,
    queue_option,
    url_option,
)

PROGRESS_FROM = 6  # a progress bar for more than a handful of jobs
LIST_LIMIT = 100


@click.group("dead")
def dead() -> None:
    """Dead letters: jobs that ran out of retries or can never run. Inspect, requeue, purge,
    export and import them."""


@dead.command("list")
@filter_options(limit_default=LIST_LIMIT)
@json_option
@url_option
@prefix_option
def list_(filters: Filters, as_json: bool, url: str | None, prefix: str | None) -> None:
    """Dead jobs, newest first: id, task, queue, error, attempts, when it died."""
    with open_store(url, prefix) as store:
        # One more than asked, to tell the reader whether more match.
        probe = replace(filters, limit=filters.limit + 1 if filters.limit else None)
        jobs = list(DeadLetters(store).select(probe))
    more = filters.limit is not None and len(jobs) > filters.limit
    jobs = jobs[: filters.limit] if filters.limit else jobs
    if as_json:
        echo_json([j.as_dict() for j in jobs])
        return
    if not jobs:
        click.echo("no dead jobs match")
        return
    click.echo(render.dead_table(jobs))
    footer = f"{len(jobs)} dead job{'s' if len(jobs) != 1 else ''}"
    click.echo(footer + (" shown; more match (raise --limit, 0 for all)" if more else ""))


@dead.command()
@click.argument("job_id")
@queue_option("Look only in this queue.")
@json_option
@url_option
@prefix_option
def show(job_id: str, queues: tuple[str, ...], as_json: bool, url: str | None,
         prefix: str | None) -> None:
    """One dead job: payload, arguments, traceback and its history."""
    with open_store(url, prefix) as store:
        (job,) = DeadLetters(store).by_ids([job_id], queues)
        story = job_story(store, job_id, (job.queue,))
    if as_json:
        echo_json(story.as_dict())
    else:
        click.echo(render.story(story))


def _selection(store: Any, ids: Sequence[str], filters: Filters, all_: bool) -> list[DeadJob]:
    if ids and (filters.task or filters.error or filters.since_ms or filters.before_ms):
        raise click.UsageError("give job IDs or filters, not both (--queue may narrow IDs)")
    if not ids and not filters.narrows and not all_:
        raise click.UsageError("say which dead jobs: IDs, filters (--queue, --task, --error, "
                               "--since, --before, --limit), or --all")
    letters = DeadLetters(store)
    return letters.by_ids(ids, filters.queues) if ids else list(letters.select(filters))


EXIT_DECLINED = 1  # a confirmation was declined (docs/operating.md)
EXIT_INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C


def _run_moves(jobs: list[DeadJob], move: Callable[[DeadJob], str], rate: float | None,
               label: str) -> dict[str, int]:
    """Apply `move` to each job, throttled, with a progress bar on a terminal and progress
    lines on stderr otherwise (a pipe, a log file). Ctrl-C stops between two jobs, never in
    the middle of a move: counts["interrupted"] is then how many were not moved."""
    throttle = Throttle(rate)
    counts: dict[str, int] = {}
    show_bar = on_terminal() and len(jobs) >= PROGRESS_FROM
    sink = sys.stderr if show_bar else io.StringIO()
    step = max(10, len(jobs) // 10)  # off a terminal: a line every 10 % (at least 10 jobs)
    handled = 0
    with _ctrl_c() as stop, click.progressbar(jobs, label=label, file=sink,
                                              show_pos=True) as bar:
        for job in bar:
            throttle.wait(stop)
            if stop.is_set():
                counts["interrupted"] = len(jobs) - handled
                break
            outcome = move(job)
            handled += 1
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome.startswith("skipped"):
                click.echo(f"{job.id}: {outcome}", err=True)
            if not show_bar and len(jobs) >= PROGRESS_FROM and handled % step == 0:
                click.echo(f"{label}: {handled}/{len(jobs)}", err=True)
    return counts


@contextlib.contextmanager
def _ctrl_c() -> Iterator[threading.Event]:
    """SIGINT sets an event instead of raising mid-move (main thread only)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _finish(verb: str, counts: dict[str, int]) -> None:
    """Print the summary; after Ctrl-C also what is left and exit 130."""
    click.echo(_summary(verb, counts))
    left = counts.get("interrupted")
    if left is not None:
        click.echo(f"interrupted: {left} job{'s' if left != 1 else ''} not {verb}, still "
                   "dead; run the same command again to finish", err=True)
        raise SystemExit(EXIT_INTERRUPTED)


def _summary(verb: str, counts: dict[str, int]) -> str:
    done = counts.get(verb, 0)
    gone = counts.get("gone", 0)
    skipped = sum(n for k, n in counts.items() if k.startswith("skipped"))
    parts = [f"{verb} {done} job{'s' if done != 1 else ''}"]
    if gone:
        parts.append(f"{gone} no longer dead (moved by someone else)")
    if skipped:
        parts.append(f"{skipped} skipped")
    return "; ".join(parts)


@dead.command()
@click.argument("ids", nargs=-1)
@filter_options(limit_default=None)
@click.option("--all", "all_", is_flag=True, help="Every dead job (of --queue, if given).")
@click.option("--dry-run", is_flag=True, help="List what would move; change nothing.")
@click.option("--rate", type=Rate(), default=None, help="Throttle, e.g. 50/s (default: no limit).")
@url_option
@prefix_option
def requeue(ids: tuple[str, ...], filters: Filters, all_: bool, dry_run: bool,
            rate: float | None, url: str | None, prefix: str | None) -> None:
    """Put dead jobs back on their ready lists: attempts reset, id kept, history noted."""
    with open_store(url, prefix, start_server=True) as store:
        jobs = _selection(store, ids, filters, all_)
        if dry_run:
            _dry_run(jobs, "requeue")
            return
        letters = DeadLetters(store)
        counts = _run_moves(jobs, letters.requeue, rate, "requeueing")
    _finish("requeued", counts)


def _dry_run(jobs: list[DeadJob], verb: str) -> None:
    if jobs:
        click.echo(render.dead_table(jobs))
    click.echo(f"dry run: would {verb} {len(jobs)} job{'s' if len(jobs) != 1 else ''}; "
               "nothing changed")


@dead.command()
@click.argument("ids", nargs=-1)
@filter_options(limit_default=None)
@click.option("--all", "all_", is_flag=True, help="Every dead job (of --queue, if given).")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@url_option
@prefix_option
def purge(ids: tuple[str, ...], filters: Filters, all_: bool, dry_run: bool, yes: bool,
          url: str | None, prefix: str | None) -> None:
    """Delete dead jobs and everything kept about them, for good."""
    with open_store(url, prefix, start_server=True) as store:
        jobs = _selection(store, ids, filters, all_)
        if dry_run:
            _dry_run(jobs, "purge")
            return
        if not jobs:
            click.echo("no dead jobs match; nothing to purge")
            return
        if not yes:
            click.echo(render.dead_table(jobs[:20]))
            if len(jobs) > 20:
                click.echo(f"... and {len(jobs) - 20} more")
            try:
                confirmed = click.confirm(f"Delete these {len(jobs)} dead jobs and their "
                                          "history for good? (export them first to keep a "
                                          "copy)", err=True)
            except click.Abort:  # Ctrl-C or end of input at the prompt
                confirmed = False
            if not confirmed:
                click.echo(f"purged 0 jobs; {len(jobs)} still dead (not confirmed)", err=True)
                raise SystemExit(EXIT_DECLINED)
        letters = DeadLetters(store)
        counts = _run_moves(jobs, lambda j: "purged" if letters.purge(j) else "gone",
                            None, "purging")
    _finish("purged", counts)


@dead.command("export")
@click.argument("ids", nargs=-1)
@filter_options(limit_default=None)
@click.option("--all", "all_", is_flag=True, help="Every dead job (of --queue, if given).")
@click.option("-o", "--output", type=click.File("w"), default="-",
              help="File to write JSON lines to (default: stdout).")
@url_option
@prefix_option
def export(ids: tuple[str, ...], filters: Filters, all_: bool, output: IO[str],
           url: str | None, prefix: str | None) -> None:
    """Write dead jobs as JSON lines (record, payload, history); they stay dead here."""
    with open_store(url, prefix) as store:
        jobs = _selection(store, ids, filters, all_)
        letters = DeadLetters(store)
        for job in jobs:
            output.write(json.dumps(letters.export_record(job)) + "\n")
    output.flush()
    where = "" if output.name in ("-", "<stdout>") else f" to {os.path.abspath(output.name)}"
    click.echo(f"exported {len(jobs)} job{'s' if len(jobs) != 1 else ''}{where}; they stay "
               "dead here", err=True)


SKIPPED_SHOWN = 5  # ids named one by one when an import leaves jobs alone; the rest counted


@dead.command("import")
@click.argument("source", type=click.File("r"), default="-")
@click.option("--replace", is_flag=True,
              help="Overwrite jobs that are dead here already with the file's copy (a job "
                   "that is pending here is never touched).")
@click.option("--dry-run", is_flag=True, help="Check the file and count; write nothing.")
@url_option
@prefix_option
def import_(source: IO[str], replace: bool, dry_run: bool, url: str | None,
            prefix: str | None) -> None:
    """Read JSON lines from `taskq dead export` (file or stdin) in as dead jobs: to move dead
    letters to another server, or to restore them after a purge. A job whose id is pending
    here is left alone, and so is one that is dead here already unless --replace."""
    plans = parse_export(source)
    if dry_run:
        click.echo(f"dry run: {len(plans)} valid records; nothing written")
        return
    started = time.monotonic()
    with open_store(url, prefix, start_server=True) as store:
        letters = DeadLetters(store)
        outcomes = [letters.import_one(plan, replace=replace) for plan in plans]
    imported = outcomes.count("imported")
    click.echo(f"imported {imported} of {len(plans)} jobs in {time.monotonic() - started:.1f}s")
    _report_skipped(plans, outcomes)


def _report_skipped(plans: list[Any], outcomes: list[str]) -> None:
    """Say which jobs were left alone and why, and what to do if the user meant otherwise."""
    skipped = [(plan.id, outcome[8:]) for plan, outcome in zip(plans, outcomes, strict=True)
               if outcome != "imported"]
    for job_id, status in skipped[:SKIPPED_SHOWN]:
        click.echo(f"{job_id}: not imported, a job with this id is {status} here", err=True)
    if len(skipped) > SKIPPED_SHOWN:
        click.echo(f"... and {len(skipped) - SKIPPED_SHOWN} more", err=True)
    already_dead = sum(1 for _, status in skipped if status == "dead")
    if already_dead:
        click.echo(f"{already_dead} job{'s are' if already_dead != 1 else ' is'} dead here "
                   "already: import moves dead letters between servers or restores them "
                   "after a purge; to overwrite them with the file's copy, add --replace",
                   err=True)
