"""Licence determination for transactions: one, or a whole order book at once.

The law comes from the rule files (`rules/jurisdiction.yaml`, `rules/ac_licensing.yaml`,
`rules/end_use_controls.yaml`, `rules/ai_diffusion_2025.yaml`, `rules/is_informed_letters.yaml`,
`rules/gp10_guidance.yaml`, with `country_groups.yaml` and `ac_destination_scope.yaml`); this
module walks the steps in the order a compliance officer does:

1. jurisdiction     is the item subject to the EAR? (in the US, US origin, de minimis, FDP rules)
2. classification   3A090 / 4A090 / .z of the item on the date (chips.py), or the ECCN given
3. destination      the advanced computing scope (742.6(a)(6)), the headquarters rule, HBM scope,
                    "is informed" letters, and the AI Diffusion rule (codified, not enforced)
4. end use          Part 744 end-use controls and Part 746 embargoes
5. parties          Entity List, MEU, UVL, DPL, SDN (from the input until screening plugs in)
6. exceptions       NAC / ACA / HBM (and AIA / LPP when the Diffusion rule is enforced)
7. review policy    the most restrictive policy of the findings that need a licence

Every step is vectorised (polars, three-valued logic: null = unknown), so a book of a million
lines runs as one query. A rule is tried per *epoch*: the periods between two dates on which
anything in the rulebook changes, so each line is judged under the rules of its own date.

Verdict: the most restrictive of the findings, in this order (least to most):
not_subject_to_ear < no_license_required < license_exception < notification_required
< indeterminate < license_required < prohibited. An unknown fact that could change the answer
gives `indeterminate` with the fields that would decide it; a licence that is required whatever
the unknowns says `license_required` and still lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import reduce
from typing import Any, Protocol

import polars as pl

from aiexport import catalog
from aiexport.chips import SEP, classify_frame
from aiexport.countries import canonical, scope_set
from aiexport.errors import InputError
from aiexport.queries import SMALL, collect
from aiexport.rulebook import AnswerCondition, Provision, Record, Resolved, Rulebook, Scope
from aiexport.specs import frame_from_records, validate_specs

VERDICTS = ("not_subject_to_ear", "no_license_required", "license_exception", "notification_required", "indeterminate",
            "license_required", "prohibited")
POLICIES = ("presumption_of_approval", "case_by_case", "presumption_of_denial")  # least to most restrictive
COUNTRY_COLUMNS = ("from_country", "destination_country", "consignee_country", "consignee_hq_country", "end_user_country",
                   "end_user_hq_country", "ultimate_parent_hq_country")
HQ_COLUMNS = ("consignee_hq_country", "end_user_hq_country", "ultimate_parent_hq_country")
OUTPUT_COLUMNS = ("id", "date", "verdict", "license_exception", "review_policy", "earliest_ship_date", "item", "control",
                  "destination", "findings", "conditions", "conditions_zh", "missing", "unconfirmed", "rule_versions", "scenario",
                  "enforce_codified", "rulebook_hash", "list_snapshot_hash")
FINDING_DTYPE = pl.List(pl.Struct({f: pl.String for f in ("rule", "citation", "text_en", "text_zh", "fact", "effect")}))
_FAR_PAST = date(1900, 1, 1)


# --- the rules of one epoch ---------------------------------------------------------------------


@dataclass
class Epoch:
    """What the steps need from the rulebook resolved on one date."""

    index: int
    day: date
    resolved: Resolved
    provisions: dict[str, tuple[str, Provision]] = field(default_factory=dict)  # "instrument.key" -> (rule id, provision)
    records: list[Record] = field(default_factory=list)

    def has(self, key: str) -> bool:
        return key in self.provisions

    def param(self, instrument: str, name: str) -> float | None:
        p = self.resolved[instrument].params.get(name)
        return p.value if p else None


def _epoch(index: int, day: date, resolved: Resolved) -> Epoch:
    ep = Epoch(index, day, resolved)
    for iid in ("jurisdiction", "ac_licensing", "end_use_controls", "ai_diffusion_2025"):
        version = resolved[iid].version
        if version is not None:
            for key, prov in version.provisions.items():
                ep.provisions[f"{iid}.{key}"] = (f"{version.id}: {key}", prov)
    ep.records = [*resolved["is_informed_letters"].records, *resolved["gp10_guidance"].records]
    return ep


#: per-epoch scalars the steps read, as columns `ep_<name>`: (kind, instrument, name)
EPOCH_VALUES: dict[str, tuple[str, str, str]] = {
    "de_min": ("param", "jurisdiction", "de_minimis_pct"),
    "de_min_e": ("param", "jurisdiction", "de_minimis_pct_e"),
    "wait_days": ("param", "ac_licensing", "nac_wait_days"),
    "line_tpp": ("param", "ac_licensing", "review_line_tpp"),
    "line_bw": ("param", "ac_licensing", "review_line_dram_bw"),
    "lpp_limit": ("param", "ai_diffusion_2025", "lpp_tpp_per_year"),
    "hq_rule": ("has", "ac_licensing", "hq_rule"),
    "hbm": ("has", "ac_licensing", "hbm_scope"),
    "le_hbm": ("has", "ac_licensing", "le_hbm"),
    "le_nac": ("has", "ac_licensing", "le_nac"),
    "le_aca": ("has", "ac_licensing", "le_aca"),
    "graded": ("has", "ac_licensing", "rp_d1_d4"),
    "line": ("has", "ac_licensing", "rp_line_2026"),
    "above_line": ("has", "ac_licensing", "rp_above_line_2026"),
    "supercomputer": ("has", "ac_licensing", "end_use_supercomputer"),
    "ic_prod": ("has", "ac_licensing", "end_use_ic_production"),
    "diffusion": ("has", "ai_diffusion_2025", "worldwide"),
}


def _lookup(values: list[Any], dtype: pl.DataType, index: pl.Expr) -> pl.Expr:
    """values[index] for every line: a gather from a small table (no join of the wide frame)."""
    return pl.lit(pl.Series(values, dtype=dtype)).gather(index)


def _distinct(values: pl.Series) -> list[Any]:
    """The distinct non-null values of `values`, in order of first appearance. A small input is read
    in Python: there each eager polars operation costs more than the data (the check's engine call of
    50 lines does a dozen; benchmarks/single.py --batch 50)."""
    if values.len() <= SMALL:
        return list(dict.fromkeys(v for v in values.to_list() if v is not None))
    return values.drop_nulls().unique(maintain_order=True).to_list()


def _epoch_columns(epochs: list[Epoch], n_epochs: int) -> list[pl.Expr]:
    """The per-epoch scalars as columns `ep_<name>`, gathered by the line's epoch index."""
    by_index = {ep.index: ep for ep in epochs}
    cols = []
    for name, (kind, iid, key) in EPOCH_VALUES.items():
        values = [None if (ep := by_index.get(i)) is None else (ep.param(iid, key) if kind == "param" else ep.has(f"{iid}.{key}"))
                  for i in range(n_epochs)]
        cols.append(_lookup(values, pl.Float64 if kind == "param" else pl.Boolean, pl.col("__e")).alias(f"ep_{name}"))
    return cols


#: destination sets tested per country, one bit each in the country masks (records add two bits each)
COUNTRY_BITS = ("dest_scope", "hq_scope", "d5m", "line_2026", "hbm_scope", "ic_prod", "e_groups", "tier1", "tier3",
                "mil_intel", "military", "embargo", "dest_extra")
_REC_BASE = 16


