"""Where the database is and how to reach it.

`AIEXPORT_DATABASE_URL` names it (any SQLAlchemy URL); by default a SQLite file,
``<AIEXPORT_HOME or ~/.aiexport>/aiexport.db``. ``postgresql://`` and ``postgres://`` URLs are read
as ``postgresql+psycopg://`` (psycopg 3 is the driver aiexport installs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from aiexport.errors import InputError

ENV_URL = "AIEXPORT_DATABASE_URL"
ENV_HOME = "AIEXPORT_HOME"

_engines: dict[str, Engine] = {}
_factories: dict[Engine, sessionmaker[Session]] = {}  # one session factory per engine (building one costs ~2 ms)


def home() -> Path:
    """aiexport's own folder: `AIEXPORT_HOME`, else ~/.aiexport."""
    env = os.environ.get(ENV_HOME)
    return Path(env).expanduser() if env else Path.home() / ".aiexport"


def database_url(url: str | None = None) -> str:
    """The URL to use: `url`, else `AIEXPORT_DATABASE_URL`, else the SQLite file under `home()`."""
    text = (url or os.environ.get(ENV_URL) or "").strip()
    if not text:
        return f"sqlite:///{home() / 'aiexport.db'}"
    for plain in ("postgresql://", "postgres://"):
        if text.startswith(plain):
            return "postgresql+psycopg://" + text[len(plain):]
    return text


def masked(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # write-ahead log: readers and the writer do not block each other, and a commit is one append to
    # the log (synchronous stays FULL: a committed audit entry survives a power cut)
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def get_engine(url: str | None = None) -> Engine:
    """The (cached) engine for `url` (see `database_url`); a bad URL is an `InputError`."""
    text = database_url(url)
    if text in _engines:
        return _engines[text]
    try:
        parsed = make_url(text)
    except Exception:
        raise InputError(f"{ENV_URL}: {masked(text)!r} is not a database URL; give sqlite:///PATH or "
                         "postgresql+psycopg://USER@HOST/DB", field=ENV_URL) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise InputError(f"{ENV_URL}: {masked(text)!r}: aiexport supports SQLite and PostgreSQL; give sqlite:///PATH or "
                         "postgresql+psycopg://USER@HOST/DB", field=ENV_URL)
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        folder = Path(parsed.database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{ENV_URL}: cannot create the folder {folder} for the SQLite database ({exc.strerror}); "
                             f"set {ENV_HOME} or {ENV_URL} to a writable place", field=ENV_URL) from None
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=backend == "postgresql")
    except Exception as exc:  # e.g. the driver is not installed
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{ENV_URL}: {masked(text)!r}: {first[:160]}", field=ENV_URL) from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    _engines[text] = engine
    return engine


def dispose_engines() -> None:
    """Close every cached engine (tests switch databases)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _factories.clear()


def connection_error(exc: Exception, engine: Engine) -> InputError:
    """A one-line `InputError` for a database that cannot be reached or used."""
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    return InputError(f"database {masked(engine.url.render_as_string(hide_password=False))}: {first[:200]}; "
                      f"check {ENV_URL}", field=ENV_URL)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    factory = _factories.get(engine)
    if factory is None:
        factory = _factories[engine] = sessionmaker(engine, expire_on_commit=False)
    try:
        with factory.begin() as session:
            yield session
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise connection_error(exc, engine) from None
