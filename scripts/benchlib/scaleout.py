"""Scale-out: the same jobs over several queues, on one Redis node and on a 3-shard Cluster.

    python -m benchlib.scaleout '{"n": 12000, "queues": 6, "workers": 3}'   (cwd: scripts/)

Queues are named so that the Cluster's shards hold two each; each worker process serves the
queues of one shard (on the single node, the same queues). Jobs are enqueued first; the rate
is measured from the first job taken to the last burst worker's exit. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from taskq import Settings, configure  # noqa: E402
from taskq.connection import connect  # noqa: E402
from taskq.keys import Keys  # noqa: E402
from tests.servers import ClusterProcess, ServerProcess  # noqa: E402

KEYS = Keys()


def spread(cluster: ClusterProcess, per_shard: int) -> list[list[str]]:
    """Queue names grouped by the shard that holds them, `per_shard` on each."""
    groups: dict[int, list[str]] = {}
    for i in range(1000):
        name = f"s{i}"
        port = cluster.owner(KEYS.ready(name)).port
        if len(groups.setdefault(port, [])) < per_shard:
            groups[port].append(name)
    return list(groups.values())


def run(url: str, groups: list[list[str]], n: int) -> dict[str, Any]:
    from benchlib.scaleout_tasks import noop

    configure(Settings(url=url))
    queues = [q for group in groups for q in group]
    per_queue = n // len(queues)
    started = time.perf_counter()
    for q in queues:
        for i in range(0, per_queue, 1000):
            noop.enqueue_many([()] * min(1000, per_queue - i), queue=q)
    enqueue_s = time.perf_counter() - started
    client = connect(Settings(url=url))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts"), "TASKQ_REDIS_URL": url}
    workers = [subprocess.Popen(
        [sys.executable, "-m", "taskq", "worker", "benchlib.scaleout_tasks", "-c", "1",
         "--burst", "--log-level", "warning", *(a for q in group for a in ("-q", q))],
        cwd=ROOT / "scripts", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for group in groups]
    total = per_queue * len(queues)
    while sum(client.llen(KEYS.ready(q)) for q in queues) >= total:
        time.sleep(0.005)
    first = time.perf_counter()
    for w in workers:
        w.wait(600)
    took = time.perf_counter() - first
    client.close()
    configure(None)
    return {"jobs": total, "queues": len(queues), "workers": len(workers),
            "enqueue_per_s": round(total / enqueue_s), "jobs_per_s": round(total / took),
            "seconds": round(took, 2)}


def main() -> None:
    params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    n, per_shard = int(params.get("n", 12000)), int(params.get("per_shard", 2))
    folder = Path(tempfile.mkdtemp(prefix="taskq-scaleout-"))
    cluster = ClusterProcess(folder / "cluster", replicas_per_master=0).start()
    try:
        groups = spread(cluster, per_shard)
        sharded = run(cluster.url, groups, n)
    finally:
        cluster.stop()
    single = ServerProcess(folder / "single").start()
    try:
        one = run(single.url, groups, n)
    finally:
        single.stop()
    print(json.dumps({"one_node": one, "three_shards": sharded,
                      "gain": round(sharded["jobs_per_s"] / max(1, one["jobs_per_s"]), 2)}))


if __name__ == "__main__":
    main()