def _scopes(ep: Epoch) -> dict[str, frozenset[str]]:
    """Every destination set the steps test on this epoch, by bit name."""
    r = ep.resolved
    ac = r["ac_destination_scope"].version
    prov = {k: p for k, (_, p) in ep.provisions.items()}

    def of(key: str) -> frozenset[str]:
        p = prov.get(key)
        return scope_set(p.scope, r) if p is not None and p.scope is not None else frozenset()

    nac = prov.get("ac_licensing.le_nac")
    out = {
        "dest_scope": scope_set(ac.scopes.get("destination"), r) if ac else frozenset(),
        "hq_scope": scope_set(ac.scopes.get("headquarters"), r) if ac else frozenset(),
        # Macau and D:5: the NAC branch and the denial policy (the 2022 rule has one scope for all)
        "d5m": scope_set(nac.scope, r) if nac is not None and nac.scope else of("ac_licensing.rp_scope"),
        "line_2026": of("ac_licensing.rp_line_2026"),
        "hbm_scope": of("ac_licensing.hbm_scope"),
        "ic_prod": of("ac_licensing.end_use_ic_production"),
        "e_groups": scope_set(Scope(union=["E:1", "E:2"]), r),
        "tier1": of("ai_diffusion_2025.tier1"),
        "tier3": of("ai_diffusion_2025.tier3"),
        "mil_intel": of("end_use_controls.military_intelligence"),
        "military": of("end_use_controls.military"),
        "embargo": of("end_use_controls.embargo"),
        "dest_extra": of("ac_licensing.dest_extra"),
    }
    if ac is None:  # before the first advanced computing rule, "d5m" must not default to the 2022 policy scope
        out["d5m"] = frozenset()
    for i, rec in enumerate(ep.records):
        out[f"rec{i}_dest"] = scope_set(rec.destinations, r)
        out[f"rec{i}_hq"] = scope_set(rec.headquarters, r)
    return out


def _bit_of(name: str) -> int:
    if name.startswith("rec"):
        i, which = name[3:].split("_")
        return _REC_BASE + 2 * int(i) + (1 if which == "hq" else 0)
    return COUNTRY_BITS.index(name)


# --- the book -----------------------------------------------------------------------------------


class PartyScreen(Protocol):
    """The seam for restricted-party screening (issue #4): given the parties of every line, return
    what the lists say. The pipeline reads only `party_list_status` / `party_list_policy`, so a
    screener plugs in here without any change to the steps.

    `parties` has columns __i (line number), consignee_name, consignee_country, end_user_name,
    end_user_country; the answer has __i, party_list_status (codes joined by ';', or "none" when
    screened clean, or null when not screened) and party_list_policy (or null). A screener may carry
    `snapshot_hash`, the content hash of the list it screened against: every answer then names it."""

    def __call__(self, parties: pl.DataFrame) -> pl.DataFrame: ...


def check_frame(tx: pl.DataFrame, rulebook: Rulebook, as_of: date, *, specs: pl.DataFrame | None = None,
                enforce_codified: bool = False, source: str = "input", screen: PartyScreen | None = None) -> pl.DataFrame:
    """Determine every transaction of a validated frame (transactions.validate_transactions);
    returns OUTPUT_COLUMNS in input order."""
    return collect(check_lazy(tx, rulebook, as_of, specs=specs, enforce_codified=enforce_codified, source=source, screen=screen),
                   tx.height, plan=False)


def _screened(tx: pl.DataFrame, screen: PartyScreen) -> pl.DataFrame:
    """The declared list status combined with the screener's: every code either gives, and the
    most restrictive policy; "none" only when neither finds anything."""
    parties = tx.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("__i"), "consignee_name", "consignee_country", "end_user_name",
                        "end_user_country")
    found = screen(parties).select("__i", pl.col("party_list_status").alias("__s_status"), pl.col("party_list_policy").alias("__s_policy"))
    merged = tx.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("__i")).join(found, on="__i", how="left", maintain_order="left")
    codes = pl.concat_str([pl.col("party_list_status"), pl.col("__s_status")], separator=";", ignore_nulls=True)
    listed = codes.str.split(";").list.eval(pl.element().filter(pl.element() != "none")).list.unique(maintain_order=True)
    status = (pl.when(pl.col("party_list_status").is_null() & pl.col("__s_status").is_null()).then(None)
              .when(listed.list.len() == 0).then(pl.lit("none")).otherwise(listed.list.join(";")))
    rank = {p: i for i, p in enumerate(POLICIES)}
    worst = pl.max_horizontal(pl.col(c).replace_strict(rank, default=None, return_dtype=pl.Int32) for c in ("party_list_policy", "__s_policy"))
    return merged.with_columns(status.alias("party_list_status"),
                               worst.replace_strict({i: p for p, i in rank.items()}, default=None, return_dtype=pl.String)
                               .alias("party_list_policy")).drop("__i", "__s_status", "__s_policy")


def check_lazy(tx: pl.DataFrame, rulebook: Rulebook, as_of: date, *, specs: pl.DataFrame | None = None,
               enforce_codified: bool = False, source: str = "input", screen: PartyScreen | None = None) -> pl.LazyFrame:
    """As check_frame, but the answers are left lazy: every decision is made, and the texts of
    each distinct answer are built, but they are joined to the lines only as the result is
    written (`sink_parquet` / `sink_ndjson`), so a million-line book never holds a million copies
    of its findings in memory at once."""
    if screen is not None:
        tx = _screened(tx, screen)
    days = tx["date"].fill_null(as_of)
    epochs_all = [_FAR_PAST, *rulebook.epoch_dates()]
    starts = pl.Series("e", epochs_all, dtype=pl.Date)
    index = (starts.search_sorted(days, side="right").cast(pl.Int32) - 1).alias("__e")
    epochs = [_epoch(i, epochs_all[i], rulebook.resolve(epochs_all[i])) for i in sorted(_distinct(index))]
    lf = tx.with_columns(index, days.alias("__date")).lazy().with_columns(
        pl.coalesce("destination_country", pl.when(pl.col("kind") == "transfer").then(pl.col("from_country"))).alias("__dest_raw"),
    ).with_columns(_epoch_columns(epochs, len(epochs_all)))
    lf = _join_countries(lf, tx, epochs, len(epochs_all))
    items = _classify_items(tx, epochs, rulebook, specs, source)
    lf = _join_items(lf, items, len(epochs_all))
    lf = _with_codes(lf, tx, items)
    plan = Plan(epochs, items, enforce_codified)
    lf = _decide(lf, plan)
    plan.list_hash = getattr(screen, "snapshot_hash", None) if screen is not None else None
    return _render(collect(lf, tx.height, plan=False), plan, rulebook)


# --- facts about countries, joined in as bit masks ----------------------------------------------


def _join_countries(lf: pl.LazyFrame, tx: pl.DataFrame, epochs: list[Epoch], n_epochs: int) -> pl.LazyFrame:
    """Each country column's bit mask of sets on the line's date (`__dm` for the destination,
    `__h0..2` for the headquarters) and the destination as the EAR treats it (`__dest`)."""
    codes: set[str] = set()
    for c in COUNTRY_COLUMNS:
        codes.update(_distinct(tx.get_column(c)))
    order = sorted(codes)
    n = len(order)
    masks: list[int | None] = [None] * (n_epochs * max(n, 1))
    canon: list[str | None] = [None] * (n_epochs * max(n, 1))
    for ep in epochs:
        sets = _scopes(ep)
        for k, code in enumerate(order):
            c = canonical(code, ep.resolved)
            masks[ep.index * n + k] = sum(1 << _bit_of(name) for name, members in sets.items() if c in members)
            canon[ep.index * n + k] = c
    position = {code: k for k, code in enumerate(order)}

    def at(col: str) -> pl.Expr:
        return pl.col("__e") * n + pl.col(col).replace_strict(position, default=None, return_dtype=pl.Int32)

    lf = lf.with_columns(at("__dest_raw").alias("__di"), *[at(col).alias(f"__hi{k}") for k, col in enumerate(HQ_COLUMNS)])
    return lf.with_columns(
        _lookup(masks, pl.Int64, pl.col("__di")).alias("__dm"), _lookup(canon, pl.String, pl.col("__di")).alias("__dest"),
        *[_lookup(masks, pl.Int64, pl.col(f"__hi{k}")).alias(f"__h{k}") for k in range(len(HQ_COLUMNS))],
    )


