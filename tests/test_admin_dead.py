"""`taskq dead ...` against the real test server: selection, moves, dry runs, export/import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskq.admin.deadletters import DeadLetters, Filters
from taskq.job import decode
from taskq.store import RedisStore, now_ms
from tests.test_admin_support import cli, dead_ids, make_dead, ready_ids, snapshot

REPO = Path(__file__).resolve().parent.parent


def listed(url: str, *args: str) -> list[str]:
    result = cli(url, "dead", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return [row["id"] for row in json.loads(result.stdout)]


@pytest.fixture
def mixed(store: RedisStore) -> dict[str, str]:
    """Five dead jobs across two queues, two tasks, three errors, deaths 1 h .. 1 min ago."""
    t = now_ms()
    return {
        "old_charge": make_dead(store, died_at_ms=t - 3_600_000),
        "charge_timeout": make_dead(store, error_type="TimeoutError", error="took too long",
                                    reason="timed out", died_at_ms=t - 1_800_000),
        "email": make_dead(store, task="workers.example.send_welcome_email",
                           error_type="SMTPError", error="mailbox full", died_at_ms=t - 600_000),
        "other_queue": make_dead(store, queue="billing", died_at_ms=t - 120_000),
        "new_charge": make_dead(store, died_at_ms=t - 60_000),
    }


def test_list_is_newest_first_across_queues(settings, mixed) -> None:
    assert listed(settings.url) == [mixed[k] for k in (
        "new_charge", "other_queue", "email", "charge_timeout", "old_charge")]


@pytest.mark.parametrize(("args", "expected"), [
    (("--queue", "billing"), ["other_queue"]),
    (("--task", "charge_card", "--queue", "default"), ["new_charge", "charge_timeout",
                                                       "old_charge"]),
    (("--task", "*.send_*"), ["email"]),
    (("--error", "timeout"), ["charge_timeout"]),  # matches the error type, any case
    (("--error", "MAILBOX"), ["email"]),  # matches the message
    (("--since", "45m"), ["new_charge", "other_queue", "email", "charge_timeout"]),
    (("--before", "15m"), ["charge_timeout", "old_charge"]),
    (("--since", "45m", "--before", "5m"), ["email", "charge_timeout"]),
    (("--limit", "2"), ["new_charge", "other_queue"]),
    (("--task", "nope"), []),
])
def test_list_filters_select_exactly_the_right_jobs(settings, mixed, args, expected) -> None:
    assert listed(settings.url, *args) == [mixed[k] for k in expected]


def test_select_pages_through_ties_without_skipping(store: RedisStore) -> None:
    """Given more jobs than a page, many dying in the same millisecond, all are listed once."""
    t = now_ms()
    ids = {make_dead(store, died_at_ms=t - (i % 3)) for i in range(25)}
    seen = [j.id for j in DeadLetters(store, batch=4).select(Filters())]
    assert sorted(seen) == sorted(ids)


def test_list_table_shows_the_columns(settings, mixed) -> None:
    out = cli(settings.url, "dead", "list").output
    assert out.splitlines()[0].split() == ["ID", "TASK", "QUEUE", "ERROR", "ATTEMPTS", "DIED"]
    assert "TimeoutError: took too long" in out and "5 dead jobs" in out


def test_show_prints_payload_traceback_and_history_of_a_real_worker_death(
        settings, store: RedisStore) -> None:
    """Given a job a real worker ran and dead-lettered, show tells its whole story."""
    from tests.helpers import drain
    from workers.example import charge_card

    job = charge_card.enqueue(args=["order-7", 700], retries=0, store=store)
    drain(store)
    result = cli(settings.url, "dead", "show", job.id)
    assert result.exit_code == 0, result.output
    out = result.output
    assert '["order-7", 700]' in out
    assert "raise RuntimeError" in out and "card declined for order order-7" in out
    events = [line.split()[2] for line in out.split("history\n")[1].splitlines()]
    assert events == ["enqueued", "dead-lettered"]
    assert json.loads(cli(settings.url, "dead", "show", job.id, "--json").stdout)[
        "record"]["status"] == "dead"


def test_show_of_an_id_that_is_not_dead_exits_3_and_says_so(settings, mixed) -> None:
    result = cli(settings.url, "dead", "show", "no-such-id")
    assert result.exit_code == 3
    assert "not in dead letters" in result.output


def test_requeue_by_id_resets_attempts_keeps_id_and_records_it(settings, store, mixed) -> None:
    result = cli(settings.url, "dead", "requeue", mixed["email"])
    assert result.exit_code == 0, result.output
    assert "requeued 1 job" in result.output
    assert ready_ids(store) == [mixed["email"]]
    assert mixed["email"] not in dead_ids(store)
    payload = decode(store.client.lindex(store.keys.ready("default"), 0))
    assert (payload.attempt, payload.crashes, payload.requeues) == (1, 0, 1)
    assert store.job_record("default", mixed["email"])["status"] == "queued"
    assert store.history("default", mixed["email"])[-1]["event"] == "requeued"


def test_requeue_by_filter_moves_exactly_the_matching_jobs(settings, store, mixed) -> None:
    result = cli(settings.url, "dead", "requeue", "--task", "charge_card", "--error", "declined")
    assert result.exit_code == 0, result.output
    assert sorted(ready_ids(store)) == sorted([mixed["old_charge"], mixed["new_charge"]])
    assert ready_ids(store, "billing") == [mixed["other_queue"]]
    assert sorted(dead_ids(store)) == sorted([mixed["charge_timeout"], mixed["email"]])


def test_dry_runs_change_nothing(settings, store, redis_client, mixed) -> None:
    before = snapshot(redis_client)
    for verb in ("requeue", "purge"):
        result = cli(settings.url, "dead", verb, "--all", "--dry-run")
        assert result.exit_code == 0, result.output
        assert f"would {verb} 5 jobs" in result.output
    assert cli(settings.url, "dead", "import", "--dry-run", input="").exit_code == 0
    assert snapshot(redis_client) == before


def test_bulk_commands_refuse_to_guess_what_to_move(settings, store, mixed) -> None:
    result = cli(settings.url, "dead", "requeue")
    assert result.exit_code == 2 and "--all" in result.output
    assert len(dead_ids(store)) == 4


def test_purge_without_yes_changes_nothing_unless_confirmed(settings, store, mixed) -> None:
    result = cli(settings.url, "dead", "purge", "--all", input="n\n")
    assert result.exit_code == 1  # declined
    assert "purged 0 jobs; 5 still dead (not confirmed)" in result.output
    assert len(dead_ids(store)) == 4 and dead_ids(store, "billing") == [mixed["other_queue"]]
    result = cli(settings.url, "dead", "purge", "--queue", "billing", input="y\n")
    assert result.exit_code == 0 and "purged 1 job" in result.output
    assert dead_ids(store, "billing") == []
    assert store.job_record("billing", mixed["other_queue"]) == {}
    assert store.history("billing", mixed["other_queue"]) == []


def test_purge_yes_by_id(settings, store, mixed) -> None:
    result = cli(settings.url, "dead", "purge", "--yes", mixed["email"])
    assert result.exit_code == 0 and "purged 1 job" in result.output
    assert mixed["email"] not in dead_ids(store)


def test_export_then_import_restores_jobs_elsewhere(settings, store, mixed, tmp_path,
                                                   redis_client) -> None:
    """Given an export, purging and importing brings back the same records and history."""
    path = tmp_path / "dead.jsonl"
    assert cli(settings.url, "dead", "export", "--all", "-o", str(path)).exit_code == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 5
    before = {k: store.job_record(json.loads(line)["queue"], json.loads(line)["id"])
              for k, line in zip(range(5), lines, strict=True)}
    assert cli(settings.url, "dead", "purge", "--all", "--yes").exit_code == 0
    assert dead_ids(store) == []
    result = cli(settings.url, "dead", "import", str(path))
    assert result.exit_code == 0 and "imported 5 of 5" in result.output, result.output
    assert listed(settings.url, "--limit", "0") == [mixed[k] for k in (
        "new_charge", "other_queue", "email", "charge_timeout", "old_charge")]
    for k, line in enumerate(lines):
        record = json.loads(line)
        assert store.job_record(record["queue"], record["id"]) == before[k]
        assert store.history(record["queue"], record["id"])[-1]["event"] == "imported"
    again = cli(settings.url, "dead", "import", str(path))
    assert "imported 0 of 5" in again.output and "is dead" in again.output


def test_import_of_a_bad_file_imports_nothing(settings, store, tmp_path) -> None:
    good = make_dead(store)
    path = tmp_path / "x.jsonl"
    assert cli(settings.url, "dead", "export", good, "-o", str(path)).exit_code == 0
    assert cli(settings.url, "dead", "purge", "--all", "--yes").exit_code == 0
    path.write_text(path.read_text() + "{not json\n")
    result = cli(settings.url, "dead", "import", str(path))
    assert result.exit_code == 3 and "line 2" in result.output
    assert dead_ids(store) == []


def test_import_never_overwrites_a_pending_job(settings, store, tmp_path) -> None:
    job_id = make_dead(store)
    path = tmp_path / "x.jsonl"
    cli(settings.url, "dead", "export", job_id, "-o", str(path))
    cli(settings.url, "dead", "requeue", job_id)
    result = cli(settings.url, "dead", "import", str(path))
    assert "imported 0 of 1" in result.output and "is queued" in result.output
    assert ready_ids(store) == [job_id] and dead_ids(store) == []


def test_killed_bulk_requeue_leaves_every_job_in_exactly_one_place(settings, store) -> None:
    """Given 60 dead jobs and a throttled requeue --all killed with SIGKILL half way, each id
    is either still dead or on the ready list, once; running it again finishes the move."""
    ids = {make_dead(store) for _ in range(60)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskq", "dead", "requeue", "--all", "--rate", "20/s",
         "--url", settings.url], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while store.client.zcard(store.keys.dead("default")) > 50:  # wait for progress
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    dead, ready = dead_ids(store), ready_ids(store)
    assert 0 < len(dead) < 60
    assert len(ready) == len(set(ready)) and not set(dead) & set(ready)
    assert set(dead) | set(ready) == ids
    assert cli(settings.url, "dead", "requeue", "--all").exit_code == 0
    assert sorted(ready_ids(store)) == sorted(ids) and dead_ids(store) == []


def test_rate_is_parsed_and_bad_rates_refused(settings, mixed) -> None:
    result = cli(settings.url, "dead", "requeue", "--all", "--rate", "fast")
    assert result.exit_code == 2 and "20/s" in result.output
    assert cli(settings.url, "dead", "requeue", "--all", "--rate", "6000/m").exit_code == 0


def test_deadletters_script_is_the_same_code(settings, mixed) -> None:
    env = {**os.environ, "TASKQ_REDIS_URL": settings.url or ""}
    done = subprocess.run([str(REPO / "scripts" / "deadletters"), "list", "--json"],
                          capture_output=True, text=True, env=env, timeout=60, check=True)
    assert {row["id"] for row in json.loads(done.stdout)} == set(mixed.values())
    missing = subprocess.run([str(REPO / "scripts" / "deadletters"), "show", "nope"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode == 3 and "not in dead letters" in missing.stderr


def test_requeue_skips_a_payload_that_does_not_decode_and_says_why(settings, store) -> None:
    """Given a foreign producer pushed bytes that are not a taskq payload and a worker
    dead-lettered them, requeue leaves them dead (they would die again) and purge works."""
    store.client.lpush(store.keys.ready("default"), b'{"id": "junk-1", "nonsense": true}')
    store.register("test:1:w", ["default"], {"host": "test"})
    (delivery,) = store.fetch("default", "test:1:w", 1)
    assert delivery.error is not None
    store.dead_letter(delivery, "dead-lettered", {"reason": "undecodable",
                                                  "error": str(delivery.error)})
    # No record holds these bytes: they die under an id derived from them, never "junk-1"
    (bad,) = dead_ids(store)
    assert bad.startswith("bad-")
    result = cli(settings.url, "dead", "requeue", bad)
    assert "requeued 0 jobs; 1 skipped" in result.output
    assert "does not decode" in result.output and dead_ids(store) == [bad]
    assert "payload (does not decode)" in cli(settings.url, "dead", "show", bad).output
    assert cli(settings.url, "dead", "purge", bad, "--yes").exit_code == 0
    assert dead_ids(store) == []


def test_export_then_import_on_the_same_server_explains_and_replace_round_trips(
        settings, store, mixed, tmp_path) -> None:
    """Given an export, importing it on the same server says why nothing was imported and
    offers --replace; --replace then overwrites the dead copies (never a pending job)."""
    path = tmp_path / "out" / "dead.jsonl"
    path.parent.mkdir()
    exported = cli(settings.url, "dead", "export", "--all", "-o", str(path))
    assert exported.exit_code == 0
    assert f"exported 5 jobs to {path}" in exported.output  # where the user said
    again = cli(settings.url, "dead", "import", str(path))
    assert "imported 0 of 5" in again.output
    assert "5 jobs are dead here already" in again.output and "--replace" in again.output
    assert again.output.count("not imported") == 5
    # When one of them was requeued meanwhile, --replace overwrites only the dead ones
    cli(settings.url, "dead", "requeue", mixed["email"])
    store.client.hset(store.keys.job("default", mixed["new_charge"]), "error", "edited here")
    replaced = cli(settings.url, "dead", "import", "--replace", str(path))
    assert "imported 4 of 5" in replaced.output, replaced.output
    assert f"{mixed['email']}: not imported, a job with this id is queued" in replaced.output
    assert store.job_record("default", mixed["new_charge"])["error"] != "edited here"
    assert store.history("default", mixed["new_charge"])[-1]["event"] == "imported"
    assert sorted(dead_ids(store)) == sorted(  # (dead_ids reads the default queue)
        v for k, v in mixed.items() if k not in ("email", "other_queue"))


def test_ctrl_c_during_a_throttled_requeue_reports_moved_and_remaining(settings, store) -> None:
    """Given 60 dead jobs and `requeue --all --rate 20/s` in a pipe, progress lines go to
    stderr; Ctrl-C stops between two moves and says how many moved and how many are left."""
    ids = {make_dead(store) for _ in range(60)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskq", "dead", "requeue", "--all", "--rate", "20/s",
         "--url", settings.url], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.monotonic() + 60
        while store.client.zcard(store.keys.dead("default")) > 45:  # wait for progress
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == 130, err
    assert "requeueing: 10/60" in err  # progress, though stderr is a pipe
    moved, left = len(ready_ids(store)), len(dead_ids(store))
    assert moved + left == 60 and 0 < left < 60
    assert f"requeued {moved} job" in out
    assert f"interrupted: {left} jobs not requeued, still dead" in err
    assert set(ready_ids(store)) | set(dead_ids(store)) == ids
