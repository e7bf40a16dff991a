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
from typing import Any

import polars as pl

from aiexport import catalog
from aiexport.chips import SEP, classify_frame, string_list
from aiexport.countries import canonical, scope_set
from aiexport.errors import InputError
from aiexport.rulebook import Provision, Record, Resolved, Rulebook, Scope
from aiexport.specs import frame_from_records, validate_specs

VERDICTS = ("not_subject_to_ear", "no_license_required", "license_exception", "notification_required", "indeterminate",
            "license_required", "prohibited")
POLICIES = ("presumption_of_approval", "case_by_case", "presumption_of_denial")  # least to most restrictive
COUNTRY_COLUMNS = ("from_country", "destination_country", "consignee_country", "consignee_hq_country", "end_user_country",
                   "end_user_hq_country", "ultimate_parent_hq_country")
HQ_COLUMNS = ("consignee_hq_country", "end_user_hq_country", "ultimate_parent_hq_country")
OUTPUT_COLUMNS = ("id", "date", "verdict", "license_exception", "review_policy", "earliest_ship_date", "item", "control",
                  "destination", "findings", "conditions", "missing", "unconfirmed", "rule_versions", "scenario",
                  "enforce_codified", "rulebook_hash")
FINDING_DTYPE = pl.List(pl.Struct({f: pl.String for f in ("rule", "citation", "text_en", "text_zh", "fact", "effect")}))
_FAR_PAST = date(1900, 1, 1)


# --- the rules of one epoch, as lookups ---------------------------------------------------------


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

    def rule(self, key: str) -> str:
        return self.provisions[key][0]

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


def _scopes(ep: Epoch) -> dict[str, frozenset[str]]:
    """Every destination set the steps test, by column name (the same names in every epoch)."""
    r = ep.resolved
    ac = r["ac_destination_scope"].version
    prov = {k: p for k, (_, p) in ep.provisions.items()}

    def of(key: str) -> frozenset[str]:
        p = prov.get(key)
        return scope_set(p.scope, r) if p is not None and p.scope is not None else frozenset()

    out = {
        "dest_scope": scope_set(ac.scopes.get("destination"), r) if ac else frozenset(),
        "hq_scope": scope_set(ac.scopes.get("headquarters"), r) if ac else frozenset(),
        "d5m": scope_set(prov["ac_licensing.le_nac"].scope, r) if "ac_licensing.le_nac" in prov and prov["ac_licensing.le_nac"].scope
        else of("ac_licensing.rp_scope"),
        "line_2026": of("ac_licensing.rp_line_2026"),
        "hbm_scope": of("ac_licensing.hbm_scope"),
        "ic_prod": of("ac_licensing.end_use_ic_production"),
        "e_groups": scope_set(Scope(union=["E:1", "E:2"]), r),
        "tier1": of("ai_diffusion_2025.tier1"),
        "tier3": of("ai_diffusion_2025.tier3"),
        "mil_intel": of("end_use_controls.military_intelligence"),
        "military": of("end_use_controls.military"),
        "embargo": of("end_use_controls.embargo"),
    }
    for i, rec in enumerate(_all_records(ep)):
        out[f"rec{i}_dest"] = scope_set(rec.destinations, r)
        out[f"rec{i}_hq"] = scope_set(rec.headquarters, r)
    return out


def _all_records(ep: Epoch) -> list[Record]:
    return ep.records


# --- the book -----------------------------------------------------------------------------------


@dataclass
class Book:
    """The order book with every fact the steps read, one row per transaction line."""

    lf: pl.LazyFrame
    epochs: list[Epoch]
    texts: dict[str, tuple[str, str, str, str, str]]  # finding code -> (citation, text_en, text_zh, fact, effect)
    scope_names: list[str]


def check_frame(tx: pl.DataFrame, rulebook: Rulebook, as_of: date, *, specs: pl.DataFrame | None = None,
                enforce_codified: bool = False, source: str = "input") -> pl.DataFrame:
    """Determine every transaction of a validated frame (transactions.validate_transactions);
    returns OUTPUT_COLUMNS in input order."""
    n = tx.height
    days = tx["date"].fill_null(as_of)
    epochs_all = [_FAR_PAST, *rulebook.epoch_dates()]
    starts = pl.Series("e", epochs_all, dtype=pl.Date)
    index = (starts.search_sorted(days, side="right").cast(pl.Int32) - 1).alias("__e")
    epochs = [_epoch(i, epochs_all[i], rulebook.resolve(epochs_all[i])) for i in sorted(set(index.unique().to_list()))]
    lf = tx.with_columns(index).lazy().with_columns(
        days.alias("__date"),
        pl.coalesce("destination_country", pl.when(pl.col("kind") == "transfer").then(pl.col("from_country"))).alias("__dest_raw"),
    )
    texts: dict[str, tuple[str, str, str, str, str]] = {}
    lf, scope_names = _join_countries(lf, tx, epochs)
    lf = _join_items(lf, tx, epochs, rulebook, specs, source, texts)
    lf = _decide(lf, epochs, enforce_codified, texts)
    out = _render(lf.collect(), epochs, texts, rulebook, enforce_codified)
    assert out.height == n
    return out


