"""Prometheus metrics: per-queue depth, scheduled, active, dead, done and failed in the last
minute, oldest ready age, and workers; read on each scrape through the admin read views
(`taskq.admin.inspect`), a fixed number of round trips whatever the number of queues.

Mounted at /metrics by `taskq web`, or in your own app: `metrics_app(store)` is an ASGI app,
and `TaskqCollector(store)` registers in any prometheus_client registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from taskq.admin import inspect
from taskq.store import RedisStore

PER_QUEUE = (
    ("taskq_queue_ready", "Jobs waiting in the ready list (the queue's depth).", "ready"),
    ("taskq_queue_scheduled", "Jobs scheduled for later (delays and retries).", "scheduled"),
    ("taskq_queue_active", "Jobs being run now.", "active"),
    ("taskq_queue_dead", "Jobs in the dead letters.", "dead"),
    ("taskq_queue_workers", "Workers holding a live lease on the queue.", "workers"),
    ("taskq_queue_done_last_minute", "Jobs that succeeded in the last 60 s.",
     "done_last_minute"),
    ("taskq_queue_failed_last_minute", "Job attempts that failed in the last 60 s.",
     "failed_last_minute"),
    ("taskq_queue_oldest_ready_age_seconds",
     "How long the next job to run has waited (0 when none is ready).", "oldest_ready_age"),
)


class TaskqCollector:
    """Reads taskq's state on each scrape (never writes)."""

    def __init__(self, store: RedisStore, queues: tuple[str, ...] = ()) -> None:
        self.store = store
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        rows = inspect.queue_stats(self.store, inspect.queue_names(self.store, self.queues))
        for name, doc, attr in PER_QUEUE:
            family = GaugeMetricFamily(name, doc, labels=["queue"])
            for row in rows:
                family.add_metric([row.queue], float(getattr(row, attr) or 0))
            yield family
        alive = GaugeMetricFamily("taskq_workers", "Worker processes with a live lease.")
        alive.add_metric([], float(len(inspect.workers(self.store))))
        yield alive


def registry_for(store: RedisStore, queues: tuple[str, ...] = ()) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TaskqCollector(store, queues))  # type: ignore[arg-type]
    return registry


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def metrics_app(store: RedisStore, queues: tuple[str, ...] = ()) -> Any:
    """An ASGI app serving the metrics (the scrape's reads run in a thread)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    registry = registry_for(store, queues)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body, content_type = await run_in_threadpool(render, registry)
        await Response(body, media_type=content_type)(scope, receive, send)
    return app
