"""Restricted-party lists: load the US lists into one frame of entries, snapshot them, diff two snapshots.

Formats read (`detect_format` tells them apart from the bytes, gzip or not):

* ``csl_csv``: trade.gov's Consolidated Screening List CSV (``consolidated.csv``, 29 columns, UTF-8);
* ``csl_json``: trade.gov's CSL JSON (a list of entries, or an object with ``results``);
* ``csl_json_projection``: a CSL JSON reduced to short keys documented in its own ``fieldKey``;
* ``ofac_sdn_csv``: OFAC's legacy ``sdn.csv`` (no header, ``-0-`` for empty, cp1252, a 0x1A last
  line), with ``alt.csv`` (aliases) and ``add.csv`` (addresses) read from beside it when present;
* ``dpl_txt``: BIS's Denied Persons List, tab-separated quoted text with a header row;
* ``ftm_json``: FollowTheMoney entities, one JSON object a line (OpenSanctions exports).

Every format becomes the same *entries* frame (`ENTRY_SCHEMA`): one row per list entry, with a
`key` that stays the same across releases (CSL ``_id`` values do not) and a `content` hash that
changes when a meaningful field does. A load is all or nothing: any problem raises `InputError`
with one line naming the file, the row and the field, and nothing is returned.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from aiexport.errors import InputError

FORMATS = ("csl_csv", "csl_json", "csl_json_projection", "ofac_sdn_csv", "dpl_txt", "ftm_json")

_S = pl.String
_L = pl.List(pl.String)
#: the columns of the entries frame, in order
ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "list_id": _S, "source": _S, "list_code": _S, "name": _S, "alt_names": _L, "type": _S, "countries": _L,
    "programs": _L, "entity_number": _S, "federal_register_notice": _S, "start_date": _S, "end_date": _S,
    "license_requirement": _S, "license_policy": _S, "source_list_url": _S, "remarks": _S, "key": _S, "content": _S,
}
ENTRY_COLUMNS = tuple(ENTRY_SCHEMA)
_BASE = tuple(c for c in ENTRY_COLUMNS if c not in ("list_code", "key", "content"))
_LISTS = ("alt_names", "countries", "programs")
_STRINGS = tuple(c for c in _BASE if c not in _LISTS)
#: free text, whose runs of whitespace are made one space (ids, codes, dates and URLs are only trimmed)
_TEXTS = ("name", "federal_register_notice", "license_requirement", "license_policy", "remarks")
#: the fields whose change is a change of the entry (`content`); ids, the source's name and its URL are not
CONTENT_FIELDS = ("name", "alt_names", "type", "countries", "programs", "entity_number", "federal_register_notice",
                  "start_date", "end_date", "license_requirement", "license_policy", "remarks")

#: list code -> the list's name as trade.gov writes it in the CSL `source` column
SOURCES: dict[str, str] = {
    "EL": "Entity List (EL) - Bureau of Industry and Security",
    "SDN": "Specially Designated Nationals (SDN) - Treasury Department",
    "DPL": "Denied Persons List (DPL) - Bureau of Industry and Security",
    "UVL": "Unverified List (UVL) - Bureau of Industry and Security",
    "MEU": "Military End User (MEU) List - Bureau of Industry and Security",
    "ISN": "Nonproliferation Sanctions (ISN) - State Department",
    "DTC": "ITAR Debarred (DTC) - State Department",
    "SSI": "Sectoral Sanctions Identifications List (SSI) - Treasury Department",
    "PLC": "Palestinian Legislative Council List (PLC) - Treasury Department",
    "CMIC": "Non-SDN Chinese Military-Industrial Complex Companies List (CMIC) - Treasury Department",
    "CAP": "Capta List (CAP) - Treasury Department",
    "NS-MBS": "Non-SDN Menu-Based Sanctions List (NS-MBS List) - Treasury Department",
    "FSE": "Foreign Sanctions Evaders (FSE) - Treasury Department",
}
LIST_CODES = (*SOURCES, "OTHER")
_CODE_OF_SOURCE = {v.casefold(): k for k, v in SOURCES.items()}
_CODE_ALIASES = {"CAPTA": "CAP", "NS-MBS LIST": "NS-MBS", "ITAR": "DTC"}

_TYPES = {"entity": "Entity", "individual": "Individual", "vessel": "Vessel", "aircraft": "Aircraft"}

#: ISO 3166-1 alpha-2 codes (and XK, Kosovo, as OFAC and trade.gov use it) with the English names and
#: spellings the lists use, OFAC's among them; matched case-insensitively
_COUNTRY_TABLE = """
AD Andorra|AE United Arab Emirates|AF Afghanistan|AG Antigua and Barbuda|AI Anguilla|AL Albania|AM Armenia
AO Angola|AQ Antarctica|AR Argentina|AS American Samoa|AT Austria|AU Australia|AW Aruba|AX Aland Islands
AZ Azerbaijan|BA Bosnia and Herzegovina;Bosnia-Herzegovina|BB Barbados|BD Bangladesh|BE Belgium|BF Burkina Faso
BG Bulgaria|BH Bahrain|BI Burundi|BJ Benin|BL Saint Barthelemy|BM Bermuda|BN Brunei;Brunei Darussalam|BO Bolivia
BQ Bonaire, Sint Eustatius and Saba|BR Brazil|BS Bahamas;Bahamas, The;The Bahamas|BT Bhutan|BV Bouvet Island
BW Botswana|BY Belarus|BZ Belize|CA Canada|CC Cocos (Keeling) Islands|CD Congo, Democratic Republic of the;
Democratic Republic of the Congo;Congo (Kinshasa)|CF Central African Republic|CG Congo, Republic of the;
Republic of the Congo;Congo;Congo (Brazzaville)|CH Switzerland|CI Cote d Ivoire;Cote d'Ivoire;Côte d'Ivoire;Ivory Coast
CK Cook Islands|CL Chile|CM Cameroon|CN China;PRC;People's Republic of China;Region: China|CO Colombia|CR Costa Rica
CU Cuba|CV Cabo Verde;Cape Verde|CW Curacao;Curaçao|CX Christmas Island|CY Cyprus|CZ Czech Republic;Czechia
DE Germany|DJ Djibouti|DK Denmark|DM Dominica|DO Dominican Republic|DZ Algeria|EC Ecuador|EE Estonia|EG Egypt
EH Western Sahara|ER Eritrea|ES Spain|ET Ethiopia|FI Finland|FJ Fiji|FK Falkland Islands|FM Micronesia;
Micronesia, Federated States of|FO Faroe Islands|FR France|GA Gabon|GB United Kingdom;UK;Great Britain;Britain
GD Grenada|GE Georgia|GF French Guiana|GG Guernsey|GH Ghana|GI Gibraltar|GL Greenland|GM Gambia;The Gambia;
Gambia, The|GN Guinea|GP Guadeloupe|GQ Equatorial Guinea|GR Greece|GS South Georgia and the South Sandwich Islands
GT Guatemala|GU Guam|GW Guinea-Bissau|GY Guyana|HK Hong Kong|HM Heard Island and McDonald Islands|HN Honduras
HR Croatia|HT Haiti|HU Hungary|ID Indonesia|IE Ireland|IL Israel|IM Isle of Man;Man, Isle of|IN India
IO British Indian Ocean Territory|IQ Iraq|IR Iran;Region: Iran|IS Iceland|IT Italy|JE Jersey|JM Jamaica|JO Jordan
JP Japan|KE Kenya|KG Kyrgyzstan|KH Cambodia|KI Kiribati|KM Comoros|KN Saint Kitts and Nevis|KP Korea, North;
North Korea|KR Korea, South;South Korea|KW Kuwait|KY Cayman Islands|KZ Kazakhstan|LA Laos|LB Lebanon
LC Saint Lucia|LI Liechtenstein|LK Sri Lanka|LR Liberia|LS Lesotho|LT Lithuania|LU Luxembourg|LV Latvia|LY Libya
MA Morocco|MC Monaco|MD Moldova|ME Montenegro|MF Saint Martin|MG Madagascar|MH Marshall Islands|MK North Macedonia;
Macedonia|ML Mali;Region: Northern Mali|MM Burma;Myanmar|MN Mongolia|MO Macau;Macao|MP Northern Mariana Islands
MQ Martinique|MR Mauritania|MS Montserrat|MT Malta|MU Mauritius|MV Maldives|MW Malawi|MX Mexico|MY Malaysia
MZ Mozambique|NA Namibia|NC New Caledonia|NE Niger|NF Norfolk Island|NG Nigeria|NI Nicaragua|NL Netherlands
NO Norway|NP Nepal|NR Nauru|NU Niue|NZ New Zealand|OM Oman|PA Panama|PE Peru|PF French Polynesia|PG Papua New Guinea
PH Philippines|PK Pakistan|PL Poland|PM Saint Pierre and Miquelon|PN Pitcairn|PR Puerto Rico|PS Palestinian;
Palestine;West Bank;Gaza;Gaza Strip;Region: Gaza;Region: West Bank;Region: North Gaza;Region: Northern Gaza
PT Portugal|PW Palau|PY Paraguay|QA Qatar|RE Reunion|RO Romania|RS Serbia|RU Russia;Russian Federation;Region: Russia
RW Rwanda|SA Saudi Arabia|SB Solomon Islands|SC Seychelles|SD Sudan|SE Sweden|SG Singapore|SH Saint Helena
SI Slovenia|SJ Svalbard and Jan Mayen|SK Slovakia|SL Sierra Leone|SM San Marino|SN Senegal|SO Somalia|SR Suriname
SS South Sudan|ST Sao Tome and Principe|SV El Salvador|SX Sint Maarten|SY Syria|SZ Eswatini;Swaziland
TC Turks and Caicos Islands|TD Chad|TF French Southern Territories|TG Togo|TH Thailand|TJ Tajikistan|TK Tokelau
TL Timor-Leste;East Timor|TM Turkmenistan|TN Tunisia|TO Tonga|TR Turkey;Turkiye;Türkiye|TT Trinidad and Tobago
TV Tuvalu|TW Taiwan|TZ Tanzania|UA Ukraine;Region: Crimea;Crimea;Crimea (occupied)|UG Uganda
UM United States Minor Outlying Islands|US United States;USA;United States of America|UY Uruguay|UZ Uzbekistan
VA Holy See;Vatican City|VC Saint Vincent and the Grenadines|VE Venezuela|VG Virgin Islands, British;
British Virgin Islands|VI Virgin Islands, U.S.|VN Vietnam;Viet Nam|VU Vanuatu|WF Wallis and Futuna|WS Samoa
XK Kosovo|YE Yemen|YT Mayotte|ZA South Africa|ZM Zambia|ZW Zimbabwe
"""


def _country_map() -> dict[str, str]:
    out: dict[str, str] = {}
    # one country a `|` or a line; a line ending in `;` goes on with more names on the next
    for item in _COUNTRY_TABLE.strip().replace(";\n", ";").replace("\n", "|").split("|"):
        code, _, names = item.strip().partition(" ")
        out[code] = code
        for name in names.split(";"):
            out[" ".join(name.split()).upper()] = code
    return out


#: an upper-cased country code or name -> ISO-2
COUNTRY_CODES: dict[str, str] = _country_map()
#: US state and territory postal codes: a DPL address with one and no country is in the US
_US_STATE_CODES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
                   "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP")
_US_STATES = frozenset(_US_STATE_CODES.split())

#: CSL CSV columns: those the loader needs, and those it recognises (to tell the format)
CSL_REQUIRED = ("source", "name")
CSL_COLUMNS = ("_id", "source", "entity_number", "type", "programs", "name", "title", "addresses",
               "federal_register_notice", "start_date", "end_date", "standard_order", "license_requirement",
               "license_policy", "call_sign", "vessel_type", "gross_tonnage", "gross_registered_tonnage", "vessel_flag",
               "vessel_owner", "remarks", "source_list_url", "alt_names", "citizenships", "dates_of_birth",
               "nationalities", "places_of_birth", "source_information_url", "ids")
OFAC_SDN_COLUMNS = ("ent_num", "SDN_Name", "SDN_Type", "Program", "Title", "Call_Sign", "Vess_type", "Tonnage", "GRT",
                    "Vess_flag", "Vess_owner", "Remarks")
OFAC_ALT_COLUMNS = ("ent_num", "alt_num", "alt_type", "alt_name", "alt_remarks")
OFAC_ADD_COLUMNS = ("ent_num", "add_num", "address", "city_state_postal", "country", "add_remarks")
DPL_COLUMNS = ("Name", "Street_Address", "City", "State", "Country", "Postal_Code", "Effective_Date", "Expiration_Date",
               "Standard_Order", "Last_Update", "Action", "FR_Citation")
#: FtM schemata that are parties, and the CSL `type` each becomes; Address and the rest are not entries
FTM_TYPES = {"Person": "Individual", "Organization": "Entity", "Company": "Entity", "LegalEntity": "Entity",
             "PublicBody": "Entity", "Vessel": "Vessel", "Airplane": "Aircraft"}
_FTM_NAMES = ("name", "alias", "weakAlias", "previousName")


# ---------------------------------------------------------------------------------------------- reading


def _read(path: str | Path, what: str = "list file") -> tuple[bytes, str]:
    """The file's bytes (gunzipped when gzip) and its name for messages."""
    p = Path(path)
    source = str(path)
    if not p.exists():
        raise InputError(f"{source}: file not found; give the path of a {what}")
    if not p.is_file():
        raise InputError(f"{source}: not a file; give the path of a {what}")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot be read ({exc.strerror}); check its permissions") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, gzip.BadGzipFile, zlib.error):
            raise InputError(f"{source}: the gzip data ends early or is damaged (truncated download?); download it again") from None
    if not raw.strip(b" \t\r\n\x1a\xef\xbb\xbf"):
        raise InputError(f"{source}: the file is empty; give a {what} with at least one entry")
    return raw, source


