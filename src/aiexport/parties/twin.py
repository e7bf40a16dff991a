"""A second core for batch work: a forked twin of this process that does half of each large batch.

`Twin(work)` forks, at its first use, a copy of this process that keeps running `work` (the
function, and the objects it reads, as they were at the fork: copy-on-write, nothing pickled) on
the arguments it receives, and sends back the results. `Twin.both(mine, theirs)` gives
`(work(*mine), work(*theirs))`, the second computed by the twin while this process computes the
first. Forking costs tens of milliseconds for a process the size of a list index (page tables), so
the twin is started once and kept; it ends with this process (a daemon) or on `close`.

Fork is only safe in some processes, and the twin is only used in those: Linux, two cores or more,
one thread of Python (a server's worker threads could hold locks the copy would inherit), not itself
a daemon process. `work` must not use polars: a forked copy has no polars thread pool. When the
twin cannot be used, fails or is busy with another thread's batch, this process does both halves
itself: the results are the same.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import sys
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any


class Twin:
    def __init__(self, work: Callable[..., Any]) -> None:
        self.work = work
        self._conn: Any = None  # this process's end of the pipe to the twin, once started
        self.process: Any = None  # the twin (multiprocessing.Process), once started
        self._pid = 0  # the process that started it
        self._lock = threading.Lock()  # one batch at a time goes through the twin
        _TWINS.add(self)

    def both(self, mine: tuple, theirs: tuple) -> tuple[Any, Any]:
        """(work(*mine), work(*theirs)): the second in the twin when it can be, else here."""
        if not self._lock.acquire(blocking=False):
            return self.work(*mine), self.work(*theirs)
        try:
            conn = self._started()
            if conn is None:
                return self.work(*mine), self.work(*theirs)
            try:
                conn.send(theirs)
                first = self.work(*mine)
                done, second = conn.recv()
            except BaseException:  # the twin's answer would be read by the next batch: end the twin
                self.close(wait=0)
                raise
            return first, second if done else self.work(*theirs)
        finally:
            self._lock.release()

    def close(self, wait: float = 5.0) -> None:
        """End the twin: it exits when it reads the end of the pipe (within `wait` seconds), else it is stopped."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self.process.join(wait)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join()

    def _started(self) -> Any:
        if self._conn is not None and self._pid != os.getpid():  # this is a fork of the process that started the twin
            self._conn.close()
            self._conn = None
        if self._conn is None and can_fork():
            context = multiprocessing.get_context("fork")
            here, there = context.Pipe()
            gc.freeze()  # the twin's garbage collector then leaves this process's objects (and their pages) alone
            try:
                with warnings.catch_warnings():  # Python 3.12+ warns of any fork in a process with threads (polars' idle pool)
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self.process = context.Process(target=_serve, args=(self.work, there, here), daemon=True)
                    self.process.start()
            finally:
                gc.unfreeze()
            there.close()
            self._conn, self._pid = here, os.getpid()
            weakref.finalize(self, here.close)
        return self._conn


_TWINS: weakref.WeakSet[Twin] = weakref.WeakSet()


def can_fork() -> bool:
    return (sys.platform == "linux" and len(os.sched_getaffinity(0)) >= 2 and threading.active_count() == 1
            and not multiprocessing.current_process().daemon)


def _serve(work: Callable[..., Any], conn: Any, parent_end: Any) -> None:
    """The twin: run `work` on each set of arguments received, send (done, result) back, until the pipe closes."""
    parent_end.close()  # else this process would hold the pipe open to itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; the twin ends with it
    for other in list(_TWINS):  # nor hold open the pipes of the other twins (they end when their parent closes them)
        if other._conn is not None:
            other._conn.close()
    while True:
        try:
            args = conn.recv()
        except EOFError:
            return
        try:
            reply = (True, work(*args))
        except Exception:  # the parent does this half itself (and meets the error there)
            reply = (False, None)
        with contextlib.suppress(OSError):
            conn.send(reply)
