from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SCENARIO_H20 = ROOT / "src" / "aiexport" / "rules" / "scenarios" / "h20_class.yaml"


def aiexport_exe() -> str:
    exe = ROOT / ".venv" / "bin" / "aiexport"
    if exe.exists():
        return str(exe)
    found = shutil.which("aiexport")
    if found:
        return found
    return str(Path(sys.executable).parent / "aiexport")


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([aiexport_exe(), *args], capture_output=True, text=True, input=stdin, env=env, timeout=120)


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests read the team's shared data beside the clone")
    return SHARED
