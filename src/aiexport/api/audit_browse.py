"""Browsing the audit record newest first (the ledger's `select_records` reads oldest first, for
export): a read-only query on its table, added here rather than in `aiexport.ledger`."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from aiexport.db import ensure_schema
from aiexport.db.models import AuditRecord

R = AuditRecord.__table__


def latest(limit: int = 50, before: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    """The last `limit` records (before seq `before`, of `kind`), newest first, input and output parsed."""
    q = sa.select(R).order_by(R.c.seq.desc()).limit(max(1, min(limit, 500)))
    if before is not None:
        q = q.where(R.c.seq < before)
    if kind:
        q = q.where(R.c.kind == kind)
    with ensure_schema().connect() as conn:
        rows = conn.execute(q).all()
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["recorded_at"] = r.recorded_at.isoformat(timespec="seconds")
        d["input"], d["output"] = json.loads(r.input), json.loads(r.output)
        out.append(d)
    return out