def dest(name: str) -> pl.Expr:
    """Is the destination in the named set on the line's date? (null when the destination is unknown)"""
    return (pl.col("__dm") & (1 << _bit_of(name))) != 0


def hq(name: str) -> pl.Expr:
    """Is any party (consignee, end user, ultimate parent) headquartered in the named set? True if
    one is; False only when the consignee's and the ultimate parent's headquarters are known (and
    the end user's, where there is a separate end user); otherwise unknown."""
    bit = 1 << _bit_of(name)
    hit = reduce(lambda a, b: a | b, [((pl.col(f"__h{k}") & bit) != 0).fill_null(False) for k in range(3)])
    return pl.when(hit).then(True).when(_hq_known()).then(False)


def hq_all(name: str) -> pl.Expr:
    """Is every party given headquartered in the named set? (null unless the headquarters are known)"""
    bit = 1 << _bit_of(name)
    every = reduce(lambda a, b: a & b, [((pl.col(f"__h{k}") & bit) != 0) | pl.col(c).is_null() for k, c in enumerate(HQ_COLUMNS)])
    return pl.when(_hq_known()).then(every)


def _hq_known() -> pl.Expr:
    separate_end_user = pl.col("end_user_name").is_not_null() | pl.col("end_user_country").is_not_null()
    return (pl.col("consignee_hq_country").is_not_null() & pl.col("ultimate_parent_hq_country").is_not_null()
            & (~separate_end_user | pl.col("end_user_hq_country").is_not_null()))


# --- facts about items: classified once per item and epoch --------------------------------------


@dataclass
class Items:
    table: pl.DataFrame  # (__e, item) -> __item_id, control, __family, __tpp, __dram_bw, __datacenter, __le, __recs
    texts: dict[tuple[int, int], tuple[str, str, str, str]]  # (epoch, item id) -> classification finding (citation, en, zh, fact)
    unconfirmed: dict[tuple[int, int], list[str]]
    missing: dict[tuple[int, int], str]
    names: list[str]  # the item as written, by item id
    shared: bool  # the facts are the rulebook's (catalog items), not a spec file's


def _classify_items(tx: pl.DataFrame, epochs: list[Epoch], rulebook: Rulebook, specs: pl.DataFrame | None, source: str) -> Items:
    """Each distinct item of the book classified on each epoch's date. A catalog item's facts on an
    epoch depend on the rules alone, so they are kept on the rulebook (`memo_of`) and a book that
    names only items seen before classifies nothing; items of a spec file are classified every time."""
    names = _distinct(tx.get_column("item"))
    known = rulebook.memo_of("licensing.items") if specs is None else {}
    todo = [n for n in names if any((ep.day, n) not in known for ep in epochs)]
    if todo:
        known = {**known, **_item_facts(tx.filter(pl.col("item").is_in(todo)), epochs, rulebook, specs, source)}
        if specs is None:
            rulebook.memo_of("licensing.items").update(known)
    ids = {item: k for k, item in enumerate(names)}
    parts: list[dict[str, Any]] = []
    texts: dict[tuple[int, int], tuple[str, str, str, str]] = {}
    unconf: dict[tuple[int, int], list[str]] = {}
    missing: dict[tuple[int, int], str] = {}
    for ep in epochs:
        for item in names:
            text, unconfirmed, lacking, part = known[(ep.day, item)]
            key = (ep.index, ids[item])
            texts[key], unconf[key], missing[key] = text, list(unconfirmed), lacking
            parts.append({"__e": ep.index, "item": item, "__item_id": ids[item], **part})
    schema = {"__e": pl.Int32, "item": pl.String, "__item_id": pl.Int32, "control": pl.String, "__family": pl.String,
              "__tpp": pl.Float64, "__dram_bw": pl.Float64, "__datacenter": pl.Boolean, "__le": pl.Int64, "__recs": pl.Int64}
    return Items(pl.DataFrame(parts, schema=schema), texts, unconf, missing, names, specs is None)


ItemFacts = tuple[tuple[str, str, str, str], tuple[str, ...], str, dict[str, Any]]  # texts, unconfirmed, missing, table columns


def _item_facts(tx: pl.DataFrame, epochs: list[Epoch], rulebook: Rulebook, specs: pl.DataFrame | None,
                source: str) -> dict[tuple[date, str], ItemFacts]:
    """The classification facts of every item of `tx` on every epoch, by (epoch date, item as written)."""
    frame, meta = _item_specs(tx, specs, source)
    facts: dict[tuple[date, str], ItemFacts] = {}
    if frame is None:
        return facts
    wanted = list(meta)
    spec_cols = frame.filter(pl.col("id").is_in(wanted)).select("id", "memory_bw_gbps", "datacenter")
    by_rules: dict[str, pl.DataFrame] = {}  # epochs whose classification rules are the same share one run
    for ep in epochs:
        sig = _classification_signature(ep.resolved)
        if sig not in by_rules:
            by_rules[sig] = classify_frame(frame, rulebook, ep.day, source, explain=False).filter(pl.col("id").is_in(wanted))
        res = by_rules[sig]
        z = ep.resolved["eccn_z_paragraphs"].version
        a_z = {p.a_tier for p in z.z_paragraphs} if z else set()
        b_z = {p.b_tier for p in z.z_paragraphs} if z else set()
        for row in res.join(spec_cols, on="id", how="left").iter_rows(named=True):
            item = row["id"]
            label = meta[item].get("name") or item
            r0 = row["reasons"][0] if row["reasons"] else {"citation": "", "text_en": "", "text_zh": "", "fact": "P"}
            text = (r0["citation"], f"Classification of {label}: {row['control']} under {row['rule_version']} — {r0['text_en']}",
                    f"{label} 的归类：{row['control']}（{row['rule_version']}）— {r0['text_zh']}", r0["fact"])
            recs = sum(1 << i for i, rec in enumerate(ep.records) if _matches(rec, meta[item], item))
            le = sum(1 << k for k, code in enumerate(LE_CODES) if code in row["license_exceptions"])
            facts[(ep.day, item)] = (text, tuple(row["unconfirmed"]), ", ".join(row["missing"]), {
                "control": row["control"], "__family": _family(row["control"], a_z, b_z), "__tpp": row["tpp"],
                "__dram_bw": row["memory_bw_gbps"], "__datacenter": row["datacenter"], "__le": le, "__recs": recs})
    return facts


LE_CODES = ("NAC", "NAC/ACA", "HBM")
CLASSIFICATION_INSTRUMENTS = ("eccn_3a090", "eccn_4a090", "eccn_z_paragraphs", "tpp_metric")


def _classification_signature(resolved: Resolved) -> str:
    """What classification depends on, on a date: the resolved classification instruments (the
    country groups and licensing rules do not change a classification)."""
    return "|".join(resolved[i].content_hash for i in CLASSIFICATION_INSTRUMENTS)