def _utf8(raw: bytes, source: str, fix: str) -> str:
    """The text of a file that must be UTF-8 (BOM dropped); a bad byte is reported by line."""
    body = _no_bom(raw)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{source}: line {line}: byte 0x{body[exc.start]:02X} is not UTF-8 (Latin-1 or cp1252 text?); {fix}") from None


def _no_bom(raw: bytes) -> bytes:
    return raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw


def _legacy_text(raw: bytes) -> str:
    """Text of an OFAC/BIS legacy file: UTF-8 when it is (ASCII is), else cp1252, else Latin-1; the
    DOS end-of-file byte (0x1A) and trailing blank lines dropped."""
    body = _no_bom(raw)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = body.decode("cp1252")
        except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8D ...)
            text = body.decode("latin-1")
    return text.rstrip("\x1a\r\n\t ")


def _header(first_line: bytes, sep: str = ",") -> list[str]:
    try:
        return [c.strip() for c in next(csv.reader([first_line.decode("latin-1")], delimiter=sep))]
    except (StopIteration, csv.Error):
        return []


def _check_complete(data: bytes, ncols: int, source: str, sep: bytes = b",") -> None:
    """Raise when the text was cut mid-row: inside a quoted field, or a last line short of fields."""
    if data.count(b'"') % 2:
        raise InputError(f"{source}: the file ends inside a quoted field: it is truncated; download it again")
    body = data.rstrip(b"\x1a")
    if body.endswith(b"\n"):
        return
    pos = body.rfind(b"\n")
    while pos >= 0 and body.count(b'"', pos + 1) % 2:  # a newline inside quotes is not a row end
        pos = body.rfind(b"\n", 0, pos)
    last = body[pos + 1:].decode("utf-8", "replace")
    fields = next(csv.reader(io.StringIO(last), delimiter=sep.decode()), [])
    if len(fields) < ncols:
        line = body.count(b"\n", 0, pos + 1) + 1
        raise InputError(f"{source}: line {line}: the last row has {len(fields)} of {ncols} fields and no line end: "
                         "the file is truncated; download it again")