# --- facts about countries and items, joined in -------------------------------------------------


def _join_countries(lf: pl.LazyFrame, tx: pl.DataFrame, epochs: list[Epoch]) -> tuple[pl.LazyFrame, list[str]]:
    codes = set()
    for c in COUNTRY_COLUMNS:
        codes |= set(tx[c].drop_nulls().unique().to_list())
    codes.add("US")
    per_epoch = {ep.index: _scopes(ep) for ep in epochs}
    names = list(dict.fromkeys(k for sets in per_epoch.values() for k in sets))  # the same columns in every epoch
    rows = []
    for ep in epochs:
        sets = per_epoch[ep.index]
        for code in sorted(codes):
            canon = canonical(code, ep.resolved)
            rows.append((ep.index, code, canon, *[canon in sets.get(k, ()) for k in names]))
    table = pl.DataFrame(rows, schema={"__e": pl.Int32, "__code": pl.String, "__canon": pl.String, **{k: pl.Boolean for k in names}},
                         orient="row").lazy()
    dest = table.rename({"__code": "__dest_raw", "__canon": "__dest", **{k: f"dest_{k}" for k in names}})
    lf = lf.join(dest, on=["__e", "__dest_raw"], how="left", maintain_order="left")
    hq_feats = [k for k in names if k in ("hq_scope", "tier1") or k.endswith("_hq")]
    for col in HQ_COLUMNS:
        part = table.select("__e", pl.col("__code").alias(col), *[pl.col(k).alias(f"{col}_{k}") for k in hq_feats])
        lf = lf.join(part, on=["__e", col], how="left", maintain_order="left")
    # a party's headquarters test: True if any party (or the ultimate parent) is in the set; False
    # only when the consignee's and the ultimate parent's headquarters are known (and the end
    # user's, when there is a separate end user); otherwise unknown
    end_user_separate = pl.col("end_user_name").is_not_null() | pl.col("end_user_country").is_not_null()
    known = (pl.col("consignee_hq_country").is_not_null() & pl.col("ultimate_parent_hq_country").is_not_null()
             & (~end_user_separate | pl.col("end_user_hq_country").is_not_null()))
    feats = []
    for k in hq_feats:
        cols = [pl.col(f"{c}_{k}").fill_null(False) for c in HQ_COLUMNS]
        anyhit = reduce(lambda a, b: a | b, cols)
        if k == "tier1":  # every party headquartered in Tier 1 (AIA)
            every = reduce(lambda a, b: a & b, [pl.col(f"{c}_{k}") | pl.col(c).is_null() for c in HQ_COLUMNS])
            feats.append(pl.when(known).then(every).alias("hq_tier1"))
        else:
            feats.append(pl.when(anyhit).then(True).when(known).then(False).alias(f"hq_{k}" if not k.endswith("_hq") else k))
    lf = lf.with_columns(feats)
    return lf, names


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
            near = ", ".join(catalog.candidates(name)[:4])
            hint = f" (did you mean: {near})" if near else ""
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


def _join_items(lf: pl.LazyFrame, tx: pl.DataFrame, epochs: list[Epoch], rulebook: Rulebook, specs: pl.DataFrame | None,
                source: str, texts: dict) -> pl.LazyFrame:
    frame, meta = _item_specs(tx, specs, source)
    parts = []
    if frame is not None:
        wanted = set(meta)
        for ep in epochs:
            res = classify_frame(frame, rulebook, ep.day, source, explain=False).filter(pl.col("id").is_in(list(wanted)))
            z = ep.resolved["eccn_z_paragraphs"].version
            a_z = {p.a_tier for p in z.z_paragraphs} if z else set()
            b_z = {p.b_tier for p in z.z_paragraphs} if z else set()
            spec_cols = frame.filter(pl.col("id").is_in(list(wanted))).select("id", "memory_bw_gbps", "datacenter")
            res = res.join(spec_cols, on="id", how="left")
            for row in res.iter_rows(named=True):
                item = row["id"]
                m = meta[item]
                code = f"cls|{ep.index}|{item}"
                r0 = row["reasons"][0] if row["reasons"] else {"citation": "", "text_en": "", "text_zh": "", "fact": "P"}
                label = m.get("name") or item
                texts[code] = (r0["citation"],
                               f"Classification of {label}: {row['control']} under {row['rule_version']} — {r0['text_en']}",
                               f"{label} 的归类：{row['control']}（{row['rule_version']}）— {r0['text_zh']}",
                               r0["fact"], "info")
                recs = [i for i, rec in enumerate(_all_records(ep)) if _matches(rec, m, item)]
                parts.append({
                    "__e": ep.index, "item": item, "control": row["control"], "__family": _family(row["control"], a_z, b_z),
                    "__tpp": row["tpp"], "__dram_bw": row["memory_bw_gbps"], "__datacenter": row["datacenter"],
                    "__le": SEP.join(row["license_exceptions"]), "__cls_missing": ", ".join(row["missing"]),
                    "__cls_code": code, "__rule_version": row["rule_version"],
                    "__recs": SEP.join(str(i) for i in recs), "__unconf": SEP.join(row["unconfirmed"]),
                })
    schema = {"__e": pl.Int32, "item": pl.String, "control": pl.String, "__family": pl.String, "__tpp": pl.Float64,
              "__dram_bw": pl.Float64, "__datacenter": pl.Boolean, "__le": pl.String, "__cls_missing": pl.String,
              "__cls_code": pl.String, "__rule_version": pl.String, "__recs": pl.String, "__unconf": pl.String}
    table = pl.DataFrame(parts, schema=schema).lazy()
    lf = lf.join(table, on=["__e", "item"], how="left", maintain_order="left")
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


