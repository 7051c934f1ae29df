"""`taskq demo`: the main job end to end, as a user would run it.

Starts (or finds) the server, starts a real `taskq worker workers.example` process, enqueues
the example jobs (one of which fails into dead letters), prints their results and the dead
letter, then stops the worker with SIGTERM and checks it exited cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

from taskq.config import Settings
from taskq.connection import resolve_url
from taskq.errors import JobFailedError
from taskq.producer import configure, default_store


def run_demo(settings: Settings) -> int:
    url = resolve_url(settings)
    where = settings.safe_url if settings.url else f"embedded server, data in {settings.home}/"
    click.echo(f"1. server: {where}")
    configure(settings.with_url(url))
    from workers.example import add, charge_card, resize_image, send_welcome_email

    worker = subprocess.Popen(
        [sys.executable, "-m", "taskq", "worker", "workers.example", "-c", "2",
         "--url", url, "--log-level", "warning", "--grace", "10"],
        env={**os.environ, "PYTHONPATH": os.getcwd()}, start_new_session=True)
    click.echo(f"2. worker started (pid {worker.pid}, 2 child processes)")
    try:
        ok = _enqueue_and_show(add, resize_image, send_welcome_email, charge_card)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(30)
    click.echo(f"5. worker stopped on SIGTERM with exit code {code}")
    store = default_store()
    stats = {q: store.client.zcard(store.keys.dead(q)) for q in ("default",)}
    click.echo(f"   dead letters in queue default: {stats['default']} "
               f"(see them with: taskq dead list)")
    configure(None)
    return 0 if ok and code == 0 else 1


def _enqueue_and_show(add, resize_image, send_welcome_email, charge_card) -> bool:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    jobs = {
        "add(2, 3)": add.delay(2, 3),
        "resize_image('cat.png', 64, 64)": resize_image.delay("cat.png", 64, 64),
        "send_welcome_email('ada@example.com', 'Ada')":
            send_welcome_email.delay("ada@example.com", "Ada"),
    }
    batch = add.enqueue_many([(i, i) for i in range(10)])
    failing = charge_card.delay("order-1001", 4999)
    click.echo(f"3. enqueued {len(jobs) + len(batch) + 1} jobs "
               f"({len(batch)} of them in one enqueue_many round trip)")
    ok = True
    for label, job in jobs.items():
        value = job.result(timeout=30)
        click.echo(f"   {label} -> {value!r}")
    sums = [job.result(timeout=30) for job in batch]
    click.echo(f"   enqueue_many add(i, i) for i in 0..9 -> {sums}")
    ok &= sums == [2 * i for i in range(10)]
    try:
        failing.result(timeout=30)
        ok = False
        click.echo("   charge_card unexpectedly succeeded")
    except JobFailedError as exc:
        record = failing.refresh()
        click.echo(f"4. charge_card('order-1001', 4999) -> dead letter after "
                   f"{record.get('attempts')} attempts: {exc.error}")
        click.echo(f"   inspect it with: taskq dead show {failing.id}")
    click.echo(f"   all results in {time.perf_counter() - started:.2f} s")
    return ok
