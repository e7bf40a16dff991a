"""Human output: Rich renderings of classifications and timelines, in English or Chinese."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

VERDICT_STYLE = {"none": "green", "indeterminate": "yellow"}
OUTCOME_MARK = {"met": ("✔", "red"), "not_met": ("✘", "green"), "unknown": ("?", "yellow"), "info": ("·", "cyan")}
WORDS = {
    "en": {"as_of": "as of", "figures": "Figures", "rule": "Rule version", "hash": "rulebook sha256", "reasons": "Reasons",
           "unconfirmed": "UNCONFIRMED facts used (verify before relying on them)", "missing": "Would decide",
           "possible": "Possible controls", "exceptions": "Licence exceptions", "scenario": "Scenario (hypothetical)",
           "none": "not 3A090/4A090", "citation": "Citation", "from": "From", "to": "To", "control": "Control",
           "changes": "Classification changes", "paragraph": "Paragraph"},
    "zh": {"as_of": "日期", "figures": "参数", "rule": "规则版本", "hash": "规则库 sha256", "reasons": "理由",
           "unconfirmed": "所用事实中有未经核实（UNCONFIRMED）者，依赖前请核实", "missing": "可据以判定的信息",
           "possible": "可能的管制类别", "exceptions": "许可例外", "scenario": "情景（假设）",
           "none": "不属于 3A090/4A090", "citation": "出处", "from": "起", "to": "止", "control": "管制类别",
           "changes": "归类变化", "paragraph": "条款"},
}


def _num(x: Any) -> str:
    if x is None:
        return "—"
    return f"{x:,.2f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)


def classification_panel(r: dict[str, Any], lang: str = "en") -> Panel:
    w = WORDS[lang]
    control = r["control"]
    style = VERDICT_STYLE.get(control, "bold red")
    title = Text.assemble((f"{r.get('name') or r['id']}", "bold"), f"  ({r['id']})  {w['as_of']} {r['as_of']}  →  ",
                          (control.upper() if control in ("none", "indeterminate") else control, f"bold {style}"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row(w["figures"], f"TPP {_num(r['tpp'])} ({r.get('tpp_precision') or '—'}) · PD {_num(r['performance_density'])}"
                  + (f" · MBD {_num(r['memory_bandwidth_density'])} GB/s/mm²" if r.get("memory_bandwidth_density") is not None else ""))
    if r.get("paragraph"):
        facts.add_row(w["paragraph"], r["paragraph"])
    if r.get("possible_controls"):
        facts.add_row(w["possible"], ", ".join(r["possible_controls"]))
    if r.get("missing"):
        facts.add_row(w["missing"], ", ".join(r["missing"]))
    if r.get("license_exceptions"):
        facts.add_row(w["exceptions"], ", ".join(r["license_exceptions"]))
    facts.add_row(w["rule"], f"{r.get('rule_version') or '—'} ({r.get('rule_status')})")
    if r.get("scenario"):
        facts.add_row(w["scenario"], Text(r["scenario"], style="magenta"))
    facts.add_row(w["hash"], r["rulebook_hash"][:16])
    reasons = Table(show_header=True, header_style="bold", expand=True, box=None)
    reasons.add_column("", width=1)
    reasons.add_column(w["reasons"], ratio=3)
    reasons.add_column(w["citation"], ratio=1, style="dim")
    for rs in r["reasons"]:
        mark, mstyle = OUTCOME_MARK.get(rs["outcome"], ("·", "cyan"))
        text = rs["text_zh"] if lang == "zh" else rs["text_en"]
        fact = rs.get("fact")
        if fact == "UNCONFIRMED":
            text += "  [UNCONFIRMED]"
        reasons.add_row(Text(mark, style=mstyle), text, rs["citation"])
    parts: list[Any] = [facts, reasons]
    if r.get("unconfirmed"):
        parts.append(Text(f"{w['unconfirmed']}: {', '.join(r['unconfirmed'])}", style="yellow"))
    return Panel(Group(*parts), title=title, title_align="left", border_style=style)


def summary_table(rows: list[dict[str, Any]], lang: str = "en") -> Table:
    w = WORDS[lang]
    t = Table(show_header=True, header_style="bold")
    for col in ("id", "name", w["control"], w["paragraph"], "TPP", "PD", w["exceptions"], w["missing"]):
        t.add_column(col)
    for r in rows:
        style = VERDICT_STYLE.get(r["control"], "red")
        t.add_row(r["id"], r.get("name") or "", Text(r["control"], style=style), r.get("paragraph") or "", _num(r["tpp"]),
                  _num(r["performance_density"]), ", ".join(r["license_exceptions"]), ", ".join(r["missing"]))
    return t


def timeline_table(name: str, spans: list[dict[str, Any]], lang: str = "en") -> Table:
    w = WORDS[lang]
    t = Table(title=f"{name}: {w['changes']}", show_header=True, header_style="bold", title_justify="left")
    for col in (w["from"], w["to"], w["control"], w["paragraph"], w["rule"], "TPP", "PD"):
        t.add_column(col)
    for s in spans:
        style = VERDICT_STYLE.get(s["control"], "red")
        t.add_row(s["from"], s["to"] or "…", Text(s["control"], style=style), s.get("paragraph") or "", s.get("rule_version") or "—",
                  _num(s.get("tpp")), _num(s.get("performance_density")))
    return t


def console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, soft_wrap=False)


# --- licence determinations (aiexport check / impact) -------------------------------------------

CHECK_STYLE = {"not_subject_to_ear": "green", "no_license_required": "green", "license_exception": "cyan",
               "notification_required": "cyan", "indeterminate": "yellow", "license_required": "red", "prohibited": "bold red"}
EFFECT_MARK = {"license_required": ("●", "red"), "prohibited": ("✖", "bold red"), "indeterminate": ("?", "yellow"),
               "license_exception": ("◆", "cyan"), "notification_required": ("◆", "cyan"), "policy": ("§", "magenta"),
               "subject": ("·", "white"), "not_subject_to_ear": ("○", "green"), "condition": ("!", "yellow"), "info": ("·", "cyan")}
CHECK_WORDS = {
    "en": {"verdict": "Verdict", "exception": "Licence exception", "policy": "Review policy", "ship": "Earliest ship date",
           "findings": "Findings", "conditions": "Conditions", "missing": "Would decide", "destination": "Destination",
           "control": "Control", "hash": "rulebook sha256", "summary": "By verdict", "scenario": "Scenario (hypothetical)",
           "enforce": "Codified-but-not-enforced provisions applied (what-if)", "unconfirmed": "UNCONFIRMED facts used"},
    "zh": {"verdict": "结论", "exception": "许可例外", "policy": "审查政策", "ship": "最早发运日", "findings": "认定",
           "conditions": "须满足的条件", "missing": "可据以判定的信息", "destination": "目的地", "control": "管制类别",
           "hash": "规则库 sha256", "summary": "按结论统计", "scenario": "情景（假设）",
           "enforce": "已按“已编入法规但未执行”的条款评估（假设分析）", "unconfirmed": "所用未经核实（UNCONFIRMED）的事实"},
}
VERDICT_ZH = {"not_subject_to_ear": "不受 EAR 管辖", "no_license_required": "无须许可", "license_exception": "适用许可例外",
              "notification_required": "须事先通知", "indeterminate": "无法确定", "license_required": "须获许可", "prohibited": "禁止"}


def verdict_label(v: str, lang: str) -> str:
    return f"{VERDICT_ZH.get(v, v)} ({v})" if lang == "zh" else v


def determination_panel(r: dict[str, Any], lang: str = "en") -> Panel:
    w = CHECK_WORDS[lang]
    v = r["verdict"]
    style = CHECK_STYLE.get(v, "red")
    title = Text.assemble((str(r["id"]), "bold"), f"  {r['date']}  {r.get('item') or r.get('control') or ''} → {r.get('destination') or '?'}  ",
                          (verdict_label(v, lang), f"bold {style}"))
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    facts.add_row(w["control"], r.get("control") or "—")
    if r.get("license_exception"):
        facts.add_row(w["exception"], r["license_exception"])
    if r.get("review_policy"):
        facts.add_row(w["policy"], r["review_policy"])
    if r.get("earliest_ship_date"):
        facts.add_row(w["ship"], str(r["earliest_ship_date"]))
    if r.get("missing"):
        facts.add_row(w["missing"], ", ".join(r["missing"]))
    conditions = (r.get("conditions_zh") if lang == "zh" else None) or r.get("conditions")
    if conditions:
        facts.add_row(w["conditions"], "\n".join(conditions))
    if r.get("scenario"):
        facts.add_row(w["scenario"], Text(r["scenario"], style="magenta"))
    if r.get("enforce_codified"):
        facts.add_row("", Text(w["enforce"], style="magenta"))
    facts.add_row(w["hash"], r["rulebook_hash"][:16])
    table = Table(show_header=True, header_style="bold", expand=True, box=None)
    table.add_column("", width=1)
    table.add_column(w["findings"], ratio=3)
    table.add_column("", ratio=1, style="dim")
    for f in r["findings"]:
        mark, mstyle = EFFECT_MARK.get(f["effect"], ("·", "cyan"))
        text = f["text_zh"] if lang == "zh" else f["text_en"]
        if f.get("fact") == "UNCONFIRMED":
            text += "  [UNCONFIRMED]"
        table.add_row(Text(mark, style=mstyle), text, f"{f['rule']}\n{f['citation']}")
    parts: list[Any] = [facts, table]
    if r.get("unconfirmed"):
        parts.append(Text(f"{w['unconfirmed']}: {', '.join(r['unconfirmed'])}", style="yellow"))
    return Panel(Group(*parts), title=title, title_align="left", border_style=style)


def verdict_counts(counts: list[tuple[str, int]], lang: str = "en", title: str | None = None) -> Table:
    w = CHECK_WORDS[lang]
    t = Table(title=title or w["summary"], show_header=True, header_style="bold", title_justify="left")
    t.add_column(w["verdict"])
    t.add_column("n", justify="right")
    for v, n in counts:
        t.add_row(Text(verdict_label(v, lang), style=CHECK_STYLE.get(v, "red")), f"{n:,}")
    return t


def determination_table(rows: list[dict[str, Any]], lang: str = "en") -> Table:
    w = CHECK_WORDS[lang]
    t = Table(show_header=True, header_style="bold")
    for col in ("id", "date", "item", w["destination"], w["control"], w["verdict"], w["exception"], w["policy"], w["missing"]):
        t.add_column(col)
    for r in rows:
        v = r["verdict"]
        t.add_row(str(r["id"]), str(r["date"]), r.get("item") or "", r.get("destination") or "", r.get("control") or "",
                  Text(verdict_label(v, lang), style=CHECK_STYLE.get(v, "red")), r.get("license_exception") or "",
                  r.get("review_policy") or "", ", ".join(r.get("missing") or []))
    return t


def impact_table(rows: list[dict[str, Any]], lang: str = "en", control: bool = False) -> Table:
    """Lines a scenario changes: baseline and scenario verdict side by side (with control=True, the
    control class instead, for lines whose verdict stays)."""
    w = CHECK_WORDS[lang]
    t = Table(show_header=True, header_style="bold")
    for col in ("id", "date", "item", w["destination"], "baseline", "scenario"):
        t.add_column(col)
    for r in rows:
        if control:
            b, s = r["control_baseline"] or "—", r["control_scenario"] or "—"
            t.add_row(str(r["id"]), str(r["date"]), r.get("item") or "", r.get("destination") or "", b, s)
            continue
        b, s = r["verdict_baseline"], r["verdict_scenario"]
        t.add_row(str(r["id"]), str(r["date"]), r.get("item") or "", r.get("destination") or "",
                  Text(verdict_label(b, lang), style=CHECK_STYLE.get(b, "red")), Text(verdict_label(s, lang), style=CHECK_STYLE.get(s, "red")))
    return t


def impact_counts(rows: list[dict[str, Any]], lang: str = "en") -> Table:
    w = CHECK_WORDS[lang]
    t = Table(title=w["summary"], show_header=True, header_style="bold", title_justify="left")
    for col in (w["verdict"], "baseline", "scenario", "Δ"):
        t.add_column(col, justify="right" if col not in (w["verdict"],) else "left")
    for r in rows:
        v = r["verdict"]
        t.add_row(Text(verdict_label(v, lang), style=CHECK_STYLE.get(v, "red")), f"{r['baseline']:,}", f"{r['scenario']:,}",
                  f"{r['scenario'] - r['baseline']:+,}")
    return t
