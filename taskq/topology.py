"""What differs when the client is a Cluster's: which node serves a key, and the list of
nodes. On one server (or a Sentinel's master) every answer is that one server.

A queue's keys share one hash tag, so one node serves all of them: the scripts run there,
its clock judges the queue's leases, and a command sent on a raw connection (a pending
claim) must go to it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any


def is_cluster(client: Any) -> bool:
    """A Cluster's client (or pipeline): redis-py's, so there is none before it is imported."""
    cluster = sys.modules.get("redis.cluster")
    return cluster is not None and isinstance(client, cluster.RedisCluster)


def node_name(client: Any, key: str | None) -> str:
    """A name for the node serving `key` ("" on one server): what per-node caches key on."""
    if key is None or not is_cluster(client):
        return ""
    return str(client.get_node_from_key(key).name)


def server_time(client: Any, key: str | None) -> tuple[int, int]:
    """TIME on the node that serves `key` (any node when None, or on one server)."""
    if key is not None and is_cluster(client):
        reply = client.time(target_nodes=client.get_node_from_key(key))
    else:
        reply = client.time()
    return int(reply[0]), int(reply[1])


@dataclass(frozen=True)
class Node:
    name: str
    role: str  # "primary" or "replica"
    client: Any  # a plain redis.Redis for this node alone


def nodes(client: Any) -> list[Node]:
    """Every node of a Cluster (primaries first); one unnamed primary otherwise."""
    if not is_cluster(client):
        return [Node("", "primary", client)]
    found = [Node(n.name, "primary" if n.server_type == "primary" else "replica",
                  client.get_redis_connection(n)) for n in client.get_nodes()]
    return sorted(found, key=lambda n: (n.role != "primary", n.name))