def _read_csv(data: bytes, source: str, **kw: Any) -> pl.DataFrame:
    try:
        return pl.read_csv(data, infer_schema=False, **kw)
    except pl.exceptions.NoDataError:
        raise InputError(f"{source}: the file is empty; give a list file with at least one entry") from None
    except pl.exceptions.PolarsError as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise InputError(f"{source}: not a readable CSV file ({first[:120]}); check that it is the list's own file") from None


def _json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        body = text.rstrip()
        if exc.pos >= len(body) - 1 or exc.msg.startswith("Unterminated string") or not body.endswith(("}", "]")):
            raise InputError(f"{source}: the JSON ends early at line {exc.lineno}: the file is truncated; download it again") from None
        raise InputError(f"{source}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg}); fix or re-download the file") from None


# ---------------------------------------------------------------------------------------------- format


def _sniff(raw: bytes, source: str) -> str:
    head = raw[:262144].lstrip(b"\xef\xbb\xbf \t\r\n")
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if head[:1] in (b"{", b"["):
        if head[:1] == b"{" and len(first) < 1_000_000:
            try:
                obj = json.loads(first)
            except ValueError:
                obj = None
            if isinstance(obj, dict) and "schema" in obj and ("properties" in obj or "id" in obj):
                return "ftm_json"
        if b'"fieldKey"' in head or (b'"entries"' in head and b'"tables"' in head):
            return "csl_json_projection"
        return "csl_json"
    if b"\t" in first:
        cols = _header(first, "\t")
        if "Name" in cols and len(set(cols) & set(DPL_COLUMNS)) >= 3:
            return "dpl_txt"
    cols = _header(first)
    if len({c.lower() for c in cols} & set(CSL_COLUMNS)) >= 3:
        return "csl_csv"
    if re.match(rb"\s*\d+\s*,", first):
        n = len(cols)
        if n == len(OFAC_SDN_COLUMNS):
            return "ofac_sdn_csv"
        if n in (len(OFAC_ALT_COLUMNS), len(OFAC_ADD_COLUMNS)):
            kind = "alt.csv (aliases)" if n == len(OFAC_ALT_COLUMNS) else "add.csv (addresses)"
            raise InputError(f"{source}: this looks like OFAC's {kind}, not a list; give sdn.csv (its alt.csv and add.csv "
                             "beside it are read too)")
    raise InputError(f"{source}: unknown list format; give a CSL CSV or JSON, OFAC sdn.csv, BIS dpl.txt or FtM JSON lines")


def detect_format(path: str | Path) -> str:
    """The format of a list file: one of `FORMATS`."""
    raw, source = _read(path)
    return _sniff(raw, source)


# ---------------------------------------------------------------------------------------------- frames


