"""Alembic migrations shipped in the package (`aiexport/migrations`): run them, and check that a
database is at the version the code expects.

`upgrade()` is `aiexport db upgrade`. Every other command calls `ensure_schema()`: an empty
database is brought to the head revision; a database at an older revision is an error that says to
run `aiexport db upgrade` (migrating a database someone else uses is left to an explicit command).
"""

from __future__ import annotations

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
        upgrade(url)
    elif rev != head:
        known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
        if rev in known:
            raise InputError(f"database {masked(key)}: at revision {rev}, this aiexport needs {head}; run `aiexport db upgrade`",
                             field="AIEXPORT_DATABASE_URL")
        raise InputError(f"database {masked(key)}: at revision {rev}, unknown to this aiexport (made by a newer version?); "
                         "upgrade aiexport or use another database", field="AIEXPORT_DATABASE_URL")
    _checked.add(key)
    return engine


def reset_checks() -> None:
    _checked.clear()
