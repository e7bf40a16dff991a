"""An item across every rule version: the dates on which its classification changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from aiexport.chips import classify_frame
from aiexport.rulebook import Rulebook

KEYS = ("control", "paragraph", "license_exceptions", "rule_version")


def timeline(specs: pl.DataFrame, rulebook: Rulebook, source: str = "input") -> dict[str, list[dict[str, Any]]]:
    """For each spec id, the spans of dates with one classification: [{from, to, control, ...}]."""
    changes = rulebook.change_dates()
    days = [changes[0] - timedelta(days=1), *changes]
    per_day = [classify_frame(specs, rulebook, d, source).to_dicts() for d in days]
    out: dict[str, list[dict[str, Any]]] = {}
    for i, row_id in enumerate(r["id"] for r in per_day[0]):
        spans: list[dict[str, Any]] = []
        for d, rows in zip(days, per_day, strict=True):
            r = rows[i]
            state = {k: r[k] for k in KEYS}
            if spans and all(spans[-1][k] == state[k] for k in KEYS):
                continue
            if spans:
                spans[-1]["to"] = (d - timedelta(days=1)).isoformat()
            spans.append({"from": d.isoformat() if d != days[0] else "…", "to": None, **state, "tpp": r["tpp"],
                          "performance_density": r["performance_density"], "rulebook_hash": r["rulebook_hash"]})
        out[row_id] = spans
    return out


def change_dates(spans: list[dict[str, Any]]) -> list[str]:
    """The dates on which the control itself changed."""
    out = []
    for prev, cur in zip(spans, spans[1:], strict=False):
        if prev["control"] != cur["control"]:
            out.append(cur["from"])
    return out
