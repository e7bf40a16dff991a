"""Write transactions of the ledger, and who is writing.

`write_scope(engine)` is a connection in one transaction (committed on success, rolled back on
any error; a database that cannot be reached is one `InputError` line, as with `db.session_scope`)
that, on SQLite, takes the database's write lock at the start (``BEGIN IMMEDIATE``): a transaction that reads, then writes, can then never meet another
writer half-way (SQLite would otherwise fail one of them with "database is locked" instead of
waiting). On PostgreSQL the statements lock what they need (conditional UPDATEs take the row lock;
the audit chain's head is read ``FOR UPDATE``).
"""

from __future__ import annotations

import getpass
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # Windows: SQLite's own busy handler alone
    fcntl = None  # type: ignore[assignment]

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from aiexport.db.engine import connection_error
from aiexport.errors import InputError

ENV_USER = "AIEXPORT_USER"


@contextmanager
def read_scope(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction (rolled back at the end: it only reads)."""
    try:
        with engine.connect() as conn:
            yield conn
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise connection_error(exc, engine) from None


@contextmanager
def write_scope(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction, committed on success; on SQLite the write lock is taken first,
    after `_writer_turn`."""
    with _writer_turn(engine):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise connection_error(exc, engine) from None


_turns: dict[str, tuple[threading.Lock, int]] = {}
_turns_lock = threading.Lock()


@contextmanager
def _writer_turn(engine: Engine) -> Iterator[None]:
    """On a SQLite file, writers take turns through a lock file beside it (flock) before asking
    SQLite for its write lock: a process waiting on flock is woken when the lock is free, where
    SQLite's busy handler sleeps and polls, and under steady writing by several server workers one
    of them could wait seconds for its turn (measured: p99 2.2 s with two workers on SQLite,
    benchmarks/load.py). Threads of one process take turns on a lock of their own first (flock
    locks belong to the open file, which the threads share). Elsewhere (PostgreSQL, an in-memory
    database, no flock) nothing is done."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:") or fcntl is None:
        yield
        return
    key = f"{os.getpid()}:{path}"  # a forked child opens its own: an inherited descriptor shares the parent's lock
    with _turns_lock:
        if key not in _turns:
            _turns[key] = (threading.Lock(), os.open(f"{path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600))
        thread_lock, fd = _turns[key]
    with thread_lock:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def current_user(user: str | None = None) -> str:
    """Who is answerable for a write: `user` (``--user``), else `AIEXPORT_USER`, else the login name."""
    for candidate, where in ((user, "--user"), (os.environ.get(ENV_USER), ENV_USER)):
        if candidate is not None:
            text = " ".join(candidate.split())
            if not text:
                raise InputError(f"{where}: empty; give a name (or leave it unset to use the login name)", field=where)
            if len(text) > 200:
                raise InputError(f"{where}: longer than 200 characters; give a shorter name", field=where)
            return text
    try:
        return getpass.getuser()
    except Exception:  # no login name (e.g. a container without a passwd entry)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
