"""Run by Django's own test runner (python -m django test shop) against SQLite, with real
commits (TransactionTestCase), a real Redis, and a real `manage.py taskq worker`."""

import os
import subprocess
import sys

from django.db import transaction
from django.test import TransactionTestCase

import taskq
from shop.models import Order
from taskq.producer import default_store
from taskq.task import registered_tasks


def ready_count() -> int:
    store = default_store()
    return int(store.client.llen(store.keys.ready("default")))


def run_worker() -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "django", "taskq", "worker", "--burst",
                           "-c", "1"], env=os.environ, capture_output=True, text=True,
                          timeout=120)


class OnCommitTests(TransactionTestCase):
    def setUp(self) -> None:
        store = default_store()
        for key in store.client.scan_iter("shop:*"):
            store.client.delete(key)

    def test_settings_come_from_django_and_tasks_are_discovered(self) -> None:
        store = default_store()
        self.assertEqual(store.settings.prefix, "shop")
        self.assertEqual(store.settings.result_ttl, 600)
        self.assertEqual(store.settings.url, os.environ["SHOP_REDIS_URL"])
        self.assertIn("shop.tasks.ship", registered_tasks())

    def test_delay_on_commit_sends_only_when_the_transaction_commits(self) -> None:
        from shop.tasks import ship

        with transaction.atomic():
            order = Order.objects.create(item="teapot")
            job = ship.delay_on_commit(order.id)
            self.assertEqual(ready_count(), 0)  # not yet: the row is not committed
        self.assertEqual(ready_count(), 1)
        done = run_worker()
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(job.result(timeout=30), "teapot")
        order.refresh_from_db()
        self.assertTrue(order.shipped)

    def test_a_rolled_back_transaction_sends_nothing(self) -> None:
        from shop.tasks import ship

        with self.assertRaises(RuntimeError), transaction.atomic():
            order = Order.objects.create(item="kettle")
            job = ship.enqueue(args=[order.id], on_commit=True)
            raise RuntimeError("payment failed")
        self.assertEqual(ready_count(), 0)
        with self.assertRaises(taskq.JobNotFoundError):
            job.status()

    def test_bad_arguments_are_refused_at_once_inside_the_transaction(self) -> None:
        from shop.tasks import ship

        with self.assertRaises(taskq.BadArgumentsError), transaction.atomic():
            ship.delay_on_commit()  # type: ignore[call-arg]

    def test_outside_a_transaction_it_is_sent_at_once(self) -> None:
        from shop.tasks import ship

        ship.delay_on_commit(1)
        self.assertEqual(ready_count(), 1)
