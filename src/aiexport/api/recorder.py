"""Putting the service's answers on the audit record, with group commit.

Each request hands its entry to one recorder thread per process and waits until the entry is
committed (the answer is never sent before it is on record). The thread writes whatever has
queued up meanwhile in one transaction per caller (`audit.record_many`), so 50 concurrent requests
cost a few transactions, not 50.
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
        self.q: queue.Queue[tuple[audit.Entry, str, Future[None]]] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def _start(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="aiexport-audit-recorder", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            first = self.q.get()
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self.q.get_nowait())
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
        self._start()
        fut: Future[None] = Future()
        self.q.put((entry, user, fut))
        return fut


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
