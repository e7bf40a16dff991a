"""The built-in catalog: real accelerators, HBM stacks and systems, with their published sources.

`chips.csv` is packaged data (rebuilt by hand with tools/build_catalog.py from the team's research
file); nothing is fetched at run time.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib import resources

from aiexport.specs import SPEC_COLUMNS


@lru_cache(maxsize=1)
def items() -> tuple[dict[str, str], ...]:
    text = (resources.files("aiexport.catalog") / "chips.csv").read_text(encoding="utf-8")
    return tuple(dict(r) for r in csv.DictReader(text.splitlines()))


def _norm(s: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", s.lower())


@lru_cache(maxsize=1)
def _index() -> dict[str, list[str]]:
    idx: dict[str, list[str]] = {}
    for it in items():
        keys = {_norm(it["id"]), _norm(it["name"])} | {_norm(a) for a in it.get("aliases", "").split(";") if a.strip()}
        for k in keys:
            idx.setdefault(k, []).append(it["id"])
    return idx


def find(name: str) -> dict[str, str] | None:
    """The catalog item with this id, name or alias (case, spaces and punctuation ignored)."""
    hits = _index().get(_norm(name), [])
    if len(hits) == 1:
        return next(it for it in items() if it["id"] == hits[0])
    return None


def candidates(name: str) -> list[str]:
    n = _norm(name)
    return [it["name"] for it in items() if n and (n in _norm(it["name"]) or n in _norm(it["id"]))]


def suggest(name: str, otherwise: str = "see `aiexport catalog list`") -> str:
    """The hint for a name not in the catalog: "did you mean: A, B, …" (up to six), else `otherwise`."""
    near = ", ".join(candidates(name)[:6])
    return f"did you mean: {near}" if near else otherwise


def spec_of(item: dict[str, str]) -> dict[str, str]:
    """The item's spec fields only (what `classify` reads)."""
    return {k: item[k] for k in SPEC_COLUMNS if item.get(k)}