def _item_specs(tx: pl.DataFrame, specs: pl.DataFrame | None, source: str) -> tuple[pl.DataFrame | None, dict[str, dict[str, str]]]:
    """The distinct items of the book as spec rows (id = the item as written) and their catalog entries."""
    items = tx.select("item", "__row").filter(pl.col("item").is_not_null()).unique("item", keep="first", maintain_order=True)
    if items.height == 0:
        return None, {}
    spec_ids = set(specs["id"].to_list()) if specs is not None else set()
    records: list[dict[str, Any]] = []
    meta: dict[str, dict[str, str]] = {}
    from_specs: list[str] = []
    for name, row in items.iter_rows():
        if name in spec_ids:
            from_specs.append(name)
            continue
        found = catalog.find(name)
        if found is None:
            near = catalog.suggest(name, "")
            hint = f" ({near})" if near else ""
            raise InputError(f"{source}: row {row}, field item: {name!r} is neither a catalog name nor a spec id given with --specs"
                             f"{hint}; give a catalog name (see `aiexport catalog list`) or pass --specs FILE", field="item", row=row)
        meta[name] = found
        records.append({**catalog.spec_of(found), "id": name})
    frames = []
    if records:
        frames.append(validate_specs(frame_from_records(records, "catalog"), "catalog"))
    if from_specs and specs is not None:
        frames.append(specs.filter(pl.col("id").is_in(from_specs)))
        for sid in from_specs:
            meta[sid] = {"id": sid, "name": sid, "vendor": specs.filter(pl.col("id") == sid).item(0, "vendor") or ""}
    if specs is not None and from_specs:  # systems in the spec file may contain other spec rows
        frames.append(specs.filter(~pl.col("id").is_in(from_specs)))
    frame = pl.concat([f.select(frames[0].columns) for f in frames], how="vertical_relaxed")
    return frame.with_columns(pl.int_range(1, pl.len() + 1).alias("__row")), meta


def _join_items(lf: pl.LazyFrame, items: Items, n_epochs: int) -> pl.LazyFrame:
    t = items.table
    names = list(dict.fromkeys(t["item"].to_list()))
    position = {name: k for k, name in enumerate(names)}
    n = max(len(names), 1)
    at = pl.col("__e") * n + pl.col("item").replace_strict(position, default=None, return_dtype=pl.Int32)
    slots = [e * n + position[i] for e, i in zip(t["__e"].to_list(), t["item"].to_list(), strict=True)]
    cols = []
    for col in ("__item_id", "control", "__family", "__tpp", "__dram_bw", "__datacenter", "__le", "__recs"):
        values: list[Any] = [None] * (n_epochs * n)
        for slot, v in zip(slots, t[col].to_list(), strict=True):
            values[slot] = v
        cols.append(_lookup(values, t.schema[col], pl.col("__ii")).alias(col))
    lf = lf.with_columns(at.alias("__ii")).with_columns(cols)
    # no item: the ECCN given stands in for the classification
    eccn = pl.col("eccn")
    from_eccn = (pl.when(eccn.is_null()).then(None)
                 .when(eccn.is_in(["3A090.a", "4A090.a"]) | eccn.str.contains(r"\.z(\.\d+)?\.a$|\.z\.1$")).then(pl.lit("a"))
                 .when(eccn.is_in(["3A090.b", "4A090.b"]) | eccn.str.contains(r"\.z(\.\d+)?\.b$|\.z\.2$")).then(pl.lit("b"))
                 .when(eccn.str.starts_with("3A090.c")).then(pl.lit("c"))
                 .when(eccn.str.contains(r"\.z")).then(pl.lit("z"))
                 .when(eccn.str.starts_with("3A090") | eccn.str.starts_with("4A090")).then(pl.lit("ac"))
                 .when(eccn == "EAR99").then(pl.lit("ear99")).otherwise(pl.lit("other")))
    return lf.with_columns(
        pl.when(pl.col("item").is_null()).then(eccn).otherwise(pl.col("control")).alias("control"),
        pl.when(pl.col("item").is_null()).then(from_eccn).otherwise(pl.col("__family")).alias("__family"),
    )


def _family(control: str, a_z: set[str], b_z: set[str]) -> str:
    if control in ("3A090.a", "4A090.a") or (control in a_z and control not in b_z):
        return "a"
    if control in ("3A090.b", "4A090.b") or (control in b_z and control not in a_z):
        return "b"
    if control == "3A090.c":
        return "c"
    if control in a_z:
        return "z"
    return {"none": "none", "indeterminate": "indeterminate"}.get(control, "other")


def _matches(rec: Record, item_meta: Mapping[str, str], item: str) -> bool:
    names = {str(item_meta.get("id", "")).lower(), str(item_meta.get("name", "")).lower(), item.lower()}
    names |= {a.strip().lower() for a in str(item_meta.get("aliases", "") or "").split(";") if a.strip()}
    return any(p.lower() in names for p in rec.products)


# --- declared codes (end use, list status) as bit masks -----------------------------------------

EU_CODES = ("datacenter", "ai_training", "ai_inference", "commercial", "research", "military", "military_intelligence",
            "military_end_user", "wmd", "nuclear", "missile", "chemical_biological", "supercomputer", "advanced_node_ic_production",
            "unknown")
PARTY_CODES = ("none", "entity_list", "entity_list_fn1", "entity_list_fn4", "meu", "dpl", "uvl", "sdn")


def _with_codes(lf: pl.LazyFrame, tx: pl.DataFrame, items: Items) -> pl.LazyFrame:
    def masks(col: str, vocab: tuple[str, ...]) -> pl.Expr:
        table = {}
        for v in _distinct(tx.get_column(col)):
            codes = {c.strip() for c in v.replace(",", ";").split(";")}
            table[v] = sum(1 << k for k, c in enumerate(vocab) if c in codes)
        return pl.col(col).replace_strict(table, default=None, return_dtype=pl.Int64)

    return lf.with_columns(masks("end_use", EU_CODES).alias("__eu"), masks("party_list_status", PARTY_CODES).alias("__pl"))


def eu(*codes: str) -> pl.Expr:
    return (pl.col("__eu") & sum(1 << EU_CODES.index(c) for c in codes)) != 0


def party(*codes: str) -> pl.Expr:
    return ((pl.col("__pl") & sum(1 << PARTY_CODES.index(c) for c in codes)) != 0).fill_null(False)


def item_le(*codes: str) -> pl.Expr:
    return ((pl.col("__le") & sum(1 << LE_CODES.index(c) for c in codes)) != 0).fill_null(False)


def item_rec(i: int) -> pl.Expr:
    return ((pl.col("__recs") & (1 << i)) != 0).fill_null(False)


# --- the steps ----------------------------------------------------------------------------------


@dataclass
class Plan:
    """The epochs, the items, and the registry of findings / missing facts / conditions: each is a
    bit in a per-line mask, turned into text once per distinct answer (see _render)."""

    epochs: list[Epoch]
    items: Items
    enforce: bool
    findings: list[tuple[str, str]] = field(default_factory=list)  # (key, effect) per bit
    finding_conds: list[pl.Expr] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    missing_conds: list[pl.Expr] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)  # per bit: the provision whose conditions the answer carries
    condition_conds: list[pl.Expr] = field(default_factory=list)
    list_hash: str | None = None  # the list snapshot the parties were screened against, if any
    shape: tuple[bool, tuple[bool, ...]] = (False, ())  # what the meaning of the mask bits depends on (set by _decide)

    def finding(self, cond: pl.Expr, key: str, effect: str) -> None:
        self.findings.append((key, effect))
        self.finding_conds.append(cond)

    def lack(self, cond: pl.Expr, what: str) -> None:
        self.missing.append(what)
        self.missing_conds.append(cond)

    def condition(self, cond: pl.Expr, provision: str) -> None:
        """Where `cond` holds, the answer carries the conditions `provision` lists (`_conditions`)."""
        self.conditions.append(provision)
        self.condition_conds.append(cond)

    def prohibiting_records(self) -> tuple[bool, ...]:
        """For each record position: does the record there prohibit on every epoch that has one (guidance), or name destinations (letters)?"""
        n = max((len(ep.records) for ep in self.epochs), default=0)
        return tuple({ep.records[i].effect for ep in self.epochs if i < len(ep.records)} == {"prohibited"} for i in range(n))


def _mask(conds: list[pl.Expr]) -> pl.Expr:
    if len(conds) > 63:
        raise ValueError("more than 63 flags in one mask")
    if not conds:
        return pl.lit(0, dtype=pl.Int64)
    # bit k where condition k holds (a null condition sets no bit). polars plans when/then with typed
    # literals in less time than a cast and a product per bit: the check's main query for 50 lines
    # 3.7 -> 3.0 ms, so every engine call of the service (benchmarks/single.py --batch 50)
    return pl.sum_horizontal([pl.when(c).then(pl.lit(1 << k, dtype=pl.Int64)).otherwise(pl.lit(0, dtype=pl.Int64))
                              for k, c in enumerate(conds)])


