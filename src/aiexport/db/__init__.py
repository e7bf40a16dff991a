"""The aiexport database: SQLAlchemy 2 models on one metadata, Alembic migrations shipped in the
package, SQLite by default and PostgreSQL when `AIEXPORT_DATABASE_URL` says so."""

from aiexport.db.engine import (
    ENV_HOME,
    ENV_URL,
    database_url,
    dispose_engines,
    get_engine,
    home,
    masked,
    session_scope,
)
from aiexport.db.migrate import current_revision, downgrade, ensure_schema, head_revision, upgrade
from aiexport.db.models import Base, HitDecision, ListEntry, ListSnapshot, ScreenedParty, ScreeningHit, metadata

__all__ = [
    "ENV_HOME", "ENV_URL", "Base", "HitDecision", "ListEntry", "ListSnapshot", "ScreenedParty", "ScreeningHit", "current_revision",
    "database_url", "dispose_engines", "downgrade", "ensure_schema", "get_engine", "head_revision", "home", "masked", "metadata",
    "session_scope", "upgrade",
]
