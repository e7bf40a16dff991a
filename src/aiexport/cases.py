"""Cases for `weights`, `foundry` and `invest`: read, validated and answered in one shape.

A case file is CSV (header row), JSON or YAML (one object or a list of objects), read with the
project's readers (`errors.read_input`, the duplicate-key-aware JSON and YAML loaders of
transactions.py). Every field is optional except where a command says otherwise: an empty cell
means "unknown" and the engine answers `indeterminate` naming it when it matters. Malformed values
stop the run with one line naming the file, the row and the field, and the fix.

`Answer` collects the findings of one case as plain dicts ({rule, citation, text_en, text_zh, fact,
effect}), so that an answer is JSON as it stands and can be recorded by the audit ledger.
"""

from __future__ import annotations

import csv
import io
import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiexport.errors import InputError, read_input
from aiexport.rulebook import Provision, Resolved, ResolvedInstrument, Rulebook, parse_date
from aiexport.specs import _fail
from aiexport.transactions import _COUNTRY_MISTAKES, COUNTRY_CODES, decode_records

_TRUE = ("yes", "y", "true", "1")
_FALSE = ("no", "n", "false", "0")
#: no figure a case needs comes near this; larger values are unit mistakes
MAX_VALUE = 1e40


@dataclass(frozen=True)
class Field:
    """One input field: its kind (id, text, number, bool, country, date, choice, choices) and the help
    text that names its unit; `choices` for the coded kinds; `minimum`/`maximum` for numbers."""

    kind: str
    help: str
    choices: tuple[str, ...] = ()
    minimum: float = 0.0
    maximum: float = MAX_VALUE
    exclusive_minimum: bool = False


def read_case_file(path: str | Path, fields: Mapping[str, Field], what: str) -> list[dict[str, Any]]:
    """The rows of a case file, validated (`validate_cases`)."""
    p = Path(str(path))
    source = str(path)
    raw = read_input(path, what, field="FILE")
    text, records = decode_records(raw, p.suffix.lower(), source, "case")
    if records is not None:
        return validate_cases(records, fields, source)
    return validate_cases(_csv_rows(text, fields, source), fields, source)


def _csv_rows(text: str, fields: Mapping[str, Field], source: str) -> list[dict[str, Any]]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise InputError(f"{source}: not a readable CSV file ({exc}); give a CSV with a header row") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{source}: the file is empty; give a header row and at least one case")
    header = [c.strip() for c in rows[0]]
    seen: set[str] = set()
    for c in header:
        if c not in fields:
            raise _fail(source, None, _shown(c), "unknown column", f"use only {', '.join(fields)}")
        if c in seen:
            raise _fail(source, None, c, "duplicate column", "give each column once in the header")
        seen.add(c)
    if len(rows) == 1:
        raise InputError(f"{source}: no data rows under the header; give at least one case")
    out = []
    for i, r in enumerate(rows[1:], start=1):
        if len(r) > len(header):
            raise InputError(f"{source}: row {i}: {len(r)} cells for {len(header)} columns; quote cells that contain commas", row=i)
        out.append({k: (v if v.strip() else None) for k, v in zip(header, r, strict=False)})
    return out


def _shown(name: Any) -> str:
    s = str(name)
    return s if s.isprintable() and len(s) < 40 else repr(s[:40])


def validate_cases(records: Iterable[Mapping[str, Any]], fields: Mapping[str, Field], source: str = "input") -> list[dict[str, Any]]:
    """Typed cases from dict-like rows (files or the Python API); the first bad cell raises InputError."""
    out: list[dict[str, Any]] = []
    ids: set[str] = set()
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise InputError(f"{source}: row {i} is not an object; give one object of case fields per row", row=i)
        if getattr(rec, "duplicate", None) is not None:
            raise _fail(source, i, rec.duplicate, "duplicate field", "give each field once per row")  # type: ignore[attr-defined]
        case: dict[str, Any] = {}
        for key, value in rec.items():
            if key not in fields:
                raise _fail(source, i, _shown(key), "unknown field", f"use only {', '.join(fields)}")
            case[key] = _typed(value, fields[key], source, i, str(key))
        case_id = case.get("id") or str(i)
        if case_id in ids:
            raise _fail(source, i, "id", f"{case_id!r} repeats an earlier row", "give every case its own id")
        ids.add(case_id)
        case["id"] = case_id
        out.append(case)
    if not out:
        raise InputError(f"{source}: no rows; give at least one case")
    return out


