"""Transactions: the input of `check`, read and validated in one place.

A transaction file is CSV (header row), JSON or YAML (one object or a list of objects) or Parquet.
Every column is optional except `id`: an empty cell means "unknown" and is left to the licence
determination (which answers `indeterminate` where a fact it needs is missing). Only malformed
values are errors: the earliest bad row stops the run with one line naming the file, the row and
the field, and saying how to fix it. Validation is column-wise polars expressions, no Python per row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from aiexport.errors import InputError, read_input
from aiexport.queries import collect
from aiexport.specs import _fail, string_frame

#: Every assigned ISO 3166-1 alpha-2 code (249, as published by the ISO 3166 Maintenance Agency).
ISO_ALPHA2: frozenset[str] = frozenset({
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE",
    "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD",
    "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM",
    "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM", "HN", "HR", "HT", "HU",
    "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN",
    "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME",
    "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM",
    "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI",
    "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK",
    "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
})
#: Kosovo: user-assigned, not in ISO 3166-1, but the code in general use (and in the EAR's practice)
COUNTRY_CODES: frozenset[str] = ISO_ALPHA2 | {"XK"}
_COUNTRY_LIST = sorted(COUNTRY_CODES)

#: alpha-3 -> alpha-2, only to say which 2-letter code a 3-letter one means
_ALPHA3 = {
    "ABW": "AW", "AFG": "AF", "AGO": "AO", "AIA": "AI", "ALA": "AX", "ALB": "AL", "AND": "AD", "ARE": "AE", "ARG": "AR", "ARM": "AM",
    "ASM": "AS", "ATA": "AQ", "ATF": "TF", "ATG": "AG", "AUS": "AU", "AUT": "AT", "AZE": "AZ", "BDI": "BI", "BEL": "BE", "BEN": "BJ",
    "BES": "BQ", "BFA": "BF", "BGD": "BD", "BGR": "BG", "BHR": "BH", "BHS": "BS", "BIH": "BA", "BLM": "BL", "BLR": "BY", "BLZ": "BZ",
    "BMU": "BM", "BOL": "BO", "BRA": "BR", "BRB": "BB", "BRN": "BN", "BTN": "BT", "BVT": "BV", "BWA": "BW", "CAF": "CF", "CAN": "CA",
    "CCK": "CC", "CHE": "CH", "CHL": "CL", "CHN": "CN", "CIV": "CI", "CMR": "CM", "COD": "CD", "COG": "CG", "COK": "CK", "COL": "CO",
    "COM": "KM", "CPV": "CV", "CRI": "CR", "CUB": "CU", "CUW": "CW", "CXR": "CX", "CYM": "KY", "CYP": "CY", "CZE": "CZ", "DEU": "DE",
    "DJI": "DJ", "DMA": "DM", "DNK": "DK", "DOM": "DO", "DZA": "DZ", "ECU": "EC", "EGY": "EG", "ERI": "ER", "ESH": "EH", "ESP": "ES",
    "EST": "EE", "ETH": "ET", "FIN": "FI", "FJI": "FJ", "FLK": "FK", "FRA": "FR", "FRO": "FO", "FSM": "FM", "GAB": "GA", "GBR": "GB",
    "GEO": "GE", "GGY": "GG", "GHA": "GH", "GIB": "GI", "GIN": "GN", "GLP": "GP", "GMB": "GM", "GNB": "GW", "GNQ": "GQ", "GRC": "GR",
    "GRD": "GD", "GRL": "GL", "GTM": "GT", "GUF": "GF", "GUM": "GU", "GUY": "GY", "HKG": "HK", "HMD": "HM", "HND": "HN", "HRV": "HR",
    "HTI": "HT", "HUN": "HU", "IDN": "ID", "IMN": "IM", "IND": "IN", "IOT": "IO", "IRL": "IE", "IRN": "IR", "IRQ": "IQ", "ISL": "IS",
    "ISR": "IL", "ITA": "IT", "JAM": "JM", "JEY": "JE", "JOR": "JO", "JPN": "JP", "KAZ": "KZ", "KEN": "KE", "KGZ": "KG", "KHM": "KH",
    "KIR": "KI", "KNA": "KN", "KOR": "KR", "KWT": "KW", "LAO": "LA", "LBN": "LB", "LBR": "LR", "LBY": "LY", "LCA": "LC", "LIE": "LI",
    "LKA": "LK", "LSO": "LS", "LTU": "LT", "LUX": "LU", "LVA": "LV", "MAC": "MO", "MAF": "MF", "MAR": "MA", "MCO": "MC", "MDA": "MD",
    "MDG": "MG", "MDV": "MV", "MEX": "MX", "MHL": "MH", "MKD": "MK", "MLI": "ML", "MLT": "MT", "MMR": "MM", "MNE": "ME", "MNG": "MN",
    "MNP": "MP", "MOZ": "MZ", "MRT": "MR", "MSR": "MS", "MTQ": "MQ", "MUS": "MU", "MWI": "MW", "MYS": "MY", "MYT": "YT", "NAM": "NA",
    "NCL": "NC", "NER": "NE", "NFK": "NF", "NGA": "NG", "NIC": "NI", "NIU": "NU", "NLD": "NL", "NOR": "NO", "NPL": "NP", "NRU": "NR",
    "NZL": "NZ", "OMN": "OM", "PAK": "PK", "PAN": "PA", "PCN": "PN", "PER": "PE", "PHL": "PH", "PLW": "PW", "PNG": "PG", "POL": "PL",
    "PRI": "PR", "PRK": "KP", "PRT": "PT", "PRY": "PY", "PSE": "PS", "PYF": "PF", "QAT": "QA", "REU": "RE", "ROU": "RO", "RUS": "RU",
    "RWA": "RW", "SAU": "SA", "SDN": "SD", "SEN": "SN", "SGP": "SG", "SGS": "GS", "SHN": "SH", "SJM": "SJ", "SLB": "SB", "SLE": "SL",
    "SLV": "SV", "SMR": "SM", "SOM": "SO", "SPM": "PM", "SRB": "RS", "SSD": "SS", "STP": "ST", "SUR": "SR", "SVK": "SK", "SVN": "SI",
    "SWE": "SE", "SWZ": "SZ", "SXM": "SX", "SYC": "SC", "SYR": "SY", "TCA": "TC", "TCD": "TD", "TGO": "TG", "THA": "TH", "TJK": "TJ",
    "TKL": "TK", "TKM": "TM", "TLS": "TL", "TON": "TO", "TTO": "TT", "TUN": "TN", "TUR": "TR", "TUV": "TV", "TWN": "TW", "TZA": "TZ",
    "UGA": "UG", "UKR": "UA", "UMI": "UM", "URY": "UY", "USA": "US", "UZB": "UZ", "VAT": "VA", "VCT": "VC", "VEN": "VE", "VGB": "VG",
    "VIR": "VI", "VNM": "VN", "VUT": "VU", "WLF": "WF", "WSM": "WS", "YEM": "YE", "ZAF": "ZA", "ZMB": "ZM", "ZWE": "ZW", "XKX": "XK",
}
#: codes people write that ISO 3166-1 does not assign (or no longer does)
_COUNTRY_MISTAKES = {
    "UK": "use GB for the United Kingdom",
    "EL": "use GR for Greece",
    "EU": "the EU is not a country; give the member state's code",
    "AN": "the Netherlands Antilles were dissolved in 2010; use CW, SX or BQ",
    "YU": "Yugoslavia no longer exists; use RS, ME, BA, HR, SI or MK",
    "CS": "Serbia and Montenegro no longer exists; use RS or ME",
    "TP": "use TL for Timor-Leste",
    "ZR": "use CD for the Democratic Republic of the Congo",
    "BU": "use MM for Myanmar",
    "SU": "the USSR no longer exists; use RU or the successor state's code",
}

END_USES = ("datacenter", "ai_training", "ai_inference", "commercial", "research", "military", "military_intelligence",
            "military_end_user", "wmd", "nuclear", "missile", "chemical_biological", "supercomputer",
            "advanced_node_ic_production", "unknown")
PARTY_LISTS = ("none", "entity_list", "entity_list_fn1", "entity_list_fn4", "meu", "dpl", "uvl", "sdn")
PARTY_LIST_POLICIES = ("presumption_of_denial", "case_by_case", "presumption_of_approval")
#: value as written (lower-case, runs of space and '-' as '_') -> canonical value
KINDS = {"export": "export", "reexport": "reexport", "re_export": "reexport", "transfer": "transfer",
         "in_country_transfer": "transfer", "transfer_in_country": "transfer"}
ITEM_ORIGINS = {"us_origin": "us_origin", "us": "us_origin", "foreign_made": "foreign_made", "foreign": "foreign_made",
                "foreign_direct_product": "foreign_direct_product", "fdp": "foreign_direct_product"}

_COUNTRY_HELP = "an ISO 3166-1 alpha-2 code such as US, CN or NL"

#: field -> (kind, help text used in error messages)
TX_FIELDS: dict[str, tuple[str, str]] = {
    "id": ("id", "a unique identifier for the transaction"),
    "date": ("date", "the date of the export, reexport or transfer as YYYY-MM-DD"),
    "kind": ("kind", "export, reexport or transfer (in-country)"),
    "item": ("text", "the catalog name or spec id of the item"),
    "quantity": ("count", "the number of units, a whole number >= 1"),
    "unit_value_usd": ("nonneg", "the value of one unit in US dollars, a number >= 0"),
    "from_country": ("country", f"the country it leaves, {_COUNTRY_HELP}"),
    "destination_country": ("country", f"the country of destination, {_COUNTRY_HELP}"),
    "consignee_country": ("country", f"the consignee's country, {_COUNTRY_HELP}"),
    "consignee_hq_country": ("country", f"the country of the consignee's headquarters, {_COUNTRY_HELP}"),
    "end_user_country": ("country", f"the end user's country, {_COUNTRY_HELP}"),
    "end_user_hq_country": ("country", f"the country of the end user's headquarters, {_COUNTRY_HELP}"),
    "ultimate_parent_hq_country": ("country", f"the country of the ultimate parent's headquarters, {_COUNTRY_HELP}"),
    "consignee_name": ("name", "the consignee's name"),
    "end_user_name": ("name", "the end user's name"),
    "end_use": ("end_use", f"one or more of {', '.join(END_USES)}, separated by ';', optionally followed by ': free text'"),
    "end_use_text": ("name", "a free-text description of the end use"),
    "party_list_status": ("party_list", f"none, or one or more of {', '.join(PARTY_LISTS[1:])}, separated by ';'"),
    "party_list_policy": ("policy", f"the Entity List entry's review policy: {', '.join(PARTY_LIST_POLICIES)}"),
    "item_origin": ("origin", "us_origin, foreign_made or foreign_direct_product (us, foreign and fdp also do)"),
    "us_content_pct": ("pct", "the US-origin controlled content in percent, a number from 0 to 100"),
    "eccn": ("eccn", "an ECCN such as 3A090.a, or EAR99"),
    "consignee_year_tpp": ("nonneg", "the TPP the consignee already received this calendar year, a number >= 0"),
    "notification_date": ("date", "the date the NAC notification was filed, as YYYY-MM-DD"),
}
TX_COLUMNS = tuple(TX_FIELDS)
_NUMERIC_KINDS = ("count", "nonneg", "pct")
NUMERIC_FIELDS = tuple(f for f, (k, _) in TX_FIELDS.items() if k in _NUMERIC_KINDS)
#: no quantity, price, TPP or percentage comes near this; larger values are unit mistakes
MAX_VALUE = 1e15
_DTYPES = {"count": pl.Int64, "nonneg": pl.Float64, "pct": pl.Float64, "date": pl.Date}
_ALLOWED = ", ".join(TX_COLUMNS)
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ECCN_RE = r"^(?:EAR99|[0-9][A-E][0-9]{3}(?:\.[a-z0-9]+)*)$"

Message = str | Callable[[Any], str]  # a template formatted with value=..., or a function of the bad value


class _Record(dict):
    """A JSON or YAML object, remembering the first key it repeated (json and PyYAML keep the last silently)."""

    duplicate: str | None = None


def _shown(name: Any) -> str:
    s = str(name)
    return s if s.isprintable() and len(s) < 40 else repr(s[:40])


def _unknown_column(source: str, row: int | None, name: Any) -> InputError:
    return _fail(source, row, _shown(name), "unknown column", f"use only {_ALLOWED}")


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def frame_from_records(records: Iterable[Mapping[str, Any]], source: str = "input") -> pl.DataFrame:
    """Build a string frame from dict-like rows (JSON, YAML, the Python API)."""
    rows: list[dict[str, str | None]] = []
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise InputError(f"{source}: row {i} is not an object; give one object of transaction fields per row", row=i)
        for key in rec:
            if key not in TX_FIELDS:
                raise _unknown_column(source, i, key)
            if isinstance(rec[key], (list, tuple, set, Mapping)):
                raise _fail(source, i, key, "a list or object where one value belongs", f"give {TX_FIELDS[key][1]}")
        if getattr(rec, "duplicate", None) is not None:
            raise _fail(source, i, rec.duplicate, "duplicate column", "give each field once per row")
        rows.append({key: _scalar(v) for key, v in rec.items()})
    if not rows:
        raise InputError(f"{source}: no rows; give at least one transaction")
    return string_frame(rows)


class _YamlLoader(yaml.SafeLoader):
    """Safe YAML where every plain scalar but null stays text: no Norway problem (NO -> false), no octal
    ids (0123 -> 83), no dates or numbers guessed; the validator parses them all alike."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Record:
    loader.flatten_mapping(node)
    rec = _Record()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            seen = key in rec
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "a list or mapping as a key", key_node.start_mark) from None
        if seen and rec.duplicate is None:
            rec.duplicate = str(key)
        rec[key] = loader.construct_object(value_node, deep=True)
    return rec


