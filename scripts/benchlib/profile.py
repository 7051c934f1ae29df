"""Where taskq's time goes: py-spy on a worker draining no-op jobs, pyinstrument on enqueue.

Runs in the taskq venv (py-spy and pyinstrument are installed there). Writes to
.bench/profiles/: worker-raw.txt (collapsed stacks, all processes), worker-top.txt (functions
by self and inclusive share), enqueue.txt and enqueue-bulk.txt (pyinstrument trees).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1]


def profile_taskq(url: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    from benchlib.env import python

    envs = {**os.environ, "BENCH_REDIS_URL": url, "PYTHONPATH": str(SCRIPTS)}
    subprocess.run([str(python("taskq")), "-m", "benchlib.profile", str(out)], cwd=SCRIPTS,
                   env=envs, check=True, timeout=300)


def summarize_raw(raw: Path, top: int = 40) -> str:
    """Collapsed stacks -> share of samples by leaf function (self) and by any frame."""
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/")[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]
        if frames and frames[0].startswith("process"):
            frames = frames[1:]
        total += count
        if frames:
            self_counts[frames[-1]] += count
        for f in set(frames):
            incl_counts[f] += count
    lines = [f"{total} samples", "", "self %   function"]
    lines += [f"{100 * c / total:6.1f}   {f}" for f, c in self_counts.most_common(top)]
    lines += ["", "inclusive %   function"]
    lines += [f"{100 * c / total:6.1f}   {f}" for f, c in incl_counts.most_common(top)]
    return "\n".join(lines)


def worker(out: Path, n: int = 30000) -> None:
    import redis

    from benchlib.peers import bin_path
    from benchlib.peers.taskq_peer import Adapter, noop

    adapter = Adapter(os.environ["BENCH_REDIS_URL"])
    r = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    r.flushall()
    for _ in range(0, n, 1000):
        noop.enqueue_many([() for _ in range(1000)])
    argv = [bin_path("taskq"), "worker", "benchlib.peers.taskq_peer", "--url", adapter.url,
            "--log-level", "warning", "-c", "1"]
    raw = out / "worker-raw.txt"
    spy = subprocess.Popen([bin_path("py-spy"), "record", "--subprocesses", "--format", "raw",
                            "--rate", "1000", "--nonblocking", "-o", str(raw), "--", *argv],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    deadline = time.monotonic() + 120
    while r.llen("taskq:{default}:ready") and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(spy.pid, signal.SIGINT)
    spy.wait(timeout=30)
    (out / "worker-top.txt").write_text(summarize_raw(raw))
    adapter.close()


def enqueue(out: Path, n: int = 5000) -> None:
    from pyinstrument import Profiler

    from benchlib.peers.taskq_peer import Adapter, noop

    adapter = Adapter(os.environ["BENCH_REDIS_URL"])
    noop.delay()
    for name, run in (("enqueue", lambda: [noop.delay() for _ in range(n)]),
                      ("enqueue-bulk", lambda: [noop.enqueue_many([() for _ in range(1000)])
                                                for _ in range(n * 4 // 1000)])):
        profiler = Profiler(interval=0.0002)
        profiler.start()
        run()
        profiler.stop()
        (out / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False,
                                                              show_all=False))
    adapter.close()


if __name__ == "__main__":
    target = Path(sys.argv[1])
    enqueue(target)
    worker(target)
    print(json.dumps({"profiles": str(target)}))
