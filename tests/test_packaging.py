"""The built wheel carries the Lua scripts, the console script and the example workers."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from taskq.scripting import SCRIPT_NAMES

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_every_lua_script_and_the_console_script(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("taskq-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"taskq/lua/{name}.lua" for name in SCRIPT_NAMES} <= names
    assert "workers/example.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "taskq = taskq.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