_YamlLoader.add_constructor("tag:yaml.org,2002:map", _yaml_mapping)


def _json_object(pairs: list[tuple[str, Any]]) -> _Record:
    rec = _Record()
    for key, value in pairs:
        if key in rec and rec.duplicate is None:
            rec.duplicate = key
        rec[key] = value
    return rec


def decode_records(raw: bytes, suffix: str, source: str, noun: str) -> tuple[str, list[Any] | None]:
    """The text of an input file and, for JSON or YAML, its records (every scalar kept as text, for
    the validator to read and name); records is None for CSV. `noun` names one record ("transaction")."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{source}: line {line}: not UTF-8 text; save the {noun} file as UTF-8") from None
    head = text.lstrip()[:1]
    if suffix == ".json" or (suffix not in (".csv", ".yaml", ".yml") and head in ("[", "{")):
        try:
            data = json.loads(text, object_pairs_hook=_json_object, parse_float=str, parse_int=str, parse_constant=str)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}: line {exc.lineno}: not valid JSON ({exc.msg}); fix the syntax") from None
    elif suffix in (".yaml", ".yml"):
        try:
            data = yaml.load(text, Loader=_YamlLoader)  # a SafeLoader subclass: every scalar stays text
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}:" if mark else ""
            problem = getattr(exc, "problem", None)
            raise InputError(f"{source}:{line} not valid YAML{f' ({problem})' if problem else ''}; fix the syntax") from None
        if data is None:
            raise InputError(f"{source}: the file is empty; give at least one {noun}")
    else:
        return text, None
    return text, data if isinstance(data, list) else [data]


def read_transaction_file(path: str | Path) -> pl.DataFrame:
    """Read a transaction file into a frame of raw columns (validated by `validate_transactions`).

    CSV, JSON and YAML give strings; Parquet keeps its column types (the validator accepts both).
    """
    p = Path(path)
    source = str(path)
    raw = read_input(path, "a CSV, JSON, YAML or Parquet transaction file", field="--transactions", binary=True)
    suffix = p.suffix.lower()
    if raw.startswith(b"PAR1") or suffix in (".parquet", ".pq"):
        return _read_parquet(raw, source)
    if b"\x00" in raw:
        raise InputError(f"{source}: binary data, not a CSV, JSON, YAML or Parquet file; give a transaction file")
    if suffix == ".csv" and (fast := _typed_csv(raw, source)) is not None:
        return fast
    text, records = decode_records(raw, suffix, source, "transaction")
    if records is not None:
        return frame_from_records(records, source)
    return _read_csv(text, source)


def _csv_header(text: str, source: str) -> list[str]:
    """The header's column names, checked: known, each once."""
    try:
        header = [c.strip() for c in next(csv.reader(io.StringIO(text)), [])]
    except csv.Error as exc:
        raise InputError(f"{source}: line 1: not a readable CSV header ({exc}); give a header row of column names") from None
    seen: set[str] = set()
    for c in header:
        if c not in TX_FIELDS:
            raise _unknown_column(source, None, c)
        if c in seen:
            raise _fail(source, None, c, "duplicate column", "give each column once in the header")
        seen.add(c)
    return header