def _typed(value: Any, f: Field, source: str, row: int, name: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return [] if f.kind == "choices" else None
    if isinstance(value, (list, tuple, set, Mapping)) and f.kind != "choices":
        raise _fail(source, row, name, "a list or object where one value belongs", f"give {f.help}")
    if isinstance(value, (date, datetime)):
        value = value.isoformat()[:10]
    text = str(value).strip() if not isinstance(value, (list, tuple)) else value
    if f.kind in ("id", "text"):
        if not isinstance(text, str) or not text.isprintable():
            raise _fail(source, row, name, "not printable text", f"give {f.help}")
        return text
    if f.kind == "number":
        try:
            number = float(text.replace("_", "").replace(",", ""))  # type: ignore[union-attr]
        except ValueError:
            raise _fail(source, row, name, f"{text!r} is not a number", f"give {f.help}") from None
        low_ok = number > f.minimum if f.exclusive_minimum else number >= f.minimum
        if not math.isfinite(number) or not low_ok or number > f.maximum:
            raise _fail(source, row, name, f"{text!r} is out of range", f"give {f.help}")
        return number
    if f.kind == "bool":
        low = str(text).lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise _fail(source, row, name, f"{text!r} is not yes or no", f"give {f.help}")
    if f.kind == "country":
        code = str(text).upper()
        if code in COUNTRY_CODES:
            return code
        hint = _COUNTRY_MISTAKES.get(code, "give an ISO 3166 alpha-2 code such as CN, US, DE")
        raise _fail(source, row, name, f"{text!r} is not a country code", hint)
    if f.kind == "date":
        try:
            return parse_date(str(text), name)
        except InputError:
            raise _fail(source, row, name, f"{text!r} is not a date", "write it as YYYY-MM-DD, e.g. 2025-03-01") from None
    if f.kind == "choice":
        low = str(text).lower().replace("-", "_").replace(" ", "_")
        if low in f.choices:
            return low
        raise _fail(source, row, name, f"{text!r} is not one of {', '.join(f.choices)}", f"give {f.help}")
    if f.kind == "choices":
        items = value if isinstance(value, (list, tuple)) else str(value).replace(",", ";").split(";")
        got = []
        for it in items:
            low = str(it).strip().lower().replace("-", "_").replace(" ", "_")
            if not low:
                continue
            if low not in f.choices:
                raise _fail(source, row, name, f"{str(it).strip()!r} is not one of {', '.join(f.choices)}", f"give {f.help}")
            got.append(low)
        return got
    raise AssertionError(f.kind)


# --- dates --------------------------------------------------------------------------------------


def resolver(rulebook: Rulebook) -> Callable[[date], Resolved]:
    """day -> the rules in force that day, resolved once per epoch (the span between two dates on which
    anything in the rulebook changes, `Rulebook.epoch_dates`): a batch spread over many dates resolves
    and hashes the rulebook only as often as it really changes."""
    starts = rulebook.epoch_dates()

    def at(day: date) -> Resolved:
        i = bisect_right(starts, day)
        return rulebook.resolve(starts[i - 1] if i else day)

    return at


# --- answers ------------------------------------------------------------------------------------


def sci(x: float) -> str:
    """1e26 -> '1 × 10^26'; 3.2856e24 -> '3.29 × 10^24' (three significant figures)."""
    if x == 0:
        return "0"
    exp = math.floor(math.log10(abs(x)))
    mant = round(x / 10**exp, 2)
    if abs(mant) >= 10:
        mant, exp = mant / 10, exp + 1
    return f"{mant:g} × 10^{exp}"


def billions(x: float) -> str:
    return f"{x / 1e9:g} billion"


@dataclass
class Answer:
    """The answer to one case while it is built: findings in order, missing facts, UNCONFIRMED rules."""

    id: str
    findings: list[dict[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)

    def add(self, inst: ResolvedInstrument, key: str, effect: str = "info", **values: Any) -> None:
        """A finding from provision `key` of the instrument's version in force, its texts filled with `values`."""
        prov = inst.version.provisions[key] if inst.version else None
        if prov is None:
            raise KeyError(f"{inst.id}: no provision {key!r} on this date")
        self._append(f"{inst.id}.{key}", prov, effect, values)

    def add_text(self, rule: str, fact: str, citation: str, text_en: str, text_zh: str, effect: str = "info") -> None:
        self.findings.append({"rule": rule, "citation": citation, "text_en": text_en, "text_zh": text_zh, "fact": fact,
                              "effect": effect})
        if fact == "UNCONFIRMED" and rule not in self.unconfirmed:
            self.unconfirmed.append(rule)

    def _append(self, rule: str, prov: Provision, effect: str, values: Mapping[str, Any]) -> None:
        self.add_text(rule, prov.fact, prov.citation.text(), _fill(prov.text_en, values), _fill(prov.text_zh, values), effect)

    def finish(self, out: dict[str, Any], resolved: Resolved) -> dict[str, Any]:
        """`out` completed with the findings, what is missing (when indeterminate), the UNCONFIRMED
        rules used and the rulebook hash and scenario that produced it."""
        out["findings"] = self.findings
        out["missing"] = self.missing if out["verdict"] == "indeterminate" else []
        out["unconfirmed"] = self.unconfirmed
        out["rulebook_hash"] = resolved.rulebook_hash
        out["scenario"] = resolved.scenario
        return out

    def uses(self, rule: str, fact: str) -> None:
        """Record that the answer rests on a fact (a parameter value); UNCONFIRMED ones are listed."""
        if fact == "UNCONFIRMED" and rule not in self.unconfirmed:
            self.unconfirmed.append(rule)


def begin(case: Mapping[str, Any], rulebook: Rulebook, as_of: date, resolve: Callable[[date], Resolved] | None,
          instrument: str) -> tuple[date, Resolved, ResolvedInstrument, Answer]:
    """The start of every case's answer: its date (its own, else `as_of`), the rulebook resolved on it
    (through `resolve`, which caches per epoch, when given), the instrument, and a blank answer."""
    day = case.get("date") or as_of
    resolved = resolve(day) if resolve is not None else rulebook.resolve(day)
    return day, resolved, resolved[instrument], Answer(case["id"])


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _fill(template: str, values: Mapping[str, Any]) -> str:
    return template.format_map(_Blank(values))
