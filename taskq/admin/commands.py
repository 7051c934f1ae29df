"""Admin commands added to the `taskq` group."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Attach the admin commands to the main group."""
