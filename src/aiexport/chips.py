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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import reduce
from typing import Any, TypeVar

import polars as pl

from aiexport import catalog
from aiexport.errors import InputError
from aiexport.evaluate import Compiler, Stages, fmt, outcome, outcome_text
from aiexport.queries import collect
from aiexport.rulebook import Resolved, ResolvedInstrument, ResolvedParam, Rulebook, Version
from aiexport.specs import RATE_FIELDS, frame_from_records, validate_specs

T = TypeVar("T")
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


SEP = "\x1f"  # lists travel as joined strings inside the pipeline (cheap to move), split at the end
LIST_COLUMNS = ("possible_controls", "missing", "license_exceptions")


def string_list(items: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """The strings whose condition holds, in first-listed order, each once, joined by SEP ("" = none)."""
    if not items:
        return pl.lit("")
    by_value: dict[str, list[pl.Expr]] = {}
    for cond, value in items:
        by_value.setdefault(value, []).append(cond.fill_null(False))
    parts = [pl.when(reduce(lambda a, b: a | b, conds)).then(pl.lit(value)) for value, conds in by_value.items()]
    return pl.concat_str(parts, separator=SEP, ignore_nulls=True).fill_null("")


def join_lists(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """Two joined lists as one, without repeats (small row sets only)."""
    both = pl.concat_str([a, b], separator=SEP).str.strip_chars(SEP)
    return both.str.split(SEP).list.unique(maintain_order=True).list.join(SEP)


def as_list(col: str) -> pl.Expr:
    c = pl.col(col)
    return pl.when(c == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(c.str.split(SEP)).alias(col)


# --- 1. metrics --------------------------------------------------------------------------------


def _bits(metric: ResolvedInstrument) -> dict[str, ResolvedParam] | None:
    """The bit length of each precision on the date, or None before the first TPP definition (2022-10-07)."""
    if any(f"bits_{p}" not in metric.params for p in RATE_FIELDS):
        return None
    return {p: metric.param(f"bits_{p}") for p in RATE_FIELDS}


def _is_max(bits: dict[str, ResolvedParam]) -> dict[str, pl.Expr]:
    """Per precision: does it reach the row's TPP?"""
    return {p: (pl.col(p) * bits[p].value) == pl.col("tpp") for p in RATE_FIELDS}


def add_metrics(df: pl.LazyFrame, metric: ResolvedInstrument) -> pl.LazyFrame:
    """TPP, performance density, memory bandwidth density and item type, from the spec columns."""
    for stage in _metric_stages(metric):
        df = df.with_columns(stage)
    return df


def _metric_stages(metric: ResolvedInstrument) -> list[list[pl.Expr]]:
    """`add_metrics`' expressions, in the order they apply (kept: they depend only on the TPP definition)."""
    return _kept(("metrics", metric.id, metric.content_hash), lambda: _metric_exprs(metric))


def _metric_exprs(metric: ResolvedInstrument) -> list[list[pl.Expr]]:
    bits = _bits(metric)
    if bits is None:
        stages = [[pl.lit(None, dtype=pl.Float64).alias("tpp"), pl.lit(None, dtype=pl.String).alias("tpp_precision"),
                   pl.lit(None, dtype=pl.Float64).alias("performance_density"),
                   (pl.col("memory_bw_gbps") / pl.col("hbm_package_area_mm2")).alias("memory_bandwidth_density"),
                   _item_type().alias("item_type")]]
    else:
        is_max = _is_max(bits)
        precision = pl.concat_str([pl.when(is_max[p]).then(pl.lit(p)) for p in RATE_FIELDS], separator="=", ignore_nulls=True)
        stages = [[pl.max_horizontal([pl.col(p) * bits[p].value for p in RATE_FIELDS]).alias("tpp")],
                  [pl.when(pl.col("tpp").is_not_null()).then(precision).alias("tpp_precision"),
                   (pl.col("tpp") / pl.col("die_area_mm2")).alias("performance_density"),
                   (pl.col("memory_bw_gbps") / pl.col("hbm_package_area_mm2")).alias("memory_bandwidth_density"),
                   _item_type().alias("item_type")]]
    return stages


#: expressions that depend only on resolved rules (not on the input), built once: a question to the
#: service is a few rows, and building its expressions again would cost as much as running them
_EXPRS: dict[tuple[object, ...], Any] = {}


def _kept(key: tuple[object, ...], build: Callable[[], T]) -> T:
    """`build()`, built once per `key` (the rules' content it depends on) and kept (256 at most)."""
    found = _EXPRS.get(key)
    if found is None:
        if len(_EXPRS) > 256:
            _EXPRS.clear()
        found = _EXPRS[key] = build()
    return found


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


def tpp_fact(metric: ResolvedInstrument) -> pl.Expr:
    """The fact status of the TPP: that of the best-sourced precision reaching the maximum (a TF32
    maximum read at 32 bits is UNCONFIRMED unless another precision ties with it)."""
    bits = _bits(metric)
    if bits is None:
        return pl.lit("P")
    is_max = _is_max(bits)
    best = pl.lit("UNCONFIRMED")
    for fact in sorted(FACT_RANK, key=FACT_RANK.get, reverse=True):
        hits = [is_max[p] for p in RATE_FIELDS if bits[p].fact == fact]
        if hits:
            best = pl.when(pl.any_horizontal(hits)).then(pl.lit(fact)).otherwise(best)
    return best


def tpp_reason(metric: ResolvedInstrument, st: Stages) -> tuple[pl.Expr, pl.Expr]:
    """How the TPP was computed: the precision that gives the maximum, its rate and bit length.

    The precision shown and its rate (as text) are registered as columns of `st`: they are computed
    once per row, not once per precision and language."""
    bits = _bits(metric)
    if bits is None:  # no TPP definition yet: never shown
        return pl.lit(False), reason("TPP", "", "", "", "P")
    is_max = _is_max(bits)
    best_fact = tpp_fact(metric)
    shown_first = sorted(RATE_FIELDS, key=lambda p: FACT_RANK[bits[p].fact])  # a tie is shown by its best-sourced precision
    shown = st.col(0, pl.coalesce([pl.when(is_max[p]).then(pl.lit(p)) for p in shown_first]), "shown")
    rate = st.col(1, fmt(st.col(0, pl.coalesce([pl.when(is_max[p]).then(pl.col(p)) for p in shown_first]), "rate")), "rate_s")

    def how(unit: str) -> pl.Expr:
        name = shown.replace_strict({p: f"{p.upper()} " for p in RATE_FIELDS}, return_dtype=pl.String)
        times = shown.replace_strict({p: f" × {fmt_bits(bits[p].value)} {unit}" for p in RATE_FIELDS}, return_dtype=pl.String)
        return pl.concat_str([name, rate, times])

    definition = next((d for d in metric.definitions if d.id == "tpp"), None)
    citation = definition.citation.text() if definition else ""
    en = pl.concat_str([pl.lit("TPP "), fmt(pl.col("tpp")), pl.lit(" = "), how("bits"),
                        pl.lit(" (highest dense rate × bit length)")])
    zh = pl.concat_str([pl.lit("总处理性能 "), fmt(pl.col("tpp")), pl.lit(" = "), how("位"), pl.lit("（稠密速率 × 位长的最大值）")])
    return pl.col("tpp").is_not_null(), reason("TPP", citation, en, zh, best_fact)


# --- 2. one version of an instrument as expressions ---------------------------------------------


@dataclass
class VersionPlan:
    """One version as expressions: `stages` compute truths and decisions into columns named with
    the plan's prefix (`{p}control`, `{p}paragraph`, `{p}possible`, `{p}missing`, `{p}exceptions`);
    `reasons` are struct-or-null expressions over those columns, in display order."""

    stages: Stages
    reasons: list[tuple[pl.Expr, pl.Expr]]  # (shown when, reason struct)
    version: Version | None


def plan_version(inst: ResolvedInstrument, as_of: date, status_on: str, p: str) -> VersionPlan:
    """`_plan_version`, kept: the expressions depend only on the resolved instrument."""
    key = ("plan", inst.id, inst.content_hash, as_of if inst.version is None else None, status_on, p)
    return _kept(key, lambda: _plan_version(inst, as_of, status_on, p))


def _plan_version(inst: ResolvedInstrument, as_of: date, status_on: str, p: str) -> VersionPlan:
    """One version of an instrument as staged polars expressions (see the module docstring).

    Reasons shown: every paragraph of the levels tried before the decided one (why not those),
    the paragraph that decided, the notes that matter, and the licence exceptions of the control.
    """
    st = Stages(p)
    version = inst.version
    empty = pl.lit("")
    if version is None:
        st.col(0, pl.lit("none"), "control", exact=f"{p}control")
        st.col(0, pl.lit(None, dtype=pl.String), "paragraph", exact=f"{p}paragraph")
        for name in ("possible", "missing", "exceptions", "unconfirmed"):
            st.col(0, empty, name, exact=f"{p}{name}")
        r = reason(inst.id, inst.citation.text(), f"No {inst.title_en} was in force on {as_of}",
                   f"{as_of} 时 {inst.title_zh} 尚未生效", "P", "not_met")
        return VersionPlan(st, [(pl.lit(True), r)], None)
    comp = Compiler(inst, st)
    kind = pl.col("item_type")
    missing: list[tuple[pl.Expr, str]] = []

    # notes first: they exclude levels
    excl_by_level: dict[str, list[pl.Expr]] = {}
    note_parts = []
    for note in version.notes:
        c = comp.compile(note.when)
        truth = st.col(1, c.truth, "n")
        note_parts.append((note, c, truth))
        for level in note.excludes:
            excl_by_level.setdefault(level, []).append(truth)

    levels: list[str] = []
    paras = []  # (paragraph, compiled, truth, effective truth)
    for para in version.paragraphs:
        c = comp.compile(para.when)
        can_apply = bool(set(para.applies_to) & {"ic", "hbm_stack"})
        truth = st.col(1, pl.when(kind.is_null()).then(pl.lit(None, dtype=pl.Boolean) if can_apply else pl.lit(False))
                       .when(kind.is_in(para.applies_to)).then(c.truth).otherwise(pl.lit(False)), "p")
        excl = excl_by_level.get(para.control)
        eff = st.col(2, truth & ~reduce(lambda a, b: a | b, excl), "e") if excl else truth
        if para.control not in levels:
            levels.append(para.control)
        paras.append((para, c, truth, eff))

    lvl = {lv: st.col(3, reduce(lambda a, b: a | b, [e for q, _, _, e in paras if q.control == lv]), "v") for lv in levels}
    control_expr = pl.lit("none")
    rank_expr = pl.lit(len(levels))
    for i, lv in reversed(list(enumerate(levels))):
        control_expr = pl.when(lvl[lv].is_null()).then(pl.lit("indeterminate")).when(lvl[lv]).then(pl.lit(lv)).otherwise(control_expr)
        rank_expr = pl.when(lvl[lv].fill_null(False)).then(pl.lit(i)).otherwise(rank_expr)
    control = st.col(4, control_expr, "control", exact=f"{p}control")
    rank = st.col(4, rank_expr, "rank")
    # the deciding paragraph: the first met one of the first met level
    chosen = pl.lit(None, dtype=pl.String)
    for para, _, _, eff in reversed(paras):
        chosen = pl.when((rank == levels.index(para.control)) & eff.fill_null(False)).then(pl.lit(para.id)).otherwise(chosen)
    chosen = st.col(5, chosen, "chosen")
    st.col(6, pl.when(control == "indeterminate").then(pl.lit(None, dtype=pl.String)).otherwise(chosen), "paragraph",
           exact=f"{p}paragraph")
    poss_items = [(((rank > i) & lvl[lv].is_null()) | (rank == i), lv) for i, lv in enumerate(levels)]
    poss_items.append((rank == len(levels), "none"))
    st.col(5, pl.when(control == "indeterminate").then(string_list(poss_items)).otherwise(empty), "possible", exact=f"{p}possible")

    # an unknown input matters only in a paragraph of a level tried before the deciding one
    for para, c, truth, _ in paras:
        missing += [(truth.is_null() & cond & (rank > levels.index(para.control)), m) for cond, m in c.missing]
    reasons: list[tuple[pl.Expr, pl.Expr]] = []
    unconf: list[tuple[pl.Expr, str, str]] = []  # (shown when, rule, fact)
    for para, c, truth, _ in paras:
        shown = (kind.is_in(para.applies_to) | (kind.is_null() & pl.lit(bool(set(para.applies_to) & {"ic", "hbm_stack"})))) & (
            (rank > levels.index(para.control)) | (chosen == para.id))
        text_en = pl.concat_str([pl.lit(f"{para.id}: "), outcome_text(truth, "en"), pl.lit(" — "), c.en])
        text_zh = pl.concat_str([pl.lit(f"{para.id}："), outcome_text(truth, "zh"), pl.lit(" — "), c.zh])
        reasons.append((shown, reason(para.id, para.citation.text(), text_en, text_zh, para.fact, outcome(truth))))
        unconf.append((shown, para.id, para.fact))

    for note, c, truth in note_parts:
        raw = [t for q, _, t, _ in paras if q.control in note.excludes]
        # a note that excludes nothing only explains why an item is NOT caught: shown when it is not
        matters = (reduce(lambda a, b: a | b, [t.is_null() | t.fill_null(False) for t in raw]) if raw
                   else control.is_in(["none", "indeterminate"]))
        word_en = pl.when(truth).then(pl.lit("applies")).when(~truth).then(pl.lit("does not apply")).otherwise(pl.lit("cannot tell whether it applies"))
        word_zh = pl.when(truth).then(pl.lit("适用")).when(~truth).then(pl.lit("不适用")).otherwise(pl.lit("无法判断是否适用"))
        text_en = pl.concat_str([pl.lit(f"{note.id}: "), word_en, pl.lit(" — "), c.en, pl.lit(f". {note.text_en}")])
        text_zh = pl.concat_str([pl.lit(f"{note.id}："), word_zh, pl.lit(" — "), c.zh, pl.lit(f"。{note.text_zh}")])
        show = (truth.is_null() | truth.fill_null(False)) & matters
        reasons.append((show, reason(note.id, note.citation.text(), text_en, text_zh, note.fact, outcome(truth))))
        unconf.append((show, note.id, note.fact))
        if note.excludes:  # a note that excludes nothing cannot change the control
            missing += [(truth.is_null() & matters & cond, m) for cond, m in c.missing]

    exc_items = []
    for exc in version.exceptions:
        c = comp.compile(exc.when)
        truth = st.col(1, c.truth, "x")
        applicable = control.is_in(exc.controls)
        word_en = pl.when(truth).then(pl.lit("eligible")).when(~truth).then(pl.lit("not eligible")).otherwise(pl.lit("eligibility undetermined"))
        word_zh = pl.when(truth).then(pl.lit("符合条件")).when(~truth).then(pl.lit("不符合条件")).otherwise(pl.lit("无法确定是否符合"))
        text_en = pl.concat_str([pl.lit(f"{exc.name_en}: "), word_en, pl.lit(" — "), c.en])
        text_zh = pl.concat_str([pl.lit(f"{exc.name_zh}："), word_zh, pl.lit(" — "), c.zh])
        reasons.append((applicable, reason(f"LE {exc.code}", exc.citation.text(), text_en, text_zh, exc.fact, outcome(truth))))
        unconf.append((applicable, f"LE {exc.code}", exc.fact))
        missing += [(applicable & truth.is_null() & cond, m) for cond, m in c.missing]
        exc_items.append((applicable & truth.fill_null(False), exc.code))
    st.col(5, string_list(missing), "missing", exact=f"{p}missing")
    st.col(5, string_list(exc_items), "exceptions", exact=f"{p}exceptions")
    # the UNCONFIRMED facts among the reasons shown (brief answers list them without the sentences)
    st.col(6, string_list([(cond, rule) for cond, rule, fact in unconf if fact == "UNCONFIRMED"]), "unconfirmed",
           exact=f"{p}unconfirmed")
    return VersionPlan(st, reasons, version)


# --- 3. the whole classification --------------------------------------------------------------


def _lookup_contains(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """Resolve `contains` to a row id in the file or a catalog item; add the catalog rows needed."""
    named = df.select("contains", "__row").filter(pl.col("contains").is_not_null()).unique("contains", keep="first")
    if named.height == 0:
        return df
    known = df.select("id").filter(pl.col("id").is_in(named["contains"].implode()))["id"]
    outside = named.filter(~pl.col("contains").is_in(known.implode()))  # not a spec id of this file: a catalog name
    if outside.height == 0:
        return df
    extra: dict[str, dict] = {}  # catalog rows to add, keyed by their new id
    mapping: dict[str, str] = {}  # catalog name as written -> "catalog:<id>"
    pending = list(outside.iter_rows())
    while pending:
        name, row = pending.pop()
        item = catalog.find(name)
        if item is None:
            raise InputError(f"{source}: row {row}, field contains: {name!r} is neither a spec id in this file nor a catalog "
                             f"name; give a spec id or see `aiexport catalog list`", field="contains", row=row)
        key = mapping[name] = "catalog:" + item["id"]
        if key not in extra:
            extra[key] = {**catalog.spec_of(item), "id": key}
            if item.get("contains"):  # a catalog system: bring in what it holds too
                pending.append((item["contains"], row))
    cat = validate_specs(frame_from_records(list(extra.values()), "catalog"), "catalog").with_columns(
        pl.lit(None, dtype=pl.Int64).alias("__row"))  # not an input row: dropped from the answers
    return pl.concat([df, cat.select(df.columns)], how="vertical_relaxed").with_columns(pl.col("contains").replace(mapping))


def long_reasons(df: pl.DataFrame, items: list[tuple[pl.Expr, pl.Expr]], k0: int = 0) -> pl.DataFrame:
    """The reasons of each row in long form: (__i row index, __k order, __r struct).

    Each reason is built only on the rows where it is shown (lazy filter, then select), so no
    sentence is written for a row that does not need it.
    """
    frames = [df.lazy().filter(cond).select("__i", pl.lit(k0 + k, dtype=pl.Int32).alias("__k"), expr.alias("__r"))
              for k, (cond, expr) in enumerate(items)]
    if not frames:
        return pl.DataFrame(schema={"__i": pl.UInt32, "__k": pl.Int32, "__r": REASON_DTYPE.inner})
    return collect(pl.concat(frames), df.height, plan=False)


def _ic_view(metric: ResolvedInstrument, ic: VersionPlan, ic_status: str) -> tuple[list[pl.Expr], Stages, tuple[pl.Expr, pl.Expr]]:
    """The IC answer's columns read from the 3A090 plan, and the TPP reason with its stages (kept: they
    depend only on the resolved rules)."""
    key = ("ic_view", metric.id, metric.content_hash, ic.version.id if ic.version else None, ic_status)
    return _kept(key, lambda: _ic_view_exprs(metric, ic, ic_status))


def _ic_view_exprs(metric: ResolvedInstrument, ic: VersionPlan, ic_status: str) -> tuple[list[pl.Expr], Stages, tuple[pl.Expr, pl.Expr]]:
    view = [
        pl.coalesce("name", "id").alias("ic_name"), pl.col("tpp").alias("ic_tpp"), pl.col("performance_density").alias("ic_pd"),
        pl.col("__i").alias("ic_i"),
        pl.col("ic_control").alias("control"), pl.col("ic_paragraph").alias("paragraph"),
        pl.col("ic_possible").alias("possible_controls"), pl.col("ic_missing").alias("missing"),
        pl.col("ic_exceptions").alias("license_exceptions"),
        pl.lit(ic.version.id if ic.version else None, dtype=pl.String).alias("rule_version"), pl.lit(ic_status).alias("rule_status"),
        pl.concat_str([pl.when(pl.col("tpp").is_not_null() & (tpp_fact(metric) == "UNCONFIRMED")).then(pl.lit("TPP")),
                       pl.when(pl.col("ic_unconfirmed") != "").then(pl.col("ic_unconfirmed"))],
                      separator=SEP, ignore_nulls=True).fill_null("").alias("ic_unconf"),  # "TPP" first, as in the reasons
    ]
    tpp_st = Stages("tpp_")
    tpp = tpp_reason(metric, tpp_st)
    return view, tpp_st, tpp


def classify_frame(specs: pl.DataFrame, rulebook: Rulebook, as_of: date, source: str = "input", explain: bool = True) -> pl.DataFrame:
    """Classify every row of a validated spec frame; returns OUTPUT_COLUMNS in input order.

    explain=False ("brief", for whole order books) gives the same decisions with one reason per
    row: the deciding paragraph, its citation and its text (or, for none / indeterminate, what was
    tried and what would decide). The full reasons of any row are reproduced by classifying it again
    with the same rulebook hash.
    """
    resolved = rulebook.resolve(as_of)
    df = _lookup_contains(specs, source)
    lf = add_metrics(df.lazy(), resolved["tpp_metric"]).with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("__i"))
    brief = None if explain else Brief(resolved, as_of)

    # 1. every row as an IC or HBM stack (3A090), as one lazy query
    ic_inst = resolved["eccn_3a090"]
    ic_status = rulebook.version_status_on(ic_inst.version, as_of) if ic_inst.version else "not_in_force"
    ic = plan_version(ic_inst, as_of, ic_status, "ic_")
    ic_view, tpp_st, tpp = _ic_view(resolved["tpp_metric"], ic, ic_status)
    lf = ic.stages.apply_lazy(lf).with_columns(ic_view).with_columns(pl.col("ic_unconf").alias("unconfirmed"))
    has_sys = df.select(pl.col("contains").is_not_null().any()).item()
    keep = [*(WORK_COLUMNS if has_sys else BASE_COLUMNS), *MERGED]
    if brief is not None:  # its one reason is added at the end (step 4)
        df = collect(lf.select(keep), df.height)
        blocks: list[pl.DataFrame] = []
    else:  # the reasons read the intermediate truth columns
        full = collect(tpp_st.apply_lazy(lf), df.height, plan=False)
        blocks = [long_reasons(full, [tpp, *ic.reasons])]
        df = full.select(keep)
    # 2. systems (4A090), from the IC each contains
    if has_sys:
        systems, sys_blocks = _classify_systems(_resolve_systems(df, source), rulebook, resolved, as_of,
                                                blocks[0] if explain else None)
        blocks += sys_blocks
        df = _merge(df, systems)
    # 3. .z paragraphs for items described in another ECCN
    has_base = pl.col("base_eccn").is_not_null()
    if df.select(has_base.any()).item():
        zrows, zblock = _apply_z(df.filter(has_base), resolved, explain)
        blocks += zblock
        df = _merge(df, zrows, only=("control", "possible_controls", "missing", "unconfirmed"))
    # 4. the answer, with its reasons
    if brief is not None:  # a function of the final decision columns: built once per distinct decision
        keys = ("control", "paragraph", *LIST_COLUMNS, "unconfirmed")
        lf = _per_decision(_inputs_only(df), keys, [brief.columns(), [*brief.reasons(), *[as_list(c) for c in LIST_COLUMNS]]],
                           ("reasons", "unconfirmed", *LIST_COLUMNS)).lazy()
    else:
        df = _gather_reasons(_inputs_only(df).drop("unconfirmed"), pl.concat(blocks))
        lf = _per_decision(df, LIST_COLUMNS, [[as_list(c) for c in LIST_COLUMNS]], LIST_COLUMNS).lazy()
    return collect(lf.with_columns(
        pl.lit(as_of.isoformat()).alias("as_of"),
        pl.lit(resolved.scenario, dtype=pl.String).alias("scenario"),
        pl.lit(resolved.rulebook_hash).alias("rulebook_hash"),
        pl.col("tpp").round(4),
        pl.col("performance_density").round(4),
        pl.col("memory_bandwidth_density").round(4),
    ).select(OUTPUT_COLUMNS), df.height)


def _per_decision(df: pl.DataFrame, keys: tuple[str, ...], stages: list[list[pl.Expr]], outputs: tuple[str, ...]) -> pl.DataFrame:
    """Columns that are functions of `keys` alone, computed once per distinct combination of them
    and joined back (an order book of 100,000 rows holds about a hundred distinct decisions).
    `stages` are applied in turn to the distinct rows; `outputs` replace or add columns of `df`."""
    distinct = df.select(keys).unique()
    built = collect(reduce(lambda lf, stage: lf.with_columns(stage), stages, distinct.lazy()).select(outputs), distinct.height)
    right = distinct.hstack([s.alias(f"__new_{s.name}") for s in built.get_columns()])
    joined = df.join(right, on=list(keys), how="left", maintain_order="left", nulls_equal=True)
    return joined.drop([c for c in outputs if c in df.columns]).rename({f"__new_{c}": c for c in outputs})


def _gather_reasons(df: pl.DataFrame, long: pl.DataFrame) -> pl.DataFrame:
    """`df` (rows in __i order) with each row's `reasons` (in __k order) and `unconfirmed` rules."""
    unconfirmed = pl.col("__r").struct.field("fact") == "UNCONFIRMED"
    lists = long.sort("__i", "__k", maintain_order=True).group_by("__i", maintain_order=True).agg(
        pl.col("__r").alias("reasons"),
        pl.col("__r").struct.field("rule").filter(unconfirmed).unique(maintain_order=True).alias("unconfirmed"))
    n = df.height
    if n and lists.height >= n and lists.item(n - 1, "__i") == n - 1:  # every row has reasons: the lists line up with df
        return df.hstack(lists.head(n).drop("__i").get_columns())
    return df.join(lists, on="__i", how="left", maintain_order="left").with_columns(
        pl.col("reasons").fill_null(pl.lit([], dtype=REASON_DTYPE)), pl.col("unconfirmed").fill_null(pl.lit([], dtype=pl.List(pl.String))))


MERGED = ("control", "paragraph", "possible_controls", "missing", "license_exceptions", "rule_version", "rule_status",
          "unconfirmed")


def _merge(df: pl.DataFrame, part: pl.DataFrame, only: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Put the decisions computed for a subset of rows (`part`, keyed by __i = row position) back."""
    wanted = only or (*MERGED, "tpp", "performance_density")
    cols = [c for c in wanted if c in part.columns and c in df.columns]
    idx = part["__i"]
    out = []
    for c in cols:
        s = df[c].clone()
        s.scatter(idx, part[c].cast(s.dtype))
        out.append(s)
    return df.with_columns(out)


def _inputs_only(df: pl.DataFrame) -> pl.DataFrame:
    """Drop the catalog rows added for `contains` (they sit after the input rows)."""
    n = df.select(pl.col("__row").is_not_null().sum()).item()
    return df if n == df.height else df.slice(0, n)


class Brief:
    """The one reason of a brief answer, from lookup tables: no per-row sentence building."""

    def __init__(self, resolved: Resolved, as_of: date):
        versions = [resolved["eccn_3a090"].version, resolved["eccn_4a090"].version]
        paras = {p.id: p for v in versions if v is not None for p in v.paragraphs}
        self.cit = {k: p.citation.text() for k, p in paras.items()}
        self.en = {k: f"{k}: met — {p.text_en}" for k, p in paras.items()}
        self.zh = {k: f"{k}：满足 — {p.text_zh}" for k, p in paras.items()}
        self.fact = {k: p.fact for k, p in paras.items()}
        ic_version = versions[0]
        tried = ", ".join(p.id for p in (ic_version.paragraphs if ic_version else []))
        self.none_cit = ic_version.citation.text() if ic_version else resolved["eccn_3a090"].citation.text()
        self.none_en = (f"none of {tried} is met (full reasons: classify without --brief)" if ic_version
                        else f"no 3A090 was in force on {as_of}")
        self.none_zh = (f"{tried} 均不满足（完整理由：去掉 --brief 重新判定）" if ic_version else f"{as_of} 时 3A090 尚未生效")

    def columns(self) -> list[pl.Expr]:
        ctl, par = pl.col("control"), pl.col("paragraph")
        give = pl.col("missing").str.replace_all(SEP, ", ", literal=True)
        undecided = ctl == "indeterminate"

        def look(table: dict[str, str]) -> pl.Expr:
            return par.replace_strict(table, default=None, return_dtype=pl.String)

        return [
            pl.when(par.is_not_null()).then(par).otherwise(ctl).alias("__b_rule"),
            look(self.cit).fill_null(pl.lit(self.none_cit)).alias("__b_cit"),
            pl.when(par.is_not_null()).then(look(self.en)).when(undecided)
            .then(pl.concat_str([pl.lit("undetermined; would decide: "), give])).otherwise(pl.lit(self.none_en)).alias("__b_en"),
            pl.when(par.is_not_null()).then(look(self.zh)).when(undecided)
            .then(pl.concat_str([pl.lit("无法确定；可据以判定："), give])).otherwise(pl.lit(self.none_zh)).alias("__b_zh"),
            look(self.fact).fill_null(pl.lit("P")).alias("__b_fact"),
            pl.when(undecided).then(pl.lit("unknown")).when(ctl == "none").then(pl.lit("not_met")).otherwise(pl.lit("met"))
            .alias("__b_outcome"),
        ]

    @staticmethod
    def reasons() -> list[pl.Expr]:
        r = pl.struct(rule="__b_rule", citation="__b_cit", text_en="__b_en", text_zh="__b_zh", fact="__b_fact", outcome="__b_outcome")
        return [pl.concat_list([r]).alias("reasons"), as_list("unconfirmed")]


BASE_COLUMNS = ("__row", "__i", "id", "name", "count", "base_eccn", "item_type", "tpp", "tpp_precision",
                "performance_density", "memory_bandwidth_density")
WORK_COLUMNS = ("__row", "__i", "id", "name", "count", "contains", "base_eccn", "item_type", "tpp", "tpp_precision",
                "performance_density", "memory_bandwidth_density", "ic_control", "ic_paragraph", "ic_possible", "ic_missing",
                "ic_exceptions", "ic_name", "ic_tpp", "ic_pd", "ic_i", "ic_unconf")


def _classify_systems(df: pl.DataFrame, rulebook: Rulebook, resolved: Resolved, as_of: date,
                      ic_long: pl.DataFrame | None) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """4A090 for the system rows, from the 3A090 answer of the IC each contains; and their reasons."""
    sys_inst = resolved["eccn_4a090"]
    sys_status = rulebook.version_status_on(sys_inst.version, as_of) if sys_inst.version else "not_in_force"
    sysp = plan_version(sys_inst, as_of, sys_status, "sys_")
    df = sysp.stages.apply(df)
    inherit = bool(sysp.version and sysp.version.inherit_exceptions)
    items = list(sysp.reasons)
    if inherit and sysp.version is not None:
        items.append((pl.lit(True), reason(
            f"{sysp.version.id}: exceptions", sysp.version.citation.text(),
            "A 4A090 item takes the licence exception eligibility of the 3A090 IC it contains (4A090 is among the NAC-eligible ECCNs)",
            "4A090 产品沿用其所含 3A090 集成电路的许可例外资格（4A090 属于可适用 NAC 的 ECCN）", "S")))
    blocks = []
    if ic_long is not None:
        own = long_reasons(df, items, k0=-1000)
        # then the contained IC's own reasons, re-keyed to the system row
        of_ic = ic_long.join(df.select(pl.col("ic_i").alias("__i"), pl.col("__i").alias("__sys_i")), on="__i").select(
            pl.col("__sys_i").alias("__i"), "__k", "__r")
        blocks = [own, of_ic]
    df = df.with_columns(
        pl.col("sys_control").alias("control"),
        pl.col("sys_paragraph").alias("paragraph"),
        pl.col("sys_possible").alias("possible_controls"),
        join_lists(pl.col("sys_missing"), pl.col("ic_missing")).alias("missing"),
        join_lists(pl.col("sys_unconfirmed"), pl.col("ic_unconf")).alias("unconfirmed"),
        (pl.col("ic_exceptions") if inherit else pl.lit("")).alias("license_exceptions"),
        (pl.col("ic_tpp") * pl.col("count")).alias("tpp"),
        pl.col("ic_pd").alias("performance_density"),
        pl.lit(sysp.version.id if sysp.version else None, dtype=pl.String).alias("rule_version"),
        pl.lit(sys_status).alias("rule_status"),
    )
    return df, blocks


def _resolve_systems(df: pl.DataFrame, source: str) -> pl.DataFrame:
    """The system rows, with their ic_* columns filled from the IC each contains (boards inside
    servers allowed: a system may contain a system, up to 8 levels)."""
    cols = ["ic_control", "ic_paragraph", "ic_possible", "ic_name", "ic_tpp", "ic_pd", "ic_missing", "ic_exceptions", "ic_i",
            "ic_unconf"]
    is_sys = (pl.col("item_type") == "system").fill_null(False)
    systems = df.filter(is_sys).with_columns(pl.lit(None, dtype=df.schema[c]).alias(c) for c in cols)
    wanted = systems["contains"].unique().implode()
    lookup = df.filter(~is_sys & pl.col("id").is_in(wanted)).select(pl.col("id").alias("contains"), *cols)
    for _ in range(8):
        todo = systems.filter(pl.col("ic_control").is_null())
        if todo.height == 0:
            return systems
        filled = todo.drop(cols).join(lookup, on="contains", how="inner")
        if filled.height == 0:
            break
        systems = pl.concat([systems.filter(pl.col("ic_control").is_not_null()), todo.filter(~pl.col("__i").is_in(filled["__i"].implode())),
                             filled.select(systems.columns)])
        # a filled system can itself be contained: it offers its total TPP and says what it holds
        as_part = filled.with_columns(
            (pl.col("ic_tpp") * pl.col("count")).alias("ic_tpp"),
            pl.concat_str([pl.coalesce("name", "id"), pl.lit(" ["), pl.col("count").cast(pl.String), pl.lit(" × "),
                           pl.col("ic_name"), pl.lit("]")]).alias("ic_name"))
        lookup = pl.concat([lookup, as_part.select(pl.col("id").alias("contains"), *cols)])
    stuck = systems.filter(pl.col("ic_control").is_null()).sort("__i").select("__row", "id").head(1)
    raise InputError(f"{source}: row {stuck.item(0, 0)}, field contains: systems contain each other in a cycle or more than "
                     f"8 levels deep; make contains name an IC", field="contains")


def _z_possible() -> pl.Expr:
    """The possible controls of an undecided item described in a .z ECCN, in .z terms."""
    padded = pl.concat_str([pl.lit(SEP), pl.col("possible_controls"), pl.lit(SEP)])

    def has(*tokens: str) -> pl.Expr:
        return pl.any_horizontal([padded.str.contains(SEP + t + SEP, literal=True) for t in tokens])

    parts = [pl.when(has("3A090.a", "4A090.a")).then(pl.col("__za")), pl.when(has("3A090.b", "4A090.b")).then(pl.col("__zb")),
             pl.when(has("3A090.c")).then(pl.lit("3A090.c")), pl.when(has("none")).then(pl.lit("none"))]
    return pl.concat_str(parts, separator=SEP, ignore_nulls=True)


def _apply_z(df: pl.DataFrame, resolved: Resolved, explain: bool = True) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Items described in another ECCN that meet 3A090/4A090 take that ECCN's .z paragraph."""
    bases = [b for b in df["base_eccn"].unique().to_list() if b is not None]
    inst = resolved["eccn_z_paragraphs"]
    zmap = {z.base: z for z in (inst.version.z_paragraphs if inst.version else [])}
    version_cit = inst.version.citation.text() if inst.version else inst.citation.text()
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
    version_id = inst.version.id if inst.version else inst.id
    new_control = (pl.when(has_z & a_tier).then(pl.col("__za")).when(has_z & b_tier).then(pl.col("__zb"))
                   .when(ambiguous).then(pl.lit("indeterminate")).otherwise(ctl))
    base = pl.col("base_eccn")
    no_version = pl.lit(inst.version is None)
    en = (pl.when(no_version).then(pl.format("No .z paragraphs were in force on this date; {} stands", ctl))
          .when(has_z & (a_tier | b_tier)).then(pl.format("Described in {} and meets {}: classified {}", base, ctl, new_control))
          .when(has_z).then(pl.format("Described in {}; does not meet 3A090.a/.b or 4A090.a/.b, so no .z paragraph applies", base))
          .when(ambiguous).then(pl.format("{} has several .z paragraphs ({}); give the paragraph of {} to decide", base, pl.col("__zsubs"), base))
          .otherwise(pl.format("{} has no .z paragraph; the classification {} stands", base, ctl)))
    zh = (pl.when(no_version).then(pl.format("该日期尚无 .z 段；维持 {}", ctl))
          .when(has_z & (a_tier | b_tier)).then(pl.format("属于 {} 所述产品且达到 {}：归类为 {}", base, ctl, new_control))
          .when(has_z).then(pl.format("属于 {} 所述产品；未达到 3A090.a/.b 或 4A090.a/.b，不适用 .z 段", base))
          .when(ambiguous).then(pl.format("{} 有多个 .z 段（{}）；请给出 {} 的具体段落", base, pl.col("__zsubs"), base))
          .otherwise(pl.format("{} 没有 .z 段；维持归类 {}", base, ctl)))
    z_reason = reason(pl.concat_str([pl.lit(f"{version_id}: "), base]), pl.col("__zcit").fill_null(version_cit), en, zh,
                      pl.col("__zfact").fill_null("S"), pl.when(has_z & (a_tier | b_tier)).then(pl.lit("met")).otherwise(pl.lit("info")))
    block = [long_reasons(df, [(pl.lit(True), z_reason)], k0=100_000)] if explain else []
    df = df.with_columns(
        new_control.alias("control"),
        pl.when(has_z & (ctl == "indeterminate")).then(_z_possible()).otherwise(pl.col("possible_controls")).alias("possible_controls"),
        pl.when(pl.col("__zfact") == "UNCONFIRMED").then(join_lists(pl.col("unconfirmed"), pl.concat_str([pl.lit(f"{version_id}: "), base])))
        .otherwise(pl.col("unconfirmed")).alias("unconfirmed"),
        pl.when(ambiguous).then(join_lists(pl.col("missing"), pl.lit("base_eccn paragraph"))).otherwise(pl.col("missing")).alias("missing"),
    ).drop("__za", "__zb", "__zfact", "__zcit", "__zsubs")
    return df, block
