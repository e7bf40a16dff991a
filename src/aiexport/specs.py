"""Chip and system specs: the input format of `classify`, read and validated in one place.

A spec file is CSV (header row), JSON or YAML (one object or a list of objects). Every row is
checked column by column; the first bad cell stops the run with one line naming the file, the row
and the field, and saying how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from aiexport.errors import InputError, read_input
from aiexport.queries import collect

#: Dense peak rates, in TFLOPS or TOPS, one column per precision. Sparse figures must be halved
#: (or left out) by the user: the engine never treats a sparse figure as dense.
RATE_FIELDS = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4", "fp4")

#: field -> (kind, help text used in error messages)
FIELDS: dict[str, tuple[str, str]] = {
    "id": ("id", "a unique identifier for the row"),
    "name": ("text", "the product name"),
    "vendor": ("text", "the vendor"),
    "datacenter": ("bool", "yes or no: designed or marketed for datacenters"),
    **{f: ("rate", f"the dense {f.upper()} rate in TFLOPS/TOPS, a number >= 0 (empty if unsupported)") for f in RATE_FIELDS},
    "die_area_mm2": ("positive", "the applicable die area in mm², a number > 0"),
    "io_bidir_gbps": ("nonneg", "the aggregate bidirectional I/O in GB/s, a number >= 0"),
    "memory_bw_gbps": ("nonneg", "the memory bandwidth in GB/s, a number >= 0"),
    "transistors_billion": ("nonneg", "the transistor count in billions, a number >= 0"),
    "process_nm": ("positive", "the process node in nm, a number > 0"),
    "hbm": ("bool", "yes or no: is or contains high-bandwidth memory"),
    "hbm_package_area_mm2": ("positive", "the HBM package or stack area in mm², a number > 0"),
    "base_eccn": ("eccn", "an ECCN such as 5A992.c"),
    "contains": ("text", "the catalog name or spec id of the IC the system contains"),
    "count": ("count", "how many of that IC the system holds, a whole number >= 1"),
    "item_type": ("item_type", "ic, hbm_stack or system (inferred when empty)"),
}
SPEC_COLUMNS = tuple(FIELDS)
NUMERIC_FIELDS = tuple(f for f, (k, _) in FIELDS.items() if k in ("rate", "positive", "nonneg"))
#: no datasheet figure, count or area comes near this; larger values are unit mistakes (and would
#: overflow the arithmetic), so they are rejected rather than guessed at
MAX_VALUE = 1e12
_TRUE = ("yes", "y", "true", "1")
_DTYPES = {"id": pl.String, "text": pl.String, "bool": pl.Boolean, "rate": pl.Float64, "positive": pl.Float64,
           "nonneg": pl.Float64, "eccn": pl.String, "count": pl.Int64, "item_type": pl.String}
_FALSE = ("no", "n", "false", "0")
_BOOL = {**{v: True for v in _TRUE}, **{v: False for v in _FALSE}}
_ITEM_TYPES = ("ic", "hbm_stack", "system")


def _fail(source: str, row: int | None, field: str, problem: str, fix: str) -> InputError:
    where = f"{source}: row {row}, field {field}" if row is not None else f"{source}: field {field}"
    return InputError(f"{where}: {problem}; {fix}", field=field, row=row)


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (date, datetime)):  # YAML turns 2024-01-01 into a date
        return value.isoformat()
    return repr(value)  # a list or mapping where a scalar belongs: rejected by validation below


def string_frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    """Rows of text cells (keys may differ from row to row) as a frame of String columns, in the
    order columns are first seen."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return pl.DataFrame({k: pl.Series(k, [r.get(k) for r in rows], dtype=pl.String) for k in keys})


def frame_from_records(records: Iterable[Mapping[str, Any]], source: str = "input") -> pl.DataFrame:
    """Build a string frame from dict-like rows (JSON, YAML, the Python API)."""
    rows: list[dict[str, str | None]] = []
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise InputError(f"{source}: row {i} is not an object; give one object of spec fields per row")
        for key in rec:
            if key not in FIELDS:
                shown = str(key) if str(key).isprintable() and len(str(key)) < 40 else repr(str(key)[:40])
                raise _fail(source, i, shown, "unknown column", f"use only {', '.join(SPEC_COLUMNS)}")
            if isinstance(rec[key], (list, dict)):
                raise _fail(source, i, str(key), "a list or object where one value belongs", FIELDS[key][1])
        rows.append({key: _scalar(v) for key, v in rec.items()})
    if not rows:
        raise InputError(f"{source}: no rows; give at least one spec")
    return string_frame(rows)


