"""README and docs say what is true: the examples pass the project's own ruff where README says
to save them, the Layout names every folder, docs/operating.md's doctor sample is real output,
and what README says setup puts on PATH is there."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import redis

from taskq.scripting import Scripts
from tests.servers import ServerProcess

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_block(text: str, first_line: str) -> str:
    """The fenced code block whose first line is `first_line`."""
    match = re.search(r"```\w*\n(" + re.escape(first_line) + r"\n.*?)```", text, re.S)
    assert match, f"no code block starting with {first_line!r}"
    return match.group(1)


def test_the_task_module_example_is_the_file_it_names() -> None:
    assert code_block(README, "# workers/maths.py") == (ROOT / "workers" / "maths.py").read_text()


def test_the_producer_example_passes_the_projects_ruff_where_readme_saves_it(tmp_path) -> None:
    app = ROOT / "app.py"  # README: "say app.py at the top of the project"
    assert not app.exists()
    try:
        app.write_text(code_block(README, "# app.py"))
        done = subprocess.run([sys.executable, "-m", "ruff", "check", str(app)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    finally:
        app.unlink()
    assert done.returncode == 0, done.stdout + done.stderr


def test_layout_lists_every_folder() -> None:
    layout = README[README.index("## Layout"):]
    layout = layout[:layout.find("\n## ", 5) if "\n## " in layout[5:] else None]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    top = {p.split("/")[0] for p in tracked if "/" in p}
    packages = {p.split("/")[1] for p in tracked if p.startswith("taskq/") and p.count("/") >= 2}
    missing = sorted(f"{d}/" for d in top | packages if f"{d}/" not in layout)
    assert not missing, f"README's Layout does not mention {missing}"


def _normal(line: str) -> str:
    """Numbers, versions and the server's name vary between runs and servers."""
    line = re.sub(r"\b(Redis|Valkey) ", "SERVER ", line)
    line = re.sub(r"redis://[^ ]+", "URL", line)
    return re.sub(r"\d+(\.\d+)*", "N", line)


def test_operating_docs_doctor_sample_is_real_output(tmp_path) -> None:
    docs = (ROOT / "docs" / "operating.md").read_text()
    sample = code_block(docs, "$ taskq doctor").splitlines()[1:]
    # Given a server set up as the sample's: evicting keys, AOF every second, scripts loaded
    server = ServerProcess(tmp_path / "srv", persistent=True, extra=[
        "--maxmemory-policy", "allkeys-lru", "--appendfsync", "everysec"]).start()
    try:
        Scripts().load_all(redis.Redis.from_url(server.url))
        done = subprocess.run([sys.executable, "-m", "taskq", "doctor", "--url", server.url],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        server.stop()
    real = done.stdout.splitlines()
    assert done.returncode == 1  # the sample's problem
    assert len(real) == len(sample), (real, sample)
    for want, got in zip(sample, real, strict=True):
        want, got = _normal(want), _normal(got)
        if want.endswith("..."):
            assert got.startswith(want[:-3].rstrip(" ,")), (want, got)
        else:
            assert got == want


def test_setup_puts_what_readme_says_on_path() -> None:
    said = re.search(r"after scripts/setup: ([\w, ]+) on PATH", README)
    assert said, "README no longer says what setup puts on PATH"
    names = [n.strip() for n in re.split(r",| and ", said.group(1)) if n.strip()]
    bin_dir = Path(sys.executable).parent
    for name in names:
        assert (bin_dir / name).exists(), f"README says {name} is on PATH after setup"
    check = subprocess.run([str(bin_dir / "honcho"), "check"], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
    assert "Valid procfile detected (web, worker, server)" in check.stderr + check.stdout


def readme_commands() -> list[str]:
    """Every `taskq ...` command in README's shell blocks, comments and [optional] parts
    dropped, `a | b` split in two."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            line = re.sub(r"\s*\[[^\]]*\]", "", line)
            out += [part.strip() for part in line.split("|") if part.strip().startswith("taskq ")]
    return out


# Commands that run until stopped, or name the reader's own module: checked elsewhere
# (tests/test_cli_worker.py, test_worker_options.py, test_events.py, test_web.py).
LONG_RUNNING = ("--follow", "taskq web", "taskq server", "app.tasks")


def test_every_readme_command_runs_as_written(store, tmp_path) -> None:
    import json as _json
    import os

    from tests.test_admin_support import make_dead

    dead_id = make_dead(store)  # a charge_card job: README requeues those
    kept = make_dead(store, task="workers.example.send_welcome_email")
    url = store.settings.url or ""
    # As README says: with the venv active (its bin first on PATH).
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "TASKQ_REDIS_URL": url, "HOME": str(tmp_path), "OTHER_URL": url,
           "PATH": path}
    ran = []
    for command in readme_commands():
        if any(marker in command for marker in LONG_RUNNING):
            continue
        if command.startswith("taskq worker ") and "--burst" not in command:
            command += " --burst"
        if command.startswith("taskq worker "):
            command = re.sub(r"-c \d+", "", command) + " -c 1"
        command = command.replace(" ID", f" {dead_id}")
        done = subprocess.run(command, shell=True, cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, input="n\n")
        # 0, or 1 where the command found a problem (doctor: the test server keeps no AOF)
        # or a confirmation was declined (purge asks)
        assert done.returncode in (0, 1), (command, done.stdout[-1000:], done.stderr[-2000:])
        assert "Traceback" not in done.stderr, (command, done.stderr[-2000:])
        ran.append(command)
    assert len(ran) >= 15, ran
    exported = (tmp_path / "dead.jsonl").read_text().splitlines()  # README's ~/dead.jsonl
    assert [_json.loads(line)["id"] for line in exported] == [kept]
