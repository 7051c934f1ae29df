"""Periodic jobs with real worker processes: each tick enqueued exactly once by many workers;
a worker down over ticks follows its misfire policy."""

from __future__ import annotations

import json
import math
import signal
import time

import pytest
from click.testing import CliRunner

from taskq.cli import main
from taskq.periodic import latest_tick, next_tick, tick_job_id
from tests.faults.conftest import wait_until

MODULE = "tests.control.periodic_tasks"


def ran(records, name: str) -> list[str]:
    return [i.decode() for i in records.lrange(f"control:ticks:{name}", 0, -1)]


def ticks_of(ids: list[str], name: str, queue: str, every: float, since: float) -> list[float]:
    """The tick each job id was enqueued for (ids are derived from name and tick)."""
    by_id = {tick_job_id(name, t, queue): t
             for t in (math.floor(since / every) * every + every * k for k in range(200))}
    assert all(i in by_id for i in ids), "a job id that no tick explains"
    return [by_id[i] for i in ids]


def test_three_workers_enqueue_each_tick_exactly_once(store, records, spawn) -> None:
    name, queue = "tests.control.periodic_tasks.every_second", "ticks-many"
    started = time.time()
    workers = [spawn(MODULE, queue) for _ in range(3)]
    wait_until(lambda: len(ran(records, "every_second")) >= 10, "ten ticks", timeout=60)
    for w in workers:
        w.signal(signal.SIGTERM)
    for w in workers:
        assert w.wait() == 0
    ids = ran(records, "every_second")
    ticks = ticks_of(ids, name, queue, 1, started - 2)
    assert len(ids) == len(set(ids)), f"a tick ran twice: {sorted(ticks)}"
    assert sorted(ticks) == [min(ticks) + k for k in range(len(ticks))], "a tick was missed"
    logs = "".join(w.log() for w in workers)
    assert logs.count("periodic-enqueued") == len(ids)  # one enqueue per tick, all workers
    # `taskq periodic` shows it
    out = CliRunner().invoke(main, ["periodic", "--url", store.settings.url, "--json"])
    (row,) = json.loads(out.output)
    assert (row["schedule"], row["queue"], row["when"]) == (name, queue, "every 1 s")
    assert row["last_outcome"] == "done" and row["next_run"] > row["last_tick"]


@pytest.mark.faults
@pytest.mark.parametrize("policy", ["run-once", "skip"])
def test_a_worker_down_over_ticks_follows_the_misfire_policy(store, records, spawn,
                                                            policy) -> None:
    short = "run_once" if policy == "run-once" else "skip"
    name = f"tests.control.periodic_tasks.{short}"
    queue = "ticks-once" if policy == "run-once" else "ticks-skip"
    begun = time.time()
    worker = spawn(MODULE, queue, lease=1.0)
    wait_until(lambda: ran(records, short), "a first on-time tick", timeout=30)
    stopped = time.time()
    worker.signal_group(signal.SIGSTOP)  # down over the next ticks
    # Come back late for the latest tick (more than its 1 s grace, before the next one).
    wait_until(lambda: time.time() > stopped + 6.5 and 1.6 <= time.time() % 3 <= 2.2,
               "a late moment", timeout=30, interval=0.01)
    resumed = time.time()
    worker.signal_group(signal.SIGCONT)
    following = next_tick({"every": 3}, resumed)
    wait_until(lambda: following in ticks_of(ran(records, short), name, queue, 3, begun - 3),
               "the next on-time tick to run", timeout=30)
    ids = ran(records, short)
    ticks = ticks_of(ids, name, queue, 3, begun - 3)
    assert len(ids) == len(set(ids))
    missed = [t for t in ticks if stopped < t <= resumed]
    late = latest_tick({"every": 3}, resumed)
    assert late - 3 > stopped  # at least two ticks fell while it was down
    if policy == "run-once":
        assert missed == [late], "the missed ticks run once, as the latest tick"
    else:
        assert missed == [], "a late tick is skipped"
        state = store.schedules(queue)[name]
        assert int(state["skipped"]) == int(late * 1000)
    worker.wait_log("periodic-skipped" if policy == "skip" else "periodic-enqueued")


def test_cron_schedules_follow_their_time_zone() -> None:
    spec = {"cron": "0 3 * * *", "tz": "Europe/Paris"}
    # 2026-03-29 is the spring-forward day in Paris: 03:00 local is 01:00 UTC.
    now = 1774740000.0  # 2026-03-28T23:20:00Z
    nxt = next_tick(spec, now)
    assert time.strftime("%Y-%m-%dT%H:%M", time.gmtime(nxt)) == "2026-03-29T01:00"
    assert latest_tick(spec, nxt) == nxt and latest_tick(spec, nxt - 1) < nxt


def test_bad_schedules_are_refused() -> None:
    from taskq import ConfigurationError, periodic

    for kwargs in ({"cron": "not a cron"}, {"every": 0.5}, {},
                   {"cron": "* * * * *", "tz": "Mars/Olympus"},
                   {"every": 5, "misfire": "twice"}):
        with pytest.raises(ConfigurationError):
            periodic(**kwargs)(lambda: None)  # type: ignore[arg-type]

