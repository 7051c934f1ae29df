"""One virtualenv per system under .bench/venvs: the peers' redis-py pins conflict (arq wants
redis<6, saq redis<8, taskq redis>=5), so each gets its own. Stdlib only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENVS = ROOT / ".bench" / "venvs"

# What each venv installs (keep in sync with the `bench` extra in pyproject.toml).
REQUIREMENTS: dict[str, list[str]] = {
    "taskq": ["-e", str(ROOT), "py-spy", "pyinstrument"],
    "rq": ["rq"],
    "celery": ["celery[redis]"],
    "dramatiq": ["dramatiq[redis]"],
    "huey": ["huey", "redis"],
    "arq": ["arq"],
    # saq 0.26 imports typing_extensions without declaring it.
    "saq": ["saq[redis]", "typing_extensions"],
}


def python(peer: str) -> Path:
    return VENVS / peer / "bin" / "python"


def ensure(peer: str, log: Path) -> Path:
    """Create and fill the peer's venv once (a stamp file records what was installed)."""
    venv = VENVS / peer
    stamp = venv / ".bench-installed"
    wanted = " ".join(REQUIREMENTS[peer])
    if stamp.exists() and stamp.read_text() == wanted:
        return compiled(peer)
    print(f"bench: setting up {venv} ({wanted})", file=sys.stderr)
    if not python(peer).exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    with open(log, "a") as out:
        subprocess.run([str(python(peer)), "-m", "pip", "install", "-q", *REQUIREMENTS[peer]],
                       check=True, stdout=out, stderr=subprocess.STDOUT, timeout=900)
    stamp.write_text(wanted)
    return compiled(peer)


def compiled(peer: str) -> Path:
    """taskq's bytecode, as pip compiles the peers' at install: an editable install has none,
    and where PYTHONDONTWRITEBYTECODE is set every worker start would compile taskq anew
    (about 0.1 s of CPU, which the processing case counts)."""
    if peer == "taskq":
        subprocess.run([str(python(peer)), "-m", "compileall", "-q", str(ROOT / "taskq")],
                       check=True, stdout=subprocess.DEVNULL)
    return python(peer)
