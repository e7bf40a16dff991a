"""Classify accelerators, HBM and systems under 3A090 / 4A090 / .z, as of any date.

The thresholds, paragraphs, notes and licence exceptions come from the rule files
(`rules/eccn_3a090.yaml`, `rules/eccn_4a090.yaml`, `rules/eccn_z_paragraphs.yaml`,
`rules/tpp_metric.yaml`); this module only computes the metrics and walks the paragraphs.

Reading order:
1. `add_metrics`   TPP (max over precisions of dense rate × bit length), performance density,
                   memory bandwidth density, and the item type (IC, HBM stack or system).
2. `VersionPlan`   one version of 3A090 or 4A090 as polars expressions: each paragraph's truth
                   and reason, notes that exclude paragraphs, licence exceptions.
3. `classify_frame` ICs first, then systems from the IC they contain, then `.z` forms.

Verdict rule: the control levels are tried in the order the rule file lists them (3A090.a before
3A090.b before 3A090.c). A level is met when any of its paragraphs is met and not excluded by a
note. The first met level is the control, unless a level before it is undetermined: then the
answer is `indeterminate`, with the possible controls and the inputs that would decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import reduce

import polars as pl

from aiexport.errors import InputError
from aiexport.evaluate import Compiler, fmt, outcome, outcome_text
from aiexport.rulebook import Resolved, ResolvedInstrument, Rulebook, Version
from aiexport.specs import RATE_FIELDS

FACT_RANK = {"P": 0, "D": 1, "S": 2, "UNCONFIRMED": 3}
REASON_FIELDS = ("rule", "citation", "text_en", "text_zh", "fact", "outcome")
REASON_DTYPE = pl.List(pl.Struct({f: pl.String for f in REASON_FIELDS}))

OUTPUT_COLUMNS = (
    "id", "name", "as_of", "control", "paragraph", "possible_controls", "tpp", "tpp_precision",
    "performance_density", "memory_bandwidth_density", "item_type", "license_exceptions", "rule_version",
    "rule_status", "scenario", "rulebook_hash", "unconfirmed", "missing", "reasons",
)


def reason(rule: str | pl.Expr, citation: str, text_en: pl.Expr | str, text_zh: pl.Expr | str, fact: str | pl.Expr,
           result: str | pl.Expr = "info") -> pl.Expr:
    def lit(x: str | pl.Expr) -> pl.Expr:
        return pl.lit(x, dtype=pl.String) if isinstance(x, str) else x

    return pl.struct(rule=lit(rule), citation=lit(citation), text_en=lit(text_en), text_zh=lit(text_zh),
                     fact=lit(fact), outcome=lit(result))


def reason_list(items: list[pl.Expr]) -> pl.Expr:
    if not items:
        return pl.lit([], dtype=REASON_DTYPE)
    return pl.concat_list(items).list.drop_nulls()


def string_list(items: list[pl.Expr]) -> pl.Expr:
    if not items:
        return pl.lit([], dtype=pl.List(pl.String))
    return pl.concat_list([i.cast(pl.String) for i in items]).list.drop_nulls().list.unique(maintain_order=True)


# --- 1. metrics --------------------------------------------------------------------------------


def add_metrics(df: pl.DataFrame, metric: ResolvedInstrument) -> pl.DataFrame:
    """TPP, performance density, memory bandwidth density and item type, from the spec columns."""
    if any(f"bits_{p}" not in metric.params for p in RATE_FIELDS):  # before the first TPP definition (2022-10-07)
        return df.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("tpp"), pl.lit(None, dtype=pl.String).alias("tpp_precision"),
            pl.lit(None, dtype=pl.Float64).alias("performance_density"),
            (pl.col("memory_bw_gbps") / pl.col("hbm_package_area_mm2")).alias("memory_bandwidth_density"),
            _item_type().alias("item_type"), pl.lit(None, dtype=pl.String).alias("__tpp_fact"),
            pl.lit(None, dtype=pl.String).alias("__tpp_how"))
    bits = {p: metric.param(f"bits_{p}") for p in RATE_FIELDS}
    per = {p: pl.col(p) * bits[p].value for p in RATE_FIELDS}
    tpp = pl.max_horizontal(list(per.values()))
    df = df.with_columns(tpp.alias("tpp"))
    is_max = {p: per[p] == pl.col("tpp") for p in RATE_FIELDS}
    precision = pl.concat_str([pl.when(is_max[p]).then(pl.lit(p)) for p in RATE_FIELDS], separator="=", ignore_nulls=True)
    best_fact = pl.lit("UNCONFIRMED")
    for fact in sorted(FACT_RANK, key=FACT_RANK.get, reverse=True):
        hits = [is_max[p] for p in RATE_FIELDS if bits[p].fact == fact]
        if hits:
            best_fact = pl.when(pl.any_horizontal(hits)).then(pl.lit(fact)).otherwise(best_fact)
    shown_first = sorted(RATE_FIELDS, key=lambda p: FACT_RANK[bits[p].fact])  # a tie is shown by its best-sourced precision
    how = pl.coalesce([pl.when(is_max[p]).then(pl.format(f"{p.upper()} {{}} × {fmt_bits(bits[p].value)} bits", fmt(pl.col(p))))
                       for p in shown_first])
    item_type = _item_type()
    return df.with_columns(
        pl.when(pl.col("tpp").is_not_null()).then(precision).alias("tpp_precision"),
        (pl.col("tpp") / pl.col("die_area_mm2")).alias("performance_density"),
        (pl.col("memory_bw_gbps") / pl.col("hbm_package_area_mm2")).alias("memory_bandwidth_density"),
        item_type.alias("item_type"),
        pl.when(pl.col("tpp").is_not_null()).then(best_fact).alias("__tpp_fact"),
        how.alias("__tpp_how"),
    )


def _item_type() -> pl.Expr:
    """ic, hbm_stack or system: given, or inferred (HBM with no logic figures and a package area is a stack)."""
    rates_given = pl.any_horizontal([pl.col(p).is_not_null() for p in RATE_FIELDS])
    return (
        pl.when(pl.col("item_type").is_not_null()).then(pl.col("item_type"))
        .when(pl.col("contains").is_not_null()).then(pl.lit("system"))
        .when(rates_given | pl.col("die_area_mm2").is_not_null()).then(pl.lit("ic"))
        .when((pl.col("hbm") == True) & pl.col("hbm_package_area_mm2").is_not_null()).then(pl.lit("hbm_stack"))  # noqa: E712
        .when(pl.col("hbm") == True).then(pl.lit(None, dtype=pl.String))  # noqa: E712
        .otherwise(pl.lit("ic"))
    )


def fmt_bits(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else str(x)


def tpp_reason(metric: ResolvedInstrument) -> pl.Expr:
    definition = next((d for d in metric.definitions if d.id == "tpp"), None)
    citation = definition.citation.text() if definition else ""
    en = pl.format("TPP {} = {} (dense peak rate × bit length; the highest over the precisions given)",
                   fmt(pl.col("tpp")), pl.col("__tpp_how"))
    zh = pl.format("总处理性能 {} = {}（稠密峰值速率 × 位长；取所给精度中的最大值）", fmt(pl.col("tpp")), pl.col("__tpp_how"))
    return pl.when(pl.col("tpp").is_not_null()).then(reason("TPP", citation, en, zh, pl.col("__tpp_fact")))


# --- 2. one version of an instrument as expressions ---------------------------------------------


@dataclass
class VersionPlan:
    control: pl.Expr
    paragraph: pl.Expr
    possible: pl.Expr
    reasons: list[pl.Expr]
    missing: pl.Expr
    exceptions: pl.Expr
    version: Version | None


def plan_version(inst: ResolvedInstrument, as_of: date, status_on: str) -> VersionPlan:
    version = inst.version
    if version is None:
        text_en = f"No {inst.title_en} was in force on {as_of}"
        text_zh = f"{as_of} 时 {inst.title_zh} 尚未生效"
        r = reason(inst.id, "", text_en, text_zh, "P", "not_met")
        return VersionPlan(pl.lit("none"), pl.lit(None, dtype=pl.String), pl.lit([], dtype=pl.List(pl.String)), [r],
                           pl.lit([], dtype=pl.List(pl.String)), pl.lit([], dtype=pl.List(pl.String)), None)
    comp = Compiler(inst)
    kind = pl.col("item_type")
    head = reason(version.id, version.citation.text(),
                  f"{inst.title_en} as in force on {as_of}: {version.title_en} (status: {status_on})",
                  f"{as_of} 时有效的 {inst.title_zh}：{version.title_zh}（状态：{status_on}）", version.fact, "info")
    reasons: list[pl.Expr] = []
    missing: list[pl.Expr] = []

    # notes first: they exclude levels
    excl_by_level: dict[str, list[pl.Expr]] = {}
    note_parts = []
    for note in version.notes:
        c = comp.compile(note.when)
        note_parts.append((note, c))
        for level in note.excludes:
            excl_by_level.setdefault(level, []).append(c.truth)

    levels: list[str] = []
    level_truth: dict[str, list[pl.Expr]] = {}
    level_paras: dict[str, list[tuple[str, pl.Expr]]] = {}
    raw_truth_by_level: dict[str, list[pl.Expr]] = {}
    for para in version.paragraphs:
        c = comp.compile(para.when)
        can_apply = set(para.applies_to) & {"ic", "hbm_stack"}
        truth = (pl.when(kind.is_null()).then(pl.lit(None, dtype=pl.Boolean) if can_apply else pl.lit(False))
                 .when(kind.is_in(para.applies_to)).then(c.truth).otherwise(pl.lit(False)))
        shown = kind.is_in(para.applies_to) | (kind.is_null() & pl.lit(bool(can_apply)))
        text_en = pl.format(f"{para.id}: {{}} — {{}}", outcome_text(truth, "en"), c.en)
        text_zh = pl.format(f"{para.id}：{{}} — {{}}", outcome_text(truth, "zh"), c.zh)
        reasons.append(pl.when(shown).then(reason(para.id, para.citation.text(), text_en, text_zh, para.fact, outcome(truth))))
        missing += [pl.when(truth.is_null()).then(m) for m in c.missing]
        excl = excl_by_level.get(para.control)
        eff = truth & ~reduce(lambda a, b: a | b, excl) if excl else truth
        if para.control not in levels:
            levels.append(para.control)
        level_truth.setdefault(para.control, []).append(eff)
        raw_truth_by_level.setdefault(para.control, []).append(truth)
        level_paras.setdefault(para.control, []).append((para.id, eff))

    lvl = {lv: reduce(lambda a, b: a | b, level_truth[lv]) for lv in levels}
    control = pl.lit("none")
    for lv in reversed(levels):
        control = pl.when(lvl[lv].is_null()).then(pl.lit("indeterminate")).when(lvl[lv]).then(pl.lit(lv)).otherwise(control)
    paragraph = pl.lit(None, dtype=pl.String)
    for lv in reversed(levels):
        for pid, eff in reversed(level_paras[lv]):
            paragraph = pl.when((control == lv) & eff.fill_null(False)).then(pl.lit(pid)).otherwise(paragraph)
    # possible controls, for an indeterminate answer: every level not ruled out up to the first met one
    poss_items = []
    prior_true = pl.lit(False)
    for lv in levels:
        poss_items.append(pl.when(~prior_true & (lvl[lv].is_null() | lvl[lv].fill_null(False))).then(pl.lit(lv)))
        prior_true = prior_true | lvl[lv].fill_null(False)
    poss_items.append(pl.when(~prior_true).then(pl.lit("none")))
    possible = pl.when(control == "indeterminate").then(string_list(poss_items)).otherwise(pl.lit([], dtype=pl.List(pl.String)))

    for note, c in note_parts:
        raw = [t for lv in note.excludes for t in raw_truth_by_level.get(lv, [])]
        matters = reduce(lambda a, b: a | b, [t.is_null() | t.fill_null(False) for t in raw]) if raw else pl.lit(True)
        applies_en = pl.format(f"{note.id}: {{}} — {{}}. {note.text_en}",
                               pl.when(c.truth).then(pl.lit("applies")).when(~c.truth).then(pl.lit("does not apply"))
                               .otherwise(pl.lit("cannot tell whether it applies")), c.en)
        applies_zh = pl.format(f"{note.id}：{{}} — {{}}。{note.text_zh}",
                               pl.when(c.truth).then(pl.lit("适用")).when(~c.truth).then(pl.lit("不适用"))
                               .otherwise(pl.lit("无法判断是否适用")), c.zh)
        show = (c.truth.is_null() & matters) | (c.truth.fill_null(False) & (matters if raw else pl.lit(True)))
        reasons.append(pl.when(show).then(reason(note.id, note.citation.text(), applies_en, applies_zh, note.fact, outcome(c.truth))))
        missing += [pl.when(c.truth.is_null() & matters).then(m) for m in c.missing]

    exc_items = []
    for exc in version.exceptions:
        c = comp.compile(exc.when)
        applicable = control.is_in(exc.controls)
        text_en = pl.format(f"{exc.name_en}: {{}} — {{}}. {exc.text_en}",
                            pl.when(c.truth).then(pl.lit("eligible")).when(~c.truth).then(pl.lit("not eligible"))
                            .otherwise(pl.lit("eligibility undetermined")), c.en)
        text_zh = pl.format(f"{exc.name_zh}：{{}} — {{}}。{exc.text_zh}",
                            pl.when(c.truth).then(pl.lit("符合条件")).when(~c.truth).then(pl.lit("不符合条件"))
                            .otherwise(pl.lit("无法确定是否符合")), c.zh)
        reasons.append(pl.when(applicable).then(reason(f"LE {exc.code}", exc.citation.text(), text_en, text_zh, exc.fact,
                                                       outcome(c.truth))))
        missing += [pl.when(applicable & c.truth.is_null()).then(m) for m in c.missing]
        exc_items.append(pl.when(applicable & c.truth.fill_null(False)).then(pl.lit(exc.code)))
    return VersionPlan(control, paragraph, possible, [head, *reasons], string_list(missing), string_list(exc_items), version)


# --- 3. the whole classification --------------------------------------------------------------


def _lookup_contains(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """Resolve `contains` to a row id in the file or a catalog item; add the catalog rows needed."""
    from aiexport import catalog

    if df.filter(pl.col("contains").is_not_null()).height == 0:
        return df
    ids = set(df["id"].to_list())
    extra: dict[str, dict] = {}
    mapping: dict[str, str] = {}
    pending = [(v, r) for v, r in df.filter(pl.col("contains").is_not_null()).select("contains", "__row").unique("contains").iter_rows()]
    while pending:
        name, row = pending.pop()
        if name in ids:
            mapping[name] = name
            continue
        item = catalog.find(name)
        if item is None:
            raise InputError(f"{source}: row {row}, field contains: {name!r} is neither a spec id in this file nor a catalog "
                             f"name; give a spec id or see `aiexport catalog list`", field="contains", row=row)
        mapping[name] = "catalog:" + item["id"]
        key = "catalog:" + item["id"]
        if key not in extra:
            spec = {k: item.get(k) for k in df.columns if k not in ("__row",)}
            spec["id"] = key
            extra[key] = spec
            if item.get("contains"):
                pending.append((item["contains"], row))
    if extra:
        from aiexport.specs import frame_from_records, validate_specs

        cat = validate_specs(frame_from_records(list(extra.values()), "catalog"), "catalog")
        cat = cat.with_columns(pl.lit(None, dtype=pl.Int64).alias("__row"))
        cat = cat.with_columns(pl.col("contains").replace(mapping | {v["contains"]: "catalog:" + catalog.find(v["contains"])["id"]
                                                                   for v in extra.values() if v.get("contains")}))
        df = pl.concat([df, cat.select(df.columns)], how="vertical_relaxed")
    return df.with_columns(pl.col("contains").replace(mapping))


def classify_frame(specs: pl.DataFrame, rulebook: Rulebook, as_of: date, source: str = "input") -> pl.DataFrame:
    """Classify every row of a validated spec frame; returns OUTPUT_COLUMNS in input order."""
    resolved = rulebook.resolve(as_of)
    df = _lookup_contains(specs, source)
    df = add_metrics(df, resolved["tpp_metric"])

    ic_inst = resolved["eccn_3a090"]
    ic_status = rulebook.version_status_on(ic_inst.version, as_of) if ic_inst.version else "not_in_force"
    ic = plan_version(ic_inst, as_of, ic_status)
    ic_reasons = [ic.reasons[0], tpp_reason(resolved["tpp_metric"]), *ic.reasons[1:]]
    df = df.with_columns(
        ic.control.alias("ic_control"),
        ic.paragraph.alias("ic_paragraph"),
        ic.possible.alias("ic_possible"),
        reason_list(ic_reasons).alias("ic_reasons"),
        ic.missing.alias("ic_missing"),
        ic.exceptions.alias("ic_exceptions"),
        pl.coalesce("name", "id").alias("ic_name"),
        pl.col("tpp").alias("ic_tpp"),
        pl.col("performance_density").alias("ic_pd"),
    )
    df = _resolve_systems(df, source)

    sys_inst = resolved["eccn_4a090"]
    sys_status = rulebook.version_status_on(sys_inst.version, as_of) if sys_inst.version else "not_in_force"
    sysp = plan_version(sys_inst, as_of, sys_status)
    inherit = bool(sysp.version and sysp.version.inherit_exceptions)
    is_sys = pl.col("item_type") == "system"
    inherit_reason = reason(
        f"{sysp.version.id if sysp.version else 'eccn_4a090'}: exceptions", sysp.version.citation.text() if sysp.version else "",
        "A 4A090 item takes the licence exception eligibility of the 3A090 IC it contains (4A090 is among the NAC-eligible ECCNs)",
        "4A090 产品沿用其所含 3A090 集成电路的许可例外资格（4A090 属于可适用 NAC 的 ECCN）", "S")
    sys_reasons = reason_list([*sysp.reasons, pl.when(pl.lit(inherit) & is_sys).then(inherit_reason)])
    df = df.with_columns(
        pl.when(is_sys).then(sysp.control).otherwise(pl.col("ic_control")).alias("control"),
        pl.when(is_sys).then(sysp.paragraph).otherwise(pl.col("ic_paragraph")).alias("paragraph"),
        pl.when(is_sys).then(sysp.possible).otherwise(pl.col("ic_possible")).alias("possible_controls"),
        pl.when(is_sys).then(pl.concat_list([sys_reasons, pl.col("ic_reasons")])).otherwise(pl.col("ic_reasons")).alias("reasons"),
        pl.when(is_sys).then(pl.concat_list([sysp.missing, pl.col("ic_missing")]).list.unique(maintain_order=True))
        .otherwise(pl.col("ic_missing")).alias("missing"),
        pl.when(is_sys).then(pl.col("ic_exceptions") if inherit else pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col("ic_exceptions")).alias("license_exceptions"),
        pl.when(is_sys).then(pl.col("ic_tpp") * pl.col("count")).otherwise(pl.col("tpp")).alias("tpp"),
        pl.when(is_sys).then(pl.col("ic_pd")).otherwise(pl.col("performance_density")).alias("performance_density"),
        pl.when(is_sys).then(pl.lit(sysp.version.id if sysp.version else None, dtype=pl.String))
        .otherwise(pl.lit(ic.version.id if ic.version else None, dtype=pl.String)).alias("rule_version"),
        pl.when(is_sys).then(pl.lit(sys_status)).otherwise(pl.lit(ic_status)).alias("rule_status"),
    )
    df = _apply_z(df, resolved)
    df = df.filter(pl.col("__row").is_not_null()).sort("__row")
    unconfirmed = pl.col("reasons").list.eval(
        pl.element().filter(pl.element().struct.field("fact") == "UNCONFIRMED").struct.field("rule")).list.unique(maintain_order=True)
    return df.with_columns(
        pl.lit(as_of.isoformat()).alias("as_of"),
        pl.lit(resolved.scenario, dtype=pl.String).alias("scenario"),
        pl.lit(resolved.rulebook_hash).alias("rulebook_hash"),
        unconfirmed.alias("unconfirmed"),
        pl.col("tpp").round(4),
        pl.col("performance_density").round(4),
        pl.col("memory_bandwidth_density").round(4),
    ).select(OUTPUT_COLUMNS)


def _resolve_systems(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """Fill each system row's ic_* columns from the IC it contains (boards in servers allowed)."""
    if df.filter(pl.col("item_type") == "system").height == 0:
        return df
    cols = ["ic_control", "ic_name", "ic_tpp", "ic_pd", "ic_reasons", "ic_missing", "ic_exceptions"]
    is_sys = pl.col("item_type") == "system"
    df = df.with_columns(pl.when(~is_sys).then(pl.col(c)).alias(c) for c in cols)
    df = df.with_columns(pl.when(~is_sys).then(pl.col("ic_control")).alias("ic_control"),
                         pl.when(is_sys).then(pl.lit([], dtype=pl.List(pl.String))).otherwise(pl.col("ic_possible")).alias("ic_possible"))
    for _ in range(8):
        pending = df.filter(is_sys & pl.col("ic_control").is_null())
        if pending.height == 0:
            return df
        known = df.filter(pl.col("ic_control").is_not_null()).select(
            pl.col("id").alias("contains"), *[pl.col(c).alias(f"__new_{c}") for c in cols],
            pl.coalesce("name", "id").alias("__new_name"))
        df = df.join(known, on="contains", how="left", maintain_order="left")
        fill = is_sys & pl.col("ic_control").is_null()
        df = df.with_columns(
            *[pl.when(fill).then(pl.col(f"__new_{c}")).otherwise(pl.col(c)).alias(c) for c in cols if c != "ic_name"],
            pl.when(fill).then(pl.col("__new_name")).otherwise(pl.col("ic_name")).alias("ic_name"),
        ).drop([f"__new_{c}" for c in cols] + ["__new_name"])
    stuck = df.filter(is_sys & pl.col("ic_control").is_null()).select("__row", "id").head(1)
    raise InputError(f"{source}: row {stuck.item(0, 0)}, field contains: systems contain each other in a cycle or more than "
                     f"8 levels deep; make contains name an IC", field="contains")


