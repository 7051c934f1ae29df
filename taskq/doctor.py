"""Checks on the server taskq is pointed at, each with a plain verdict and a fix.

Levels: "ok"; "warn" (works, but slower or riskier than it should be); "problem" (can lose
jobs or stop taskq from working: `taskq doctor` exits non-zero). The facts come from one
pipeline (INFO plus a few CONFIG GETs), so the worker can afford the same checks at start.
CONFIG is often disabled on managed Redis; every fact that needs it degrades to "unknown",
and INFO (always allowed) carries most of what matters.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from taskq import rediserrors
from taskq.config import Settings
from taskq.keys import Keys
from taskq.log import get_logger
from taskq.scripting import Scripts
from taskq.topology import Node, is_cluster, nodes

OK, WARN, PROBLEM = "ok", "warn", "problem"
MIN_BLMOVE = (6, 2)
SLOW_RTT_MS = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    level: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Facts:
    """What the server says about itself. None: it would not say (CONFIG disabled)."""

    info: dict[str, Any]
    config: dict[str, str | None]


CONFIG_NAMES = ("save", "appendfsync", "maxmemory-policy")


def gather(client: Any) -> Facts:
    """One round trip: INFO and the CONFIG values INFO does not carry."""
    pipe = client.pipeline(transaction=False)
    pipe.info()
    for name in CONFIG_NAMES:
        pipe.config_get(name)
    info, *configs = pipe.execute(raise_on_error=False)
    if isinstance(info, Exception):
        raise info
    config: dict[str, str | None] = {}
    for name, reply in zip(CONFIG_NAMES, configs, strict=True):
        config[name] = None if isinstance(reply, Exception) else _config_value(reply, name)
    return Facts(info, config)


def _config_value(reply: Any, name: str) -> str | None:
    if isinstance(reply, dict) and name in reply:
        value = reply[name]
        return value.decode() if isinstance(value, bytes) else str(value)
    return None


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


def evaluate(facts: Facts) -> list[Check]:
    """The verdicts that follow from the facts alone (no further round trips)."""
    return [check_version(facts), check_eviction(facts), check_persistence(facts),
            check_role(facts), check_cluster(facts)]


def check_version(facts: Facts) -> Check:
    info = facts.info
    version = str(info.get("redis_version", "?"))
    name = f"Valkey {info['valkey_version']}" if info.get("valkey_version") else f"Redis {version}"
    if version_tuple(version) >= MIN_BLMOVE:
        return Check("server", OK, f"{name} (BLMOVE available)")
    return Check("server", WARN, f"{name}: older than 6.2, no BLMOVE; taskq falls back to "
                 "BRPOPLPUSH, which works but is deprecated",
                 "upgrade to Redis >= 6.2 or Valkey")


def check_eviction(facts: Facts) -> Check:
    policy = facts.info.get("maxmemory_policy") or facts.config.get("maxmemory-policy")
    if policy is None:
        return Check("maxmemory-policy", WARN, "unknown (neither INFO nor CONFIG tells)",
                     "make sure the server's eviction policy is noeviction")
    if policy == "noeviction":
        return Check("maxmemory-policy", OK, "noeviction: a full server refuses writes "
                     "loudly instead of dropping keys")
    return Check("maxmemory-policy", PROBLEM,
                 f"{policy}: when memory fills up Redis silently deletes keys, which can be "
                 "queued jobs or their records",
                 "CONFIG SET maxmemory-policy noeviction (and put it in redis.conf, or your "
                 "provider's parameter group), or give taskq a Redis of its own")


def check_persistence(facts: Facts) -> Check:
    aof = str(facts.info.get("aof_enabled", "")) == "1"
    save, fsync = facts.config.get("save"), facts.config.get("appendfsync")
    if aof:
        if fsync == "no":
            return Check("persistence", WARN, "AOF on with appendfsync no: the OS decides when "
                         "to write, a crash can lose tens of seconds of jobs",
                         "CONFIG SET appendfsync everysec")
        return Check("persistence", OK, f"AOF on (appendfsync {fsync or 'unknown'}): a restart "
                     "keeps queued jobs; with everysec about a second is at risk")
    if save is None:
        return Check("persistence", WARN, "AOF is off and the RDB snapshot settings cannot be "
                     "read (CONFIG is disabled, as on many managed services)",
                     "check your provider's persistence settings; taskq wants AOF everysec")
    if save.strip():
        return Check("persistence", WARN, f"RDB snapshots only (save {save}): a crash loses "
                     "every job queued since the last snapshot",
                     "CONFIG SET appendonly yes (and appendonly yes in redis.conf)")
    return Check("persistence", PROBLEM, "AOF and RDB are both off: a restart of the server "
                 "loses every queued job",
                 "CONFIG SET appendonly yes, and appendonly yes in redis.conf so it stays on")


def check_role(facts: Facts) -> Check:
    role = facts.info.get("role", "master")
    if role in ("master", "primary"):
        return Check("role", OK, "primary: accepts writes")
    return Check("role", PROBLEM, f"{role}: a replica refuses the writes every job needs",
                 "point taskq at the primary (or the provider's primary endpoint)")


def check_cluster(facts: Facts) -> Check:
    if str(facts.info.get("cluster_enabled", "0")) != "1":
        return Check("cluster", OK, "standalone")
    return Check("cluster", PROBLEM, "this server is a Cluster node, but the URL names one "
                 "server: commands for keys on other nodes fail with MOVED",
                 "use a redis+cluster://host:port[,host:port] URL")


def check_latency(client: Any, pings: int = 5) -> Check:
    samples = []
    for _ in range(pings):
        start = time.perf_counter()
        client.ping()
        samples.append((time.perf_counter() - start) * 1000)
    import statistics  # here: decimal and fractions with it, which a worker never needs

    rtt = statistics.median(samples)
    detail = f"median round trip {rtt:.2f} ms over {pings} PINGs"
    if rtt < SLOW_RTT_MS:
        return Check("latency", OK, detail)
    return Check("latency", WARN, f"{detail}: each job costs about two round trips, so one "
                 f"worker thread tops out near {1000 / (2 * rtt):.0f} jobs/s",
                 "run workers closer to Redis, or use more threads/processes")


def check_scripts(client: Any) -> Check:
    scripts = Scripts()
    try:
        client.eval("return 1", 0)
        loaded = client.script_exists(*scripts.sha.values())
    except rediserrors.ResponseError as exc:
        return Check("lua", PROBLEM, f"the server refuses Lua scripts: {exc}",
                     "taskq needs EVAL/EVALSHA; allow scripting for taskq's user (ACL +@scripting)")
    count = sum(bool(x) for x in loaded)
    note = "" if count == len(loaded) else "; the rest load on first use"
    return Check("lua", OK, f"scripting works; {count} of {len(loaded)} taskq scripts "
                 f"loaded{note}")


def examine(client: Any) -> list[Check]:
    """The checks that follow from INFO and CONFIG: of the server, or of every node of a
    Cluster (one verdict per check, the worst node's, naming the nodes that are not ok)."""
    if not is_cluster(client):
        return evaluate(gather(client))
    found = [(node, gather(node.client)) for node in nodes(client)]
    per_check: dict[str, list[tuple[str, Check]]] = {}
    for node, facts in found:
        checks = [check_version(facts), check_eviction(facts), check_persistence(facts)]
        if node.role == "primary":
            checks.append(check_role(facts))
        for check in checks:
            per_check.setdefault(check.name, []).append((node.name, check))
    merged = [_merge(name, rows) for name, rows in per_check.items()]
    return [*merged, check_replicas(found)]


_RANK = {OK: 0, WARN: 1, PROBLEM: 2}


def _merge(name: str, rows: list[tuple[str, Check]]) -> Check:
    worst = max(rows, key=lambda row: _RANK[row[1].level])[1]
    if worst.level == OK:
        return Check(name, OK, f"every node ({len(rows)}): {rows[0][1].detail}")
    bad = [node for node, check in rows if check.level == worst.level]
    return Check(name, worst.level, f"{', '.join(bad)}: {worst.detail}", worst.fix)


def check_replicas(found: list[tuple[Node, Facts]]) -> Check:
    """A Cluster's primaries each want a replica: without one, a primary's failure stops
    its queues until it is back (and loses what it had not written to disk)."""
    primaries = [(node, facts) for node, facts in found if node.role == "primary"]
    alone = [node.name for node, facts in primaries
             if int(facts.info.get("connected_slaves", 0) or 0) < 1]
    summary = f"Cluster of {len(primaries)} primaries and {len(found) - len(primaries)} replicas"
    if not alone:
        return Check("cluster", OK, f"{summary}; every primary has a replica to fail over to")
    return Check("cluster", WARN, f"{summary}; without a replica: {', '.join(alone)}. If one "
                 "of these fails, the queues whose hash tags it holds stop until it is back",
                 "add a replica to each primary (CLUSTER REPLICATE on a new node)")


def check_dead_letters(settings: Settings, client: Any) -> Check:
    """How close each queue's dead letters are to the retention cap (the oldest are deleted
    past it, so a queue at the cap is losing its oldest dead jobs' details)."""
    keys = Keys(settings.prefix)
    try:
        queues = sorted(q.decode() for q in client.smembers(keys.queues()))
        pipe = client.pipeline(transaction=False)
        for q in queues:
            pipe.zcard(keys.dead(q))
        counts = dict(zip(queues, pipe.execute(), strict=True))
    except rediserrors.RedisError as exc:  # a plain URL to one Cluster node, say (MOVED)
        return Check("dead letters", WARN, f"could not count them: {exc}")
    cap = settings.dead_max
    fullest = max(counts.items(), key=lambda kv: kv[1], default=("", 0))
    detail = (f"fullest: {fullest[0]} with {fullest[1]:,} of {cap:,} ({fullest[1] / cap:.0%}); "
              f"kept at most {settings.dead_max_age / 86400:g} days") if queues else \
        f"no queues yet; retention keeps {cap:,} dead jobs per queue"
    near = [q for q, n in counts.items() if n >= 0.9 * cap]
    if near:
        return Check("dead letters", WARN, f"{', '.join(near)} at 90% or more of the cap; "
                     f"{detail}", "requeue or purge them (taskq dead ...), or raise "
                     "TASKQ_DEAD_MAX; past the cap the oldest are deleted")
    return Check("dead letters", OK, detail)


def run_doctor(settings: Settings, client: Any) -> list[Check]:
    """Every check, for `taskq doctor`. An unreachable server is itself the finding."""
    try:
        checks = examine(client)
    except rediserrors.Unreachable as exc:
        return [Check("server", PROBLEM, f"cannot reach {settings.safe_url}: {exc}",
                      "start the server, or fix --url / TASKQ_REDIS_URL")]
    except rediserrors.AuthenticationError as exc:
        return [Check("server", PROBLEM, f"{settings.safe_url} refused the login: {exc}",
                      "check the user name and password in the URL")]
    except rediserrors.ResponseError as exc:
        return [Check("server", PROBLEM, f"{settings.safe_url} refused INFO: {exc}",
                      "taskq's user needs INFO (ACL +info)")]
    return [*checks, check_latency(client), check_scripts(client),
            check_dead_letters(settings, client)]


def problems(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.level == PROBLEM]


def warn_at_start(settings: Settings) -> None:
    """Log a warning for each problem the doctor would report. One round trip, and it never
    stops a worker from starting: any error here is logged and ignored."""
    from taskq.connection import connect

    log = get_logger()
    try:
        client = connect(settings)
        try:
            checks = examine(client)
        finally:
            client.close()
    except rediserrors.Unreachable as exc:
        log.error("redis-unreachable", url=settings.safe_url, error=str(exc),
                  detail=f"no Redis answers at {settings.safe_url}; start it or fix --url / "
                  "TASKQ_REDIS_URL. The worker keeps retrying with backoff until it answers")
        return
    except Exception as exc:  # a check must never be the reason a worker does not start
        log.warning("doctor-skipped", error=str(exc), url=settings.safe_url)
        return
    for check in checks:
        if check.level != OK:
            log.warning("doctor-" + check.level, check=check.name, detail=check.detail,
                        fix=check.fix, url=settings.safe_url)