def _code_of(source: str | None) -> str:
    if source is None:
        return "OTHER"
    s = " ".join(source.split())
    if s.casefold() in _CODE_OF_SOURCE:
        return _CODE_OF_SOURCE[s.casefold()]
    for m in re.finditer(r"\(([A-Za-z][A-Za-z -]*?)\)", s):
        abbr = m.group(1).upper()
        abbr = _CODE_ALIASES.get(abbr, abbr)
        if abbr in SOURCES:
            return abbr
    return "OTHER"


def _country(e: pl.Expr) -> pl.Expr:
    """A country token (code or name) -> ISO-2, null when not a country."""
    return e.str.replace_all(r"\s+", " ").str.strip_chars().str.to_uppercase().replace_strict(COUNTRY_CODES, default=None)


def _address_country(e: pl.Expr) -> pl.Expr:
    """The country of a one-line address `street, city, state, postal, CC`: the whole text when it is a
    country, else its last comma-separated part, else US when it ends `US-state, ZIP` (as US addresses
    in the CSL often do, with no country)."""
    parts = e.str.split(",")
    last = parts.list.last().str.strip_chars()
    state = parts.list.get(-2, null_on_oob=True).str.strip_chars()
    us = pl.when(last.str.contains(r"^\d{5}(-\d{4})?$") & state.is_in(sorted(_US_STATES))).then(pl.lit("US"))
    return pl.coalesce(_country(e), _country(last), us)


def _str_clean(e: pl.Expr, collapse: bool = True) -> pl.Expr:
    """Text trimmed, runs of whitespace made one space (when `collapse`), empty -> null."""
    e = e.cast(pl.String)
    if collapse:
        e = e.str.replace_all(r"\s+", " ")
    return e.str.strip_chars().replace("", None)


def _list_clean(c: str, split: bool) -> pl.Expr:
    """A list of strings: split on `;` (the CSL's separator, also found inside single items), cleaned
    like text (and stray `;` trimmed), empties dropped."""
    e = pl.col(c).fill_null(pl.lit([], dtype=_L))
    if split:
        e = e.list.join(";").str.split(";")
    return e.list.eval(_str_clean(pl.element()).str.strip_chars(" ;")).list.eval(
        pl.element().filter(pl.element().is_not_null() & (pl.element() != "")))


