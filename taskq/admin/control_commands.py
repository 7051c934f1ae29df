"""Time and control commands: `taskq job cancel`, `taskq queue clear`, `taskq periodic`."""

from __future__ import annotations

import time
from typing import Any

import click

from taskq.admin import render
from taskq.admin.options import echo_json, json_option, open_store, prefix_option, url_option
from taskq.handle import get_job
from taskq.keys import check_queue_name
from taskq.periodic import next_tick

CLEAR_BATCH = 500


@click.command("cancel")
@click.argument("job_id")
@click.option("-q", "--queue", default=None, help="The job's queue (found from the id if not).")
@click.option("--force", is_flag=True,
              help="A running job: kill its worker child now; it ends cancelled.")
@json_option
@url_option
@prefix_option
def cancel(job_id: str, queue: str | None, force: bool, as_json: bool, url: str | None,
           prefix: str | None) -> None:
    """Cancel a job: a waiting one is removed and ends cancelled; a running one is told
    (and with --force stopped). Exit 1 when the job had already ended."""
    with open_store(url, prefix) as store:
        outcome = get_job(job_id, queue, store=store).cancel(force=force)
    if as_json:
        echo_json({"id": job_id, "outcome": outcome})
    else:
        click.echo({"cancelled": f"{job_id}: cancelled (it was waiting; it will not run)",
                    "requested": f"{job_id}: running; cancel requested"
                                 + (" (its worker child is being stopped)" if force else
                                    " (the task sees current_job().cancelled)")
                    }.get(outcome, f"{job_id}: already {outcome}; nothing to cancel"))
    if outcome not in ("cancelled", "requested"):
        raise SystemExit(1)


@click.group("queue")
def queue_group() -> None:
    """Act on one queue (see `taskq queues` for the list)."""


@queue_group.command("clear")
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Only say how many jobs would be cancelled.")
@json_option
@url_option
@prefix_option
def clear(name: str, dry_run: bool, as_json: bool, url: str | None, prefix: str | None) -> None:
    """Cancel every job waiting in queue NAME (ready and scheduled; running jobs are left
    alone). Each job ends cancelled, atomically; a job that starts meanwhile runs."""
    name = check_queue_name(name)
    cancelled = 0
    with open_store(url, prefix) as store:
        ids, waiting = store.waiting_ids(name, CLEAR_BATCH)
        if not dry_run:
            while ids:
                outcomes = store.cancel_waiting(name, ids)
                cancelled += outcomes.count("cancelled")
                if not any(o == "cancelled" for o in outcomes):
                    break  # only jobs that started meanwhile are left in this batch
                ids, _ = store.waiting_ids(name, CLEAR_BATCH)
    if as_json:
        echo_json({"queue": name, "waiting": waiting, "cancelled": cancelled,
                   "dry_run": dry_run})
    elif dry_run:
        click.echo(f"{name}: {waiting} waiting job{'s' if waiting != 1 else ''} would be "
                   f"cancelled (dry run)")
    else:
        click.echo(f"{name}: {cancelled} job{'s' if cancelled != 1 else ''} cancelled")


@click.command("periodic")
@click.option("-q", "--queue", "queues", multiple=True, help="Only this queue (repeatable).")
@json_option
@url_option
@prefix_option
def periodic_list(queues: tuple[str, ...], as_json: bool, url: str | None,
                  prefix: str | None) -> None:
    """Periodic schedules the workers run: schedule, next and last run, last outcome."""
    import json

    from taskq.admin import inspect

    rows: list[dict[str, Any]] = []
    now = time.time()
    with open_store(url, prefix) as store:
        for q in inspect.queue_names(store, queues):
            for name, state in sorted(store.schedules(q).items()):
                spec = json.loads(state.get("spec", "{}"))
                last_job = state.get("job")
                record = store.job_record(q, last_job) if last_job else {}
                rows.append({
                    "schedule": name, "queue": q,
                    "when": f"every {spec['every']} s" if spec.get("every") else
                            f"{spec.get('cron')} ({spec.get('tz')})",
                    "misfire": spec.get("misfire"),
                    "next_run": next_tick(spec, now) if spec else None,
                    "last_tick": int(state["tick"]) / 1000 if state.get("tick") else None,
                    "last_job": last_job,
                    "last_outcome": record.get("status", "expired record" if last_job
                                               else "never ran"),
                    "last_skipped": int(state["skipped"]) / 1000 if state.get("skipped")
                    else None})
    if as_json:
        echo_json(rows)
    elif rows:
        click.echo(render.table(
            ("schedule", "queue", "when", "misfire", "next run", "last tick", "last outcome"),
            [(r["schedule"], r["queue"], r["when"], r["misfire"], _at(r["next_run"]),
              _at(r["last_tick"]), r["last_outcome"]) for r in rows]))
    else:
        click.echo("no periodic schedules yet (a worker that imports them records them at "
                   "their first tick)")


def _at(when: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if when else "-"