# --- the steps ----------------------------------------------------------------------------------


def _per_epoch(epochs: list[Epoch], value: Any, dtype: pl.DataType = pl.Boolean) -> pl.Expr:
    """A column whose value depends only on the epoch: `value(epoch)` for each."""
    mapping = {ep.index: value(ep) for ep in epochs}
    return pl.col("__e").replace_strict(mapping, default=None, return_dtype=dtype)


def _has(key: str, epochs: list[Epoch]) -> pl.Expr:
    return _per_epoch(epochs, lambda ep: ep.has(key))


def _finding(epochs: list[Epoch], key: str, texts: dict, effect: str) -> pl.Expr:
    """The finding code of provision `key` in the row's epoch (its version id and key)."""
    for ep in epochs:
        if ep.has(key):
            rule, prov = ep.provisions[key]
            texts[rule] = (prov.citation.text(), prov.text_en, prov.text_zh, prov.fact, effect)
    return _per_epoch(epochs, lambda ep: ep.rule(key) if ep.has(key) else None, pl.String)


def _contains(col: str, *codes: str) -> pl.Expr:
    padded = pl.concat_str([pl.lit(SEP), pl.col(col).str.replace_all(";", SEP, literal=True), pl.lit(SEP)])
    return pl.any_horizontal([padded.str.contains(SEP + c + SEP, literal=True) for c in codes])


