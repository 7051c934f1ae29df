"""The Django app: configures taskq from Django's settings when Django starts."""

from __future__ import annotations

from django.apps import AppConfig


class TaskqConfig(AppConfig):
    name = "taskq.contrib.django"
    label = "taskq"
    verbose_name = "taskq"
    task_modules: list[str] = []  # what discovery imported, for `manage.py taskq worker`

    def ready(self) -> None:
        from django.db import transaction

        import taskq
        from taskq import oncommit
        from taskq.contrib.django.config import discover_task_modules, settings_from_django

        taskq.configure(settings_from_django())
        oncommit.register(lambda send: transaction.on_commit(send))
        TaskqConfig.task_modules = discover_task_modules()
