"""`python manage.py taskq ...`: taskq's own command line, with the project's settings.

`manage.py taskq worker` serves the task modules discovered in the installed apps (name more
to add them); every other command (`stats`, `dead list`, ...) works as `taskq ...` does.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "taskq's command line with this project's settings: worker, stats, dead, ..."

    def run_from_argv(self, argv: list[str]) -> None:
        # taskq parses its own arguments (click); Django's parser would refuse them.
        from django.db import connections

        from taskq.cli import main
        from taskq.contrib.django.apps import TaskqConfig
        from taskq.contrib.django.config import settings_from_django

        args = list(argv[2:])
        if args[:1] == ["worker"]:
            args += TaskqConfig.task_modules  # the discovered modules, after the user's
            connections.close_all()  # children fork: none may share the parent's connection
        program = os.path.basename(argv[0])
        program = "python -m django" if program == "__main__.py" else program
        main(args=args, prog_name=f"{program} {argv[1]}", obj=settings_from_django())

    def handle(self, *args: Any, **options: Any) -> None:  # pragma: no cover - see above
        self.run_from_argv(["manage.py", "taskq", *args])
