"""pytest plugin, registered through the `pytest11` entry point `taskq`: fixtures without
imports. Loading it imports nothing but pytest, so a project without fakeredis installed is
not affected until it asks for a fixture (then it is told what to install).
Disable it with `-p no:taskq`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from taskq.testing import InMemoryBackend


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("taskq_eager", type="bool", default=False,
                  help="taskq: make the taskq_backend fixture eager (.delay() runs at once)")


@pytest.fixture
def taskq_backend(request: pytest.FixtureRequest) -> Iterator[InMemoryBackend]:
    """A fresh in-memory backend, installed for the test: `.delay()` lands in it, and
    `taskq_backend.drain()` runs what is queued. Eager when the ini says `taskq_eager = true`."""
    from taskq.testing import InMemoryBackend

    with InMemoryBackend(eager=bool(request.config.getini("taskq_eager"))) as backend:
        yield backend


@pytest.fixture
def taskq_eager(taskq_backend: InMemoryBackend) -> Iterator[InMemoryBackend]:
    """taskq_backend in eager mode: `.delay()` runs the task at once and returns a finished
    handle; an exception that kills the job is raised in the caller."""
    taskq_backend.eager = True
    yield taskq_backend
