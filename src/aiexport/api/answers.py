"""The engine as the service calls it: the same functions and the same JSON as the CLI's ``--json``.

The rulebook (per scenario), the catalog and the list index are loaded once per process, lazily.
Classify and check answers are pure functions of (input, date, rulebook, list snapshot): each is
kept in a bounded LRU cache keyed by all of them, so a question asked again costs a dictionary
look-up. The JSON is polars' ``write_ndjson`` of the engine's frame, exactly as `aiexport classify
--json` and `aiexport check --json` print it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from aiexport.errors import InputError
from aiexport.rulebook import Rulebook, load_rulebook, parse_date

SCENARIOS = Path(__file__).resolve().parent.parent / "rules" / "scenarios"
CACHE_SIZE = 20_000


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


_rulebooks: dict[str | None, Rulebook] = {}
_rb_lock = threading.Lock()


def scenario_path(name: str | None) -> Path | None:
    """A packaged scenario by name (the service never reads a path a caller gives)."""
    if not name:
        return None
    if name not in scenario_names():
        raise InputError(f"scenario: {name!r} is not a packaged scenario; give one of {', '.join(scenario_names())} or none",
                         field="scenario")
    return SCENARIOS / f"{name}.yaml"


def rulebook(scenario: str | None = None) -> Rulebook:
    key = scenario or None
    rb = _rulebooks.get(key)
    if rb is None:
        with _rb_lock:
            rb = _rulebooks.get(key)
            if rb is None:
                rb = _rulebooks[key] = load_rulebook(scenario_path(key))
    return rb


def as_of(text: str | None) -> date:
    return parse_date(text, "as_of") if text else date.today()


class LRU:
    """A small thread-safe LRU map."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            v = self.data.get(key)
            if v is not None:
                self.data.move_to_end(key)
            return v

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


answer_cache = LRU()


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def ndjson_lines(df: pl.DataFrame) -> list[bytes]:
    """One JSON object per row, as the CLI's ``--json`` writes them (polars ``write_ndjson``)."""
    text = df.write_ndjson()
    return [line.encode("utf-8") for line in text.splitlines() if line]


def spec_frame(spec: Mapping[str, Any]) -> tuple[pl.DataFrame, str]:
    """A classify request: ``{"name": CATALOG_NAME}`` alone, or the fields of a spec."""
    from aiexport import catalog
    from aiexport.specs import specs_from_python

    if not isinstance(spec, Mapping) or not spec:
        raise InputError("body: give one spec object (the classify fields) or {\"name\": CATALOG_NAME}", field="body")
    if set(spec) == {"name"}:
        name = spec["name"]
        if not isinstance(name, str) or not name.strip():
            raise InputError("name: give a catalog name such as \"H100\" (see GET /v1/catalog)", field="name")
        found = catalog.find(name)
        if found is None:
            near = ", ".join(catalog.candidates(name)[:6])
            hint = f"did you mean: {near}" if near else "see GET /v1/catalog"
            raise InputError(f"name: {name!r} is not in the catalog ({hint}); give a catalog name or the spec's fields", field="name")
        return specs_from_python(catalog.spec_of(found), "catalog"), "catalog"
    return specs_from_python(dict(spec), "request"), "request"


def classify_one(spec: Mapping[str, Any], day: date, scenario: str | None = None) -> bytes:
    """The classification of one spec, as the JSON object `aiexport classify --json` prints."""
    rb = rulebook(scenario)
    key = ("classify", canonical(spec), day, scenario)
    hit = answer_cache.get(key)
    if hit is not None:
        return hit
    from aiexport.chips import classify_frame

    frame, source = spec_frame(spec)
    lines = ndjson_lines(classify_frame(frame, rb, day, source))
    if len(lines) != 1:
        raise InputError("body: give exactly one spec (a system's contained IC is named by `contains`)", field="body")
    answer_cache.put(key, lines[0])
    return lines[0]


def transactions(tx: Any) -> pl.DataFrame:
    from aiexport.transactions import transactions_from_python

    if isinstance(tx, Mapping):
        if not tx:
            raise InputError("body: give one transaction object with the check fields", field="body")
        return transactions_from_python(dict(tx), "request")
    if not isinstance(tx, list) or not tx or not all(isinstance(t, Mapping) for t in tx):
        raise InputError("body: give a list of transaction objects with the check fields", field="body")
    return transactions_from_python([dict(t) for t in tx], "request")


def check_one(tx: Mapping[str, Any], day: date, scenario: str | None = None, enforce: bool = False, screen: bool = False) -> bytes:
    """The determination of one transaction, as the JSON object `aiexport check --json` prints."""
    from aiexport.licensing import check_frame

    rb = rulebook(scenario)
    index = current_index() if screen else None
    snap_hash = index[1] if index is not None else None
    key = ("check", canonical(tx), day, scenario, enforce, snap_hash)
    hit = answer_cache.get(key)
    if hit is not None:
        return hit
    frame = transactions(tx)
    party = None
    if index is not None:
        from aiexport.parties.screening import party_screen

        party = party_screen(index[0], snapshot_hash=snap_hash)
    lines = ndjson_lines(check_frame(frame, rb, day, enforce_codified=enforce, source="request", screen=party))
    answer_cache.put(key, lines[0])
    return lines[0]


def check_many(txs: list[Mapping[str, Any]], day: date, scenario: str | None = None, enforce: bool = False) -> pl.DataFrame:
    from aiexport.licensing import check_frame

    return check_frame(transactions(txs), rulebook(scenario), day, enforce_codified=enforce, source="request")


_index: dict[str, Any] = {}
_index_lock = threading.Lock()


def current_index() -> tuple[Any, str, int]:
    """The matcher index of the current stored list snapshot (built once per snapshot per process)."""
    from aiexport.parties import store

    snap = store.current_snapshot()
    if snap is None:
        raise InputError("no list snapshot is stored; an admin imports one with POST /v1/lists (or `aiexport lists import FILE`)",
                         field="snapshot")
    with _index_lock:
        if _index.get("id") != snap.id:
            _index.update(id=snap.id, index=store.snapshot_index(snap), hash=snap.content_hash)
        return _index["index"], _index["hash"], snap.id