def _norm_key_name(name: str) -> str:
    """A name as the key holds it: NFKC, casefolded, whitespace collapsed, stray trailing `,`/`;` dropped."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold().rstrip(" ,;")


def _canon(c: str, prefix: str = "") -> pl.Expr:
    """A field as text, list items in sorted order without repeats (values are already cleaned)."""
    e = pl.col(prefix + c)
    if c in _LISTS:
        return e.list.unique().list.sort().list.join("\x1e").fill_null("")
    return e.fill_null("")


def _canon_row(fields: Iterable[str], prefix: str = "") -> pl.Expr:
    return pl.concat_str([_canon(f, prefix) for f in fields], separator="\x1f")


def _sha(values: Iterable[str], n: int = 32) -> list[str]:
    return [hashlib.sha256(v.encode("utf-8")).hexdigest()[:n] for v in values]


def _finish(frame: pl.DataFrame, source: str, what: str = "row") -> pl.DataFrame:
    """The entries frame from a loader's base columns: strings trimmed (empty -> null), lists
    cleaned, countries as ISO-2, the list code, the key and the content hash."""
    missing = [c for c in _BASE if c not in frame.columns]
    if missing:  # a loader bug, not a user's
        raise AssertionError(f"loader did not give {missing}")
    f = frame.select(
        *[_str_clean(pl.col(c), c in _TEXTS).alias(c) for c in _STRINGS],
        _list_clean("alt_names", split=True),
        _list_clean("programs", split=True).list.unique(maintain_order=True),
        _list_clean("countries", split=False).list.eval(_address_country(pl.element())).list.drop_nulls()
        .list.unique(maintain_order=True),
    )
    bad = f.select(pl.col("name").is_null().arg_true().first()).item()
    if bad is not None:
        lid = f["list_id"][bad]
        raise InputError(f"{source}: {what} {bad + 1}{f' ({lid})' if lid else ''}, field name: empty; every entry needs a name",
                         field="name", row=bad + 1)
    sources = f["source"].unique().to_list()
    codes = {s: _code_of(s) for s in sources if s is not None}
    f = f.with_columns(
        pl.col("source").replace_strict(codes, default="OTHER").alias("list_code"),
        pl.col("type").str.to_lowercase().replace_strict(_TYPES, default=pl.col("type")).alias("type"),
    )
    keys = [f"{code}|#{num}" if num is not None else f"{code}|{_norm_key_name(name)}"
            for code, num, name in zip(f["list_code"].to_list(), f["entity_number"].to_list(), f["name"].to_list(), strict=True)]
    content = _sha(f.select(_canon_row(CONTENT_FIELDS)).to_series().to_list())
    f = f.with_columns(pl.Series("key", keys, dtype=_S), pl.Series("content", content, dtype=_S))
    return f.select([pl.col(c).cast(t) for c, t in ENTRY_SCHEMA.items()])


def _frame(cols: Mapping[str, list[Any]]) -> pl.DataFrame:
    """A frame of the base columns from Python lists (list columns built from joined text: much
    faster than polars' nested-list construction)."""
    sep = "\x1f"
    data = {c: [sep.join(x) if x else None for x in v] if c in _LISTS else v for c, v in cols.items()}
    frame = pl.DataFrame(data, schema={c: _S for c in cols})
    return frame.with_columns([pl.col(c).str.split(sep).fill_null(pl.lit([], dtype=_L)) for c in _LISTS if c in cols])


def _lit(v: Any = None) -> pl.Expr:
    return pl.lit(v, dtype=_S)


# ---------------------------------------------------------------------------------------------- CSL


def _csl_csv(raw: bytes, source: str) -> tuple[pl.DataFrame, str | None]:
    _utf8(raw, source, "trade.gov's CSL CSV is UTF-8: download it again or convert it (iconv -f cp1252 -t utf-8)")
    data = _no_bom(raw)
    header = [c.strip() for c in _read_csv(data, source, n_rows=0).columns]
    for col in CSL_REQUIRED:
        if col not in header:
            raise InputError(f"{source}: no column {col!r} in the header row; a CSL CSV needs {' and '.join(CSL_REQUIRED)} "
                             "(trade.gov's consolidated.csv layout)", field=col)
    _check_complete(data, len(header), source)
    df = _read_csv(data, source)
    df.columns = header
    if df.height == 0:
        raise InputError(f"{source}: no rows under the header; give a list with at least one entry")

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in header else _lit()

    countries = pl.col("addresses").str.split(";") if "addresses" in header else pl.lit([], dtype=_L)
    base = df.select(
        (col("_id") if "_id" in header else pl.format("row:{}", pl.int_range(1, pl.len() + 1))).alias("list_id"),
        col("source").alias("source"),
        col("name").alias("name"),
        col("alt_names").str.split(";").alias("alt_names"),
        col("type").alias("type"),
        countries.alias("countries"),
        col("programs").str.split(";").alias("programs"),
        *[col(c).alias(c) for c in ("entity_number", "federal_register_notice", "start_date", "end_date",
                                    "license_requirement", "license_policy", "source_list_url", "remarks")],
    )
    return _finish(base, source), None


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return v.split(";")
    if isinstance(v, list):
        return [str(x) for x in v if x is not None and not isinstance(x, (dict, list))]
    return [str(v)]


def _as_str(v: Any) -> str | None:
    if v is None or isinstance(v, (dict, list)):
        return "; ".join(str(x) for x in v) if isinstance(v, list) and v and not isinstance(v[0], dict) else None
    return str(v)


def _csl_json(raw: bytes, source: str) -> tuple[pl.DataFrame, str | None]:
    data = _json(_utf8(raw, source, "JSON is UTF-8: download the file again"), source)
    records = data.get("results", data.get("entries")) if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise InputError(f"{source}: no list of entries (a JSON list, or an object with 'results'); give trade.gov's CSL JSON")
    if not records:
        raise InputError(f"{source}: no entries; give a list with at least one entry")
    cols: dict[str, list[Any]] = {c: [] for c in _BASE}
    for i, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            raise InputError(f"{source}: entry {i} is not an object; give trade.gov's CSL JSON", row=i)
        for req in CSL_REQUIRED:
            if not isinstance(rec.get(req), str) or not rec[req].strip():
                raise InputError(f"{source}: entry {i}, field {req}: missing or empty; every CSL entry has a {req}",
                                 field=req, row=i)
        lid = rec.get("_id", rec.get("id"))
        cols["list_id"].append(str(lid) if lid is not None else f"entry:{i}")
        cols["alt_names"].append(_as_list(rec.get("alt_names")))
        cols["programs"].append(_as_list(rec.get("programs")))
        cols["countries"].append(_json_countries(rec.get("addresses")))
        for c in ("source", "name", "type", "entity_number", "federal_register_notice", "start_date", "end_date",
                  "license_requirement", "license_policy", "source_list_url", "remarks"):
            cols[c].append(_as_str(rec.get(c)))
    frame = _frame(cols)
    date = None
    if isinstance(data, dict):
        date = data.get("sourceGeneratedAt") or _newest(
            s.get("source_last_updated") for s in data.get("sources_used") or [] if isinstance(s, Mapping))
    return _finish(frame, source, "entry"), date


def _json_countries(addresses: Any) -> list[str]:
    if isinstance(addresses, str):
        return addresses.split(";")
    out: list[str] = []
    for a in addresses or []:
        if isinstance(a, Mapping) and a.get("country"):
            out.append(str(a["country"]))
        elif isinstance(a, str):
            out.append(a)
    return out


def _projection(raw: bytes, source: str) -> tuple[pl.DataFrame, str | None]:
    data = _json(_utf8(raw, source, "JSON is UTF-8: download the file again"), source)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list) or not isinstance(data.get("tables"), dict):
        raise InputError(f"{source}: no 'entries' list and 'tables' object; give a CSL projection with its fieldKey")
    entries, tables = data["entries"], data["tables"]
    if not entries:
        raise InputError(f"{source}: no entries; give a list with at least one entry")
    declared = data.get("entryCount")
    if isinstance(declared, int) and declared != len(entries):
        raise InputError(f"{source}: field entryCount: says {declared} entries but holds {len(entries)}: the file is "
                         "incomplete; regenerate or download it again", field="entryCount")
    table_of = {"s": "sources", "lr": "licenceRequirements", "lp": "licencePolicies", "pg": "programmes", "u": "urls"}

    def lookup(rec: Mapping[str, Any], k: str, i: int) -> str | None:
        v = rec.get(k)
        if v is None:
            return None
        t = tables.get(table_of[k])
        if not isinstance(v, int) or not isinstance(t, list) or not 0 <= v < len(t):
            raise InputError(f"{source}: entry {i}, field {k}: {v!r} is not an index into tables.{table_of[k]}; "
                             "the file is inconsistent: regenerate it", field=k, row=i)
        return t[v]

    cols: dict[str, list[Any]] = {c: [] for c in _BASE}
    for i, rec in enumerate(entries, start=1):
        if not isinstance(rec, Mapping):
            raise InputError(f"{source}: entry {i} is not an object; regenerate the file", row=i)
        name = rec.get("n")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{source}: entry {i}, field n (name): missing or empty; every entry needs a name", field="n", row=i)
        src = lookup(rec, "s", i)
        if src is None:
            raise InputError(f"{source}: entry {i}, field s (source): missing; every entry needs its list", field="s", row=i)
        cols["list_id"].append(f"entry:{i}")
        cols["source"].append(src)
        cols["name"].append(name)
        cols["alt_names"].append(_as_list(rec.get("a")))
        cols["type"].append(_as_str(rec.get("t")))
        cols["countries"].append(_as_list(rec.get("c")))
        cols["programs"].append(_as_list(lookup(rec, "pg", i)))
        cols["entity_number"].append(_as_str(rec.get("e")))
        cols["federal_register_notice"].append(_as_str(rec.get("fr")))
        cols["license_requirement"].append(lookup(rec, "lr", i))
        cols["license_policy"].append(lookup(rec, "lp", i))
        cols["source_list_url"].append(lookup(rec, "u", i))
        for c in ("start_date", "end_date", "remarks"):  # the projection drops them
            cols[c].append(None)
    frame = _frame(cols)
    date = data.get("sourceGeneratedAt")
    return _finish(frame, source, "entry"), str(date) if date else None


# ---------------------------------------------------------------------------------------------- OFAC


