"""Benchmark: licence draws per second with 1 and 8 concurrent writers, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/ledger.py [--draws 2000] [--writers 1,8] [--pg URL | --no-pg]

Each writer is a process of its own (multiprocessing, spawn) with its own connection, drawing
1 unit per draw with a fresh transaction id through `aiexport.ledger.licences.draw` (what
`aiexport licences draw` and a service call) on one shared licence large enough for every draw.
The writers start together after a barrier (imports and connections are not timed); draws/s is
the number of draws divided by the wall time from the barrier to the last writer's end. The
ledger is then checked: every draw granted and the licence's balance equal to the sum of its draws.

SQLite: a fresh file in a temporary folder. PostgreSQL: a fresh schema in the database of `--pg`
(default: AIEXPORT_TEST_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test), dropped
afterwards. Target (issue #6): >= 1,000 draws/s with 8 writers on PostgreSQL.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

import sqlalchemy as sa  # noqa: E402

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def _writer(url: str, writer: int, n: int, run: str, barrier: Any, results: Any) -> None:
    os.environ["AIEXPORT_DATABASE_URL"] = url
    from aiexport.ledger import licences

    licences.draw(1, f"{run}-warm-{writer}", number="BENCH")  # connect, compile, warm caches (not timed)
    barrier.wait()
    granted = 0
    for i in range(n):
        granted += bool(licences.draw(1, f"{run}-{writer}-{i}", number="BENCH")["granted"])
    results.put(granted)


def measure(url: str, writers: int, draws: int) -> float:
    """Draws per second of `writers` processes drawing `draws` each on one licence."""
    from aiexport import db
    from aiexport.ledger import licences

    os.environ["AIEXPORT_DATABASE_URL"] = url
    number = "BENCH"
    try:
        licences.show_licence(number)
    except Exception:
        licences.add_licence(number, 10_000_000)
    before = licences.show_licence(number)["drawn_quantity"]
    db.dispose_engines()
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(writers + 1), ctx.Queue()
    run = uuid.uuid4().hex[:8]
    procs = [ctx.Process(target=_writer, args=(url, w, draws, run, barrier, results)) for w in range(writers)]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    t0 = time.perf_counter()
    granted_each = [results.get(timeout=600) for _ in procs]
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    granted = sum(granted_each)
    after = licences.show_licence(number)
    assert granted == writers * draws, f"{granted} of {writers * draws} granted"
    assert after["drawn_quantity"] - before == writers * (draws + 1) and after["ledger_consistent"], after
    return writers * draws / elapsed


def _pg_url(base: str) -> tuple[str, str]:
    for plain in ("postgresql://", "postgres://"):
        if base.startswith(plain):
            base = "postgresql+psycopg://" + base[len(plain):]
    schema = f"aiexport_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}", schema


def _drop(base: str, schema: str) -> None:
    for plain in ("postgresql://", "postgres://"):
        if base.startswith(plain):
            base = "postgresql+psycopg://" + base[len(plain):]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=2000, help="draws per writer (default 2000)")
    ap.add_argument("--writers", default="1,8", help="comma-separated writer counts (default 1,8)")
    ap.add_argument("--pg", default=os.environ.get("AIEXPORT_TEST_DATABASE_URL", PG_DEFAULT), help="PostgreSQL URL")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = ap.parse_args()
    counts = [int(x) for x in args.writers.split(",")]
    print(f"{os.cpu_count()} CPUs; {args.draws:,} draws per writer; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        from aiexport.db import ensure_schema

        os.environ["AIEXPORT_DATABASE_URL"] = url
        ensure_schema()
        for w in counts:
            print(f"sqlite      {w} writer{'s' if w > 1 else ' '}: {measure(url, w, args.draws):8,.0f} draws/s", flush=True)
    if args.no_pg:
        return
    url, schema = _pg_url(args.pg)
    try:
        os.environ["AIEXPORT_DATABASE_URL"] = url
        from aiexport.db import ensure_schema

        ensure_schema()
        for w in counts:
            print(f"postgresql  {w} writer{'s' if w > 1 else ' '}: {measure(url, w, args.draws):8,.0f} draws/s", flush=True)
    finally:
        from aiexport import db

        db.dispose_engines()
        _drop(args.pg, schema)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
