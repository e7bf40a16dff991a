"""Ownership: the 50 % rules (BIS Affiliates rule, OFAC 50 Percent Rule) over an ownership graph.

Inputs are two CSV files (or frames / rows built in code):

* parties: ``id, name, country, list_status``. ``list_status`` is optional; empty means not listed,
  several codes are separated by ``;``. Codes (``LIST_CODES``):

  ============ ==================================================================================
  entity_list  BIS Entity List (15 CFR 744 Supp. No. 4)                 counts for the BIS rule
  meu          BIS Military End-User List (15 CFR 744 Supp. No. 7)       counts for the BIS rule
  sdn          OFAC SDN List                                             counts for OFAC
  sdn_744_8    an SDN under a program of 15 CFR 744.8(a)(1)              counts for both
  ============ ==================================================================================

* edges: ``owner, owned, percent, from, until``: ``owner`` holds ``percent`` (0 < p <= 100) of
  ``owned`` from ``from`` through ``until`` (both inclusive, both optional: empty means open).

How ownership is counted (``method="attribution"``, the default, and the agencies' method).
OFAC FAQ 401: "indirectly" means ownership "through another entity or entities that are 50 percent
or more owned in the aggregate by the blocked person(s)", and such an entity is itself blocked
(Example 1: X owns 50 % of A, A owns 50 % of B: B is blocked). The BIS Affiliates rule (90 FR
47201) is "designed to be consistent with longstanding Department of the Treasury practice" and
reaches entities owned 50 % or more by listed parties or by entities already captured by the rule.
So an entity is covered when the stakes held in it by listed parties and by covered entities add up
to the threshold or more; a covered entity's stake counts in full, a stake held by an entity that
is not covered counts for nothing. This is the least fixed point reached from the listed parties:

    covered := {}; repeat: add every unlisted entity E with sum(stake(O, E) for O listed or covered) >= 50

computed once for the whole graph by a work list (each entity enters once, each edge is read once
from its covered owner): O(V + E) per rule and date. Cycles cannot hang it (an entity is queued at
most once) and cannot create coverage out of nothing (only stakes of already covered owners count).

``method="multiply"`` is the look-through arithmetic instead: the product of the percentages along
each chain from a listed party through unlisted intermediates, summed over the distinct chains.
It is NOT how OFAC or BIS count (FAQ 401 Example 1 gives 50 % x 50 % = 25 %, not covered, where
OFAC says blocked); it is kept for comparison and for economic-interest reporting. On an acyclic
graph it is a dynamic programme in topological order, O(V + E) and exact; for an entity on or
below a cycle the simple chains themselves are summed (a cycle is never walked twice), and if that
search hits its limits the percent is a lower bound, flagged.

Chains. Every answer shows the chains that explain it: each a list of ``(owner, owned, percent)``
links from a listed party down to the party, through covered intermediates (attribution) or any
unlisted intermediates (multiply), with the product of its percentages. Chains are simple paths
(no entity twice), so cycles end there. Their number can grow exponentially with the graph, so the
search (shortest chains first) stops at ``max_chains`` (default MAX_CHAINS) chains per party,
MAX_DEPTH links per chain or MAX_STEPS edges read, and flags it. Decisions, percentages and list
codes do not depend on the chain search (except ``multiply`` below a cycle, see above).

Dates. Edges outside their ``from``/``until`` on ``as_of`` are ignored. The rule's status on the
date comes from ``rules/affiliates_rule.yaml``: the BIS rule is in force from 2025-09-29, suspended
2025-11-10 through 2026-11-09 (status ``codified_not_enforced``: reported, not applied, flagged),
and assumed reinstated from 2026-11-10 (fact UNCONFIRMED: applied and flagged). The OFAC rule is in
force from 2014-08-13 (aggregation guidance) and untouched by the suspension.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl

from aiexport.errors import InputError, RulebookError
from aiexport.rulebook import Rulebook, Version, baseline

INSTRUMENT = "affiliates_rule"
LIST_CODES = ("entity_list", "meu", "sdn", "sdn_744_8")
Method = Literal["attribution", "multiply"]

#: Limits of the chain search (per party and rule); the coverage decision itself has none.
MAX_CHAINS = 64
MAX_DEPTH = 16
MAX_STEPS = 50_000
_EPS = 1e-9  # 30 + 20 must reach 50 whatever the binary rounding

# flags (stable strings, tested)
FLAG_NOT_IN_FORCE = "rule not in force on this date"
FLAG_SUSPENDED = "rule suspended on this date"
FLAG_UNCONFIRMED = "rule status UNCONFIRMED"
FLAG_NOT_APPLIED = "threshold met but rule not applied on this date"
FLAG_LISTED = "party is itself listed"
FLAG_TRUNCATED = "chains truncated"
FLAG_OVER_100 = "stakes add up to more than 100 %, capped"
FLAG_LOWER_BOUND = "look-through percent is a lower bound"


@dataclass(frozen=True)
class _Rule:
    id: str
    provision: str  # provision id in affiliates_rule.yaml
    param: str  # threshold parameter
    codes: frozenset[str]  # list codes whose parties count as owners
    follows_version: bool  # the version's status/fact describe this rule (BIS) or not (OFAC: in force when present)


RULES: tuple[_Rule, ...] = (
    _Rule("bis_affiliates", "bis_affiliates", "threshold_pct", frozenset({"entity_list", "meu", "sdn_744_8"}), True),
    _Rule("ofac_50", "ofac_50", "ofac_threshold_pct", frozenset({"sdn", "sdn_744_8"}), False),
)

_NOT_IN_FORCE_EN = "{rule}: not in force on {day}; ownership is not attributed under it"
_NOT_IN_FORCE_ZH = "{rule}：{day} 不在有效期内；不据此计算所有权归属"

Link = tuple[str, str, float]


@dataclass(frozen=True)
class Chain:
    """One chain of ownership from a listed party (``links[0][0]``) down to the party."""

    links: tuple[Link, ...]
    product: float  # percent: the product of the links' percentages (80 % x 70 % -> 56.0)

    @property
    def root(self) -> str:
        return self.links[0][0]

    def text(self) -> str:
        return " -> ".join([self.links[0][0], *(f"{p:g}% {owned}" for _, owned, p in self.links)]) + f" (= {self.product:g}%)"


@dataclass(frozen=True)
class Coverage:
    """Whether one party is treated as listed (BIS) or blocked (OFAC) by ownership, on one date.

    ``covered`` is the answer: the rule applies on the date and ``percent >= threshold_pct``.
    ``meets_threshold`` is the arithmetic alone (true while the BIS rule is suspended, with
    ``covered`` false and FLAG_SUSPENDED). ``owners`` are the direct stakes counted in ``percent``:
    ``(owner, percent, basis)`` with basis a list code (a listed owner), "covered" (an owner itself
    covered; attribution) or "look-through"/"chains" (an unlisted owner's share; multiply).
    ``lists`` are the list codes of the listed parties upstream (for BIS, the most restrictive of
    their requirements applies). The BIS rule reaches *foreign* entities; the party's location is
    not checked here."""

    party: str
    rule: str  # "bis_affiliates" | "ofac_50"
    instrument: str
    version: str | None
    status: str  # "in_force" | "codified_not_enforced" | "not_in_force"
    fact: str | None  # P / S / D / UNCONFIRMED of the rule's status on the date
    applies: bool
    covered: bool
    meets_threshold: bool
    percent: float
    threshold_pct: float | None
    method: str
    owners: tuple[tuple[str, float, str], ...] = ()
    lists: tuple[str, ...] = ()
    chains: tuple[Chain, ...] = ()
    flags: tuple[str, ...] = ()
    listed_as: tuple[str, ...] = ()
    text_en: str = ""
    text_zh: str = ""
    citation: str = ""
    as_of: date | None = field(default=None, compare=False)


# --- reading ---------------------------------------------------------------------------------


def _fail(source: str, row: int | None, fld: str, problem: str, fix: str) -> InputError:
    where = f"{source}: row {row}, field {fld}" if row is not None else f"{source}: field {fld}"
    return InputError(f"{where}: {problem}; {fix}", field=fld, row=row)


def _read_text(path: str | Path, what: str) -> tuple[str, str]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found; give the path of a {what} CSV file")
    try:
        return p.read_text(encoding="utf-8-sig"), str(p)
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text; save the {what} file as UTF-8") from None


def _csv_frame(text: str, source: str, required: Sequence[str], optional: Sequence[str]) -> pl.DataFrame:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or not any(c.strip() for c in rows[0]):
        raise InputError(f"{source}: no header row; give the column names ({', '.join(required)}) in the first line")
    header = [c.strip().lower() for c in rows[0]]
    known = set(required) | set(optional)
    for name in header:
        if name not in known:
            raise _fail(source, None, name, "unknown column", f"the columns are {', '.join([*required, *optional])}")
    for name in required:
        if name not in header:
            raise _fail(source, None, name, "missing column", "add it to the header row")
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    for i, r in enumerate(body, start=1):
        if len(r) != len(header):
            raise InputError(f"{source}: row {i}: {len(r)} cells under {len(header)} columns; give one cell per column", row=i)
    cols = {name: [r[j].strip() or None for r in body] for j, name in enumerate(header)}
    for name in optional:
        cols.setdefault(name, [None] * len(body))
    return pl.DataFrame(cols, schema={n: pl.String for n in [*required, *optional]})


def _first_bad(df: pl.DataFrame, mask: pl.Expr) -> tuple[int, dict[str, Any]] | None:
    """The first row (1-based, the header not counted) where ``mask`` holds, with its cells."""
    bad = df.with_row_index("__row", offset=1).filter(mask)
    return (bad["__row"][0], bad.row(0, named=True)) if bad.height else None


def _parse_edges(raw: pl.DataFrame, source: str) -> pl.DataFrame:
    """Validate string columns owner, owned, percent, from, until; return them typed."""
    for col in ("owner", "owned"):
        hit = _first_bad(raw, pl.col(col).is_null())
        if hit:
            raise _fail(source, hit[0], col, "empty", "give the party id")
    df = raw.with_columns(
        pl.col("percent").str.strip_chars().str.strip_suffix("%").cast(pl.Float64, strict=False).alias("__pct"),
        pl.col("from").str.to_date("%Y-%m-%d", strict=False).alias("__from"),
        pl.col("until").str.to_date("%Y-%m-%d", strict=False).alias("__until"),
    )
    checks = [
        ("percent", pl.col("__pct").is_null() | ~pl.col("__pct").is_finite() | (pl.col("__pct") <= 0) | (pl.col("__pct") > 100),
         "not a percentage above 0 and at most 100", "write it as a number such as 30 or 30.5"),
        ("from", pl.col("from").is_not_null() & pl.col("__from").is_null(), "not a date", "write it as YYYY-MM-DD or leave it empty"),
        ("until", pl.col("until").is_not_null() & pl.col("__until").is_null(), "not a date", "write it as YYYY-MM-DD or leave it empty"),
        ("until", pl.col("__until") < pl.col("__from"), "before 'from'", "give an until on or after from"),
        ("owned", pl.col("owner") == pl.col("owned"), "same as owner", "drop self-ownership (treasury shares) rows"),
    ]
    for col, mask, problem, fix in checks:
        hit = _first_bad(df, mask.fill_null(False))
        if hit:
            raise _fail(source, hit[0], col, f"{hit[1][col]!r} is {problem}", fix)
    df = df.select("owner", "owned", pl.col("__pct").alias("percent"), pl.col("__from").alias("from"), pl.col("__until").alias("until"))
    # one stake per pair per day: sorted by from, each row of a pair must start after every earlier one ends
    pair = ("owner", "owned")
    over = (df.with_row_index("__row", offset=1)
            .with_columns(pl.col("from").fill_null(date.min).alias("__f"), pl.col("until").fill_null(date.max).alias("__u"))
            .sort(*pair, "__f", "__row")
            .with_columns(pl.col("__u").cum_max().shift().over(*pair).alias("__prev_end"))
            .filter(pl.col("__prev_end") >= pl.col("__f"))
            .sort("__row"))
    if over.height:
        r = over.row(0, named=True)
        raise _fail(source, r["__row"], "from", f"{r['owner']} -> {r['owned']} overlaps an earlier row of the same stake in time",
                    "give one row per stake and period (end the earlier one with 'until')")
    return df


def read_edges(path: str | Path) -> pl.DataFrame:
    """An edges CSV (owner, owned, percent, from, until) as a typed frame; errors name row and field."""
    text, source = _read_text(path, "ownership edges")
    return _parse_edges(_csv_frame(text, source, ("owner", "owned", "percent"), ("from", "until")), source)


def edges_frame(rows: pl.DataFrame | Iterable[Sequence[Any] | Mapping[str, Any]], source: str = "edges") -> pl.DataFrame:
    """Edges given in code: a frame, or rows ``(owner, owned, percent[, from[, until]])`` or mappings."""
    if isinstance(rows, pl.DataFrame):
        if set(rows.columns) == {"owner", "owned", "percent", "from", "until"} and rows.schema["percent"] == pl.Float64 \
                and rows.schema["from"] == pl.Date and rows.schema["until"] == pl.Date:
            return rows.select("owner", "owned", "percent", "from", "until")  # read_edges' output: trusted as validated
        recs: list[Mapping[str, Any]] = rows.to_dicts()
    else:
        names = ("owner", "owned", "percent", "from", "until")
        recs = [r if isinstance(r, Mapping) else dict(zip(names, r, strict=False)) for r in rows]

    def cell(v: Any) -> str | None:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        return v.isoformat() if isinstance(v, date) else str(v).strip()

    cols = {n: [cell(r.get(n)) for r in recs] for n in ("owner", "owned", "percent", "from", "until")}
    return _parse_edges(pl.DataFrame(cols, schema={n: pl.String for n in cols}), source)


def _codes(value: str | Iterable[str] | None, source: str, row: int | None, party: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    parts = value.replace(",", ";").split(";") if isinstance(value, str) else list(value)
    out = set()
    for part in parts:
        code = str(part).strip().lower()
        if code in ("", "none", "no"):
            continue
        if code not in LIST_CODES:
            raise _fail(source, row, "list_status", f"{party}: unknown list code {part!r}", f"use {', '.join(LIST_CODES)} (several: a;b)")
        out.add(code)
    return frozenset(out)


def read_parties(path: str | Path) -> pl.DataFrame:
    """A parties CSV (id, name, country, list_status) as a frame; list_status split into a list."""
    text, source = _read_text(path, "parties")
    df = _csv_frame(text, source, ("id",), ("name", "country", "list_status"))
    hit = _first_bad(df, pl.col("id").is_null())
    if hit:
        raise _fail(source, hit[0], "id", "empty", "give every party an id")
    dup = _first_bad(df, pl.col("id").is_duplicated() & (pl.int_range(pl.len()).over("id") > 0))
    if dup:
        raise _fail(source, dup[0], "id", f"{dup[1]['id']!r} given twice", "give each party one row")
    codes = [sorted(_codes(v, source, i, pid)) for i, (pid, v) in enumerate(zip(df["id"], df["list_status"], strict=True), start=1)]
    return df.with_columns(pl.Series("list_status", codes, dtype=pl.List(pl.String)),
                           pl.col("country").str.to_uppercase())


def listed_from_parties(parties: pl.DataFrame) -> dict[str, list[str]]:
    """The ``listed`` mapping (party id -> list codes) of a parties frame, listed parties only."""
    return {pid: list(codes) for pid, codes in zip(parties["id"], parties["list_status"], strict=True) if codes is not None and len(codes)}


def _listed(listed: Mapping[str, str | Iterable[str]]) -> dict[str, frozenset[str]]:
    out = {}
    for pid, value in listed.items():
        codes = _codes(value, "listed", None, str(pid))
        if codes:
            out[str(pid)] = codes
    return out


# --- the graph on a date ---------------------------------------------------------------------


@dataclass
class _Graph:
    children: dict[str, list[tuple[str, float]]]
    parents: dict[str, list[tuple[str, float]]]
    incoming: dict[str, float]  # total of all stakes in an entity (for the over-100 % flag)
    nodes: set[str]


def _graph(edges: pl.DataFrame, as_of: date) -> _Graph:
    live = (edges.lazy()
            .filter((pl.col("from").is_null() | (pl.col("from") <= as_of)) & (pl.col("until").is_null() | (pl.col("until") >= as_of)))
            .group_by("owner", "owned").agg(pl.col("percent").sum().clip(upper_bound=100.0))
            .sort("owned", "owner").collect())
    g = _Graph(defaultdict(list), defaultdict(list), defaultdict(float), set())
    for owner, owned, pct in live.iter_rows():
        g.children[owner].append((owned, pct))
        g.parents[owned].append((owner, pct))
        g.incoming[owned] += pct
        g.nodes.update((owner, owned))
    return g


def _covered_set(g: _Graph, roots: Mapping[str, frozenset[str]], threshold: float) -> set[str]:
    """The least fixed point: unlisted entities whose stakes held by roots or covered entities reach
    the threshold. Work list; O(V + E)."""
    held: dict[str, float] = defaultdict(float)
    covered: set[str] = set()
    queue = deque(sorted(roots))
    while queue:
        owner = queue.popleft()
        for child, pct in g.children.get(owner, ()):
            if child in roots or child in covered:
                continue
            held[child] += pct
            if held[child] >= threshold - _EPS:
                covered.add(child)
                queue.append(child)
    return covered


def _depths(g: _Graph, roots: Mapping[str, frozenset[str]], allowed: set[str] | None) -> dict[str, int]:
    """For each unlisted entity a chain may pass through (in ``allowed``, or any when None): the
    fewest links from a listed party down to it. Breadth first from the roots; O(V + E)."""
    depth = dict.fromkeys(roots, 0)
    queue = deque(roots)
    while queue:
        node = queue.popleft()
        for child, _ in g.children.get(node, ()):
            if child not in depth and (allowed is None or child in allowed):
                depth[child] = depth[node] + 1
                queue.append(child)
    return {n: d for n, d in depth.items() if n not in roots}


def _chains(g: _Graph, party: str, roots: Mapping[str, frozenset[str]], depth: Mapping[str, int],
            max_chains: int = MAX_CHAINS) -> tuple[list[Chain], bool]:
    """Simple paths from a root down to ``party`` whose intermediates are keys of ``depth`` (the
    covered entities, or every unlisted entity a root reaches), shortest first: a depth-first walk
    upwards from the party, deepened one link per round, never entering an owner from which no
    root is near enough (``depth``). The number of simple paths can grow exponentially, so the
    walk stops at ``max_chains`` chains, MAX_DEPTH links or MAX_STEPS edges read, and says so."""
    found: list[Chain] = []
    truncated = False
    steps = 0
    on_path = {party}
    path: list[Link] = []  # links from the party upwards

    def walk(node: str, limit: int) -> bool:
        """Record the chains of exactly ``limit`` links; True if the limit cut some branch."""
        nonlocal truncated, steps
        cut = False
        for owner, pct in g.parents.get(node, ()):
            steps += 1
            if truncated or steps > MAX_STEPS:
                truncated = True
                return cut
            if owner in on_path:
                continue  # a cycle: the chain would pass an entity twice
            n = len(path) + 1
            if owner in roots:
                if n < limit:
                    continue  # recorded in an earlier round
                if len(found) >= max_chains:
                    truncated = True
                    return cut
                links = ((owner, node, pct), *reversed(path))
                prod = 100.0
                for _, _, p in links:
                    prod *= p / 100.0
                found.append(Chain(links, round(prod, 9)))
            elif owner in depth:
                if n + depth[owner] > limit:
                    cut = True
                    continue
                path.append((owner, node, pct))
                on_path.add(owner)
                cut = walk(owner, limit) or cut
                on_path.discard(owner)
                path.pop()
        return cut

    for limit in range(1, MAX_DEPTH + 1):
        cut = walk(party, limit)
        if truncated or not cut:
            break
        if limit == MAX_DEPTH:
            truncated = True
    return found, truncated


# --- the rule on a date ----------------------------------------------------------------------


@dataclass(frozen=True)
class _RuleOnDate:
    rule: _Rule
    version: Version | None
    status: str
    fact: str | None
    threshold: float | None
    flags: tuple[str, ...]
    text_en: str
    text_zh: str
    citation: str

    @property
    def applies(self) -> bool:
        return self.status == "in_force"


def _rule_on(rulebook: Rulebook, rule: _Rule, as_of: date) -> _RuleOnDate:
    try:
        inst = rulebook.resolve(as_of)[INSTRUMENT]
    except KeyError:
        raise RulebookError(f"{INSTRUMENT}: no such instrument in the rulebook (rules/affiliates_rule.yaml)") from None
    v = inst.version
    prov = v.provisions.get(rule.provision) if v else None
    par = inst.params.get(rule.param)
    if v is None or prov is None or par is None:
        name = rule.id.replace("_", " ")
        return _RuleOnDate(rule, v, "not_in_force", None, None, (FLAG_NOT_IN_FORCE,),
                           _NOT_IN_FORCE_EN.format(rule=name, day=as_of), _NOT_IN_FORCE_ZH.format(rule=name, day=as_of), "")
    if not rule.follows_version:  # OFAC: in force whenever present, whatever the BIS rule's state
        return _RuleOnDate(rule, v, "in_force", prov.fact, par.value, (FLAG_UNCONFIRMED,) if prov.fact == "UNCONFIRMED" else (),
                           prov.text_en, prov.text_zh, prov.citation.text())
    status = rulebook.version_status_on(v, as_of)
    flags: list[str] = []
    text_en, text_zh, cite = prov.text_en, prov.text_zh, prov.citation.text()
    if status == "codified_not_enforced":
        flags.append(FLAG_SUSPENDED)
        note = v.provisions.get("suspended")
        if note:
            text_en, text_zh, cite = note.text_en, note.text_zh, note.citation.text()
    elif status != "in_force":
        flags.append(FLAG_NOT_IN_FORCE)
    if v.fact == "UNCONFIRMED":
        flags.append(FLAG_UNCONFIRMED)
        note = v.provisions.get("reinstated")
        if note:
            text_en, text_zh = f"{prov.text_en}. {note.text_en}", f"{prov.text_zh}。{note.text_zh}"
            cite = f"{cite}; {note.citation.text()}"
    return _RuleOnDate(rule, v, status, v.fact, par.value, tuple(flags), text_en, text_zh, cite)


def _origins(g: _Graph, roots: Mapping[str, frozenset[str]], allowed: Iterable[str]) -> dict[str, frozenset[str]]:
    """The list codes of the listed parties upstream of each allowed entity (through allowed ones).
    A propagation to a fixed point: a node's set only grows, at most len(LIST_CODES) times, so
    O(|codes| (V + E))."""
    allowed = set(allowed)
    codes: dict[str, frozenset[str]] = dict(roots)
    queue = deque(roots)
    while queue:
        node = queue.popleft()
        for child, _ in g.children.get(node, ()):
            if child in allowed and child not in roots:
                merged = codes.get(child, frozenset()) | codes[node]
                if merged != codes.get(child):
                    codes[child] = merged
                    queue.append(child)
    return codes


def _look_through(g: _Graph, roots: Mapping[str, frozenset[str]], reach: Iterable[str]) -> tuple[dict[str, float], set[str]]:
    """The multiply method without enumerating chains where the graph allows: in topological order
    over the unlisted entities the roots reach, value(n) = sum over owners o of stake(o, n) x
    (100 % if o is listed, else value(o)); that is the sum of the chains' products, exact on an
    acyclic graph. Kahn's algorithm, O(V + E). Entities on or below a cycle are returned apart (their
    simple chains are enumerated instead)."""
    reach = set(reach)
    indeg = {n: sum(1 for o, _ in g.parents.get(n, ()) if o in reach) for n in reach}
    queue = deque(sorted(n for n, k in indeg.items() if k == 0))
    value: dict[str, float] = {}
    while queue:
        n = queue.popleft()
        value[n] = sum(p * (1.0 if o in roots else value.get(o, 0.0) / 100.0) for o, p in g.parents.get(n, ()) if o in roots or o in reach)
        for child, _ in g.children.get(n, ()):
            if child in indeg:
                indeg[child] -= 1
                if indeg[child] == 0:
                    queue.append(child)
    return value, reach - set(value)


class _Day:
    """Everything for one date: the graph, and per rule its status, roots, covered set (attribution)
    or look-through values (multiply), and the list codes upstream of each entity."""

    def __init__(self, edges: pl.DataFrame, listed: Mapping[str, frozenset[str]], as_of: date, rulebook: Rulebook,
                 method: Method, max_chains: int = MAX_CHAINS):
        if method not in ("attribution", "multiply"):
            raise InputError(f"method: {method!r} is not a method; use 'attribution' or 'multiply'", field="method")
        if max_chains < 0:
            raise InputError(f"max_chains: {max_chains} is negative; give 0 (no chains) or more", field="max_chains")
        self.as_of, self.method, self.listed, self.max_chains = as_of, method, listed, max_chains
        self.graph = _graph(edges, as_of)
        self.rules = [_rule_on(rulebook, r, as_of) for r in RULES]
        self.roots = {r.rule.id: {p: c & r.rule.codes for p, c in listed.items() if c & r.rule.codes} for r in self.rules}
        self.covered: dict[str, set[str]] = {}
        self.depth: dict[str, dict[str, int]] = {}
        self.value: dict[str, dict[str, float]] = {}
        self.cyclic: dict[str, set[str]] = {}
        self.origins: dict[str, dict[str, frozenset[str]]] = {}
        for r in self.rules:
            rid, roots = r.rule.id, self.roots[r.rule.id]
            if r.threshold is None:
                continue  # not in force: nothing to compute
            if method == "attribution":
                self.covered[rid] = _covered_set(self.graph, roots, r.threshold)
                self.depth[rid] = _depths(self.graph, roots, self.covered[rid])
            else:
                self.depth[rid] = _depths(self.graph, roots, None)
                self.value[rid], self.cyclic[rid] = _look_through(self.graph, roots, self.depth[rid])
            self.origins[rid] = _origins(self.graph, roots, self.depth[rid])

    def coverage(self, party: str) -> list[Coverage]:
        return [self._one(party, r) for r in self.rules]

    def _one(self, party: str, r: _RuleOnDate) -> Coverage:
        rid = r.rule.id
        roots = self.roots[rid]
        g = self.graph
        flags = list(r.flags)
        listed_as = tuple(sorted(self.listed.get(party, frozenset())))
        if party in roots:
            flags.append(FLAG_LISTED)
        base = {"party": party, "rule": rid, "instrument": INSTRUMENT, "version": r.version.id if r.version else None,
                "status": r.status, "fact": r.fact, "applies": r.applies, "threshold_pct": r.threshold, "method": self.method,
                "listed_as": listed_as, "text_en": r.text_en, "text_zh": r.text_zh, "citation": r.citation, "as_of": self.as_of}
        if r.threshold is None:  # the rule does not exist on this date: nothing is attributed under it
            return Coverage(covered=False, meets_threshold=False, percent=0.0, flags=tuple(flags), **base)
        depth, origins = self.depth[rid], self.origins[rid]
        parents = [(o, p) for o, p in g.parents.get(party, ()) if o in roots or o in depth]
        want = self.max_chains
        if self.method == "attribution":
            covered = self.covered[rid]
            owners = tuple((o, p, "+".join(sorted(roots[o])) if o in roots else "covered") for o, p in parents)
            percent = sum(p for _, p, _ in owners)
            chains, truncated = _chains(g, party, roots, depth, want) if want else ([], False)
            meets = party in covered if party not in roots else percent >= r.threshold - _EPS  # the fixed point decides
        else:
            value, cyclic = self.value[rid], self.cyclic[rid]
            if any(o in cyclic for o, _ in parents):  # on or below a cycle: sum the simple chains themselves
                every, cut = _chains(g, party, roots, depth, max(want, MAX_CHAINS))
                by_owner: dict[str, float] = defaultdict(float)
                for c in every:
                    by_owner[c.links[-1][0]] += c.product
                owners = tuple((o, round(v, 9), "+".join(sorted(roots[o])) if o in roots else "chains") for o, v in by_owner.items())
                percent = sum(c.product for c in every)
                if cut:
                    flags.append(FLAG_LOWER_BOUND)
                chains, truncated = every[:want], cut or len(every) > want
            else:
                owners = tuple((o, round(p * (1.0 if o in roots else value[o] / 100.0), 9),
                                "+".join(sorted(roots[o])) if o in roots else "look-through") for o, p in parents)
                percent = sum(v for _, v, _ in owners)
                chains, truncated = _chains(g, party, roots, depth, want) if want else ([], False)
            meets = percent >= r.threshold - _EPS
        percent = round(min(100.0, percent), 9)
        if g.incoming.get(party, 0.0) > 100.0 + _EPS:
            flags.append(FLAG_OVER_100)
        if truncated:
            flags.append(FLAG_TRUNCATED)
        if meets and not r.applies:
            flags.append(FLAG_NOT_APPLIED)
        lists = tuple(sorted({code for o, _ in parents for code in origins.get(o, ())}))
        return Coverage(covered=bool(meets and r.applies), meets_threshold=bool(meets), percent=percent, owners=owners,
                        lists=lists, chains=tuple(chains), flags=tuple(flags), **base)


# --- API -------------------------------------------------------------------------------------


def coverage(party_id: str, edges: pl.DataFrame | Iterable[Sequence[Any] | Mapping[str, Any]],
             listed: Mapping[str, str | Iterable[str]], as_of: date, rulebook: Rulebook | None = None,
             *, method: Method = "attribution", max_chains: int = MAX_CHAINS) -> list[Coverage]:
    """One party on one date: a Coverage per rule, in the order BIS Affiliates rule, OFAC 50 %.

    Both are always returned so the answer has one shape; a rule not in force on the date comes
    back with ``status="not_in_force"``, ``applies=False`` and FLAG_NOT_IN_FORCE. Cost: the fixed
    point over the whole graph, O(V + E), plus the chain search for this party (at most
    ``max_chains`` chains; 0 skips it)."""
    return _Day(edges_frame(edges), _listed(listed), as_of, rulebook or baseline(), method, max_chains).coverage(str(party_id))


_CHAIN_DTYPE = pl.List(pl.Struct({"links": pl.List(pl.Struct({"owner": pl.String, "owned": pl.String, "percent": pl.Float64})),
                                  "product": pl.Float64}))


def coverage_all(edges: pl.DataFrame | Iterable[Sequence[Any] | Mapping[str, Any]], listed: Mapping[str, str | Iterable[str]],
                 as_of: date | Iterable[date], rulebook: Rulebook | None = None, parties: Iterable[str] | None = None,
                 *, method: Method = "attribution", max_chains: int = MAX_CHAINS) -> pl.DataFrame:
    """Many parties (default: every party in the edges or ``listed``) on one or more dates, as a
    frame with one row per (as_of, party, rule). The graph and the fixed point are built once per
    date, O(V + E), so the whole book costs that plus the chain searches (bounded per party;
    ``max_chains=0`` skips them and leaves the decisions, percentages and list codes exact).

    Columns: as_of, party, rule, instrument, version, status, fact, applies, covered,
    meets_threshold, percent, threshold_pct, method, lists, flags, listed_as, chains (list of
    {links: [{owner, owned, percent}], product}), text_en, text_zh, citation."""
    frame = edges_frame(edges)
    lst = _listed(listed)
    rb = rulebook or baseline()
    days = [as_of] if isinstance(as_of, date) else sorted(set(as_of))
    ids = sorted(set(frame["owner"]) | set(frame["owned"]) | set(lst)) if parties is None else [str(p) for p in parties]
    rows: list[dict[str, Any]] = []
    for day in days:
        d = _Day(frame, lst, day, rb, method, max_chains)
        for pid in ids:
            for c in d.coverage(pid):
                rows.append({
                    "as_of": day, "party": c.party, "rule": c.rule, "instrument": c.instrument, "version": c.version,
                    "status": c.status, "fact": c.fact, "applies": c.applies, "covered": c.covered,
                    "meets_threshold": c.meets_threshold, "percent": c.percent, "threshold_pct": c.threshold_pct,
                    "method": c.method, "lists": list(c.lists), "flags": list(c.flags), "listed_as": list(c.listed_as),
                    "chains": [{"links": [{"owner": o, "owned": t, "percent": p} for o, t, p in ch.links], "product": ch.product}
                               for ch in c.chains],
                    "text_en": c.text_en, "text_zh": c.text_zh, "citation": c.citation,
                })
    schema = {"as_of": pl.Date, "party": pl.String, "rule": pl.String, "instrument": pl.String, "version": pl.String,
              "status": pl.String, "fact": pl.String, "applies": pl.Boolean, "covered": pl.Boolean, "meets_threshold": pl.Boolean,
              "percent": pl.Float64, "threshold_pct": pl.Float64, "method": pl.String, "lists": pl.List(pl.String),
              "flags": pl.List(pl.String), "listed_as": pl.List(pl.String), "chains": _CHAIN_DTYPE,
              "text_en": pl.String, "text_zh": pl.String, "citation": pl.String}
    return pl.DataFrame(rows, schema=schema)