def _decide(lf: pl.LazyFrame, plan: Plan) -> pl.LazyFrame:
    """The steps, as columns added to the lines. Their expressions depend only on the shape of the
    plan (Diffusion enforced or not, which records prohibit), so they are built once per shape."""
    key = plan.shape = (plan.enforce, plan.prohibiting_records())
    built = _DECIDED.get(key)
    if built is None:
        built = _DECIDED[key] = (_decide_steps(plan), plan.findings, plan.missing, plan.conditions)
    steps, plan.findings, plan.missing, plan.conditions = built
    for step in steps:
        lf = lf.with_columns(step)
    return lf.select("id", "__date", "verdict", "license_exception", "review_policy", "earliest_ship_date", "item", "control",
                     "__dest", "__e", "__item_id", "__fm", "__mm", "__cm")


_DECIDED: dict[tuple[bool, tuple[bool, ...]], tuple[list[list[pl.Expr]], list[tuple[str, str]], list[str], list[str]]] = {}


def _decide_steps(plan: Plan) -> list[list[pl.Expr]]:
    """The steps' expressions, stage by stage; registers the findings, missing facts and conditions in `plan`."""
    C = pl.col
    steps: list[list[pl.Expr]] = []
    enforce = plan.enforce
    fam = C("__family")
    ac_ab = fam.is_in(["a", "b", "z", "ac"])
    to_us = C("__dest") == "US"

    # 1. jurisdiction ---------------------------------------------------------------------------
    origin = C("item_origin")
    in_us = C("from_country") == "US"
    foreign = origin.is_in(["foreign_made", "foreign_direct_product"])
    threshold = pl.when(dest("e_groups")).then(C("ep_de_min_e")).otherwise(C("ep_de_min"))
    fdp_reach = dest("dest_scope") | hq("hq_scope")
    if enforce:  # the Diffusion rule made 734.9(h) reach every destination (codified, not enforced)
        fdp_reach = fdp_reach | (C("ep_diffusion") & (fam == "a"))
    fdp = origin == "foreign_direct_product"
    # the facts several steps read are computed once, as columns: a small query is costed by the
    # size of its expressions, and a large one is spared repeating them
    facts = {
        "__in_us": in_us, "__hq5": hq("hq_scope"), "__hq_t1": hq_all("tier1"),
        "__fdp_ac": fdp & (ac_ab | (fam == "c")) & fdp_reach, "__fdp_fn1": fdp & party("entity_list_fn1"),
        "__fdp_fn4": fdp & party("entity_list_fn4"), "__de_min": foreign & (C("us_content_pct") > threshold),
        # 4. end use and embargo; 5. parties
        "__wmd": eu("wmd", "nuclear", "missile", "chemical_biological").fill_null(False),
        "__mil_intel": (eu("military_intelligence") & dest("mil_intel")).fill_null(False),
        "__military": (eu("military", "military_end_user") & dest("military")).fill_null(False),
        "__ic_prod": (C("ep_ic_prod") & eu("advanced_node_ic_production") & dest("ic_prod")).fill_null(False),
        "__embargo": dest("embargo").fill_null(False),
        "__listed": party("entity_list", "entity_list_fn1", "entity_list_fn4"),
    }
    # "is informed" letters and guidance: record i applies to the items it names
    prohibiting = plan.prohibiting_records()
    for i, prohibits in enumerate(prohibiting):
        mine = item_rec(i)
        facts[f"__rec{i}"] = mine if prohibits else mine & (dest(f"rec{i}_dest").fill_null(False) | hq(f"rec{i}_hq").fill_null(False))
    steps.append([expr.alias(name) for name, expr in facts.items()])
    fdp_ac, fdp_fn1, fdp_fn4, de_min = C("__fdp_ac"), C("__fdp_fn1"), C("__fdp_fn4"), C("__de_min")
    subject = C("__in_us") | (origin == "us_origin") | fdp_ac | fdp_fn1 | fdp_fn4 | de_min
    steps.append([subject.alias("__subject")])
    S = C("__subject").fill_null(False)
    hq5 = C("__hq5")

    # 3. destination and headquarters (advanced computing) ----------------------------------------
    dest_req = dest("dest_scope") | dest("dest_extra")
    hq_req = C("ep_hq_rule") & hq5 & ~to_us
    scope_ab = dest_req | hq_req
    hbm_req = C("ep_hbm") & (dest("hbm_scope") | (hq5 & ~to_us))
    unknown_class = fam.is_in(["indeterminate"]) | fam.is_null()
    ac_req = (pl.when(ac_ab).then(scope_ab)
              .when(fam == "c").then(hbm_req)
              .when(unknown_class).then(pl.when((scope_ab | hbm_req).fill_null(True)).then(None).otherwise(False))
              .when(fam == "other").then(None)
              .otherwise(False))
    diffusion = C("ep_diffusion") & (fam == "a") & ~to_us.fill_null(False)
    supercomputer = (C("ep_supercomputer") & eu("supercomputer") & (dest_req | hq_req)).fill_null(False)
    steps.append([ac_req.alias("__ac_req"), (diffusion if enforce else pl.lit(False)).alias("__diff_req"),
                  dest_req.alias("__dest_req"), hq_req.alias("__hq_req"), diffusion.alias("__diffusion"),
                  supercomputer.alias("__supercomputer")])
    tier1, tier3 = dest("tier1"), dest("tier3")
    rec_hits = [C(f"__rec{i}") for i in range(len(prohibiting))]
    letter_req = reduce(lambda a, b: a | b, [h for h, p in zip(rec_hits, prohibiting, strict=True) if not p], pl.lit(False))
    gp10 = reduce(lambda a, b: a | b, [h for h, p in zip(rec_hits, prohibiting, strict=True) if p], pl.lit(False))

    # 4. end use and embargo; 5. parties ---------------------------------------------------------
    eu_unknown = C("__eu").is_null() | eu("unknown")
    wmd, mil_intel, military, ic_prod, embargo = C("__wmd"), C("__mil_intel"), C("__military"), C("__ic_prod"), C("__embargo")
    supercomputer = C("__supercomputer")
    listed = C("__listed")
    list_unknown = C("__pl").is_null()
    hard = listed | party("meu") | wmd | mil_intel | military | supercomputer | ic_prod | embargo | letter_req
    pod_hard = party("meu") | wmd | mil_intel | military | supercomputer | ic_prod | embargo
    steps.append([hard.alias("__hard"), (party("dpl", "sdn") | gp10).alias("__prohibited"), eu_unknown.alias("__eu_unknown"),
                  pod_hard.alias("__pod_hard")])

    # 6. exceptions --------------------------------------------------------------------------------
    d5m = dest("d5m") | hq5
    nac_item = item_le("NAC", "NAC/ACA")
    no_le = listed | party("uvl") | C("__hard")
    baseline_le = (pl.when(~C("__ac_req").fill_null(False) | no_le).then(None)
                   .when((fam == "c") & item_le("HBM") & C("ep_le_hbm")).then(pl.lit("HBM"))
                   .when(~(ac_ab & nac_item & C("ep_le_nac"))).then(None)
                   .when(~C("ep_le_aca")).then(pl.lit("NAC"))
                   .when(C("kind").is_null() & dest("d5m")).then(pl.lit("?"))  # NAC for exports, ACA for transfers: ask
                   .when((C("kind") == "transfer") & dest("d5m")).then(pl.lit("ACA"))
                   .when(d5m).then(pl.lit("NAC"))
                   .when(d5m.is_null()).then(pl.lit("?"))
                   .otherwise(pl.lit("ACA")))
    lpp_fits = (C("consignee_year_tpp") + C("quantity") * C("__tpp")) <= C("ep_lpp_limit")
    diff_le = (pl.when(~C("__diff_req") | C("__ac_req").fill_null(False) | no_le).then(None)
               .when(tier3).then(None)
               .when(tier1).then(pl.when(C("__hq_t1")).then(pl.lit("AIA")).when(C("__hq_t1").is_null()).then(pl.lit("?")))
               .when(nac_item & ~C("__datacenter").fill_null(True)).then(pl.lit("ACA"))
               .when(lpp_fits).then(pl.lit("LPP"))
               .when(lpp_fits.is_null()).then(pl.lit("?")))
    steps.append([pl.coalesce(baseline_le, diff_le).alias("__le_code"), lpp_fits.alias("__lpp_fits")])

    # 7. review policy (rank: 1 approval, 2 case by case, 3 denial; 0 = none or unknown) ------------
    line = (C("ep_line") & (C("kind") == "export") & C("__in_us") & dest("line_2026")
            & (C("__tpp") < C("ep_line_tpp")) & (C("__dram_bw") < C("ep_line_bw")))
    ac_rank = (pl.when(~C("ep_graded")).then(3)
               .when(dest("d5m")).then(pl.when(line.fill_null(False)).then(2).otherwise(3))
               .when(dest("dest_scope").fill_null(False)).then(pl.when(hq5).then(3).when(hq5.is_null()).then(0).otherwise(1))
               .when(dest("dest_extra").fill_null(False)).then(pl.when(hq5).then(3).otherwise(0))
               .when(C("__hq_req").fill_null(False)).then(2)
               .when(C("__diff_req")).then(pl.when(tier1).then(1).when(tier3).then(3).otherwise(2))
               .otherwise(0))
    el_rank = C("party_list_policy").replace_strict({p: i + 1 for i, p in enumerate(POLICIES)}, default=0, return_dtype=pl.Int32)
    lic_ac = C("__ac_req") | C("__diff_req")
    rank = pl.max_horizontal(pl.when(lic_ac.fill_null(False)).then(ac_rank).otherwise(0), pl.when(listed).then(el_rank).otherwise(0),
                             pl.when(C("__pod_hard")).then(3).otherwise(0))
    steps.append([rank.alias("__rank"), line.fill_null(False).alias("__line")])

    # the verdict ----------------------------------------------------------------------------------
    code = C("__le_code")
    verdict = (pl.when(C("__prohibited")).then(pl.lit("prohibited"))
               .when(C("__subject") == False).then(pl.lit("not_subject_to_ear"))  # noqa: E712
               .when(C("__subject").is_null()).then(pl.lit("indeterminate"))
               .when(C("__hard")).then(pl.lit("license_required"))
               .when(lic_ac.fill_null(False) & (no_le | code.is_null())).then(pl.lit("license_required"))
               .when(lic_ac.is_null() | C("__eu_unknown") | list_unknown | (code == "?")).then(pl.lit("indeterminate"))
               .when(lic_ac & (code == "NAC")).then(pl.lit("notification_required"))
               .when(lic_ac & code.is_not_null()).then(pl.lit("license_exception"))
               .otherwise(pl.lit("no_license_required")))
    steps.append([verdict.alias("verdict")])
    steps.append([
        pl.when(C("verdict").is_in(["license_exception", "notification_required"])).then(code).alias("license_exception"),
        pl.when(C("verdict") == "license_required").then(
            C("__rank").replace_strict({1: POLICIES[0], 2: POLICIES[1], 3: POLICIES[2]}, default=None, return_dtype=pl.String)
        ).alias("review_policy"),
        pl.when(C("verdict") == "notification_required").then(
            pl.coalesce("notification_date", "__date") + pl.duration(days=C("ep_wait_days").cast(pl.Int64))).alias("earliest_ship_date"),
    ])

    # the findings, in pipeline order ------------------------------------------------------------
    add = plan.finding
    sub = C("__subject")
    notus = ~C("__in_us").fill_null(False)
    add(sub.is_null(), "jurisdiction.origin_unknown", "indeterminate")
    add(C("__in_us").fill_null(False), "jurisdiction.in_us", "subject")
    add(notus & (origin == "us_origin"), "jurisdiction.us_origin", "subject")
    add(notus & fdp_ac, "jurisdiction.fdp_ac", "subject")
    add(fdp_fn1, "jurisdiction.fdp_el_fn1", "subject")
    add(fdp_fn4, "jurisdiction.fdp_el_fn4", "subject")
    add(de_min, "jurisdiction.de_minimis", "subject")
    add(sub == False, "jurisdiction.not_subject", "not_subject_to_ear")  # noqa: E712
    add(C("__item_id").is_not_null(), "cls", "info")
    add(S & ac_ab & dest("dest_scope"), "ac_licensing.dest_scope", "license_required")
    add(S & ac_ab & dest("dest_extra"), "ac_licensing.dest_extra", "license_required")
    add(S & ac_ab & C("__hq_req"), "ac_licensing.hq_rule", "license_required")
    add(S & (fam == "c") & C("__ac_req"), "ac_licensing.hbm_scope", "license_required")
    if enforce:
        add(S & C("__diff_req"), "ai_diffusion_2025.worldwide", "license_required")
        add(S & C("__diff_req") & tier1, "ai_diffusion_2025.tier1", "info")
        add(S & C("__diff_req") & tier3, "ai_diffusion_2025.tier3", "info")
    else:
        add(S & C("__diffusion"), "ai_diffusion_2025.not_enforced", "info")
    for i, hit in enumerate(rec_hits):
        add((S | C("__prohibited")) & hit, f"rec:{i}", "record")
    add(S & C("__eu_unknown") & ~C("__hard"), "end_use_controls.end_use_unknown", "indeterminate")
    add(S & wmd, "end_use_controls.wmd", "license_required")
    add(S & mil_intel, "end_use_controls.military_intelligence", "license_required")
    add(S & military, "end_use_controls.military", "license_required")
    add(S & supercomputer, "ac_licensing.end_use_supercomputer", "license_required")
    add(S & ic_prod, "ac_licensing.end_use_ic_production", "license_required")
    add(S & embargo, "end_use_controls.embargo", "license_required")
    add(list_unknown, "end_use_controls.list_unknown", "indeterminate")
    add(S & listed, "end_use_controls.entity_list", "license_required")
    add(S & party("meu"), "end_use_controls.meu", "license_required")
    add(S & party("uvl"), "end_use_controls.uvl", "condition")
    add(party("dpl"), "end_use_controls.dpl", "prohibited")
    add(party("sdn"), "end_use_controls.sdn", "prohibited")
    add(S & lic_ac & no_le & (ac_ab | (fam == "c")), "ac_licensing.le_not_for_listed", "info")
    le = C("license_exception")
    add(le == "NAC", "ac_licensing.le_nac", "notification_required")
    add((le == "ACA") & ~C("__diff_req"), "ac_licensing.le_aca", "license_exception")
    add((le == "ACA") & C("__diff_req"), "ai_diffusion_2025.le_aca_tier2", "license_exception")
    add(le == "HBM", "ac_licensing.le_hbm", "license_exception")
    add(le == "AIA", "ai_diffusion_2025.le_aia", "license_exception")
    add(le == "LPP", "ai_diffusion_2025.le_lpp", "license_exception")
    not_t1 = ~tier1.fill_null(False)
    add(C("__diff_req") & ~C("__ac_req").fill_null(False) & (C("__lpp_fits") == False) & not_t1, "ai_diffusion_2025.lpp_exhausted",  # noqa: E712
        "license_required")
    add(C("__diff_req") & (code == "?") & C("__lpp_fits").is_null() & not_t1, "ai_diffusion_2025.lpp_unknown", "indeterminate")
    lic = C("verdict") == "license_required"
    acl = lic & lic_ac.fill_null(False)
    d5 = dest("d5m").fill_null(False)
    graded = C("ep_graded")
    on_line = C("__line")
    add(acl & (~graded | (d5 & ~on_line)), "ac_licensing.rp_scope", "policy")
    add(acl & graded & d5 & ~on_line & C("ep_above_line") & dest("line_2026"), "ac_licensing.rp_above_line_2026", "policy")
    add(acl & on_line, "ac_licensing.rp_line_2026", "policy")
    in_scope = dest("dest_scope")
    add(acl & graded & ~d5 & in_scope & (hq5 == False), "ac_licensing.rp_d1_d4", "policy")  # noqa: E712
    add(acl & graded & ~d5 & in_scope & hq5, "ac_licensing.rp_hq_in_scope", "policy")
    add(acl & graded & ~C("__dest_req").fill_null(False) & C("__hq_req"), "ac_licensing.rp_hq_elsewhere", "policy")
    if enforce:
        add(acl & C("__diff_req") & ~C("__ac_req").fill_null(False), "ai_diffusion_2025.rp_tier", "policy")

    # what would decide, for the answers that are not settled
    undecided = C("verdict") == "indeterminate"
    lack = plan.lack
    lack(undecided & sub.is_null() & origin.is_null(), "item_origin")
    lack(undecided & sub.is_null() & foreign & C("us_content_pct").is_null(), "us_content_pct")
    lack(undecided & sub.is_null() & C("from_country").is_null(), "from_country")
    lack(undecided & C("__ac_req").is_null() & C("item").is_null() & C("eccn").is_null(), "item or eccn")
    lack(undecided & C("__ac_req").is_null() & (fam == "indeterminate"), "item figures (see the classification)")
    lack(undecided & C("__ac_req").is_null() & (fam == "other"), "licence requirements of this ECCN (not modelled: see the Commerce Country Chart)")
    lack((undecided | lic) & C("__dest").is_null(), "destination_country")
    lack(undecided & (C("__ac_req").is_null() | (code == "?")) & hq5.is_null(), "consignee_hq_country, end_user_hq_country, ultimate_parent_hq_country")
    lack((undecided | lic) & C("__eu_unknown") & S, "end_use")
    lack((undecided | lic) & list_unknown, "party_list_status")
    lack(undecided & (code == "?") & C("consignee_year_tpp").is_null(), "consignee_year_tpp")
    lack(undecided & (code == "?") & C("quantity").is_null(), "quantity")
    lack(undecided & (code == "?") & C("kind").is_null(), "kind")
    cond = plan.condition
    # the conditions an answer carries are those its rules list (`conditions` of the provision in the epoch's rules)
    for exception, provision in (("NAC", "ac_licensing.le_nac"), ("ACA", "ac_licensing.le_aca"), ("HBM", "ac_licensing.le_hbm"),
                                 ("AIA", "ai_diffusion_2025.le_aia"), ("LPP", "ai_diffusion_2025.le_lpp")):
        cond(le == exception, provision)
    cond(acl & on_line, "ac_licensing.rp_line_2026")  # the certifications of the 2026 line
    cond(party("uvl") & ~lic, "end_use_controls.uvl")
    steps.append([_mask(plan.finding_conds).alias("__fm"), _mask(plan.missing_conds).alias("__mm"),
                  _mask(plan.condition_conds).alias("__cm")])
    return steps


