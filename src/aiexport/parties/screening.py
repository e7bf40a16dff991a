"""Screening a file of names (or the parties of an order book) against a list snapshot.

`aiexport screen NAMES --list LIST` reads NAMES (CSV with `id,name` and an optional `country`),
builds the index of LIST (any format `parties.lists` reads) and answers one object per name:
`decision` (`alert` when the best match reaches the threshold, else `clear`) and `matches` (best
first), each with the list entry, the name of it that matched, the score and its explanation.

`party_screen(index)` is the licensing pipeline's `PartyScreen`: it screens the consignee and end
user of every line and turns the lists that alert into `party_list_status` codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from aiexport.errors import InputError, read_input
from aiexport.parties.matcher import DEFAULT_THRESHOLD, Index

#: list codes of the Consolidated Screening List -> the party_list_status codes of the licensing contract
STATUS_OF_LIST = {"EL": "entity_list", "MEU": "meu", "DPL": "dpl", "UVL": "uvl", "SDN": "sdn"}
_POLICIES = ("presumption_of_denial", "case_by_case", "presumption_of_approval")


def load_index(list_path: str | Path) -> tuple[Index, Any]:
    """The snapshot of a list file and its index (errors leave nothing half-loaded)."""
    from aiexport.parties.lists import load_snapshot

    snap = load_snapshot(list_path)
    return Index.build(snap.entries), snap


def read_names_file(path: str | Path) -> pl.DataFrame:
    """NAMES_FILE: CSV with `id,name` and optionally `country`; every row checked."""
    p = Path(path)
    source = str(path)
    raw = read_input(p, "a CSV of names with columns id,name", field="NAMES")
    try:
        df = pl.read_csv(raw.removeprefix(b"\xef\xbb\xbf"), infer_schema=False)
    except Exception as exc:  # polars raises several parser errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{source}: not a readable CSV ({first[:100]}); give a CSV with a header row id,name") from None
    cols = [c.strip() for c in df.columns]
    df.columns = cols
    for c in cols:
        if c not in ("id", "name", "country"):
            raise InputError(f"{source}: field {c}: unknown column; use id, name and optionally country", field=c)
    for c in ("id", "name"):
        if c not in cols:
            raise InputError(f"{source}: field {c}: the column is missing; give a header row id,name", field=c)
    if df.height == 0:
        raise InputError(f"{source}: no rows under the header; give at least one name")
    df = df.with_columns(pl.col(c).str.strip_chars() for c in cols)
    bad = df.with_row_index("row", offset=1).filter(pl.col("id").is_null() | pl.col("name").is_null())
    if bad.height:
        row = bad.row(0, named=True)
        field = "id" if row["id"] is None else "name"
        raise InputError(f"{source}: row {row['row']}, field {field}: empty; give every row an id and a name", field=field, row=row["row"])
    dup = df.with_row_index("row", offset=1).filter(pl.col("id").is_duplicated())
    if dup.height:
        row = dup.row(1, named=True) if dup.height > 1 else dup.row(0, named=True)
        raise InputError(f"{source}: row {row['row']}, field id: duplicate id {row['id']!r}; give each row a unique id", field="id",
                         row=row["row"])
    return df


def screen_frame(names: pl.DataFrame, index: Index, threshold: float = DEFAULT_THRESHOLD, explain: bool = True,
                 snapshot_hash: str | None = None) -> list[dict[str, Any]]:
    """One answer per row of `names` (id, name[, country]), in order, each naming the list snapshot."""
    answers = index.search(names["name"].to_list(), threshold=threshold, explain=explain)
    out = []
    for (row_id, name), ans in zip(names.select("id", "name").iter_rows(), answers, strict=True):
        out.append({"id": row_id, "name": name, "decision": ans["decision"], "threshold": threshold, "list_snapshot_hash": snapshot_hash,
                    "matches": ans["matches"]})
    return out


def party_screen(index: Index, threshold: float = DEFAULT_THRESHOLD, snapshot_hash: str | None = None):
    """The licensing pipeline's PartyScreen over this index: the consignee's and end user's alerts as
    party_list_status codes ("none" when both are clear), the most restrictive policy of the entries."""

    def screen(parties: pl.DataFrame) -> pl.DataFrame:
        # each distinct name is screened once, each distinct (consignee, end user) pair judged once,
        # however many lines they appear on
        pairs = parties.select("consignee_name", "end_user_name").unique()
        distinct = list(dict.fromkeys(n for col in ("consignee_name", "end_user_name") for n in pairs[col].to_list() if n))
        found = dict(zip(distinct, index.search(distinct, threshold=threshold, explain=False), strict=True))
        statuses: list[str | None] = []
        policies: list[str | None] = []
        for c_name, u_name in pairs.iter_rows():
            if not c_name and not u_name:
                statuses.append(None)  # nobody to screen: the line stays unscreened
                policies.append(None)
                continue
            answers = [found[n] for n in (c_name, u_name) if n]
            codes = list(dict.fromkeys(STATUS_OF_LIST[m["list_code"]] for a in answers for m in a["matches"]
                                       if m.get("list_code") in STATUS_OF_LIST))
            statuses.append(";".join(codes) if codes else "none")
            seen = [p for a in answers for m in a["matches"] for p in _POLICIES
                    if m.get("license_policy") and p.replace("_", " ") in str(m["license_policy"]).lower().replace("-", " ")]
            policies.append(min(seen, key=_POLICIES.index) if seen else None)
        judged = pairs.with_columns(pl.Series("party_list_status", statuses, dtype=pl.String),
                                    pl.Series("party_list_policy", policies, dtype=pl.String))
        return parties.select("__i", "consignee_name", "end_user_name").join(
            judged, on=["consignee_name", "end_user_name"], how="left", nulls_equal=True, maintain_order="left").select(
            "__i", "party_list_status", "party_list_policy")

    screen.snapshot_hash = snapshot_hash  # type: ignore[attr-defined]
    return screen
