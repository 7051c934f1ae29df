"""Loads the Lua scripts shipped in taskq/lua and calls them by SHA.

The SHA is computed locally, so no round trip is spent at start; a NOSCRIPT reply (new or
restarted server) loads the script once and repeats the call, which is safe because a script
that was not found did not run.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from redis import Redis
from redis.exceptions import NoScriptError

SCRIPT_NAMES = (
    "enqueue", "fetch", "ack", "retry", "dead", "recover", "promote", "requeue_dead", "purge_dead",
    "import_dead", "claim", "watch",
)


# Scripts that run other transitions' bodies as functions, so that their logic is written
# once: name -> the scripts it calls.
COMPOSITES = {"ack_fetch": ("ack", "fetch"), "enqueue_many": ("enqueue",)}


def script_source(name: str) -> str:
    text = resources.files("taskq").joinpath("lua", f"{name}.lua").read_text()
    parts = [f"local function {part}(KEYS, ARGV)\n{script_source(part)}\nend\n"
             for part in COMPOSITES.get(name, ())]
    return "".join(parts) + text


class Scripts:
    def __init__(self) -> None:
        self.source = {name: script_source(name) for name in (*SCRIPT_NAMES, *COMPOSITES)}
        self.sha = {n: hashlib.sha1(s.encode()).hexdigest() for n, s in self.source.items()}

    def call(self, client: Redis, name: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return client.evalsha(self.sha[name], len(keys), *keys, *args)
        except NoScriptError:
            self.load(client, name)
            return client.evalsha(self.sha[name], len(keys), *keys, *args)

    def queue(self, pipe: Any, name: str, keys: list[str], args: list[Any]) -> None:
        """Add a call to a pipeline; run it with `run_pipeline` to survive NOSCRIPT."""
        pipe.evalsha(self.sha[name], len(keys), *keys, *args)

    def load(self, client: Redis, name: str) -> None:
        client.script_load(self.source[name])

    def load_all(self, client: Redis) -> None:
        pipe = client.pipeline(transaction=False)
        for source in self.source.values():
            pipe.script_load(source)
        pipe.execute()

    def run_pipeline(self, client: Redis, pipe: Any, raise_on_error: bool = True) -> list[Any]:
        """Execute a non-transactional pipeline; on NOSCRIPT load every script and rerun
        only the commands that failed with it (they did not run). With `raise_on_error`
        False, errors are returned in place, so the replies of the others are not lost."""
        commands = list(pipe.command_stack)
        results = pipe.execute(raise_on_error=False)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            self.load_all(client)
            retry = client.pipeline(transaction=False)
            for i in missing:
                args, options = commands[i]
                retry.execute_command(*args, **options)
            for i, result in zip(missing, retry.execute(raise_on_error=False), strict=True):
                results[i] = result
        for result in results:
            if isinstance(result, Exception) and raise_on_error:
                raise result
        return results
