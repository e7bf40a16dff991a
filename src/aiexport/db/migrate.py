"""Alembic migrations shipped in the package (`aiexport/migrations`): run them, and check that a
database is at the version the code expects.

`upgrade()` is `aiexport db upgrade`. Every other command calls `ensure_schema()`: an empty
database is brought to the head revision; a database at an older revision is an error that says to
run `aiexport db upgrade` (migrating a database someone else uses is left to an explicit command).
Migrations are serialised between processes (a PostgreSQL advisory lock; a lock file beside a
SQLite file), so that several workers or commands starting at once on an empty database migrate it
once and each then finds it at the head revision.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from aiexport.db.engine import connection_error, get_engine, masked
from aiexport.errors import InputError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

_checked: set[str] = set()
#: the PostgreSQL advisory lock held while aiexport migrates a database (any 64-bit number; this one
#: spells "aiexport" in ASCII)
ADVISORY_LOCK = 0x6169_6578_706F_7274


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Held while a database is checked and migrated: one process at a time."""
    if engine.dialect.name == "postgresql":
        try:
            conn = engine.connect()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise connection_error(exc, engine) from None
        try:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK})
            conn.commit()
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK})
            conn.commit()
            conn.close()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise connection_error(exc, engine) from None


def upgrade(url: str | None = None, revision: str = "head") -> tuple[str | None, str | None]:
    """Run the migrations up to `revision`; returns (revision before, revision after)."""
    engine = get_engine(url)
    with migration_lock(engine):
        return _upgrade(engine, revision)


def _upgrade(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    before = current_revision(engine)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise connection_error(exc, engine) from None
    after = current_revision(engine)
    _checked.discard(str(engine.url))
    return before, after


def downgrade(url: str | None = None, revision: str = "base") -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    _checked.discard(str(engine.url))


def ensure_schema(url: str | None = None) -> Engine:
    """The engine for `url`, its database at the head revision (an empty database is migrated)."""
    engine = get_engine(url)
    key = str(engine.url)
    if key in _checked:
        return engine
    head = head_revision()
    rev = current_revision(engine)
    if rev != head:
        with migration_lock(engine):  # another process may be migrating it right now: wait, then look again
            _check_or_migrate(engine, key, head)
    _checked.add(key)
    return engine


def _check_or_migrate(engine: Engine, key: str, head: str) -> str | None:
    rev = current_revision(engine)
    if rev is None:
        try:
            with engine.connect() as conn:
                tables = sa.inspect(conn).get_table_names()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise connection_error(exc, engine) from None
        if tables:
            raise InputError(f"database {masked(key)}: it has tables ({', '.join(sorted(tables)[:3])} …) but no aiexport "
                             "migration version: not an aiexport database; point AIEXPORT_DATABASE_URL at an empty or aiexport "
                             "database", field="AIEXPORT_DATABASE_URL")
        return _upgrade(engine, "head")[1]
    if rev != head:
        known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
        if rev in known:
            raise InputError(f"database {masked(key)}: at revision {rev}, this aiexport needs {head}; run `aiexport db upgrade`",
                             field="AIEXPORT_DATABASE_URL")
        raise InputError(f"database {masked(key)}: at revision {rev}, unknown to this aiexport (made by a newer version?); "
                         "upgrade aiexport or use another database", field="AIEXPORT_DATABASE_URL")
    return rev


def reset_checks() -> None:
    _checked.clear()
