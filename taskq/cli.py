"""`taskq`, the command line: the console script and `python -m taskq` call `main()`.

`taskq worker ...` whose arguments parse plainly runs without click (taskq.worker.start): a
worker process then holds neither click nor the operating commands. Everything else (every
other command, --help, any usage error, `main.main(args=...)` as click's test runner and the
Django command call it) goes to the click group in taskq.commands, imported on first use;
`main` stands for that group in every other respect.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from taskq.worker.start import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEM, EXIT_USAGE

__all__ = ["EXIT_CONFIG", "EXIT_OK", "EXIT_PROBLEM", "EXIT_USAGE", "main", "settings_from"]


class _Main:
    """Called without arguments (the console script, `python -m taskq`), it reads sys.argv:
    a plain `worker` command line runs at once; anything else, and every attribute, is the
    click group's."""

    def __call__(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        if args is None and sys.argv[1:2] == ["worker"] and not extra:
            from taskq.worker.start import lean_main

            code = lean_main(sys.argv[2:])
            if code is not None:
                sys.exit(code)
        return _group()(args=args, prog_name=prog_name, **extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(_group(), name)


def _group() -> Any:
    from taskq.commands import main as group

    return group


if TYPE_CHECKING:
    from taskq.commands import main, settings_from
else:
    main = _Main()

    def __getattr__(name: str) -> Any:
        """What this module held before the click commands moved to taskq.commands
        (settings_from, TaskqGroup, import_modules, ...), imported on first use."""
        if name.startswith("__"):  # introspection (__path__, __wrapped__, ...) finds none
            raise AttributeError(f"module 'taskq.cli' has no attribute {name!r}")
        import taskq.commands

        try:
            return getattr(taskq.commands, name)
        except AttributeError:
            raise AttributeError(f"module 'taskq.cli' has no attribute {name!r}") from None