# --- the answer: texts built once per distinct answer, joined back ------------------------------


def _render(df: pl.DataFrame, plan: Plan, rulebook: Rulebook) -> pl.LazyFrame:
    """The answer columns, built once per distinct (epoch, item, findings) and so on, then joined
    to the lines lazily."""
    keys = ["__e", "__item_id", "__fm", "__mm", "__cm"]
    distinct = df.select(keys).unique()
    answers = _answers(distinct, plan, rulebook)
    # each line's answer number, then the answer columns gathered by it as the result is written
    number = df.select(keys).join(distinct.with_row_index("__a"), on=keys, how="left", maintain_order="left", nulls_equal=True)["__a"]
    lf = df.with_columns(number).lazy().with_columns(pl.lit(answers[c]).gather(pl.col("__a")).alias(c) for c in answers.columns)
    return lf.with_columns(
        pl.col("__date").alias("date"),
        pl.col("__dest").alias("destination"),
        pl.lit(rulebook.scenario.scenario.id if rulebook.scenario else None, dtype=pl.String).alias("scenario"),
        pl.lit(plan.enforce).alias("enforce_codified"),
        pl.lit(plan.list_hash, dtype=pl.String).alias("list_snapshot_hash"),
    ).select(OUTPUT_COLUMNS)


