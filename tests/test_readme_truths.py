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