def read_spec_file(path: str | Path) -> pl.DataFrame:
    """Read a spec file into a frame of strings (validated by `validate_specs`)."""
    p = Path(path)
    source = str(path)
    raw = read_input(path, "a CSV, JSON or YAML spec file", field="--spec")
    suffix = p.suffix.lower()
    if suffix == ".csv" and (fast := _typed_csv(raw)) is not None:
        return fast
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{source}: not UTF-8 text; save the spec file as UTF-8") from None
    head = text.lstrip()[:1]
    if suffix == ".json" or (suffix not in (".csv", ".yaml", ".yml") and head in "[{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}: line {exc.lineno}: not valid JSON ({exc.msg}); fix the syntax") from None
        return frame_from_records(data if isinstance(data, list) else [data], source)
    if suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}:" if mark else ""
            raise InputError(f"{source}:{line} not valid YAML; fix the syntax") from None
        if data is None:
            raise InputError(f"{source}: the file is empty; give at least one spec")
        return frame_from_records(data if isinstance(data, list) else [data], source)
    return _read_csv(text, source)


def _typed_csv(raw: bytes) -> pl.DataFrame | None:
    """Fast path for clean CSV: numbers parsed by polars itself. None when anything is unusual
    (unknown column, a cell polars cannot parse, non-UTF-8 ...): the string path then finds and
    names the bad cell."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        header = [c.strip() for c in pl.read_csv(raw, n_rows=0, infer_schema=False).columns]
        if not header or any(c not in FIELDS for c in header) or len(set(header)) != len(header):
            return None
        overrides = {c: (pl.Float64 if c in NUMERIC_FIELDS or c == "count" else pl.String) for c in header}
        df = pl.read_csv(raw, schema_overrides=overrides, infer_schema=False, new_columns=header)
    except Exception:  # any parser complaint: take the careful path
        return None
    return df if df.height else None


def _read_csv(text: str, source: str) -> pl.DataFrame:
    try:
        df = pl.read_csv(text.encode("utf-8"), infer_schema=False)
    except pl.exceptions.NoDataError:
        raise InputError(f"{source}: the file is empty; give a header row and at least one spec row") from None
    except Exception as exc:  # polars raises several parser errors; all mean "not a CSV we can read"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputError(f"{source}: not a readable CSV file ({first[:120]}); give a CSV with a header row") from None
    cols = [c.strip() for c in df.columns]
    df.columns = cols
    for c in cols:
        if c not in FIELDS:
            shown = c if c.isprintable() and len(c) < 40 else repr(c[:40])
            raise _fail(source, None, shown, "unknown column", f"use only {', '.join(SPEC_COLUMNS)}")
    if df.height == 0:
        raise InputError(f"{source}: no data rows under the header; give at least one spec row")
    return df


@lru_cache(maxsize=64)
def _validation(empty: frozenset[str]) -> tuple[dict[str, pl.Expr], list[tuple[str, pl.Expr, str, str]]]:
    """The conversions and checks of every field (expressions only, built once per set of empty columns)."""
    # each field converted once, into `__t_{field}`; the checks read the converted value where they can
    casts: dict[str, pl.Expr] = {}
    checks: list[tuple[str, pl.Expr, str, str]] = [  # (field, bad-cell mask, problem, fix)
        ("id", pl.col("id").is_null(), "empty id", "give each row a unique id"),
        ("id", pl.col("id").is_not_null() & ~pl.col("id").is_first_distinct(), "duplicate id {value!r}", "give each row a unique id"),
    ]
    for field, (kind, help_text) in FIELDS.items():
        if field in empty:  # nothing to check or convert, just the column's type
            casts[field] = pl.col(field).cast(_DTYPES[kind])
            continue
        col = pl.col(field)
        given = col.is_not_null()
        typed = pl.col(f"__t_{field}")
        if kind in ("rate", "positive", "nonneg", "count"):
            num = col.cast(pl.Float64, strict=False)
            checks.append((field, given & (num.is_null() | num.is_nan() | num.is_infinite()), "{value!r} is not a number", f"give {help_text}"))
            checks.append((field, given & (num.abs() >= MAX_VALUE), "{value} is implausibly large", f"check the unit; give {help_text}"))
            if kind == "positive":
                checks.append((field, given & (num <= 0), "{value} is not positive", f"give {help_text}"))
            elif kind == "count":
                checks.append((field, given & ((num < 1) | (num != num.floor())), "{value!r} is not a whole number >= 1", f"give {help_text}"))
            else:
                checks.append((field, given & (num < 0), "{value} is negative", f"give {help_text}"))
            casts[field] = num.cast(pl.Int64, strict=False) if kind == "count" else num
        elif kind == "bool":
            casts[field] = col.str.to_lowercase().replace_strict(_BOOL, default=None, return_dtype=pl.Boolean)
            checks.append((field, given & typed.is_null(), "{value!r} is not yes or no", f"give {help_text}"))
        elif kind == "item_type":
            casts[field] = col.str.to_lowercase()
            checks.append((field, given & ~typed.is_in(_ITEM_TYPES), "{value!r} is not an item type", f"give {help_text}"))
        elif kind == "eccn":
            # official notation: upper-case ECCN, lower-case paragraphs (5A992.c, 5A002.z.1.a)
            casts[field] = pl.concat_str([col.str.slice(0, 5).str.to_uppercase(), col.str.slice(5).str.to_lowercase()])
            checks.append((field, given & ~typed.str.contains(r"^[0-9][A-E][0-9]{3}(\.[a-z0-9]+)*$"), "{value!r} is not an ECCN", f"give {help_text}"))
    checks.append(("contains", (pl.col("__t_item_type") == "system") & pl.col("contains").is_null(),
                   "a system without contents", "name the IC it holds in contains (catalog name or spec id) and give count"))
    checks.append(("contains", pl.col("contains").is_not_null() & pl.any_horizontal(pl.col(RATE_FIELDS).is_not_null()),
                   "a system row with its own rates", "give the IC's rates in its own row and name it in contains, or drop contains"))
    return casts, checks


def validate_specs(raw: pl.DataFrame, source: str = "input") -> pl.DataFrame:
    """Check every cell and return a typed frame with all spec columns present (plus `__row`).

    All checks run in one pass; on failure the earliest bad row is reported (first field wins).
    """
    if "id" not in raw.columns:
        raise _fail(source, None, "id", "the id column is missing", "add an id column with a unique value per row")
    text_cols = [c for c, t in raw.schema.items() if t == pl.String]
    coded = {c for c in text_cols if c not in ("name", "vendor")}  # descriptive text is kept as given

    def cleaned(c: str) -> pl.Expr:
        s = pl.col(c).str.strip_chars() if c in coded else pl.col(c)
        return pl.when(s != "").then(s).alias(c)

    absent = [c for c in SPEC_COLUMNS if c not in raw.columns]
    df = collect(raw.lazy().with_columns(cleaned(c) for c in text_cols).with_columns(
        *[pl.lit(None, dtype=pl.String).alias(c) for c in absent], pl.int_range(1, pl.len() + 1).alias("__row")), raw.height)

    empty = frozenset(c for c, n in zip(df.columns, df.null_count().row(0), strict=True) if n == df.height)
    casts, checks = _validation(empty)
    work = df.with_columns(v.alias(f"__t_{k}") for k, v in casts.items())
    firsts = work.select(pl.col("__row").filter(mask.fill_null(False)).min().alias(str(i)) for i, (_, mask, _, _) in enumerate(checks)).row(0)
    bad = [(row, i) for i, row in enumerate(firsts) if row is not None]
    if bad:
        row, i = min(bad)
        field, _, problem, fix = checks[i]
        value = df.filter(pl.col("__row") == row).item(0, field)
        raise _fail(source, row, field, problem.format(value=value), fix)
    return work.select("__row", *[pl.col(f"__t_{c}").alias(c) if c in casts else pl.col(c) for c in SPEC_COLUMNS])


def specs_from_python(spec: Mapping[str, Any] | Iterable[Mapping[str, Any]], source: str = "spec") -> pl.DataFrame:
    records = [spec] if isinstance(spec, Mapping) else list(spec)
    records = [{"id": f"spec{i}", **r} if "id" not in r else dict(r) for i, r in enumerate(records, start=1)]
    return validate_specs(frame_from_records(records, source), source)
