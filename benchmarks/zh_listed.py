"""Benchmark: do Chinese legal names of listed entities alert on the right entry of the 2026 CSL?

    .venv/bin/python benchmarks/zh_listed.py [CSV] [--list CSV] [--threshold T] [--misses] [--json]

CSV (default tests/data/zh_listed.csv): columns `zh_name`, `list_id` (the CSL `_id` of the right entry,
or several separated by ";") or, when `list_id` is empty, `en_name` (the right entry's English name as the
list writes it: any entry with that name or alternative name, compared after `names.normalise`); other
columns (`source`) are carried along. Lines starting with "#" are comments.

A query is found when it alerts (its best match reaches the threshold, default the matcher's
DEFAULT_THRESHOLD) and the right entry is its best match. Ties at the top score count, and so does an
entry listed under one of the right entry's names: its primary name equals, once normalised, a name or
alternative name of the right entry, with or without a bracketed acronym (the CSL carries some entities
more than once: Huawei Technologies twice in the Entity List and in the CMIC list, the XPCC in the
Entity List and the SDN list). Reported: recall, the
count of queries whose right entry is among the alerts though not first, and, with --misses, each miss
with its best match (list_id, name, score) and how the query was read.

Entries: `aiexport.parties.lists.load_snapshot(path).entries`, indexed by `aiexport.parties.matcher.Index`.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from aiexport.parties.matcher import DEFAULT_THRESHOLD, Index  # noqa: E402
from aiexport.parties.names import normalise  # noqa: E402

_BRACKETS = re.compile(r"\([^)]*\)")
DEFAULT_SET = ROOT / "tests" / "data" / "zh_listed.csv"
DEFAULT_LIST = ROOT.parent / "shared" / "data" / "lists" / "export-controls-agent-mcp" / "consolidated-2026-07-31.csv"


@dataclass
class Outcome:
    zh_name: str
    right: set[str]
    found: bool
    among_alerts: bool
    best: dict[str, Any] | None
    row: dict[str, str] = field(default_factory=dict)


def read_set(path: str | Path) -> list[dict[str, str]]:
    """The rows of an evaluation CSV (comment lines skipped); each needs zh_name and list_id or en_name."""
    text = Path(path).read_text(encoding="utf-8")
    rows = list(csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#")))
    for i, r in enumerate(rows, start=2):
        if not (r.get("zh_name") or "").strip() or not ((r.get("list_id") or "").strip() or (r.get("en_name") or "").strip()):
            raise ValueError(f"{path}: row {i} needs zh_name and list_id or en_name")
    return rows


def _key(name: str) -> str:
    forms = normalise(name or "")
    return forms[0].key if forms else ""


def right_entries(index: Index, row: dict[str, str], primary: dict[str, str] | None = None) -> set[str]:
    """The list_ids that count as the right entry of an evaluation row: its list_id(s), or the entries with
    its en_name; and every entry listed under one of their names (the same entity on another list, or twice
    on one: a primary name equal, once normalised, to a name or alternative name of a right entry, with or
    without a bracketed acronym). `primary`: `primary_keys(index)`, computed once for many rows."""
    primary = primary_keys(index) if primary is None else primary
    ids = {i.strip() for i in (row.get("list_id") or "").split(";") if i.strip()}
    names = index.entries.select("list_id", "name", "alt_names")
    if not ids:
        want = _key(row["en_name"])
        ids = {lid for lid, name, alts in names.iter_rows() if want in {_key(n) for n in [name, *(alts or [])]}}
    keys = {_key(t) for lid, name, alts in names.filter(pl.col("list_id").is_in(list(ids))).iter_rows()
            for n in [name, *(alts or [])] for t in (n, _BRACKETS.sub(" ", n))} - {""}
    return ids | {lid for lid, k in primary.items() if k in keys}


def primary_keys(index: Index) -> dict[str, str]:
    """list_id -> the normalised primary name of the entry."""
    return {lid: _key(name) for lid, name in index.entries.select("list_id", "name").iter_rows()}


def evaluate(index: Index, rows: list[dict[str, str]], threshold: float = DEFAULT_THRESHOLD) -> list[Outcome]:
    """Screen every row's zh_name; one Outcome per row, in order."""
    answers = index.search([r["zh_name"] for r in rows], threshold=0.0, limit=20)
    primary = primary_keys(index)
    out = []
    for r, ans in zip(rows, answers, strict=True):
        right = right_entries(index, r, primary)
        ms = ans["matches"]
        best = ms[0] if ms else None
        top = best["score"] if best else None
        alerts = [m for m in ms if m["score"] >= threshold]
        found = bool(alerts) and any(m["list_id"] in right and m["score"] == top for m in alerts)
        out.append(Outcome(r["zh_name"], right, found, any(m["list_id"] in right for m in alerts), best, r))
    return out


def recall(outcomes: list[Outcome]) -> float:
    return sum(o.found for o in outcomes) / len(outcomes) if outcomes else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", nargs="?", default=str(DEFAULT_SET))
    ap.add_argument("--list", default=str(DEFAULT_LIST), help="list file (default: the 2026 CSL copy in shared/)")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--misses", action="store_true", help="print each miss with its best match")
    ap.add_argument("--json", action="store_true", help="one JSON object per query instead of the summary")
    args = ap.parse_args(argv)
    from aiexport.parties.lists import load_snapshot

    try:
        rows = read_set(args.csv)
        index = Index.build(load_snapshot(args.list).entries)
    except (OSError, ValueError) as exc:
        print(f"zh_listed: {exc}", file=sys.stderr)
        return 2
    outcomes = evaluate(index, rows, args.threshold)
    if args.json:
        for o in outcomes:
            b = o.best or {}
            print(json.dumps({"zh_name": o.zh_name, "found": o.found, "right": sorted(o.right), "best_list_id": b.get("list_id"),
                              "best_name": b.get("list_name"), "score": b.get("score")}, ensure_ascii=False))
        return 0
    n, found = len(outcomes), sum(o.found for o in outcomes)
    among = sum(o.among_alerts and not o.found for o in outcomes)
    print(f"{args.csv}: {n} queries, threshold {args.threshold}")
    print(f"found (alert, right entry first): {found}/{n} = {found / n:.1%}; right entry alerted but not first: {among}")
    if args.misses:
        for o in outcomes:
            if o.found:
                continue
            b = o.best
            how = "; ".join(b["explanation"]["how"]) if b else ""
            got = f"{b['list_id']} {b['list_name']!r} {b['score']:.3f}" if b else "no match"
            print(f"  MISS {o.zh_name} (want {','.join(sorted(o.right))}): best {got} [{how}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
