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
from collections.abc import Iterator
from contextlib import contextmanager

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
    """A connection in one transaction, committed on success; on SQLite the write lock is taken first."""
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise connection_error(exc, engine) from None


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