def _decide(lf: pl.LazyFrame, epochs: list[Epoch], enforce: bool, texts: dict) -> pl.LazyFrame:
    C = pl.col
    F = lambda key, effect: _finding(epochs, key, texts, effect)  # noqa: E731
    fam = C("__family")
    ac_ab = fam.is_in(["a", "b", "z", "ac"])
    dest_known = C("__dest").is_not_null()
    to_us = C("__dest") == "US"

    # 1. jurisdiction -------------------------------------------------------------------------
    origin = C("item_origin")
    in_us = C("from_country") == "US"
    foreign = origin.is_in(["foreign_made", "foreign_direct_product"])
    threshold = pl.when(C("dest_e_groups")).then(_per_epoch(epochs, lambda ep: ep.param("jurisdiction", "de_minimis_pct_e"), pl.Float64)) \
        .otherwise(_per_epoch(epochs, lambda ep: ep.param("jurisdiction", "de_minimis_pct"), pl.Float64))
    de_min = foreign & (C("us_content_pct") > threshold)
    fdp_reach = C("dest_dest_scope") | C("hq_hq_scope")
    if enforce:  # the Diffusion rule made 734.9(h) reach every destination (codified, not enforced)
        fdp_reach = fdp_reach | (_has("ai_diffusion_2025.worldwide", epochs) & (fam == "a"))
    fdp_ac = (origin == "foreign_direct_product") & (ac_ab | (fam == "c")) & fdp_reach
    fdp_fn1 = (origin == "foreign_direct_product") & _contains("party_list_status", "entity_list_fn1")
    fdp_fn4 = (origin == "foreign_direct_product") & _contains("party_list_status", "entity_list_fn4")
    subject = in_us | (origin == "us_origin") | fdp_ac | fdp_fn1 | fdp_fn4 | de_min
    lf = lf.with_columns(subject.alias("__subject"), de_min.alias("__de_min"), fdp_ac.alias("__fdp_ac"),
                         fdp_fn1.alias("__fdp_fn1"), fdp_fn4.alias("__fdp_fn4"), in_us.alias("__in_us"))
    S = C("__subject").fill_null(False)

    # 3. destination and headquarters (advanced computing) --------------------------------------
    hq_active = _has("ac_licensing.hq_rule", epochs)
    hq_req = hq_active & C("hq_hq_scope") & ~to_us
    dest_req = C("dest_dest_scope")
    scope_ab = dest_req | hq_req
    hbm_req = _has("ac_licensing.hbm_scope", epochs) & (C("dest_hbm_scope") | (C("hq_hq_scope") & ~to_us))
    ac_req = (pl.when(ac_ab).then(scope_ab)
              .when(fam == "c").then(hbm_req)
              .when(fam == "indeterminate").then(pl.when((scope_ab | hbm_req).fill_null(True)).then(None).otherwise(False))
              .when(fam.is_null()).then(pl.when((scope_ab | hbm_req).fill_null(True)).then(None).otherwise(False))
              .when(fam == "other").then(None)
              .otherwise(False))
    diffusion = _has("ai_diffusion_2025.worldwide", epochs) & (fam == "a") & ~to_us
    diff_req = diffusion if enforce else pl.lit(False)
    tier1 = C("dest_tier1")
    tier3 = C("dest_tier3")
    letters = []
    for i in range(max((len(_all_records(ep)) for ep in epochs), default=0)):
        mine = _contains("__recs", str(i))
        hit = mine & (C(f"dest_rec{i}_dest").fill_null(False) | C(f"rec{i}_hq").fill_null(False))
        letters.append((i, hit, mine))
    lf = lf.with_columns(ac_req.alias("__ac_req"), diff_req.alias("__diff_req"), dest_req.alias("__dest_req"), hq_req.alias("__hq_req"))

    # 4. end use and embargo ------------------------------------------------------------------
    eu = C("end_use")
    eu_unknown = eu.is_null() | _contains("end_use", "unknown")
    wmd = _contains("end_use", "wmd", "nuclear", "missile", "chemical_biological")
    mil_intel = _contains("end_use", "military_intelligence") & C("dest_mil_intel")
    military = _contains("end_use", "military", "military_end_user") & C("dest_military")
    supercomputer = _has("ac_licensing.end_use_supercomputer", epochs) & _contains("end_use", "supercomputer") & (dest_req | hq_req)
    ic_prod = _has("ac_licensing.end_use_ic_production", epochs) & _contains("end_use", "advanced_node_ic_production") & C("dest_ic_prod")
    embargo = C("dest_embargo")

    # 5. parties -------------------------------------------------------------------------------
    pls = C("party_list_status")
    listed = _contains("party_list_status", "entity_list", "entity_list_fn1", "entity_list_fn4")
    meu = _contains("party_list_status", "meu")
    uvl = _contains("party_list_status", "uvl")
    dpl = _contains("party_list_status", "dpl")
    sdn = _contains("party_list_status", "sdn")
    list_unknown = pls.is_null()

    gp10 = pl.lit(False)
    letter_req = pl.lit(False)
    rec_kinds = {}
    for ep in epochs:
        for i, rec in enumerate(_all_records(ep)):
            rec_kinds[i] = rec.effect
            texts[rec.id] = (rec.citation.text(), rec.text_en, rec.text_zh, rec.fact, rec.effect)
    for i, hit, mine in letters:
        if rec_kinds.get(i) == "prohibited":
            gp10 = gp10 | mine.fill_null(False)
        else:
            letter_req = letter_req | hit.fill_null(False)
    hard = (listed | meu | wmd.fill_null(False) | mil_intel.fill_null(False) | military.fill_null(False) | supercomputer.fill_null(False)
            | ic_prod.fill_null(False) | embargo.fill_null(False) | letter_req)
    lf = lf.with_columns(hard.fill_null(False).alias("__hard"), (dpl | sdn | gp10).fill_null(False).alias("__prohibited"),
                         listed.fill_null(False).alias("__listed"), uvl.fill_null(False).alias("__uvl"), eu_unknown.alias("__eu_unknown"),
                         list_unknown.alias("__list_unknown"), gp10.alias("__gp10"), letter_req.alias("__letter"),
                         wmd.fill_null(False).alias("__wmd"), mil_intel.fill_null(False).alias("__mil_intel"),
                         military.fill_null(False).alias("__military"), supercomputer.fill_null(False).alias("__supercomputer"),
                         ic_prod.fill_null(False).alias("__ic_prod"), embargo.fill_null(False).alias("__embargo"),
                         meu.fill_null(False).alias("__meu"), sdn.fill_null(False).alias("__sdn"), dpl.fill_null(False).alias("__dpl"))

    # 6. exceptions ----------------------------------------------------------------------------
    d5m = C("dest_d5m") | C("hq_hq_scope")
    nac_item = _contains("__le", "NAC", "NAC/ACA")
    no_le = C("__listed") | C("__uvl") | C("__hard")
    has_aca = _has("ac_licensing.le_aca", epochs)
    has_nac = _has("ac_licensing.le_nac", epochs)
    baseline_le = (pl.when(~C("__ac_req").fill_null(False) | no_le).then(None)
                   .when((fam == "c") & _contains("__le", "HBM") & _has("ac_licensing.le_hbm", epochs)).then(pl.lit("HBM"))
                   .when(~(ac_ab & nac_item & has_nac)).then(None)
                   .when(~has_aca).then(pl.lit("NAC"))
                   .when((C("kind") == "transfer") & C("dest_d5m")).then(pl.lit("ACA"))
                   .when(d5m).then(pl.lit("NAC"))
                   .when(d5m.is_null()).then(pl.lit("?"))
                   .otherwise(pl.lit("ACA")))
    lpp_limit = _per_epoch(epochs, lambda ep: ep.param("ai_diffusion_2025", "lpp_tpp_per_year"), pl.Float64)
    lpp_fits = (C("consignee_year_tpp") + C("quantity") * C("__tpp")) <= lpp_limit
    diff_le = (pl.when(~C("__diff_req") | C("__ac_req").fill_null(False) | no_le).then(None)
               .when(tier3).then(None)
               .when(tier1).then(pl.when(C("hq_tier1")).then(pl.lit("AIA")).when(C("hq_tier1").is_null()).then(pl.lit("?")))
               .when(nac_item & ~C("__datacenter").fill_null(True)).then(pl.lit("ACA"))
               .when(lpp_fits).then(pl.lit("LPP"))
               .when(lpp_fits.is_null()).then(pl.lit("?")))
    lf = lf.with_columns(pl.coalesce(baseline_le, diff_le).alias("__le_code"), lpp_fits.alias("__lpp_fits"))

    # 7. review policy (rank: 1 approval, 2 case by case, 3 denial; 0 = none or unknown) --------
    line = (_has("ac_licensing.rp_line_2026", epochs) & (C("kind") == "export") & C("__in_us") & C("dest_line_2026")
            & (C("__tpp") < _per_epoch(epochs, lambda ep: ep.param("ac_licensing", "review_line_tpp"), pl.Float64))
            & (C("__dram_bw") < _per_epoch(epochs, lambda ep: ep.param("ac_licensing", "review_line_dram_bw"), pl.Float64)))
    graded = _has("ac_licensing.rp_d1_d4", epochs)
    ac_rank = (pl.when(~graded).then(3)
               .when(C("dest_d5m")).then(pl.when(line.fill_null(False)).then(2).otherwise(3))
               .when(C("__dest_req").fill_null(False)).then(pl.when(C("hq_hq_scope")).then(3).when(C("hq_hq_scope").is_null()).then(0).otherwise(1))
               .when(C("__hq_req").fill_null(False)).then(2)
               .when(C("__diff_req")).then(pl.when(tier1).then(1).when(tier3).then(3).otherwise(2))
               .otherwise(0))
    el_rank = C("party_list_policy").replace_strict({p: i + 1 for i, p in enumerate(POLICIES)}, default=0, return_dtype=pl.Int32)
    pod_hard = C("__meu") | C("__wmd") | C("__mil_intel") | C("__military") | C("__supercomputer") | C("__ic_prod") | C("__embargo")
    rank = pl.max_horizontal(
        pl.when(C("__ac_req").fill_null(False) | C("__diff_req")).then(ac_rank).otherwise(0),
        pl.when(C("__listed")).then(el_rank).otherwise(0),
        pl.when(pod_hard).then(3).otherwise(0),
    )
    lf = lf.with_columns(rank.alias("__rank"), line.alias("__line"))

    # the verdict --------------------------------------------------------------------------------
    lic_ac = C("__ac_req") | C("__diff_req")
    code = C("__le_code")
    verdict = (pl.when(C("__prohibited")).then(pl.lit("prohibited"))
               .when(C("__subject") == False).then(pl.lit("not_subject_to_ear"))  # noqa: E712
               .when(C("__subject").is_null()).then(pl.lit("indeterminate"))
               .when(C("__hard")).then(pl.lit("license_required"))
               .when(lic_ac.fill_null(False) & (no_le | code.is_null())).then(pl.lit("license_required"))
               .when(lic_ac.is_null() | C("__eu_unknown") | C("__list_unknown") | (code == "?")).then(pl.lit("indeterminate"))
               .when(lic_ac & code.is_in(["NAC"])).then(pl.lit("notification_required"))
               .when(lic_ac & code.is_not_null()).then(pl.lit("license_exception"))
               .otherwise(pl.lit("no_license_required")))
    lf = lf.with_columns(verdict.alias("verdict"))
    wait = _per_epoch(epochs, lambda ep: ep.param("ac_licensing", "nac_wait_days"), pl.Float64).cast(pl.Int64)
    lf = lf.with_columns(
        pl.when(C("verdict").is_in(["license_exception", "notification_required"])).then(code).alias("license_exception"),
        pl.when(C("verdict") == "license_required").then(
            C("__rank").replace_strict({1: POLICIES[0], 2: POLICIES[1], 3: POLICIES[2]}, default=None, return_dtype=pl.String)
        ).alias("review_policy"),
        pl.when(C("verdict") == "notification_required").then(
            pl.coalesce("notification_date", "__date") + pl.duration(days=wait)).alias("earliest_ship_date"),
    )

    # the findings, in pipeline order, as codes (texts are looked up once per distinct list) ----
    items: list[tuple[pl.Expr, pl.Expr]] = []

    def add(cond: pl.Expr, key: str, effect: str) -> None:
        items.append((cond, F(key, effect)))

    add(C("__subject").is_null(), "jurisdiction.origin_unknown", "indeterminate")
    add(C("__in_us").fill_null(False), "jurisdiction.in_us", "subject")
    add(~C("__in_us").fill_null(False) & (origin == "us_origin").fill_null(False), "jurisdiction.us_origin", "subject")
    add(~C("__in_us").fill_null(False) & C("__fdp_ac").fill_null(False), "jurisdiction.fdp_ac", "subject")
    add(C("__fdp_fn1").fill_null(False), "jurisdiction.fdp_el_fn1", "subject")
    add(C("__fdp_fn4").fill_null(False), "jurisdiction.fdp_el_fn4", "subject")
    add(C("__de_min").fill_null(False), "jurisdiction.de_minimis", "subject")
    add(C("__subject") == False, "jurisdiction.not_subject", "not_subject_to_ear")  # noqa: E712
    items.append((C("__cls_code").is_not_null(), C("__cls_code")))
    add(S & ac_ab & C("__dest_req").fill_null(False), "ac_licensing.dest_scope", "license_required")
    add(S & ac_ab & C("__hq_req").fill_null(False), "ac_licensing.hq_rule", "license_required")
    add(S & (fam == "c") & C("__ac_req").fill_null(False), "ac_licensing.hbm_scope", "license_required")
    add(S & diffusion & pl.lit(not enforce), "ai_diffusion_2025.not_enforced", "info")
    if enforce:
        add(S & C("__diff_req"), "ai_diffusion_2025.worldwide", "license_required")
        add(S & C("__diff_req") & tier1.fill_null(False), "ai_diffusion_2025.tier1", "info")
        add(S & C("__diff_req") & tier3.fill_null(False), "ai_diffusion_2025.tier3", "info")
    for i, hit, _ in letters:
        for ep in epochs:
            recs = _all_records(ep)
            if i < len(recs) and recs[i].effect == "license_required":
                items.append((S & hit.fill_null(False) & (C("__e") == ep.index), pl.lit(recs[i].id)))
            elif i < len(recs):
                items.append((C("__gp10") & _contains("__recs", str(i)) & (C("__e") == ep.index), pl.lit(recs[i].id)))
    add(S & C("__eu_unknown") & ~C("__hard"), "end_use_controls.end_use_unknown", "indeterminate")
    add(S & C("__wmd"), "end_use_controls.wmd", "license_required")
    add(S & C("__mil_intel"), "end_use_controls.military_intelligence", "license_required")
    add(S & C("__military"), "end_use_controls.military", "license_required")
    add(S & C("__supercomputer"), "ac_licensing.end_use_supercomputer", "license_required")
    add(S & C("__ic_prod"), "ac_licensing.end_use_ic_production", "license_required")
    add(S & C("__embargo"), "end_use_controls.embargo", "license_required")
    add(C("__list_unknown"), "end_use_controls.list_unknown", "indeterminate")
    add(S & C("__listed"), "end_use_controls.entity_list", "license_required")
    add(S & C("__meu"), "end_use_controls.meu", "license_required")
    add(S & C("__uvl"), "end_use_controls.uvl", "condition")
    add(C("__dpl"), "end_use_controls.dpl", "prohibited")
    add(C("__sdn"), "end_use_controls.sdn", "prohibited")
    add(S & lic_ac.fill_null(False) & no_le & (ac_ab | (fam == "c")), "ac_licensing.le_not_for_listed", "info")
    add(C("license_exception") == "NAC", "ac_licensing.le_nac", "notification_required")
    add((C("license_exception") == "ACA") & ~C("__diff_req"), "ac_licensing.le_aca", "license_exception")
    add((C("license_exception") == "ACA") & C("__diff_req"), "ai_diffusion_2025.le_aca_tier2", "license_exception")
    add(C("license_exception") == "HBM", "ac_licensing.le_hbm", "license_exception")
    add(C("license_exception") == "AIA", "ai_diffusion_2025.le_aia", "license_exception")
    add(C("license_exception") == "LPP", "ai_diffusion_2025.le_lpp", "license_exception")
    add(C("__diff_req") & ~C("__ac_req").fill_null(False) & (C("__lpp_fits") == False) & ~tier1.fill_null(False), "ai_diffusion_2025.lpp_exhausted",  # noqa: E712
        "license_required")
    add(C("__diff_req") & (code == "?") & C("__lpp_fits").is_null() & ~tier1.fill_null(False), "ai_diffusion_2025.lpp_unknown", "indeterminate")
    lic = C("verdict") == "license_required"
    acl = lic & (C("__ac_req").fill_null(False) | C("__diff_req"))
    add(acl & ~graded, "ac_licensing.rp_scope", "policy")
    add(acl & graded & C("dest_d5m").fill_null(False) & ~C("__line").fill_null(False), "ac_licensing.rp_scope", "policy")
    add(acl & graded & C("dest_d5m").fill_null(False) & ~C("__line").fill_null(False) & _has("ac_licensing.rp_above_line_2026", epochs)
        & C("dest_line_2026").fill_null(False), "ac_licensing.rp_above_line_2026", "policy")
    add(acl & C("__line").fill_null(False), "ac_licensing.rp_line_2026", "policy")
    add(acl & graded & ~C("dest_d5m").fill_null(False) & C("__dest_req").fill_null(False) & (C("hq_hq_scope") == False),  # noqa: E712
        "ac_licensing.rp_d1_d4", "policy")
    add(acl & graded & ~C("dest_d5m").fill_null(False) & C("__dest_req").fill_null(False) & C("hq_hq_scope").fill_null(False),
        "ac_licensing.rp_hq_in_scope", "policy")
    add(acl & graded & ~C("__dest_req").fill_null(False) & C("__hq_req").fill_null(False), "ac_licensing.rp_hq_elsewhere", "policy")
    if enforce:
        add(acl & C("__diff_req") & ~C("__ac_req").fill_null(False), "ai_diffusion_2025.rp_tier", "policy")

    # what would decide, for the answers that are not settled
    hq_unknown = C("hq_hq_scope").is_null()
    undecided = C("verdict") == "indeterminate"
    missing = string_list([
        (undecided & C("__subject").is_null() & origin.is_null(), "item_origin"),
        (undecided & C("__subject").is_null() & foreign.fill_null(False) & C("us_content_pct").is_null(), "us_content_pct"),
        (undecided & C("__subject").is_null() & C("from_country").is_null(), "from_country"),
        (undecided & C("__ac_req").is_null() & C("item").is_null() & C("eccn").is_null(), "item or eccn"),
        (undecided & C("__ac_req").is_null() & (fam == "indeterminate"), "item figures"),
        (undecided & C("__ac_req").is_null() & (fam == "other"), "licence requirements of this ECCN (not modelled: see the Commerce Country Chart)"),
        ((undecided | lic) & ~dest_known, "destination_country"),
        (undecided & (C("__ac_req").is_null() | (code == "?")) & hq_unknown, "consignee_hq_country, end_user_hq_country, ultimate_parent_hq_country"),
        ((undecided | lic) & C("__eu_unknown") & S, "end_use"),
        ((undecided | lic) & C("__list_unknown"), "party_list_status"),
        (undecided & (code == "?") & C("consignee_year_tpp").is_null(), "consignee_year_tpp"),
        (undecided & (code == "?") & C("quantity").is_null(), "quantity"),
    ])
    conditions = string_list([
        (C("license_exception") == "NAC", "notify BIS (SNAP-R) and wait for the NAC confirmation before shipping"),
        (C("license_exception").is_in(["NAC", "ACA"]), "written purchase order from the ultimate consignee"),
        (C("license_exception").is_in(["NAC", "ACA", "HBM", "AIA", "LPP"]), "no Entity List party and no Part 744/746 licence requirement"),
        (C("license_exception") == "LPP", "consignee certification of its calendar-year TPP; no distributor; consignee notifies BIS"),
        (C("license_exception") == "HBM", "the conditions of 15 CFR 740.25 (packaging site, reporting: UNCONFIRMED)"),
        (acl & C("__line").fill_null(False), "certify: item commercially available in the US on 2026-01-15"),
        (acl & C("__line").fill_null(False), "certify: sufficient supply in the US"),
        (acl & C("__line").fill_null(False), "certify: no diversion of foundry capacity from US end users"),
        (acl & C("__line").fill_null(False), "certify: recipient security procedures (KYC, remote-access safeguards)"),
        (acl & C("__line").fill_null(False), "certify: independent third-party testing in the US"),
        (C("__uvl") & ~lic, "UVL statement from the party before export"),
    ])
    codes = pl.concat_str([pl.when(cond.fill_null(False)).then(value) for cond, value in items], separator=SEP, ignore_nulls=True)
    return lf.with_columns(codes.fill_null("").alias("__findings"), missing.alias("missing"), conditions.alias("conditions"))


