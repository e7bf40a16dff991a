"""Turn the conditions of the rule files into polars expressions.

Each condition becomes two things: its truth, in three-valued (Kleene) logic, where null means
"the facts given cannot decide", and a sentence in English and Chinese that states the facts it
used ("TPP 2368 < 4800 (2432 below)"). Whole order books are evaluated column-wise this way; a
single item is a one-row frame through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import polars as pl

from aiexport.rulebook import All, AnyOf, Compare, Contains, Flag, KindIs, ResolvedInstrument

# How each metric is named and which inputs decide it. Labels only: no regulatory numbers here.
METRIC_INFO: dict[str, dict[str, str]] = {
    "tpp": {"en": "TPP", "zh": "总处理性能", "unit": "", "give": "dense rates (fp64..fp4)"},
    "performance_density": {"en": "performance density", "zh": "性能密度", "unit": "", "give": "die_area_mm2"},
    "memory_bandwidth_density": {"en": "memory bandwidth density", "zh": "存储带宽密度", "unit": " GB/s/mm²",
                                 "give": "hbm_package_area_mm2"},
    "io_bidir_gbps": {"en": "aggregate bidirectional I/O", "zh": "双向总输入输出速率", "unit": " GB/s", "give": "io_bidir_gbps"},
    "memory_bw_gbps": {"en": "memory bandwidth", "zh": "存储带宽", "unit": " GB/s", "give": "memory_bw_gbps"},
    "die_area_mm2": {"en": "die area", "zh": "裸片面积", "unit": " mm²", "give": "die_area_mm2"},
    "hbm_package_area_mm2": {"en": "HBM package area", "zh": "HBM 封装面积", "unit": " mm²", "give": "hbm_package_area_mm2"},
    "transistors_billion": {"en": "transistor count (billions)", "zh": "晶体管数（十亿）", "unit": "", "give": "transistors_billion"},
    "process_nm": {"en": "process node (nm)", "zh": "工艺节点（纳米）", "unit": "", "give": "process_nm"},
}
#: ratio metrics: numerator / denominator, so an unknown denominator has a deciding value.
RATIOS = {"performance_density": ("tpp", "die_area_mm2"), "memory_bandwidth_density": ("memory_bw_gbps", "hbm_package_area_mm2")}
FLAG_TEXT = {
    "datacenter": {True: ("designed or marketed for datacenters", "为数据中心设计或营销"),
                   False: ("not designed or marketed for datacenters", "非为数据中心设计或营销"),
                   None: ("whether it is designed or marketed for datacenters is not stated", "未说明是否为数据中心设计或营销")},
    "hbm": {True: ("is or contains HBM", "属于或含有 HBM"), False: ("no HBM", "不含 HBM"),
            None: ("whether it has HBM is not stated", "未说明是否含 HBM")},
}
KIND_TEXT = {"ic": ("a logic IC", "逻辑集成电路"), "hbm_stack": ("an HBM stack", "HBM 堆栈"), "system": ("a system", "系统")}
SYM = {">=": ("≥", "<"), ">": (">", "≤"), "<": ("<", "≥"), "<=": ("≤", ">")}
OUTCOME = {"met": ("met", "满足"), "not_met": ("not met", "不满足"), "unknown": ("undetermined", "无法确定")}


def fmt(expr: pl.Expr, decimals: int = 2) -> pl.Expr:
    """A number as short text: 15832, 2.91, 4988.8 (no regex: this runs on every row)."""
    r = expr.round(decimals)
    whole = (r == r.floor()) & (r.abs() < 1e15)
    return pl.when(whole).then(r.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(r.cast(pl.String))


def fmt_num(x: float) -> str:
    s = f"{round(x, 4):.4f}".rstrip("0").rstrip(".")
    return s


def _compare(a: pl.Expr, op: str, b: float) -> pl.Expr:
    return {">=": a >= b, ">": a > b, "<": a < b, "<=": a <= b}[op]


@dataclass
class Compiled:
    truth: pl.Expr
    en: pl.Expr
    zh: pl.Expr
    missing: list[tuple[pl.Expr, str]]  # (when it matters, the input that would decide)


class Stages:
    """Named intermediate columns, computed stage by stage, so no truth is evaluated twice."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.stages: list[list[pl.Expr]] = []
        self.names: list[str] = []
        self.shared: dict[tuple[object, ...], pl.Expr] = {}

    def col(self, stage: int, expr: pl.Expr, tag: str = "c", exact: str | None = None) -> pl.Expr:
        while len(self.stages) <= stage:
            self.stages.append([])
        name = exact or f"__{self.prefix}{tag}{len(self.names)}"
        self.names.append(name)
        self.stages[stage].append(expr.alias(name))
        return pl.col(name)

    def once(self, key: tuple[object, ...], stage: int, expr: pl.Expr, tag: str) -> pl.Expr:
        """A column computed once per row however many conditions or sentences use it (the same
        comparison, a number as text, a gap to a threshold): small frames pay polars per expression."""
        if key not in self.shared:
            self.shared[key] = self.col(stage, expr, tag)
        return self.shared[key]

    def apply_lazy(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        for stage in self.stages:
            if stage:
                lf = lf.with_columns(stage)
        return lf

    def apply(self, df: pl.DataFrame) -> pl.DataFrame:
        return self.apply_lazy(df.lazy()).collect()


class Compiler:
    """Compile conditions against one resolved instrument (its parameters as of a date).

    Leaf truths are registered as stage-0 columns of `stages`, so the sentences and the verdict
    logic read a column instead of recomputing the comparison.
    """

    def __init__(self, inst: ResolvedInstrument, stages: Stages):
        self.inst = inst
        self.stages = stages

    def threshold(self, leaf: Compare) -> float:
        return float(leaf.value) if leaf.value is not None else float(self.inst.param(leaf.param).value)  # type: ignore[arg-type]

    def compile(self, cond: object) -> Compiled:
        if isinstance(cond, All):
            parts = [self.compile(c) for c in cond.all]
            truth = reduce(lambda a, b: a & b, (p.truth for p in parts))
            return Compiled(truth, pl.concat_str([p.en for p in parts], separator="; "),
                            pl.concat_str([p.zh for p in parts], separator="；"), [m for p in parts for m in p.missing])
        if isinstance(cond, AnyOf):
            parts = [self.compile(c) for c in cond.any]
            truth = reduce(lambda a, b: a | b, (p.truth for p in parts))
            en = pl.concat_str([pl.lit("either "), pl.concat_str([p.en for p in parts], separator=" or "), pl.lit("")])
            zh = pl.concat_str([pl.lit("（"), pl.concat_str([p.zh for p in parts], separator=" 或 "), pl.lit("）")])
            return Compiled(truth, en, zh, [m for p in parts for m in p.missing])
        if isinstance(cond, Compare):
            return self._compare(cond)
        if isinstance(cond, Flag):
            col = pl.col(cond.flag)
            truth = self.stages.col(0, col == cond.is_)
            texts = FLAG_TEXT[cond.flag]
            en = pl.when(col).then(pl.lit(texts[True][0])).when(~col).then(pl.lit(texts[False][0])).otherwise(pl.lit(texts[None][0]))
            zh = pl.when(col).then(pl.lit(texts[True][1])).when(~col).then(pl.lit(texts[False][1])).otherwise(pl.lit(texts[None][1]))
            return Compiled(truth, en, zh, [(col.is_null(), cond.flag)])
        if isinstance(cond, KindIs):
            col = pl.col("item_type")
            truth = self.stages.col(0, col == cond.kind)
            en_yes, zh_yes = KIND_TEXT[cond.kind]
            en = pl.when(truth).then(pl.lit(f"is {en_yes}")).when(~truth).then(pl.lit(f"is not {en_yes}")).otherwise(pl.lit("item type unknown"))
            zh = pl.when(truth).then(pl.lit(f"属于{zh_yes}")).when(~truth).then(pl.lit(f"不属于{zh_yes}")).otherwise(pl.lit("产品类型不明"))
            return Compiled(truth, en, zh, [(col.is_null(), "item_type")])
        if isinstance(cond, Contains):
            col = pl.col("ic_control")
            known = col.is_not_null() & (col != "indeterminate")
            truth = self.stages.col(0, pl.when(known).then(col == cond.contains))
            what_en = pl.format("contains {} × {} ({})", pl.col("count").cast(pl.String).fill_null("?"),
                                pl.col("ic_name").fill_null("?"), col.fill_null("not classified"))
            what_zh = pl.format("含 {} 个 {}（{}）", pl.col("count").cast(pl.String).fill_null("?"),
                                pl.col("ic_name").fill_null("?"), col.fill_null("未分类"))
            return Compiled(truth, what_en, what_zh, [(~known, "the contained IC's figures")])
        raise TypeError(f"unknown condition {cond!r}")

    def num_str(self, metric: str) -> pl.Expr:
        """The metric as text, computed once per row and shared by every sentence that quotes it."""
        return self.stages.once(("fmt", metric), 0, fmt(pl.col(metric)), "f")

    def _compare(self, leaf: Compare) -> Compiled:
        thr = self.threshold(leaf)
        info = METRIC_INFO[leaf.metric]
        val = pl.col(leaf.metric)
        truth = self.stages.once(("compare", leaf.metric, leaf.op, thr), 0, _compare(val, leaf.op, thr), "c")
        met_sym, fail_sym = SYM[leaf.op]
        thr_s = fmt_num(thr)
        unit = info["unit"]
        val_s = self.num_str(leaf.metric)
        gap = self.stages.once(("gap", leaf.metric, thr), 0, fmt((val - thr).abs()), "g")
        below = leaf.op in (">=", ">")
        tail_en = pl.when(truth).then(pl.lit(f" {met_sym} {thr_s}{unit}")).otherwise(
            pl.concat_str([pl.lit(f" {fail_sym} {thr_s}{unit} ("), gap, pl.lit(" below)" if below else " above)")]))
        tail_zh = pl.when(truth).then(pl.lit(f" {met_sym} {thr_s}{unit}")).otherwise(
            pl.concat_str([pl.lit(f" {fail_sym} {thr_s}{unit}（{'低' if below else '高出'}"), gap, pl.lit("）")]))
        unk_en, unk_zh, missing = self._unknown(leaf, thr, met_sym, thr_s, unit)
        en = pl.when(truth.is_null()).then(unk_en).otherwise(pl.concat_str([pl.lit(f"{info['en']} "), val_s, tail_en]))
        zh = pl.when(truth.is_null()).then(unk_zh).otherwise(pl.concat_str([pl.lit(f"{info['zh']} "), val_s, tail_zh]))
        return Compiled(truth, en, zh, missing)

    def _unknown(self, leaf: Compare, thr: float, met_sym: str, thr_s: str, unit: str) -> tuple[pl.Expr, pl.Expr, list[tuple[pl.Expr, str]]]:
        info = METRIC_INFO[leaf.metric]
        if leaf.metric not in RATIOS:
            give = info["give"]
            en = pl.lit(f"{info['en']} unknown (needs {met_sym} {thr_s}{unit}; give {give})")
            zh = pl.lit(f"{info['zh']} 未知（条件为 {met_sym} {thr_s}{unit}；请提供 {give}）")
            return en, zh, [(pl.col(leaf.metric).is_null(), give)]
        num, den = RATIOS[leaf.metric]
        num_info, den_info = METRIC_INFO[num], METRIC_INFO[den]
        # metric = num / den:  metric >= t  <=>  den <= num / t  (and so on for the other operators)
        den_sym = {">=": "≤", ">": "<", "<": ">", "<=": "≥"}[leaf.op]
        flip = self.stages.once(("flip", num, thr), 0, fmt(pl.col(num) / thr, 1), "f")
        en_known = pl.format(f"{info['en']} unknown ({den_info['en']} not given); {met_sym} {thr_s} holds if "
                             f"{den_info['en']} {den_sym} {{}}{den_info['unit']}", flip)
        zh_known = pl.format(f"{info['zh']}未知（未提供{den_info['zh']}）；当{den_info['zh']} {den_sym} {{}}{den_info['unit']} 时满足 "
                             f"{met_sym} {thr_s}", flip)
        en_none = pl.lit(f"{info['en']} unknown (needs {num_info['en']} and {den_info['en']})")
        zh_none = pl.lit(f"{info['zh']}未知（需要{num_info['zh']}和{den_info['zh']}）")
        has_num = pl.col(num).is_not_null()
        en = pl.when(has_num).then(en_known).otherwise(en_none)
        zh = pl.when(has_num).then(zh_known).otherwise(zh_none)
        missing = [
            (pl.col(leaf.metric).is_null() & pl.col(den).is_null(), den_info["give"]),
            (pl.col(leaf.metric).is_null() & pl.col(num).is_null(), num_info["give"]),
        ]
        return en, zh, missing


def outcome(truth: pl.Expr) -> pl.Expr:
    return pl.when(truth).then(pl.lit("met")).when(~truth).then(pl.lit("not_met")).otherwise(pl.lit("unknown"))


def outcome_text(truth: pl.Expr, lang: str) -> pl.Expr:
    i = 0 if lang == "en" else 1
    return (pl.when(truth).then(pl.lit(OUTCOME["met"][i])).when(~truth).then(pl.lit(OUTCOME["not_met"][i]))
            .otherwise(pl.lit(OUTCOME["unknown"][i])))
