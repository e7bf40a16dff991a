"""Fixtures of the service tests (issue #7), shared by tests/test_api*.py and tests/test_web_e2e.py:
a fresh database (SQLite, and PostgreSQL when AIEXPORT_TEST_DATABASE_URL is set, in a schema of
its own), one key per role, and small lists made of rows of the real 2026 Consolidated Screening
List (shared/data/lists/export-controls-agent-mcp, see PROVENANCE.md there)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiexport import db
from aiexport.db import migrate
from tests.conftest import CSL_2026, PG_URL, csl_2026_rows, scratch_database, write_list  # noqa: F401  (re-exported to the API tests)

ROLES = ("viewer", "analyst", "admin")


def reset_caches() -> None:
    from aiexport.api import answers, keys
    from aiexport.web import charts

    db.dispose_engines()
    migrate.reset_checks()
    keys.clear_cache()
    answers.answer_cache.clear()
    answers._index.clear()
    charts.regions.cache_clear()


@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """AIEXPORT_DATABASE_URL and AIEXPORT_HOME pointing at a fresh database and folder (restored after)."""
    with scratch_database(kind, folder, "aiexport_api") as url:
        yield from _with_environment(url, folder)


def _with_environment(url: str, folder: Path) -> Iterator[str]:
    saved = {k: os.environ.get(k) for k in ("AIEXPORT_DATABASE_URL", "AIEXPORT_HOME", "AIEXPORT_USER")}
    os.environ["AIEXPORT_DATABASE_URL"] = url
    os.environ["AIEXPORT_HOME"] = str(folder / "home")
    os.environ.pop("AIEXPORT_USER", None)
    reset_caches()
    try:
        yield url
    finally:
        reset_caches()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_keys() -> dict[str, str]:
    from aiexport.api.keys import create_key

    return {role: create_key(role, f"test {role}")[0] for role in ROLES}


def csl_rows(code: str, n: int) -> list[list[str]]:
    header, rows = csl_2026_rows()
    src = header.index("source")
    return [r for r in rows if f"({code})" in r[src]][:n]


def name_of(row: list[str]) -> str:
    return row[csl_2026_rows()[0].index("name")]


def small_list(path: Path) -> Path:
    """40 Entity List and 20 CMIC entries of the real 2026 CSL."""
    return write_list(path, csl_rows("EL", 40) + csl_rows("CMIC", 20))


BOOK_CSV = """id,kind,item,destination_country,consignee_country,consignee_hq_country,ultimate_parent_hq_country,end_use,party_list_status,item_origin,date
o1,export,H100,CN,CN,CN,CN,datacenter,none,us_origin,2026-01-15
o2,export,RTX 4090,DE,DE,DE,DE,datacenter,none,us_origin,2026-01-15
o3,export,H20,CN,CN,CN,CN,datacenter,none,us_origin,2025-06-01
o4,export,A100,JP,JP,JP,JP,datacenter,none,us_origin,2026-01-15
o5,export,H100,,,,,datacenter,none,us_origin,2026-01-15
"""