# --- the answer ---------------------------------------------------------------------------------


def _render(df: pl.DataFrame, epochs: list[Epoch], texts: dict, rulebook: Rulebook, enforce: bool) -> pl.DataFrame:
    from aiexport.chips import _per_decision, as_list

    hashes = {ep.index: ep.resolved.rulebook_hash for ep in epochs}
    versions = {ep.index: SEP.join(f"{iid}={inst.version.id}" for iid, inst in ep.resolved.instruments.items()
                                   if inst.version is not None and iid in ("ac_licensing", "end_use_controls", "jurisdiction",
                                                                           "ac_destination_scope", "ai_diffusion_2025"))
                for ep in epochs}
    unconf_findings = {k for k, v in texts.items() if v[3] == "UNCONFIRMED"}

    def findings_of(codes: str) -> list[dict[str, str]]:
        out = []
        for code in codes.split(SEP) if codes else []:
            cit, en, zh, fact, effect = texts[code]
            rule = code.split("|")[0] if code.startswith("cls|") else code
            out.append({"rule": "classification" if rule == "cls" else rule, "citation": cit, "text_en": en, "text_zh": zh,
                        "fact": fact, "effect": effect})
        return out

    distinct = df.select("__findings").unique()
    built = pl.Series("findings", [findings_of(s) for s in distinct["__findings"].to_list()], dtype=FINDING_DTYPE)
    unconf = pl.Series("__unconf_f", [SEP.join(c for c in (s.split(SEP) if s else []) if c in unconf_findings)
                                      for s in distinct["__findings"].to_list()], dtype=pl.String)
    table = distinct.with_columns(built, unconf)
    df = df.join(table, on="__findings", how="left", maintain_order="left")
    df = df.with_columns(
        pl.col("__e").replace_strict(hashes, return_dtype=pl.String).alias("rulebook_hash"),
        pl.col("__e").replace_strict(versions, return_dtype=pl.String).alias("rule_versions"),
        pl.concat_str([pl.col("__unconf").fill_null(""), pl.col("__unconf_f")], separator=SEP).str.strip_chars(SEP).alias("unconfirmed"),
        pl.lit(rulebook.scenario.scenario.id if rulebook.scenario else None, dtype=pl.String).alias("scenario"),
        pl.lit(enforce).alias("enforce_codified"),
        pl.col("__date").alias("date"),
        pl.col("__dest").alias("destination"),
    )
    lists = ("conditions", "missing", "unconfirmed", "rule_versions")
    df = _per_decision(df, lists, [[as_list(c) for c in lists]], lists)
    return df.select(OUTPUT_COLUMNS)