def _apply_z(df: pl.DataFrame, resolved: Resolved) -> pl.DataFrame:
    """Items described in another ECCN that meet 3A090/4A090 take that ECCN's .z paragraph."""
    bases = [b for b in df["base_eccn"].unique().to_list() if b is not None]
    if not bases:
        return df
    inst = resolved["eccn_z_paragraphs"]
    zmap = {z.base: z for z in (inst.version.z_paragraphs if inst.version else [])}
    rows = []
    for b in bases:
        z = zmap.get(b)
        if z is not None:
            rows.append((b, z.a_tier, z.b_tier, z.fact, z.citation.text(), None))
            continue
        subs = sorted(k for k in zmap if k.startswith(b + "."))
        rows.append((b, None, None, None, None, ", ".join(subs) if subs else None))
    zf = pl.DataFrame(rows, schema={"base_eccn": pl.String, "__za": pl.String, "__zb": pl.String, "__zfact": pl.String,
                                    "__zcit": pl.String, "__zsubs": pl.String}, orient="row")
    df = df.join(zf, on="base_eccn", how="left", maintain_order="left")
    ctl = pl.col("control")
    a_tier = ctl.is_in(["3A090.a", "4A090.a"])
    b_tier = ctl.is_in(["3A090.b", "4A090.b"])
    has_z = pl.col("__za").is_not_null()
    ambiguous = pl.col("__zsubs").is_not_null() & (a_tier | b_tier)
    version_id = inst.version.id if inst.version else "eccn_z_paragraphs"
    new_control = (pl.when(has_z & a_tier).then(pl.col("__za")).when(has_z & b_tier).then(pl.col("__zb"))
                   .when(ambiguous).then(pl.lit("indeterminate")).otherwise(ctl))
    en = (pl.when(has_z & (a_tier | b_tier)).then(pl.format("Described in {} and meets {}: classified {}", pl.col("base_eccn"), ctl, new_control))
          .when(has_z).then(pl.format("Described in {}; does not meet 3A090.a/.b or 4A090.a/.b, so no .z paragraph applies", pl.col("base_eccn")))
          .when(ambiguous).then(pl.format("{} has several .z paragraphs ({}); give the paragraph of {} to decide", pl.col("base_eccn"), pl.col("__zsubs"), pl.col("base_eccn")))
          .when(pl.lit(inst.version is None)).then(pl.format("No .z paragraphs were in force on this date; {} applies", ctl))
          .otherwise(pl.format("{} has no .z paragraph; the 3A090/4A090 classification {} stands", pl.col("base_eccn"), ctl)))
    zh = (pl.when(has_z & (a_tier | b_tier)).then(pl.format("属于 {} 所述产品且达到 {}：归类为 {}", pl.col("base_eccn"), ctl, new_control))
          .when(has_z).then(pl.format("属于 {} 所述产品；未达到 3A090.a/.b 或 4A090.a/.b，不适用 .z 段", pl.col("base_eccn")))
          .when(ambiguous).then(pl.format("{} 有多个 .z 段（{}）；请给出 {} 的具体段落", pl.col("base_eccn"), pl.col("__zsubs"), pl.col("base_eccn")))
          .when(pl.lit(inst.version is None)).then(pl.format("该日期尚无 .z 段；适用 {}", ctl))
          .otherwise(pl.format("{} 没有 .z 段；维持 3A090/4A090 归类 {}", pl.col("base_eccn"), ctl)))
    z_reason = reason(pl.concat_str([pl.lit(f"{version_id}: "), pl.col("base_eccn")]), inst.version.citation.text() if inst.version else "",
                      en, zh, pl.col("__zfact").fill_null("S"), pl.when(has_z & (a_tier | b_tier)).then(pl.lit("met")).otherwise(pl.lit("info")))
    return df.with_columns(
        new_control.alias("control"),
        pl.when(ambiguous).then(pl.concat_list([pl.col("missing"), pl.lit(["base_eccn paragraph"])])).otherwise(pl.col("missing")).alias("missing"),
        pl.when(pl.col("base_eccn").is_not_null())
        .then(pl.concat_list([pl.col("reasons"), pl.concat_list([z_reason])]))
        .otherwise(pl.col("reasons")).alias("reasons"),
    ).drop("__za", "__zb", "__zfact", "__zcit", "__zsubs")