def _ofac_table(raw: bytes, source: str, columns: tuple[str, ...], what: str) -> pl.DataFrame:
    data = _legacy_text(raw).encode("utf-8")
    _check_complete(data, len(columns), source)
    df = _read_csv(data, source, has_header=False)
    if df.width != len(columns):
        raise InputError(f"{source}: {df.width} columns where OFAC's {what} has {len(columns)}; give OFAC's legacy {what}")
    df.columns = list(columns)
    df = df.with_columns(pl.all().str.strip_chars().replace(["-0-", ""], None))
    bad = df.select(pl.col("ent_num").is_null() | ~pl.col("ent_num").str.contains(r"^\d+$")).to_series().arg_true()
    if bad.len():
        row = bad[0] + 1
        raise InputError(f"{source}: row {row}, field ent_num: {df['ent_num'][row - 1]!r} is not a number; give OFAC's "
                         f"legacy {what} unchanged", field="ent_num", row=row)
    return df


def _beside(path: Path, name: str) -> Path | None:
    for n in (name, name.upper()):
        p = path.parent / n
        if p.is_file():
            return p
    return None


def _ofac(raw: bytes, source: str, path: Path, alt_path: str | Path | None,
          add_path: str | Path | None) -> tuple[pl.DataFrame, str | None]:
    sdn = _ofac_table(raw, source, OFAC_SDN_COLUMNS, "sdn.csv")
    alt_p = Path(alt_path) if alt_path is not None else _beside(path, "alt.csv")
    add_p = Path(add_path) if add_path is not None else _beside(path, "add.csv")
    alts = pl.DataFrame({"ent_num": [], "alt_names": []}, schema={"ent_num": _S, "alt_names": _L})
    adds = pl.DataFrame({"ent_num": [], "countries": []}, schema={"ent_num": _S, "countries": _L})
    if alt_p is not None:
        a_raw, a_src = _read(alt_p, "OFAC alt.csv")
        a = _ofac_table(a_raw, a_src, OFAC_ALT_COLUMNS, "alt.csv")
        alts = (a.filter(pl.col("alt_name").is_not_null())
                .sort(pl.col("alt_num").cast(pl.Int64, strict=False), maintain_order=True)
                .group_by("ent_num", maintain_order=True).agg(pl.col("alt_name").alias("alt_names")))
    if add_p is not None:
        d_raw, d_src = _read(add_p, "OFAC add.csv")
        d = _ofac_table(d_raw, d_src, OFAC_ADD_COLUMNS, "add.csv")
        adds = (d.filter(pl.col("country").is_not_null())
                .group_by("ent_num", maintain_order=True).agg(pl.col("country").alias("countries")))
    df = sdn.join(alts, on="ent_num", how="left").join(adds, on="ent_num", how="left")
    base = df.select(
        pl.format("sdn:{}", "ent_num").alias("list_id"),
        _lit(SOURCES["SDN"]).alias("source"),
        pl.col("SDN_Name").alias("name"),
        pl.col("alt_names"),
        pl.col("SDN_Type").fill_null("Entity").alias("type"),
        pl.col("countries"),
        pl.col("Program").str.replace_all(r"[\[\]]", ";").str.split(";").alias("programs"),
        pl.col("ent_num").alias("entity_number"),
        *[_lit().alias(c) for c in ("federal_register_notice", "start_date", "end_date", "license_requirement",
                                    "license_policy", "source_list_url")],
        pl.col("Remarks").alias("remarks"),
    )
    return _finish(base, source), None


# ---------------------------------------------------------------------------------------------- DPL


def _dpl(raw: bytes, source: str) -> tuple[pl.DataFrame, str | None]:
    data = _legacy_text(raw).encode("utf-8")
    header = _header(data.split(b"\n", 1)[0].rstrip(b"\r"), "\t")
    if "Name" not in header:
        raise InputError(f"{source}: no column 'Name' in the header row; give BIS's dpl.txt with its header row", field="Name")
    _check_complete(data, len(header), source, b"\t")
    df = _read_csv(data, source, separator="\t")
    df.columns = header
    if df.height == 0:
        raise InputError(f"{source}: no rows under the header; give a list with at least one entry")

    def col(name: str) -> pl.Expr:
        return pl.col(name).str.strip_chars().replace("", None) if name in header else _lit()

    def iso(name: str) -> pl.Expr:
        return col(name).str.to_date("%m/%d/%Y", strict=False).dt.to_string("%Y-%m-%d")

    country = pl.coalesce(col("Country"), pl.when(col("State").is_in(list(_US_STATES))).then(_lit("US")))
    base = df.select(
        pl.format("dpl:{}", pl.int_range(1, pl.len() + 1)).alias("list_id"),
        _lit(SOURCES["DPL"]).alias("source"),
        col("Name").alias("name"),
        pl.lit([], dtype=_L).alias("alt_names"),
        _lit().alias("type"),
        pl.concat_list(country).list.drop_nulls().alias("countries"),
        pl.lit([], dtype=_L).alias("programs"),
        _lit().alias("entity_number"),
        col("FR_Citation").alias("federal_register_notice"),
        iso("Effective_Date").alias("start_date"),
        iso("Expiration_Date").alias("end_date"),
        _lit().alias("license_requirement"),
        _lit().alias("license_policy"),
        _lit().alias("source_list_url"),
        col("Action").alias("remarks"),
    )
    return _finish(base, source), None


# ---------------------------------------------------------------------------------------------- FtM