# --- the Python face ----------------------------------------------------------------------------


def check(transactions: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, as_of: date | str | None = None,
          scenario: str | None = None, enforce_codified: bool = False, specs: Iterable[Mapping[str, Any]] | None = None) -> list[dict]:
    """Determine one transaction (a dict of the contract's fields) or several; returns one dict per
    transaction with the verdict, findings and the rulebook hash."""
    from aiexport.rulebook import load_rulebook, parse_date
    from aiexport.specs import specs_from_python
    from aiexport.transactions import transactions_from_python

    tx = transactions_from_python(transactions)
    day = parse_date(as_of) if as_of else date.today()
    spec_frame = specs_from_python(list(specs)) if specs else None
    return check_frame(tx, load_rulebook(scenario), day, specs=spec_frame, enforce_codified=enforce_codified).to_dicts()


def compare(base: pl.DataFrame, scen: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The lines whose verdict differs between two determinations of the same book (in book order),
    and the count of lines per verdict under each."""
    keep = ["verdict", "license_exception", "review_policy", "control"]
    joined = base.select("id", "date", "item", "destination", *keep).join(
        scen.select("id", *keep), on="id", how="left", suffix="_scenario", maintain_order="left")
    changed = joined.filter(pl.col("verdict") != pl.col("verdict_scenario")).rename(
        {c: f"{c}_baseline" for c in keep})
    counts = (base.group_by("verdict").len("baseline")
              .join(scen.group_by("verdict").len("scenario"), on="verdict", how="full", coalesce=True)
              .with_columns(pl.col("baseline").fill_null(0), pl.col("scenario").fill_null(0))
              .sort(pl.col("verdict").replace_strict({v: i for i, v in enumerate(VERDICTS)}, default=99, return_dtype=pl.Int32)))
    return changed, counts
