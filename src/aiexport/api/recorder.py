"""Putting the service's answers on the audit record, with group commit.

Each request hands its entry to one recorder thread per process and waits until the entry is
committed (the answer is never sent before it is on record). The thread writes whatever has
queued up meanwhile in one transaction per caller (`audit.record_many`), so 50 concurrent requests
cost a few transactions, not 50. The engine hands over the answers of one call together
(`submit_many`, from `answers.Coalescer`), so a wave of new questions is one hand-over and one
commit, without a round through the event loop before it.

On SQLite, the write-ahead log is copied back into the database by a thread of its own
(`Checkpointer`), a few times a second, after the answers of a commit are given. Left to SQLite,
the commit that takes the log past 1,000 pages does it, and the 50 answers of that commit wait for
it: about 6 ms more, every thirtieth commit or so (benchmarks/load.py, 2026-11-30).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from aiexport.db.engine import get_engine
from aiexport.ledger import audit

MAX_GROUP = 1000
#: SQLite: copy the write-ahead log back at most this often (a tuning knob: 5 MB/s of answers at
#: 0.2 s is about 250 pages a time, well under SQLite's own 1,000-page trigger)
CHECKPOINT_SECONDS = float(os.environ.get("AIEXPORT_CHECKPOINT_SECONDS", "0.2"))


class Checkpointer:
    """Copies a SQLite database's write-ahead log back into it (``PRAGMA wal_checkpoint(PASSIVE)``)
    on a thread of its own, at most every `CHECKPOINT_SECONDS`, once poked after a commit. A passive
    checkpoint waits for no reader or writer: what it cannot copy now, the next one does, and SQLite's
    own trigger remains behind it. Nothing is done for other databases."""

    def __init__(self, every: float = CHECKPOINT_SECONDS) -> None:
        self.every = every
        self.wanted = threading.Event()
        self.engine: Any = None
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.done = 0  # checkpoints run (for tests and measurement)

    def poke(self, engine: Any) -> None:
        if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
            return
        self.engine = engine
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="aiexport-wal-checkpoint", daemon=True)
                self.thread.start()
        self.wanted.set()

    def _run(self) -> None:
        last = 0.0
        while True:
            self.wanted.wait()
            time.sleep(max(0.0, last + self.every - time.monotonic()))  # commits meanwhile are copied together
            self.wanted.clear()
            last = time.monotonic()
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except Exception:  # noqa: BLE001 - SQLite's own trigger copies the log instead
                pass
            self.done += 1


class Recorder:
    def __init__(self) -> None:
        self.q: queue.Queue[list[tuple[audit.Entry, str, Future[None]]]] = queue.Queue()  # lists put at once
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def _start(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="aiexport-audit-recorder", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            group = list(self.q.get())
            while len(group) < MAX_GROUP:
                try:
                    group.extend(self.q.get_nowait())
                except queue.Empty:
                    break
            by_user: dict[str, list[tuple[audit.Entry, str, Future[None]]]] = {}
            for item in group:
                by_user.setdefault(item[1], []).append(item)
            for user, items in by_user.items():
                try:
                    audit.record_many([e for e, _, _ in items], user)
                except BaseException as exc:  # every waiting request learns of it
                    for _, _, fut in items:
                        fut.set_exception(exc)
                else:
                    for _, _, fut in items:
                        fut.set_result(None)
            with contextlib.suppress(Exception):  # the database's own trigger remains
                _checkpointer.poke(get_engine())

    def submit(self, entry: audit.Entry, user: str) -> Future[None]:
        return self.submit_many([(entry, user)])[0]

    def submit_many(self, entries: list[tuple[audit.Entry, str]]) -> list[Future[None]]:
        """Entries handed over together are committed together (one transaction per user)."""
        self._start()
        items = [(e, user, Future()) for e, user in entries]
        self.q.put(items)
        return [fut for _, _, fut in items]


_checkpointer = Checkpointer()
_recorder = Recorder()


def entry(kind: str, inp: Any, out: Any) -> audit.Entry:
    rb = out.get("rulebook_hash") if isinstance(out, dict) else None
    snap = out.get("list_snapshot_hash") if isinstance(out, dict) else None
    return audit.Entry(kind, inp, out, rb, snap)


async def record(kind: str, inp: Any, out: Any, user: str) -> None:
    """Put one answer on the audit record; returns once it is committed."""
    await asyncio.wrap_future(_recorder.submit(entry(kind, inp, out), user))


def record_sync(kind: str, inp: Any, out: Any, user: str) -> None:
    _recorder.submit(entry(kind, inp, out), user).result()


def submit_many(entries: list[tuple[audit.Entry, str]]) -> list[Future[None]]:
    """Hand over (entry, user) pairs together: they are committed together."""
    return _recorder.submit_many(entries)