KEPT_ANSWERS = 256  # up to this many distinct answers in a call, each is looked up (and kept) on its own


def _answers(distinct: pl.DataFrame, plan: Plan, rulebook: Rulebook) -> pl.DataFrame:
    """The answer columns of each distinct answer, in the rows of `distinct`. An answer is a function
    of the rules of its epoch, the plan's shape, the item and its masks alone: when the items are the
    catalog's (their facts kept on the rulebook), each answer is kept on the rulebook too, so a
    question like one answered before builds no text at all. A book with many distinct answers
    builds them all at once, as before."""
    if not plan.items.shared or distinct.height > KEPT_ANSWERS:
        return _build_answers(distinct, plan)
    names = plan.items.names
    ids = [(plan.shape, e, None if i is None else names[i], fm, mm, cm) for e, i, fm, mm, cm in distinct.iter_rows()]
    memo = rulebook.memo_of("licensing.answers")
    rows = {k: memo[k] for k in ids if k in memo}
    todo = [k not in rows for k in ids]
    if any(todo):
        built = _build_answers(distinct.filter(pl.Series(todo)), plan)
        for j, k in enumerate(k for k, t in zip(ids, todo, strict=True) if t):
            rows[k] = memo[k] = built.slice(j, 1)
    return pl.concat([rows[k] for k in ids])


