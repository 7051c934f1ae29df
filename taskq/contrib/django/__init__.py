"""taskq for Django: add "taskq.contrib.django" to INSTALLED_APPS.

- Settings come from Django's settings: `TASKQ = {"url": "redis://...", "prefix": ...}` (any
  field of taskq.Settings, lower case; without TASKQ, the environment as usual).
- Task modules are discovered: each installed app's `tasks` module is imported when Django
  starts (`TASKQ = {"task_modules": "jobs"}` picks another name).
- `task.delay_on_commit(...)` / `task.enqueue(..., on_commit=True)` send the job only when the
  current database transaction commits (Django's `transaction.on_commit`).
- `python manage.py taskq worker` runs a worker for the discovered task modules, with the
  project's settings (every other `taskq` command works the same way).
"""

from __future__ import annotations

from taskq.contrib.django.config import discover_task_modules, settings_from_django

__all__ = ["discover_task_modules", "settings_from_django"]
