"""The dashboard in a real browser (headless Chromium): live counts, a dropped connection
resumed with nothing missed and nothing twice, hostile payloads shown as text, actions refused
without the token."""

from __future__ import annotations

from typing import Any

import pytest

from taskq.events import Cursor, EventFeed
from taskq.store import RedisStore
from tests import sample_tasks as t
from tests.browser.conftest import TOKEN, WebProcess
from tests.faults.conftest import wait_until
from tests.helpers import drain

HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


def js(browser: Any, code: str) -> Any:
    return browser.execute_script(code)


def open_page(browser: Any, url: str) -> None:
    browser.get(url)
    wait_until(lambda: js(browser, "return window.taskqState") == "live", "the page to go live")


def cell(browser: Any, queue: str, col: str) -> str:
    return str(js(browser, f"const c = document.querySelector('tr[data-queue=\"{queue}\"] "
                           f"td[data-col=\"{col}\"]'); return c ? c.textContent : null;"))


def test_counts_change_without_reloading(browser: Any, web: WebProcess, store: RedisStore
                                         ) -> None:
    open_page(browser, web.base)
    js(browser, "window.sameDocument = true")
    t.add.enqueue_many([(i, i) for i in range(5)])
    wait_until(lambda: cell(browser, "default", "ready") == "5", "ready count 5 on the page")
    t.add.enqueue_many([(i, i) for i in range(3)])
    wait_until(lambda: cell(browser, "default", "ready") == "8", "ready count 8 on the page")
    assert js(browser, "return window.sameDocument") is True  # no reload happened
    assert len(js(browser, "return window.taskqLog")) == 8


@pytest.mark.parametrize("transport", ["sse", "ws"])
def test_a_dropped_connection_resumes_with_nothing_missed_and_nothing_twice(
        browser: Any, web: WebProcess, worker: Any, store: RedisStore, transport: str) -> None:
    # Given the page following every queue while a worker runs jobs
    open_page(browser, f"{web.base}?transport={transport}")
    hello = js(browser, "return window.taskqFeed.cursor")
    jobs = [t.add.delay(i, i) for i in range(10)]
    wait_until(lambda: len(js(browser, "return window.taskqLog")) >= 10, "the first events")

    # When the web process dies mid-stream while jobs keep being enqueued and finishing
    web.kill()
    wait_until(lambda: js(browser, "return window.taskqState") == "reconnecting",
               "the page to notice the drop")
    jobs += [t.add.delay(i, i) for i in range(10, 30)]
    wait_until(lambda: all(store.job_record("default", j.id).get("status") == "done"
                           for j in jobs), "the jobs to finish while the page is away")
    web.start()  # same port, as a restarted process
    more = [t.add.delay(i, i) for i in range(30, 35)]
    wait_until(lambda: all(store.job_record("default", j.id).get("status") == "done"
                           for j in more), "the last jobs to finish")

    # Then the page's event log is the stream since it opened: each event once, in order
    expected = [e.id for e in _all_after(store, hello)]
    assert len(expected) == 35 * 3
    wait_until(lambda: len(js(browser, "return window.taskqLog")) >= len(expected),
               "the page to catch up")
    seen = [e["id"] for e in js(browser, "return window.taskqLog")]
    assert seen == expected
    assert js(browser, "return window.taskqResets.length") == 0


def _all_after(store: RedisStore, cursor_text: str) -> list[Any]:
    feed, cursor, out = EventFeed(store), Cursor.parse(cursor_text), []
    while batch := feed.read(cursor):
        out += batch
    return out


def test_a_hostile_payload_renders_as_text(browser: Any, web: WebProcess, store: RedisStore
                                           ) -> None:
    job = t.boom_once.delay(HOSTILE)
    drain(store)
    open_page(browser, f"{web.base}jobs/{job.id}")
    wait_until(lambda: "<script>" in (js(browser, "const a = document.getElementById('args');"
                                                  "return a && a.textContent") or ""),
               "the arguments shown")
    assert HOSTILE in js(browser, "return document.getElementById('traceback').textContent")
    open_page(browser, f"{web.base}dead")
    wait_until(lambda: HOSTILE in js(browser, "return document.getElementById('dead')"
                                              ".textContent"), "the dead letter listed")
    assert js(browser, "return window.pwned") is None
    assert js(browser, "return document.querySelectorAll('img').length") == 0
    assert js(browser, "return document.scripts.length") == 2  # the app's own two


def test_an_action_without_the_token_is_refused_and_with_it_goes_through(
        browser: Any, web: WebProcess, store: RedisStore) -> None:
    job = t.boom_once.delay("x")
    drain(store)

    def requeue_from_page() -> str:
        wait_until(lambda: js(browser, f"return !!document.querySelector("
                                       f"'tr[data-job=\"{job.id}\"] input')"), "the dead row")
        js(browser, f"document.querySelector('tr[data-job=\"{job.id}\"] input').click();"
                    "document.getElementById('requeue').click();")
        return str(wait_until(lambda: js(browser, "return document.getElementById('message')"
                                                  ".textContent"), "the action's answer"))

    open_page(browser, web.base)
    js(browser, "sessionStorage.clear()")
    open_page(browser, f"{web.base}dead")
    assert requeue_from_page().startswith("refused")
    assert store.job_record("default", job.id)["status"] == "dead"

    open_page(browser, f"{web.base}#token={TOKEN}")  # the link taskq web prints
    assert "token" not in browser.current_url
    open_page(browser, f"{web.base}dead")
    assert requeue_from_page() == f"{job.id}: requeued"
    assert store.job_record("default", job.id)["status"] == "queued"


def test_a_job_page_shows_its_story_and_progress_live(browser: Any, web: WebProcess,
                                                     store: RedisStore) -> None:
    job = t.add.delay(1, 2)
    open_page(browser, f"{web.base}jobs/{job.id}")
    store.set_progress("default", job.id, {"done": 40, "total": 100})
    wait_until(lambda: js(browser, "return document.getElementById('progress').value") == 40,
               "the progress bar at 40%")
    drain(store)
    wait_until(lambda: js(browser, "const s = document.querySelector('[data-field=status]');"
                                   "return s && s.textContent") == "done", "status done, live")
    events = [e["event"] for e in js(browser, "return window.taskqLog")]
    assert events == ["progress", "started", "succeeded"]