def _build_answers(distinct: pl.DataFrame, plan: Plan) -> pl.DataFrame:
    """`_answers` built: the classification finding sits at a fixed place in the findings order, so
    the findings of a line are: those before it (by epoch and mask), the item's, those after it."""
    epochs = {ep.index: ep for ep in plan.epochs}
    cls_bit = next(k for k, (key, _) in enumerate(plan.findings) if key == "cls")

    cache: dict[tuple[int, str], tuple[str, ...] | None] = {}

    def finding(ep: Epoch, key: str, effect: str) -> tuple[str, ...] | None:
        """(rule, citation, text_en, text_zh, fact, effect) of a finding in an epoch (once each)."""
        if (ep.index, key) not in cache:
            found: tuple[str, ...] | None = None
            if key.startswith("rec:"):
                rec = ep.records[int(key[4:])]
                found = (rec.id, rec.citation.text(), rec.text_en, rec.text_zh, rec.fact, rec.effect)
            elif key in ep.provisions:
                rule, prov = ep.provisions[key]
                found = (rule, prov.citation.text(), prov.text_en, prov.text_zh, prov.fact, effect)
            cache[(ep.index, key)] = found
        return cache[(ep.index, key)]

    # the findings of every distinct answer in long form (answer, position, finding), then one list each
    names = [f.name for f in FINDING_DTYPE.inner.fields]  # type: ignore[union-attr]
    long: list[tuple[Any, ...]] = []
    unc_f: list[tuple[int, int, str]] = []  # (epoch, findings mask, UNCONFIRMED rules joined)
    for e, fm in distinct.select("__e", "__fm").unique().iter_rows():
        unconf = []
        for k in _bits(fm):
            key, effect = plan.findings[k]
            if key != "cls" and (f := finding(epochs[e], key, effect)) is not None:
                long.append((e, fm, None, k, *f))
                if f[4] == "UNCONFIRMED":
                    unconf.append(f[0])
        unc_f.append((e, fm, SEP.join(unconf)))
    for e, item_id in distinct.select("__e", "__item_id").unique().drop_nulls().iter_rows():
        cit, en, zh, fact = plan.items.texts[(e, item_id)]
        long.append((e, None, item_id, cls_bit, "classification", cit, en, zh, fact, "info"))
    long_df = pl.DataFrame(long, schema={"__e": pl.Int32, "__fm": pl.Int64, "__item_id": pl.Int32, "__k": pl.Int32,
                                         **{n: pl.String for n in names}}, orient="row")
    numbered = distinct.with_row_index("__a")
    per_answer = pl.concat([
        numbered.select("__a", "__e", "__fm").join(long_df.filter(pl.col("__item_id").is_null()).drop("__item_id"), on=["__e", "__fm"]),
        numbered.select("__a", "__e", "__item_id").join(long_df.filter(pl.col("__fm").is_null()).drop("__fm"), on=["__e", "__item_id"]),
    ], how="diagonal").sort("__a", "__k").group_by("__a", maintain_order=True).agg(pl.struct(names).alias("findings"))
    # UNCONFIRMED facts: the classification's (less its licence-exception ones unless the answer uses an exception) and the findings'
    le_bits = sum(1 << k for k, (key, _) in enumerate(plan.findings)
                  if key.split(".")[-1].startswith("le_") and key != "ac_licensing.le_not_for_listed")
    unc_i = [(e, i, SEP.join(u for u in us if not u.startswith("LE ")), SEP.join(us)) for (e, i), us in plan.items.unconfirmed.items()]
    unc_items = pl.DataFrame(unc_i, schema={"__e": pl.Int32, "__item_id": pl.Int32, "__ui": pl.String, "__ui_le": pl.String}, orient="row")
    unc_masks = pl.DataFrame(unc_f, schema={"__e": pl.Int32, "__fm": pl.Int64, "__uf": pl.String}, orient="row")
    joined = (numbered.select("__a", "__e", "__item_id", "__fm").join(unc_items, on=["__e", "__item_id"], how="left")
              .join(unc_masks, on=["__e", "__fm"], how="left").sort("__a"))
    uses_le = (pl.col("__fm") & le_bits) != 0
    text = pl.concat_str([pl.when(uses_le).then(pl.col("__ui_le")).otherwise(pl.col("__ui")), pl.col("__uf")], separator=SEP,
                         ignore_nulls=True).str.strip_chars(SEP).str.replace_all(SEP + SEP, SEP, literal=True)
    unconfirmed = joined.select(pl.when(text.fill_null("") == "").then(pl.lit([], dtype=pl.List(pl.String)))
                                .otherwise(text.str.split(SEP)).alias("unconfirmed"))["unconfirmed"]

    by_missing = distinct.select("__e", "__item_id", "__mm").unique()
    missing = []
    for e, item_id, mm in by_missing.iter_rows():
        what = [plan.missing[k] for k in _bits(mm)]
        figures = plan.items.missing.get((e, item_id)) if item_id is not None else None
        missing.append([f"item figures: {figures}" if w.startswith("item figures") and figures else w for w in what])
    by_missing = by_missing.with_columns(_string_lists("missing", missing))

    by_cond = distinct.select("__e", "__cm").unique()
    epochs = {ep.index: ep for ep in plan.epochs}
    conds = [[c for k in _bits(cm) for c in _conditions(epochs[e], plan.conditions[k])] for e, cm in by_cond.iter_rows()]
    by_cond = by_cond.with_columns(_string_lists("conditions", [[c.text_en for c in cs] for cs in conds]),
                                   _string_lists("conditions_zh", [[c.text_zh for c in cs] for cs in conds]))
    by_epoch = pl.DataFrame({
        "__e": [ep.index for ep in plan.epochs],
        "rulebook_hash": [ep.resolved.rulebook_hash for ep in plan.epochs],
        "rule_versions": [[f"{iid}={inst.version.id}" for iid, inst in ep.resolved.instruments.items() if inst.version is not None
                           and iid in ("jurisdiction", "ac_licensing", "end_use_controls", "ac_destination_scope", "ai_diffusion_2025")]
                          for ep in plan.epochs],
    }, schema={"__e": pl.Int32, "rulebook_hash": pl.String, "rule_versions": pl.List(pl.String)})

    def join(left: pl.DataFrame, table: pl.DataFrame, on: list[str]) -> pl.DataFrame:
        return left.join(table, on=on, how="left", nulls_equal=True)

    answers = join(join(join(numbered.with_columns(unconfirmed),
                             by_missing, ["__e", "__item_id", "__mm"]), by_cond, ["__e", "__cm"]), by_epoch, ["__e"])
    answers = answers.join(per_answer, on="__a", how="left").sort("__a").select(
        pl.col("findings").fill_null(pl.lit([], dtype=FINDING_DTYPE)), "unconfirmed", "missing", "conditions", "conditions_zh", "rulebook_hash",
        "rule_versions")
    return answers


def _conditions(ep: Epoch, provision: str) -> list[AnswerCondition]:
    """The conditions a provision (a registered condition names one: "ac_licensing.le_nac") lists in an
    epoch's rules; none where the provision is not in force."""
    found = ep.provisions.get(provision)
    return list(found[1].conditions) if found else []


def _bits(mask: int) -> list[int]:
    """The positions of the set bits of a mask, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _string_lists(name: str, lists: list[list[str]]) -> pl.Series:
    """A list-of-strings column from Python lists, fast (polars builds a Series per inner list when
    given lists; joined strings split in one go do not)."""
    joined = pl.Series(name, [SEP.join(x) for x in lists], dtype=pl.String)
    return pl.select(pl.when(joined == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(joined.str.split(SEP)).alias(name)
                     ).to_series()


# --- the Python face ----------------------------------------------------------------------------


def check(transactions: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, as_of: date | str | None = None,
          scenario: str | None = None, enforce_codified: bool = False, specs: Iterable[Mapping[str, Any]] | None = None,
          screen: PartyScreen | None = None) -> list[dict]:
    """Determine one transaction (a dict of the contract's fields) or several; returns one dict per
    transaction with the verdict, findings and the rulebook hash."""
    from aiexport.rulebook import load_rulebook, parse_date
    from aiexport.specs import specs_from_python
    from aiexport.transactions import transactions_from_python

    tx = transactions_from_python(transactions)
    day = parse_date(as_of) if as_of else date.today()
    spec_frame = specs_from_python(list(specs)) if specs else None
    return check_frame(tx, load_rulebook(scenario), day, specs=spec_frame, enforce_codified=enforce_codified, screen=screen).to_dicts()


def compare(base: pl.DataFrame, scen: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The lines a scenario changes (in book order): those whose verdict differs, and those whose
    verdict stays but whose control changes (the same answer on a new legal basis), flagged by
    `verdict_changed`; and the count of lines per verdict under each."""
    keep = ["verdict", "license_exception", "review_policy", "control"]
    joined = base.select("id", "date", "item", "destination", *keep).join(
        scen.select("id", *keep), on="id", how="left", suffix="_scenario", maintain_order="left")
    verdict_changed = pl.col("verdict") != pl.col("verdict_scenario")
    control_changed = pl.col("control").ne_missing(pl.col("control_scenario"))
    changed = joined.filter(verdict_changed | control_changed).with_columns(verdict_changed.alias("verdict_changed")).rename(
        {c: f"{c}_baseline" for c in keep})
    counts = (base.group_by("verdict").len("baseline")
              .join(scen.group_by("verdict").len("scenario"), on="verdict", how="full", coalesce=True)
              .with_columns(pl.col("baseline").fill_null(0), pl.col("scenario").fill_null(0))
              .sort(pl.col("verdict").replace_strict({v: i for i, v in enumerate(VERDICTS)}, default=99, return_dtype=pl.Int32)))
    return changed, counts
