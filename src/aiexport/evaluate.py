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
    """A number as short text: 15832, 2.91, 4988.8."""
    return expr.round(decimals).cast(pl.String).str.replace(r"\.0+$", "").str.replace(r"(\.\d*?)0+$", "$1")


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
    missing: list[pl.Expr]  # each a string expr, null unless that input is missing and matters


class Compiler:
    """Compile conditions against one resolved instrument (its parameters as of a date)."""

    def __init__(self, inst: ResolvedInstrument):
        self.inst = inst

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
            truth = col == cond.is_
            texts = FLAG_TEXT[cond.flag]
            en = pl.when(col).then(pl.lit(texts[True][0])).when(~col).then(pl.lit(texts[False][0])).otherwise(pl.lit(texts[None][0]))
            zh = pl.when(col).then(pl.lit(texts[True][1])).when(~col).then(pl.lit(texts[False][1])).otherwise(pl.lit(texts[None][1]))
            return Compiled(truth, en, zh, [pl.when(col.is_null()).then(pl.lit(cond.flag))])
        if isinstance(cond, KindIs):
            col = pl.col("item_type")
            truth = col == cond.kind
            en_yes, zh_yes = KIND_TEXT[cond.kind]
            en = pl.when(truth).then(pl.lit(f"is {en_yes}")).when(~truth).then(pl.lit(f"is not {en_yes}")).otherwise(pl.lit("item type unknown"))
            zh = pl.when(truth).then(pl.lit(f"属于{zh_yes}")).when(~truth).then(pl.lit(f"不属于{zh_yes}")).otherwise(pl.lit("产品类型不明"))
            return Compiled(truth, en, zh, [pl.when(col.is_null()).then(pl.lit("item_type"))])
        if isinstance(cond, Contains):
            col = pl.col("ic_control")
            known = col.is_not_null() & (col != "indeterminate")
            truth = pl.when(known).then(col == cond.contains)
            what_en = pl.format("contains {} × {} ({})", pl.col("count").cast(pl.String).fill_null("?"),
                                pl.col("ic_name").fill_null("?"), col.fill_null("not classified"))
            what_zh = pl.format("含 {} 个 {}（{}）", pl.col("count").cast(pl.String).fill_null("?"),
                                pl.col("ic_name").fill_null("?"), col.fill_null("未分类"))
            return Compiled(truth, what_en, what_zh, [pl.when(~known).then(pl.lit("the contained IC's figures"))])
        raise TypeError(f"unknown condition {cond!r}")

    def _compare(self, leaf: Compare) -> Compiled:
        thr = self.threshold(leaf)
        info = METRIC_INFO[leaf.metric]
        val = pl.col(leaf.metric)
        truth = _compare(val, leaf.op, thr)
        met_sym, fail_sym = SYM[leaf.op]
        thr_s = fmt_num(thr)
        unit = info["unit"]
        gap = fmt((val - thr).abs())
        lower_is_fail = leaf.op in (">=", ">")
        gap_en = pl.format(" ({} {})", gap, pl.lit("below" if lower_is_fail else "above"))
        gap_zh = pl.format("（{}{}）", pl.lit("低" if lower_is_fail else "高出"), gap)
        met_en = pl.format(f"{info['en']} {{}} {met_sym} {thr_s}{unit}", fmt(val))
        met_zh = pl.format(f"{info['zh']} {{}} {met_sym} {thr_s}{unit}", fmt(val))
        fail_en = pl.concat_str([pl.format(f"{info['en']} {{}} {fail_sym} {thr_s}{unit}", fmt(val)), gap_en])
        fail_zh = pl.concat_str([pl.format(f"{info['zh']} {{}} {fail_sym} {thr_s}{unit}", fmt(val)), gap_zh])
        unk_en, unk_zh, missing = self._unknown(leaf, thr, met_sym, thr_s, unit)
        en = pl.when(truth).then(met_en).when(~truth).then(fail_en).otherwise(unk_en)
        zh = pl.when(truth).then(met_zh).when(~truth).then(fail_zh).otherwise(unk_zh)
        return Compiled(truth, en, zh, missing)

    def _unknown(self, leaf: Compare, thr: float, met_sym: str, thr_s: str, unit: str) -> tuple[pl.Expr, pl.Expr, list[pl.Expr]]:
        info = METRIC_INFO[leaf.metric]
        if leaf.metric not in RATIOS:
            give = info["give"]
            en = pl.lit(f"{info['en']} unknown (needs {met_sym} {thr_s}{unit}; give {give})")
            zh = pl.lit(f"{info['zh']} 未知（条件为 {met_sym} {thr_s}{unit}；请提供 {give}）")
            return en, zh, [pl.when(pl.col(leaf.metric).is_null()).then(pl.lit(give))]
        num, den = RATIOS[leaf.metric]
        num_info, den_info = METRIC_INFO[num], METRIC_INFO[den]
        # metric = num / den:  metric >= t  <=>  den <= num / t  (and so on for the other operators)
        den_sym = {">=": "≤", ">": "<", "<": ">", "<=": "≥"}[leaf.op]
        flip = fmt(pl.col(num) / thr, 1)
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
            pl.when(pl.col(leaf.metric).is_null() & pl.col(den).is_null()).then(pl.lit(den_info["give"])),
            pl.when(pl.col(leaf.metric).is_null() & pl.col(num).is_null()).then(pl.lit(num_info["give"])),
        ]
        return en, zh, missing


def outcome(truth: pl.Expr) -> pl.Expr:
    return pl.when(truth).then(pl.lit("met")).when(~truth).then(pl.lit("not_met")).otherwise(pl.lit("unknown"))


def outcome_text(truth: pl.Expr, lang: str) -> pl.Expr:
    i = 0 if lang == "en" else 1
    return (pl.when(truth).then(pl.lit(OUTCOME["met"][i])).when(~truth).then(pl.lit(OUTCOME["not_met"][i]))
            .otherwise(pl.lit(OUTCOME["unknown"][i])))
