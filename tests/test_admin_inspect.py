"""`taskq stats`, `taskq job`, `taskq workers`, `taskq queues` against the real test server."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from taskq.admin.inspect import sliding_count
from taskq.store import RedisStore
from tests.helpers import drain
from tests.test_admin_support import cli, make_dead
from workers.example import add


def as_json(url: str, *args: str) -> object:
    result = cli(url, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def busy(store: RedisStore) -> dict[str, str]:
    """default: 2 ready, 1 scheduled, 1 active (held by worker w1), 2 dead;
    fast: 2 done by an in-process burst worker."""
    for _ in range(2):
        make_dead(store)  # first: it needs the ready list to itself
    add.enqueue(args=[1, 2], store=store)
    add.enqueue(args=[1, 2], delay=3600, store=store)
    add.enqueue(args=[3, 4], store=store)
    add.enqueue(args=[5, 6], store=store)
    store.register("host-a:42:w1", ["default"], {"host": "host-a", "pid": 42,
                                                  "queues": ["default"], "started_at": 1.0})
    (held,) = store.fetch("default", "host-a:42:w1", 1)
    add.enqueue_many([(1, 1), (2, 2)], queue="fast", store=store)
    drain(store, ("fast",))
    return {"held": held.job_id}


def test_stats_json_has_the_autoscaler_signals(settings, busy) -> None:
    data = as_json(settings.url, "stats")
    rows = {row["queue"]: row for row in data["queues"]}
    default, fast = rows["default"], rows["fast"]
    assert {k: default[k] for k in ("ready", "scheduled", "active", "dead", "workers",
                                    "failed_last_minute")} == {
        "ready": 2, "scheduled": 1, "active": 1, "dead": 2, "workers": 1,
        "failed_last_minute": 2}
    assert default["oldest_ready_age"] is not None and default["oldest_ready_age"] >= 0
    assert (fast["ready"], fast["done_last_minute"], fast["oldest_ready_age"]) == (0, 2, None)


def test_stats_table_and_queue_filter(settings, busy) -> None:
    out = cli(settings.url, "stats", "--queue", "fast").output
    assert out.splitlines()[0].split()[:3] == ["QUEUE", "READY", "SCHEDULED"]
    assert "fast" in out and "default" not in out


def test_stats_watch_refreshes_until_interrupted(settings, busy, monkeypatch) -> None:
    """--watch redraws each interval; Ctrl-C (here: during the first pause) ends it cleanly."""
    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("taskq.admin.commands.time.sleep", interrupt)
    result = cli(settings.url, "stats", "--watch")
    assert result.exit_code == 0
    assert "Ctrl-C to stop" in result.output and "default" in result.output
    lines = cli(settings.url, "stats", "--watch", "--json").stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["queues"]


def test_sliding_count_weights_the_previous_minute_by_what_is_left_of_it() -> None:
    assert sliding_count(current=4, previous=10, now=60 * 1000 + 15) == 4 + 8  # 3/4 left
    assert sliding_count(current=0, previous=0, now=5.0) == 0


def test_job_tells_the_story_of_a_done_job(settings, store) -> None:
    job = add.enqueue(args=[20, 22], store=store)
    drain(store)
    out = cli(settings.url, "job", job.id).output
    assert "status     done" in out and "result\n  42" in out
    assert [line.split()[2] for line in out.split("history\n")[1].splitlines()] == [
        "enqueued", "succeeded"]
    story = as_json(settings.url, "job", job.id)
    assert story["queue"] == "default" and story["payload"]["args"] == [20, 22]


def test_job_shows_active_with_its_worker(settings, busy) -> None:
    story = as_json(settings.url, "job", busy["held"])
    assert story["record"]["status"] == "active"
    assert story["record"]["worker"] == "host-a:42:w1"


def test_job_of_an_unknown_id_exits_3(settings, busy) -> None:
    result = cli(settings.url, "job", "nope")
    assert result.exit_code == 3 and "no job nope" in result.output


def test_workers_lists_alive_workers_with_their_current_jobs(settings, store, busy) -> None:
    views = as_json(settings.url, "workers")
    mine = next(w for w in views if w["id"] == "host-a:42:w1")
    assert (mine["host"], mine["pid"], mine["queues"], mine["alive"]) == (
        "host-a", "42", ["default"], True)
    assert [j["id"] for j in mine["jobs"]] == [busy["held"]]
    assert 0 < mine["lease_expires_in"] <= 2.0
    assert "host-a" in cli(settings.url, "workers").output


def test_workers_all_includes_expired_leases(settings, store) -> None:
    """A 1 ms lease is expired by the time the command runs (a tiny-TTL knob, no sleep)."""
    short = RedisStore(store.client, replace(settings, lease_ttl=0.001))
    short.register("host-b:7:gone", ["default"], {"host": "host-b", "pid": 7})
    assert [w["id"] for w in as_json(settings.url, "workers")] == []
    (gone,) = as_json(settings.url, "workers", "--all")
    assert gone["id"] == "host-b:7:gone" and gone["alive"] is False
    assert "EXPIRED" in cli(settings.url, "workers", "--all").output


def test_queues_lists_every_queue_with_sizes(settings, busy) -> None:
    rows = as_json(settings.url, "queues")
    assert [r["queue"] for r in rows] == ["default", "fast"]
    assert rows[0]["dead"] == 2
    assert cli(settings.url, "queues").output.splitlines()[0].split() == [
        "QUEUE", "READY", "SCHEDULED", "ACTIVE", "DEAD"]


def test_empty_installation(settings, redis_client) -> None:
    assert cli(settings.url, "stats").output.strip() == "no queues yet"
    assert cli(settings.url, "workers").output.strip() == "no workers alive"
    assert cli(settings.url, "dead", "list").output.strip() == "no dead jobs match"