def _ftm(raw: bytes, source: str) -> tuple[pl.DataFrame, str | None]:
    text = _utf8(raw, source, "FtM JSON is UTF-8: download the file again")
    lines = text.split("\n")
    ents: list[dict[str, Any]] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            cut = n == len(lines) and not text.endswith("\n")
            problem = "the last line is cut short: the file is truncated" if cut else f"not valid JSON ({exc.msg})"
            raise InputError(f"{source}: line {n}: {problem}; download the file again", row=n) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("properties", {}), dict) or "schema" not in obj:
            raise InputError(f"{source}: line {n}: not an FtM entity (an object with schema and properties); give FtM JSON lines", row=n)
        if not obj.get("id"):
            raise InputError(f"{source}: line {n}, field id: missing; every FtM entity has an id", field="id", row=n)
        ents.append(obj)
    by_id = {e["id"]: e for e in ents}
    cols: dict[str, list[Any]] = {c: [] for c in _BASE}
    seen: list[str] = []
    for e in ents:
        if e["schema"] not in FTM_TYPES:
            continue  # Address and other non-party schemata: used for countries only
        props: dict[str, Any] = e.get("properties") or {}

        def vals(prop: str, props: dict[str, Any] = props) -> list[str]:
            v = props.get(prop) or []
            return [str(x) for x in (v if isinstance(v, list) else [v])]

        names = [x for p in _FTM_NAMES for x in vals(p)]
        name = e.get("caption") or (names[0] if names else None)
        countries = vals("country")
        for addr in vals("addressEntity"):
            if addr in by_id:
                countries += [str(c) for c in (by_id[addr].get("properties") or {}).get("country", [])]
        created = sorted(vals("listingDate") or vals("createdAt"))
        cols["list_id"].append(e["id"])
        cols["source"].append("OpenSanctions " + ", ".join(e.get("datasets") or ["FtM"]))
        cols["name"].append(name)
        cols["alt_names"].append(list(dict.fromkeys(x for x in names if x != name)))
        cols["type"].append(FTM_TYPES[e["schema"]])
        cols["countries"].append(countries)
        cols["programs"].append(vals("programId") or vals("program"))
        cols["entity_number"].append(e["id"])
        cols["federal_register_notice"].append(None)
        cols["start_date"].append(created[0][:10] if created else None)
        cols["end_date"].append((sorted(vals("endDate")) or [None])[0])
        cols["license_requirement"].append(None)
        cols["license_policy"].append(None)
        cols["source_list_url"].append(None)
        cols["remarks"].append("; ".join(vals("notes")) or None)
        seen.append(str(e.get("last_seen") or ""))
    if not cols["list_id"]:
        raise InputError(f"{source}: no party entities (Person, Organization, Company, Vessel ...); give an FtM export of a list")
    frame = _frame(cols)
    return _finish(frame, source, "entity"), (max(seen)[:10] or None)


# ---------------------------------------------------------------------------------------------- API


def _newest(dates: Iterable[Any]) -> str | None:
    iso = [str(d) for d in dates if d and re.match(r"^\d{4}-\d{2}-\d{2}", str(d))]
    return max(iso) if iso else None


