"""The only code that talks to Redis about queue state, split by concern:

- `base`: client, scripts, server clock, error translation;
- `transitions`: enqueue, fetch, claim, ack, retry, dead-letter, promote;
- `leases`: worker membership and recovery of dead workers' jobs;
- `reads`: job records, history, result waits;
- `limits`: admission under rate and concurrency limits, permits;
- `workflows`: jobs waiting for parents, links, resolution;
- `progress`: progress and metadata a running job writes onto its record.
- `routing`: which tasks live workers know, and handing back a job this worker cannot run.
- `control`: cancel, close (expired, cancelled), unique/idempotent enqueue, periodic tick.

Every transition is one Lua script (or one command) so that a job id sits in exactly one
place at every instant: ready list, a worker's active list, scheduled set, or dead set.
"""

from __future__ import annotations

from taskq.records import Delivery, Release, field_value, flat, history_entry
from taskq.store.base import StoreBase, now_ms, translate_errors
from taskq.store.control import Control
from taskq.store.deadletters import DeadLetterMoves
from taskq.store.leases import Leases
from taskq.store.limits import Limits
from taskq.store.progress import Progress
from taskq.store.reads import Reads
from taskq.store.routing import Routing
from taskq.store.transitions import Transitions
from taskq.store.workflows import Workflows


class RedisStore(Transitions, Leases, Reads, Progress, Limits, Workflows, Routing, Control,
                 DeadLetterMoves):
    """One connection's view of taskq's state: every transition and read, as methods."""


__all__ = ["Delivery", "RedisStore", "Release", "StoreBase", "field_value",
           "flat", "history_entry", "now_ms", "translate_errors"]
