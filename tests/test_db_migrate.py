"""Several processes starting at once on an empty database (workers of `aiexport serve`, parallel
commands): the schema is migrated once, every process finds it at the head revision."""

from __future__ import annotations

import multiprocessing
from typing import Any

from aiexport import db
from aiexport.db import migrate
from tests import test_ledger_licences

database = test_ledger_licences.database  # a fresh SQLite file, or a fresh PostgreSQL schema
PROCESSES = 6


def _start(url: str, barrier: Any, results: Any) -> None:
    migrate.reset_checks()
    db.dispose_engines()
    barrier.wait()  # all at once
    try:
        results.put(str(migrate.current_revision(migrate.ensure_schema(url))))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_starting_together_on_an_empty_database_migrate_it_once(database):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_start, args=(database, barrier, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    got = sorted(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert got == [migrate.head_revision()] * PROCESSES
