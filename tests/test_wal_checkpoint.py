"""The service's recorder copies SQLite's write-ahead log back into the database on a thread of its
own (aiexport.api.recorder.Checkpointer), so that no commit of answers waits for it."""

from __future__ import annotations

import time
from pathlib import Path

from aiexport.api import recorder
from aiexport.db.engine import get_engine
from aiexport.ledger import audit
from tests.test_api_support import fresh_database


def test_answers_on_record_are_copied_from_the_log_into_the_database_by_the_checkpoint_thread(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        engine = get_engine()
        database = Path(engine.url.database)
        assert url.endswith(database.name)
        with engine.connect() as conn:  # start from an empty log
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        before = database.stat().st_size
        entries = [audit.Entry("check", {"n": i}, {"answer": "x" * 2000}) for i in range(100)]  # ~60 pages: under SQLite's trigger
        done = recorder.submit_many([(e, "tester") for e in entries])
        assert all(f.result(timeout=10) is None for f in done)
        wal = database.with_name(database.name + "-wal")
        assert wal.stat().st_size > 200_000  # the answers are in the log ...
        deadline = time.monotonic() + 10
        while database.stat().st_size <= before + 200_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert database.stat().st_size > before + 200_000  # ... and copied into the database without another commit
        assert recorder._checkpointer.done >= 1
        check = audit.verify()
        assert check["ok"] and check["records"] == 100


def test_no_checkpoint_thread_for_a_database_without_a_log() -> None:
    c = recorder.Checkpointer()

    class Url:
        database = ":memory:"

    class Dialect:
        name = "sqlite"

    class Memory:
        url, dialect = Url(), Dialect()

    class Postgres:
        url, dialect = Url(), type("D", (), {"name": "postgresql"})()

    c.poke(Memory())
    c.poke(Postgres())
    assert c.thread is None and c.done == 0
