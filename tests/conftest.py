from __future__ import annotations

import csv
import functools
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SCENARIO_H20 = ROOT / "src" / "aiexport" / "rules" / "scenarios" / "h20_class.yaml"
#: the real 2026 Consolidated Screening List (shared/data/lists/export-controls-agent-mcp, PROVENANCE.md there)
CSL_2026 = SHARED / "data" / "lists" / "export-controls-agent-mcp" / "consolidated-2026-07-31.csv"


@functools.cache
def csl_2026_rows() -> tuple[list[str], list[list[str]]]:
    """The header and rows of the 2026 CSL copy, read once per test session."""
    with open(CSL_2026, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


def write_list(path: Path, rows: list[list[str]]) -> Path:
    """A list file in the CSL's format holding `rows` (rows of the 2026 CSL copy, maybe changed)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(csl_2026_rows()[0])
        w.writerows(rows)
    return path


def aiexport_exe() -> str:
    exe = ROOT / ".venv" / "bin" / "aiexport"
    if exe.exists():
        return str(exe)
    found = shutil.which("aiexport")
    if found:
        return found
    return str(Path(sys.executable).parent / "aiexport")


@contextmanager
def served(args: list[str], env: dict[str, str], log: Path, wait: float = 30) -> Iterator[tuple[subprocess.Popen[bytes], str, int]]:
    """`aiexport serve` with `args` on a free local port, its output in `log`, once it answers /healthz:
    (process, base URL, port); stopped at the end."""
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(log, "w") as fh:
        proc = subprocess.Popen([aiexport_exe(), "serve", "--port", str(port), *args], env=env, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + wait
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"`aiexport serve` did not answer (status {proc.poll()}): {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield proc, base, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([aiexport_exe(), *args], capture_output=True, text=True, input=stdin, env=env, timeout=120)


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests read the team's shared data beside the clone")
    return SHARED


# ---------------------------------------------------------------------------------------------- databases

#: PostgreSQL for the tests that run on both backends (CI: postgresql://postgres@127.0.0.1:5432/test)
PG_URL = os.environ.get("AIEXPORT_TEST_DATABASE_URL")
#: the backends a database test runs on: SQLite always, PostgreSQL when PG_URL is set
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="AIEXPORT_TEST_DATABASE_URL is not set"))]


def pg_driver_url(url: str) -> str:
    """A plain postgresql:// URL with the driver aiexport installs (psycopg 3)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


@contextmanager
def scratch_database(kind: str, folder: Path, prefix: str = "aiexport_test") -> Iterator[str]:
    """The URL of a fresh, empty database: a SQLite file in `folder`, or (kind "postgresql") a
    schema of its own in the PG_URL database, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'aiexport.db'}"
        return
    assert PG_URL is not None
    base = pg_driver_url(PG_URL)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh, empty database named by AIEXPORT_DATABASE_URL (AIEXPORT_HOME points into tmp_path)."""
    from aiexport import db
    from aiexport.db import migrate

    with scratch_database(request.param, tmp_path) as url:
        monkeypatch.setenv("AIEXPORT_DATABASE_URL", url)
        monkeypatch.setenv("AIEXPORT_HOME", str(tmp_path / "home"))
        db.dispose_engines()
        migrate.reset_checks()
        try:
            yield url
        finally:
            db.dispose_engines()
            migrate.reset_checks()