def _trim(raw: bytes) -> bytes:
    """Drop blank lines at the end of a CSV (polars reads each as a row of empty cells)."""
    end = len(raw)
    while end and raw[end - 1] in b" \t\r\n":
        end -= 1
    return raw if raw.count(b"\n", end) <= 1 else raw[:end] + b"\n"


def _typed_csv(raw: bytes, source: str) -> pl.DataFrame | None:
    """Fast path for clean CSV: numbers parsed by polars itself. None when anything is unusual (a cell
    polars cannot parse, not UTF-8 ...): the string path then finds and names the bad cell."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        head = raw[: 1 << 16].decode("utf-8")
    except UnicodeDecodeError:
        return None
    header = _csv_header(head, source)  # an unknown or repeated column is reported here, whatever the path
    if not header:
        return None
    overrides = {c: (pl.Float64 if c in NUMERIC_FIELDS else pl.String) for c in header}
    try:
        df = pl.read_csv(_trim(raw), schema_overrides=overrides, infer_schema=False, new_columns=header)
    except Exception:  # any parser complaint: take the careful path
        return None
    return df if df.height else None


def _read_csv(text: str, source: str) -> pl.DataFrame:
    header = _csv_header(text, source)
    if not header:
        raise InputError(f"{source}: line 1: no header row; give the column names in the first line")
    try:
        df = pl.read_csv(_trim(text.encode("utf-8")), infer_schema=False, new_columns=header)
    except pl.exceptions.NoDataError:
        raise InputError(f"{source}: the file is empty; give a header row and at least one transaction row") from None
    except Exception as exc:  # polars raises several parser errors; all mean "not a CSV we can read"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputError(f"{source}: not a readable CSV file ({first[:120]}); give a CSV with a header row") from None
    if df.height == 0:
        raise InputError(f"{source}: no data rows under the header; give at least one transaction row")
    return df


def _read_parquet(raw: bytes, source: str) -> pl.DataFrame:
    if not raw.startswith(b"PAR1"):
        raise InputError(f"{source}: not a Parquet file (no PAR1 header); give a Parquet, CSV, JSON or YAML transaction file")
    try:
        df = pl.read_parquet(io.BytesIO(raw))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputError(f"{source}: not a readable Parquet file ({first[:120]}); write it again") from None
    for c in df.columns:
        if c not in TX_FIELDS:
            raise _unknown_column(source, None, c)
    if df.height == 0:
        raise InputError(f"{source}: no rows; give at least one transaction")
    return df


def _coerce(raw: pl.DataFrame, source: str) -> pl.DataFrame:
    """Bring typed columns (Parquet, a caller's frame) to what the checks read: numbers as Float64, all else String."""
    exprs = []
    for c, dtype in raw.schema.items():
        if c not in TX_FIELDS:
            raise _unknown_column(source, None, c)
        kind = TX_FIELDS[c][0]
        if dtype == pl.String:
            continue
        if dtype.is_nested() or dtype in (pl.Object, pl.Binary):
            row = raw.select(pl.col(c).is_not_null().arg_max()).item() + 1
            raise _fail(source, row, c, "a list, object or binary value where one value belongs", f"give {TX_FIELDS[c][1]}")
        if kind in _NUMERIC_KINDS and dtype.is_numeric():
            exprs.append(pl.col(c).cast(pl.Float64))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(pl.col(c).cast(pl.Date).cast(pl.String))
        else:  # dates, numbers in text fields, booleans, categoricals: as text, checked like any other
            exprs.append(pl.col(c).cast(pl.String))
    return raw.with_columns(exprs) if exprs else raw


_ENUMS = {"kind": KINDS, "origin": ITEM_ORIGINS, "policy": {p: p for p in PARTY_LIST_POLICIES}}
#: kinds whose cells are codes: few distinct values, so they are normalised and checked once per distinct value
_CODED = ("date", "country", "kind", "origin", "policy", "end_use", "party_list", "eccn")


def _list_re(codes: tuple[str, ...]) -> str:
    alternatives = "|".join(codes)
    return rf"^(?:{alternatives})(?:;(?:{alternatives}))*$"


def _codes(expr: pl.Expr) -> pl.Expr:
    """A ';' or ',' separated list of codes -> the codes normalised (lower-case, '_' for spaces and '-'),
    empty pieces dropped, repeats dropped, order kept, joined by ';'."""
    piece = pl.element().str.strip_chars().str.replace_all(r"[\s-]+", "_")
    return (expr.str.to_lowercase().str.replace_all(",", ";", literal=True).str.split(";")
            .list.eval(piece.filter(piece != "")).list.unique(maintain_order=True).list.join(";"))


def _typed(kind: str) -> pl.Expr:
    """The typed, normalised value of a cleaned cell `v` of a coded kind; null when `v` is not valid."""
    v = pl.col("v")
    if kind == "date":
        return pl.when(v.str.contains(_DATE_RE)).then(v.str.to_date("%Y-%m-%d", strict=False))
    if kind == "country":
        upper = v.str.to_uppercase()
        return pl.when(upper.is_in(_COUNTRY_LIST)).then(upper)
    if kind in _ENUMS:
        return v.str.to_lowercase().str.replace_all(r"[\s-]+", "_").replace_strict(_ENUMS[kind], default=None, return_dtype=pl.String)
    if kind == "end_use":  # 'ai_training; datacenter: free text' -> the codes before the first ':'
        codes = _codes(v.str.splitn(":", 2).struct.field("field_0"))
        return pl.when(codes.str.contains(_list_re(END_USES))).then(codes)
    if kind == "party_list":
        codes = _codes(v)
        none_and_more = codes.str.contains(";") & codes.str.contains(r"(?:^|;)none(?:;|$)")
        return pl.when(codes.str.contains(_list_re(PARTY_LISTS)) & ~none_and_more).then(codes)
    # official ECCN notation: upper-case ECCN, lower-case paragraphs (3A090.a, 5A002.z.1.a)
    eccn = pl.concat_str([v.str.slice(0, 5).str.to_uppercase(), v.str.slice(5).str.to_lowercase()])
    return pl.when(eccn.str.contains(_ECCN_RE)).then(eccn)


Mapped = tuple[pl.Expr, pl.Series, pl.Expr | None]
_MAPPED: dict[tuple[str, str, pl.DataType, tuple[Any, ...]], Mapped] = {}
_MAPPED_VALUES = 64  # columns with up to this many distinct values have their mapping kept
_MAPPED_KEEP = 4096


def _mapped(field: str, kind: str, distinct: pl.Series) -> Mapped:
    """Normalise and check the distinct values of a coded column, then map them back onto every row.

    Returns the typed column (an expression over the raw column), the raw values that are not valid,
    and, for end_use, the free text after its ':' (None when there is none). A pure function of its
    arguments: kept for columns of few distinct values (the same few countries and codes come back
    in question after question), and each value's normal form is kept on its own, so a new mix of
    values already seen is not normalised again."""
    if distinct.len() > _MAPPED_VALUES:
        return _map_values(field, kind, _normalised(kind, distinct))
    key = (field, kind, distinct.dtype, tuple(distinct.to_list()))
    found = _MAPPED.get(key)
    if found is None:
        if len(_MAPPED) >= _MAPPED_KEEP:
            _MAPPED.clear()
        found = _MAPPED[key] = _map_values(field, kind, _normalised_kept(kind, distinct))
    return found


#: (kind, dtype) -> ({raw value: its row of `_normalised`}, the schema of those rows)
_NORMAL: dict[tuple[str, pl.DataType], tuple[dict[Any, tuple[Any, ...]], pl.Schema]] = {}


def _normalised(kind: str, distinct: pl.Series) -> pl.DataFrame:
    """The distinct non-null values `raw` with `v` (cleaned), `typed` (normal form, null if not valid)
    and, for end_use, `text` (the free text after ':')."""
    u = pl.DataFrame({"raw": distinct}).drop_nulls().with_columns(pl.col("raw").str.strip_chars().replace("", None).alias("v"))
    u = u.with_columns(_typed(kind).alias("typed"))
    if kind == "end_use":
        u = u.with_columns(pl.col("v").str.splitn(":", 2).struct.field("field_1").str.strip_chars().replace("", None).alias("text"))
    return u


def _normalised_kept(kind: str, distinct: pl.Series) -> pl.DataFrame:
    """`_normalised`, each value computed once per process (up to _MAPPED_KEEP values per kind)."""
    key = (kind, distinct.dtype)
    if key not in _NORMAL:
        _NORMAL[key] = ({}, _normalised(kind, distinct.clear()).schema)
    known, schema = _NORMAL[key]
    values = distinct.drop_nulls().to_list()
    rows = {x: known.get(x) for x in values}  # read once: another thread may clear `known` meanwhile
    new = [x for x, row in rows.items() if row is None]
    if new:
        fresh = _normalised(kind, pl.Series("raw", new, dtype=distinct.dtype))
        found = dict(zip(fresh.get_column("raw").to_list(), fresh.rows(), strict=True))
        rows.update(found)
        if len(known) + len(found) > _MAPPED_KEEP:
            known.clear()
        known.update(found)
    return pl.DataFrame([rows[x] for x in values], schema=schema, orient="row")


def _map_values(field: str, kind: str, u: pl.DataFrame) -> Mapped:
    bad = u.filter(pl.col("v").is_not_null() & pl.col("typed").is_null()).get_column("raw")
    dtype = _DTYPES.get(kind, pl.String)
    col = pl.col(field)
    if kind == "date" and u.get_column("v").eq_missing(u.get_column("raw")).all():
        typed = col.str.to_date("%Y-%m-%d", strict=False)  # dates as written (no spaces): parse them directly
    else:
        typed = _lookup(col, u, "typed", dtype, keep=dtype == pl.String)
    text = None
    if kind == "end_use" and u.get_column("text").null_count() < u.height:
        text = _lookup(col, u, "text", pl.String, keep=False)
    return typed, bad, text


#: up to this many values to rewrite, a chain of comparisons beats a lookup of every row
_FEW = 8


def _lookup(col: pl.Expr, u: pl.DataFrame, out: str, dtype: pl.DataType, keep: bool) -> pl.Expr:
    """`col` with each of its distinct values `u["raw"]` replaced by `u[out]`. With `keep`, the values
    that stay the same are left alone (often all of them: then nothing is mapped at all)."""
    if keep:
        rewrite = u.filter(~pl.col(out).eq_missing(pl.col("raw")))
        base = col
    else:
        rewrite = u.filter(pl.col(out).is_not_null())
        base = pl.lit(None, dtype=dtype)
    if rewrite.height <= _FEW:
        expr = base
        for before, after in rewrite.select("raw", out).iter_rows():
            expr = pl.when(col == before).then(pl.lit(after, dtype=dtype)).otherwise(expr)
        return expr
    position = col.cast(pl.Enum(u.get_column("raw"))).to_physical()  # each row's place among the distinct values
    return pl.lit(u.get_column(out)).gather(position)


def _norm(s: str) -> str:
    return re.sub(r"[\s-]+", "_", s.strip().lower())


def _pieces(value: Any, free_text: bool) -> list[str]:
    codes = str(value).split(":", 1)[0] if free_text else str(value)
    return [p.strip() for p in re.split(r"[;,]", codes) if _norm(p)]


def _list_messages(allowed: tuple[str, ...], what: str, help_text: str, free_text: bool = False) -> tuple[Message, Message]:
    """(problem, fix) for a bad list-of-codes cell, worked out from the cell itself."""

    def problem(value: Any) -> str:
        pieces = _pieces(value, free_text)
        unknown = [p for p in pieces if _norm(p) not in allowed]
        if unknown:
            return f"unknown {what} code {unknown[0]!r}"
        if not pieces:
            return f"no {what} code in {value!r}"
        return f"{value!r} combines none with a listing"

    def fix(value: Any) -> str:
        pieces = _pieces(value, free_text)
        if pieces and all(_norm(p) in allowed for p in pieces):
            return "give none alone, or only the lists the party is on"
        return f"give {help_text}"

    return problem, fix


def _country_fix(help_text: str) -> Callable[[Any], str]:
    def fix(value: Any) -> str:
        code = str(value).strip().upper()
        if code in _COUNTRY_MISTAKES:
            return _COUNTRY_MISTAKES[code]
        if code in _ALPHA3:
            return f"{code} is a 3-letter (alpha-3) code; use the 2-letter code {_ALPHA3[code]}"
        if len(code) == 3 and code.isalpha():
            return f"use the 2-letter ISO 3166-1 alpha-2 code, not a 3-letter one; give {help_text}"
        return f"give {help_text}"
    return fix


def _coded_messages(field: str, kind: str, help_text: str) -> tuple[Message, Message]:
    if kind == "date":
        return "{value!r} is not a date", f"give {help_text}"
    if kind == "country":
        return "{value!r} is not an assigned ISO 3166-1 alpha-2 country code", _country_fix(help_text)
    if kind in _ENUMS:
        return f"{{value!r}} is not a valid {field}", f"give {help_text}"
    if kind == "end_use":
        return _list_messages(END_USES, "end-use", help_text, free_text=True)
    if kind == "party_list":
        return _list_messages(PARTY_LISTS, "party list", help_text)
    return "{value!r} is not an ECCN", f"give {help_text}"


def _numeric_checks(field: str, kind: str, help_text: str, given: pl.Expr) -> list[tuple[str, pl.Expr, Message, Message]]:
    num = pl.col(f"__t_{field}")
    fix = f"give {help_text}"
    checks: list[tuple[str, pl.Expr, Message, Message]] = [
        (field, given & (num.is_null() | num.is_nan() | num.is_infinite()), "{value!r} is not a number", fix),
        (field, num.abs() >= MAX_VALUE, "{value} is implausibly large", f"check the unit; {fix}"),
        (field, num < 0, "{value} is negative", fix),
    ]
    if kind == "count":
        checks.append((field, (num < 1) | (num != num.floor()), "{value} is not a whole number >= 1", fix))
    elif kind == "pct":
        checks.append((field, num > 100, "{value} is more than 100 percent", fix))
    return checks


def _collect(query: pl.LazyFrame, rows: int) -> pl.DataFrame:
    """Run a query on the in-memory engine: on whole columns it is markedly faster here than the streaming
    engine an eager call may pick (which splits the columns into morsels and joins them again)."""
    return collect(query, rows, plan=False, engine="in-memory")


def validate_transactions(raw: pl.DataFrame, source: str = "input") -> pl.DataFrame:
    """Check every cell and return a typed frame: `__row` (1-based input row), then every column of
    TX_COLUMNS in that order (absent ones as typed nulls).

    All checks run in one pass; on failure the earliest bad row is reported (first field wins). Coded
    columns (countries, dates, kinds, end uses ...) are normalised and checked once per distinct value.
    """
    if "id" not in raw.columns:
        raise _fail(source, None, "id", "the id column is missing", "add an id column with a unique value per row")
    raw = _coerce(raw, source)
    n = raw.height
    if n == 0:
        raise InputError(f"{source}: no rows; give at least one transaction")
    nulls = raw.null_count().row(0, named=True)
    live = {c for c in raw.columns if nulls[c] < n}  # columns with at least one cell given
    coded = [c for c in TX_COLUMNS if c in live and TX_FIELDS[c][0] in _CODED]
    # sorted: the same values give the same key of `_mapped`'s cache whatever order they come in
    distinct = _collect(raw.lazy().select(pl.col(c).unique().sort().implode() for c in coded), n) if coded else None

    exprs: dict[str, pl.Expr] = {}  # field -> its typed value, computed into `__t_{field}`
    checks: list[tuple[str, pl.Expr, Message, Message]] = [  # (field, bad-cell mask, problem, fix), in field order
        ("id", pl.col("__t_id").is_null(), "empty id", "give each row a unique id")]
    end_use_text = None
    for field, (kind, help_text) in TX_FIELDS.items():
        dtype = _DTYPES.get(kind, pl.String)
        col = pl.col(field)
        if field not in live:
            exprs[field] = pl.lit(None, dtype=pl.Float64 if kind in _NUMERIC_KINDS else dtype)
        elif kind in _CODED:
            assert distinct is not None
            exprs[field], bad, text = _mapped(field, kind, distinct.get_column(field)[0])
            if bad.len():
                checks.append((field, col.is_in(bad.implode()), *_coded_messages(field, kind, help_text)))
            end_use_text = text if field == "end_use" else end_use_text
        elif kind in _NUMERIC_KINDS:
            if raw.schema[field] == pl.String:
                exprs[field] = col.str.strip_chars().cast(pl.Float64, strict=False)
                given = col.str.strip_chars() != ""
            else:
                exprs[field], given = col, col.is_not_null()
            checks += _numeric_checks(field, kind, help_text, given)
        else:  # id and text: stripped, empty -> null
            exprs[field] = col.str.strip_chars().replace("", None)
    if end_use_text is not None:  # free text after 'ai_training: ...'; an explicit end_use_text wins
        exprs["end_use_text"] = pl.coalesce(exprs["end_use_text"], end_use_text)

    work = _collect(raw.lazy().with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("__row"),
                                            *[e.alias(f"__t_{f}") for f, e in exprs.items()]), n)
    firsts = _collect(work.lazy().select(*[pl.col("__row").filter(mask.fill_null(False)).min().alias(str(i))
                                           for i, (_, mask, _, _) in enumerate(checks)], pl.col("__t_id").hash().n_unique().alias("__ids")), n)
    *firsts_rows, n_ids = firsts.row(0)
    bad_rows = [(row, i) for i, row in enumerate(firsts_rows) if row is not None]
    if n_ids < n:  # a repeat (or a hash collision): find it exactly
        ids = pl.col("__t_id")
        dup = _collect(work.lazy().select(pl.col("__row").filter(ids.is_not_null() & ~ids.is_first_distinct()).min()), n).item()
        if dup is not None:
            first = work.filter(ids == work.item(dup - 1, "__t_id")).item(0, "__row")
            checks.append(("id", ids, f"duplicate id {{value!r}} (also in row {first})", "give each row a unique id"))
            bad_rows.append((dup, len(checks) - 1))
    if bad_rows:
        row, i = min(bad_rows, key=lambda b: (b[0], TX_COLUMNS.index(checks[b[1]][0]), b[1]))
        field, _, problem, fix = checks[i]
        value = work.item(row - 1, field)
        if isinstance(value, str):
            value = value.strip()
        elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)  # as written (the fast CSV path reads numbers as floats)

        def render(message: Message) -> str:
            return message(value) if callable(message) else message.format(value=value)

        raise _fail(source, row, field, render(problem), render(fix))
    return _collect(work.lazy().select("__row", *[pl.col(f"__t_{c}").cast(_DTYPES.get(TX_FIELDS[c][0], pl.String)).alias(c) for c in TX_COLUMNS]), n)


def transactions_from_python(tx: Mapping[str, Any] | Iterable[Mapping[str, Any]], source: str = "transaction") -> pl.DataFrame:
    """Validate transactions given as a dict or a list of dicts; rows without an id get tx1, tx2, ..."""
    records = [tx] if isinstance(tx, Mapping) else list(tx)
    records = [{**r, "id": f"tx{i}"} if isinstance(r, Mapping) and r.get("id") is None else r for i, r in enumerate(records, start=1)]
    return validate_transactions(frame_from_records(records, source), source)
