"""Example tasks: what a web app hands to taskq. Run with `taskq worker workers.example`."""

from __future__ import annotations

import hashlib
import time

from taskq import Backoff, task


@task
def add(a: int, b: int) -> int:
    """The smallest useful task."""
    return a + b


@task(queue="default", retries=2, timeout=30)
def resize_image(name: str, width: int, height: int) -> dict[str, object]:
    """Stands in for slow CPU work: returns what a thumbnail service would."""
    digest = hashlib.sha256(f"{name}:{width}x{height}".encode()).hexdigest()[:12]
    time.sleep(0.05)
    return {"name": name, "size": [width, height], "etag": digest}


@task(retries=1, backoff=Backoff(initial=0.2, maximum=1.0, jitter=0.1))
def charge_card(order_id: str, amount_cents: int) -> str:
    """Always fails: the payment provider refuses the card. Ends in dead letters."""
    raise RuntimeError(f"card declined for order {order_id} ({amount_cents} cents)")


@task
def send_welcome_email(address: str, name: str = "there") -> str:
    """Stands in for I/O-bound work."""
    time.sleep(0.02)
    return f"sent welcome to {name} <{address}>"