def _load(path: str | Path, fmt: str | None, alt_path: str | Path | None,
          add_path: str | Path | None) -> tuple[pl.DataFrame, str, str | None]:
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown list format {fmt!r}; use one of {', '.join(FORMATS)}", field="format")
    raw, source = _read(path)
    fmt = fmt or _sniff(raw, source)
    loaders: dict[str, Callable[[bytes, str], tuple[pl.DataFrame, str | None]]] = {
        "csl_csv": _csl_csv, "csl_json": _csl_json, "csl_json_projection": _projection, "dpl_txt": _dpl, "ftm_json": _ftm,
        "ofac_sdn_csv": lambda r, s: _ofac(r, s, Path(path), alt_path, add_path),
    }
    try:
        frame, date = loaders[fmt](raw, source)
    except InputError:
        raise
    except (pl.exceptions.PolarsError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise InputError(f"{source}: cannot be read as {fmt} ({first[:120]}); check that it is an unchanged {fmt} file") from None
    return frame, fmt, date or _newest(frame["start_date"].drop_nulls().to_list())


def load_entries(path: str | Path, fmt: str | None = None, *, alt_path: str | Path | None = None,
                 add_path: str | Path | None = None) -> pl.DataFrame:
    """Load one list file into the entries frame (`ENTRY_SCHEMA`); `fmt` is detected when None.

    For OFAC's legacy sdn.csv, aliases and addresses come from `alt_path`/`add_path`, or from
    alt.csv/add.csv in the same folder when those are not given."""
    return _load(path, fmt, alt_path, add_path)[0]


@dataclass
class Snapshot:
    """One load of one list file: what was read, when, and a hash that identifies its content."""

    source_path: str
    format: str
    loaded_at: str  # UTC ISO
    data_date: str | None  # the list's own date, best effort
    content_hash: str  # sha256 over the sorted key+content of the entries: file order does not matter
    counts: dict[str, int]  # list_code -> entries
    entries: pl.DataFrame = field(repr=False)


def content_hash(entries: pl.DataFrame) -> str:
    """sha256 over the entries' sorted key+content lines: the same list gives the same hash in any order."""
    lines = entries.select(pl.concat_str("key", "content", separator="\t").sort()).to_series()
    return hashlib.sha256("\n".join(lines.to_list()).encode("utf-8")).hexdigest()


def load_snapshot(path: str | Path, fmt: str | None = None, *, alt_path: str | Path | None = None,
                  add_path: str | Path | None = None) -> Snapshot:
    """Load a list file as a `Snapshot` (all or nothing: on error the caller keeps its previous one)."""
    frame, fmt, date = _load(path, fmt, alt_path, add_path)
    counts = dict(frame.group_by("list_code").len().sort("list_code").iter_rows())
    return Snapshot(source_path=str(path), format=fmt, loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    data_date=date, content_hash=content_hash(frame), counts=counts, entries=frame)


def _entries(x: Snapshot | pl.DataFrame, which: str) -> pl.DataFrame:
    frame = x.entries if isinstance(x, Snapshot) else x
    if not isinstance(frame, pl.DataFrame):
        raise InputError(f"diff: {which} is {type(x).__name__}; give a Snapshot or an entries frame", field=which)
    missing = [c for c in ENTRY_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"diff: the {which} frame has no column {missing[0]!r}; give a frame from load_entries", field=missing[0])
    return frame.select(ENTRY_COLUMNS)


def _populated(frame: pl.DataFrame, c: str) -> bool:
    e = pl.col(c).list.len().gt(0).any() if c in _LISTS else pl.col(c).is_not_null().any()
    return bool(frame.select(e).item())


def _name_heads(name: str) -> set[str]:
    """A normalised name cut at each comma: 'x co., ltd., shenzhen' -> {'x co.', 'x co., ltd.'}."""
    parts = name.split(",")
    return {",".join(parts[:i]).strip() for i in range(1, len(parts))} - {""}


def _renames(olds: pl.DataFrame, news: pl.DataFrame) -> list[tuple[int, int]]:
    """Pairs (old _i, new _i) of unnumbered entries of one list that were renamed: one name is the
    other plus a comma-separated tail (the 2022 Entity List put city and province in the name), or
    one entry's name is among the other's alt names. Only one-to-one candidates pair."""
    def rows(f: pl.DataFrame) -> list[tuple[int, str, str, set[str]]]:
        f = f.filter(pl.col("entity_number").is_null())
        return [(i, code, _norm_key_name(name), {_norm_key_name(a) for a in alts})
                for i, code, name, alts in f.select("_i", "list_code", "name", "alt_names").iter_rows()]

    full: dict[tuple[str, str], set[int]] = {}
    heads: dict[tuple[str, str], set[int]] = {}
    alts: dict[tuple[str, str], set[int]] = {}
    for i, code, name, alt in rows(news):
        full.setdefault((code, name), set()).add(i)
        for h in _name_heads(name):
            heads.setdefault((code, h), set()).add(i)
        for a in alt:
            alts.setdefault((code, a), set()).add(i)
    cands: dict[int, set[int]] = {}
    for i, code, name, alt in rows(olds):
        found = heads.get((code, name), set()) | alts.get((code, name), set())
        for t in _name_heads(name) | alt:
            found |= full.get((code, t), set())
        if found:
            cands[i] = found
    takers: dict[int, int] = {}
    for found in cands.values():
        for j in found:
            takers[j] = takers.get(j, 0) + 1
    return sorted((i, next(iter(f))) for i, f in cands.items() if len(f) == 1 and takers[next(iter(f))] == 1)


def diff(old: Snapshot | pl.DataFrame, new: Snapshot | pl.DataFrame, *, fields: Iterable[str] | None = None,
         renames: bool = True) -> dict[str, Any]:
    """What changed from `old` to `new`, entry by entry, matched on `key`.

    Returns ``added`` and ``removed`` (entries frames), ``changed`` (the new entries, with the old
    entry's `old_key`, `old_list_id`, `old_<field>` and the `changed_fields`), ``counts`` (old,
    new, added, removed, changed, of which renamed, unchanged, and added/removed/changed per list
    code), ``fields`` (those compared) and ``skipped_fields``.

    * By default the fields compared are the content fields both sides carry: a field one release
      does not fill at all (the 2026 projection has no dates or remarks) tells nothing of a change.
    * A key held by several rows (a party listed once per address) is matched row for row:
      identical rows first, then rows with the same countries, then the rest in content order.
    * With `renames`, an unnumbered entry whose name lost or gained a comma-separated tail, or
      moved to the alt names, is a change (of name), not one removal and one addition.
    """
    o, n = _entries(old, "old"), _entries(new, "new")
    if fields is None:
        cmp_fields = [c for c in CONTENT_FIELDS if _populated(o, c) and _populated(n, c)]
    else:
        cmp_fields = list(fields)
        unknown = [c for c in cmp_fields if c not in CONTENT_FIELDS]
        if unknown:
            raise InputError(f"diff: {unknown[0]!r} is not a content field; use some of {', '.join(CONTENT_FIELDS)}", field="fields")
    skipped = [c for c in CONTENT_FIELDS if c not in cmp_fields]

    def prep(f: pl.DataFrame) -> pl.DataFrame:
        f = f.with_row_index("_i").with_columns(_cmp=_canon_row(cmp_fields))
        return f.with_columns(_occ=pl.int_range(pl.len()).over("key", "_cmp"))

    o, n = prep(o), prep(n)
    same = ["key", "_cmp", "_occ"]
    olds, news = o.join(n, on=same, how="anti"), n.join(o, on=same, how="anti")
    unchanged = o.height - olds.height

    # the rest pair up by key: rows of a party listed once per address first with the row of the
    # same countries (when compared), then in content order
    old_cols = ["old_key", "old_list_id", *[f"old_{c}" for c in cmp_fields]]
    olds = olds.with_columns(pl.col("key").alias("old_key"), pl.col("list_id").alias("old_list_id"),
                             *[pl.col(c).alias(f"old_{c}") for c in cmp_fields])
    pieces: list[pl.DataFrame] = []
    for by_country in ((True, False) if "countries" in cmp_fields else (False,)):
        on = ["key", "_g", "_k"]
        group = _canon("countries") if by_country else pl.lit("")
        o_k = olds.with_columns(_g=group).sort("key", "_g", "_cmp", "list_id").with_columns(_k=pl.int_range(pl.len()).over("key", "_g"))
        n_k = news.with_columns(_g=group).sort("key", "_g", "_cmp", "list_id").with_columns(_k=pl.int_range(pl.len()).over("key", "_g"))
        pieces.append(n_k.join(o_k.select(*on, *old_cols), on=on, how="inner").select(*ENTRY_COLUMNS, *old_cols))
        olds = o_k.join(n_k, on=on, how="anti").drop("_g", "_k")
        news = n_k.join(o_k, on=on, how="anti").drop("_g", "_k")
    renamed = 0
    if renames and "name" in cmp_fields:
        pairs = _renames(olds, news)
        if pairs:
            link = pl.DataFrame({"_oi": [p[0] for p in pairs], "_i": [p[1] for p in pairs]}, schema={"_oi": pl.UInt32, "_i": pl.UInt32})
            moved = news.join(link, on="_i").join(olds.select(pl.col("_i").alias("_oi"), *old_cols), on="_oi")
            pieces.append(moved.select(*ENTRY_COLUMNS, *old_cols))
            olds = olds.join(link.select(pl.col("_oi").alias("_i")), on="_i", how="anti")
            news = news.join(link.select("_i"), on="_i", how="anti")
            renamed = len(pairs)
    changed = pl.concat(pieces).with_columns(
        pl.concat_list([pl.when(_canon(c) != _canon(c, "old_")).then(pl.lit(c)) for c in cmp_fields] or [pl.lit(None, _S)])
        .list.drop_nulls().alias("changed_fields")).sort("key", "list_id")
    added = news.select(ENTRY_COLUMNS).sort("key", "list_id")
    removed = olds.select(ENTRY_COLUMNS).sort("key", "list_id")

    by_list: dict[str, dict[str, int]] = {}
    for name, frame in (("added", added), ("removed", removed), ("changed", changed)):
        for code, k in frame.group_by("list_code").len().iter_rows():
            by_list.setdefault(code, {"added": 0, "removed": 0, "changed": 0})[name] = k
    counts: dict[str, Any] = {"old": o.height, "new": n.height, "added": added.height, "removed": removed.height,
                              "changed": changed.height, "renamed": renamed, "unchanged": unchanged,
                              "by_list": dict(sorted(by_list.items()))}
    return {"added": added, "removed": removed, "changed": changed, "counts": counts, "fields": cmp_fields,
            "skipped_fields": skipped}
