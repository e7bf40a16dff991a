"""Putting the service's answers on the audit record, with group commit.

Each request hands its entry to one recorder thread per process and waits until the entry is
committed (the answer is never sent before it is on record). The thread writes whatever has
queued up meanwhile in one transaction per caller (`audit.record_many`), so 50 concurrent requests
cost a few transactions, not 50. The engine hands over the answers of one call together
(`submit_many`, from `answers.Coalescer`), so a wave of new questions is one hand-over and one
commit, without a round through the event loop before it.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Any

from aiexport.ledger import audit

MAX_GROUP = 1000


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

    def submit(self, entry: audit.Entry, user: str) -> Future[None]:
        return self.submit_many([(entry, user)])[0]

    def submit_many(self, entries: list[tuple[audit.Entry, str]]) -> list[Future[None]]:
        """Entries handed over together are committed together (one transaction per user)."""
        self._start()
        items = [(e, user, Future()) for e, user in entries]
        self.q.put(items)
        return [fut for _, _, fut in items]


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
