"""Crash safety of `check --record` (issue #6 point 6), on SQLite and PostgreSQL.

Acceptance (issue #6): SIGKILL during a 100,000-line `check --record`, then the same command with
`--resume`: 100,000 records, no duplicates, the chain verifies. A real subprocess is killed with
SIGKILL (no handler can run) once part of the book is on record; the book is the reproducible
order book of benchmarks/check.py (seed 11).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from aiexport import db
from aiexport.ledger import audit
from tests import test_ledger_licences
from tests.conftest import ROOT, aiexport_exe, run_cli

database = test_ledger_licences.database  # the SQLite / PostgreSQL fixture

LINES = 100_000


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import check as bench_check  # benchmarks/check.py
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    path = tmp_path_factory.mktemp("book") / "book_100k.csv"
    bench_check.generate(path, LINES, seed=11)
    return path


def _count(engine: sa.Engine) -> int:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT COUNT(*) FROM audit_records")).scalar() or 0
    except sa.exc.OperationalError:  # the table is not created yet, or locked for a moment
        return 0


def test_sigkill_then_resume_records_every_line_once(database, book: Path):
    args = [aiexport_exe(), "check", str(book), "--as-of", "2026-11-01", "--record", "--output", os.devnull + ".jsonl"]
    args[-1] = str(book.parent / "answers.jsonl")
    db.ensure_schema()  # the tables exist before the run, so that progress can be watched
    engine = db.get_engine()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})
    deadline = time.monotonic() + 300
    try:
        while _count(engine) < LINES // 4:
            assert proc.poll() is None, f"check ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
            assert time.monotonic() < deadline, "no progress"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = _count(engine)
    assert LINES // 4 <= partial < LINES, partial  # killed half-way: some lines on record, not all
    assert audit.verify()["ok"]  # whole transactions only: the chain is intact after the kill

    plain = run_cli("check", str(book), "--as-of", "2026-11-01", "--record")
    assert plain.returncode == 2 and "--resume" in plain.stderr  # never recorded twice by accident

    r = subprocess.run([*args, "--resume"], capture_output=True, text=True, env={**os.environ}, timeout=600)
    assert r.returncode == 0, r.stderr[-1000:]
    assert f"{LINES - partial:,} lines recorded, {partial:,} already on record" in r.stderr
    with engine.connect() as conn:
        n, lines, lo, hi, batches = conn.execute(sa.text(
            "SELECT COUNT(*), COUNT(DISTINCT line), MIN(line), MAX(line), COUNT(DISTINCT batch_id) FROM audit_records")).one()
    assert (n, lines, lo, hi, batches) == (LINES, LINES, 1, LINES, 1)
    res = audit.verify()
    assert res["ok"] and res["records"] == LINES
    again = subprocess.run([*args, "--resume"], capture_output=True, text=True, env={**os.environ}, timeout=600)
    assert again.returncode == 0 and f"0 lines recorded, {LINES:,} already on record" in again.stderr
    assert _count(engine) == LINES
