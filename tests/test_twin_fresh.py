"""tests/test_twin.py in a fresh interpreter: in a full run, threads left by earlier tests (servers,
clients) turn the twin off and those tests skip; alone, they must run and pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.skipif(sys.platform != "linux" or (os.cpu_count() or 1) < 2, reason="the twin needs Linux and two cores")
def test_the_twin_tests_run_and_pass_in_a_fresh_interpreter():
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider", str(HERE / "test_twin.py")],
                          capture_output=True, text=True, timeout=600, cwd=HERE.parent)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    assert proc.returncode == 0 and "passed" in last and "skipped" not in last, proc.stdout + proc.stderr
