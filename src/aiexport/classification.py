"""The Python face of classification: `aiexport.classify(spec, as_of=..., scenario=...)`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from aiexport import catalog
from aiexport.chips import classify_frame
from aiexport.errors import InputError
from aiexport.rulebook import load_rulebook, parse_date
from aiexport.specs import specs_from_python


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)
    rule: str
    citation: str
    text_en: str
    text_zh: str
    fact: str
    outcome: str


class Classification(BaseModel):
    """One item's classification on one date under one rulebook (hash included)."""

    model_config = ConfigDict(frozen=True)
    id: str
    name: str | None
    as_of: date
    control: str
    paragraph: str | None
    possible_controls: list[str]
    tpp: float | None
    tpp_precision: str | None
    performance_density: float | None
    memory_bandwidth_density: float | None
    item_type: str | None
    license_exceptions: list[str]
    rule_version: str | None
    rule_status: str
    scenario: str | None
    rulebook_hash: str
    unconfirmed: list[str]
    missing: list[str]
    reasons: list[Reason]

    @property
    def controlled(self) -> bool | None:
        """True when caught by 3A090/4A090/.z, False when not, None when indeterminate."""
        if self.control == "indeterminate":
            return None
        return self.control != "none"


def today() -> date:
    return date.today()


def _as_records(spec: Any) -> list[Mapping[str, Any]]:
    items = [spec] if isinstance(spec, (str, Mapping)) else list(spec)
    out: list[Mapping[str, Any]] = []
    for it in items:
        if isinstance(it, str):
            found = catalog.find(it)
            if found is None:
                raise InputError(f"item {it!r} is not in the catalog ({catalog.suggest(it)}); give a catalog name or a spec", field="item")
            out.append(catalog.spec_of(found))
        elif isinstance(it, BaseModel):
            out.append(it.model_dump(exclude_none=True))
        else:
            out.append(it)
    return out


def classify_many(spec: Any, as_of: date | str | None = None, scenario: str | Path | None = None) -> list[Classification]:
    day = parse_date(as_of) if as_of is not None else today()
    rb = load_rulebook(scenario)
    frame = specs_from_python(_as_records(spec))
    result = classify_frame(frame, rb, day, "spec")
    return [Classification.model_validate(r) for r in result.to_dicts()]


def classify(spec: Mapping[str, Any] | str | Iterable[Mapping[str, Any]], as_of: date | str | None = None,
             scenario: str | Path | None = None) -> Classification | list[Classification]:
    """Classify a spec (dict of spec fields), a catalog name, or a list of them.

    >>> aiexport.classify("H100", as_of="2024-01-01").control
    '3A090.a'
    """
    results = classify_many(spec, as_of, scenario)
    single = isinstance(spec, (str, Mapping))
    return results[0] if single else results
