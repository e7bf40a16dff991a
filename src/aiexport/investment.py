"""Outbound investment under 31 CFR part 850 (rules/outbound_investment_850.yaml): is a US person's
transaction prohibited, notifiable (with the filing deadline), excepted or not covered?

One pipeline per transaction, each step adding findings:
1. in force    part 850 from 2025-01-02
2. US person   the rule binds US persons
3. country     the target (or its 50 % owner) linked to a country of concern (PRC incl. HK and Macau);
               a COINS Act country is flagged as pending Treasury's regulations
4. kind        equity, contingent equity, convertible debt, greenfield / brownfield, joint venture, LP
               interest are covered; plain debt is not
5. activities  semiconductors (EDA, equipment, design, fabrication, packaging, supercomputers), quantum
               and AI (end uses, applications, training compute): prohibited beats notifiable beats none;
               anything unknown that could change the answer makes it indeterminate, naming the field
6. exceptions  publicly traded securities, index funds, small LP interests, buyouts, intracompany,
               prior binding commitments ... make a covered transaction excepted
7. deadline    a notifiable transaction is filed within N days after completion
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from aiexport.cases import Answer, Field, begin, resolver, sci, validate_cases
from aiexport.countries import scope_set
from aiexport.rulebook import Resolved, Rulebook, load_rulebook, parse_date

INSTRUMENT = "outbound_investment_850"

KINDS = ("equity", "contingent_equity", "convertible_debt", "greenfield", "brownfield", "joint_venture", "lp_interest", "debt", "other")
COVERED_KINDS = KINDS[:7]
KIND_ZH = {"equity": "股权投资", "contingent_equity": "或有股权", "convertible_debt": "可转换债", "greenfield": "绿地投资",
           "brownfield": "褐地投资", "joint_venture": "合资", "lp_interest": "有限合伙权益", "debt": "普通债务融资", "other": "其他交易"}
ACTIVITIES = ("ai_development", "ic_design", "ic_fabrication", "ic_packaging", "advanced_packaging", "eda_software", "fab_equipment",
              "supercomputer", "quantum_computer", "quantum_sensing", "quantum_networking", "other")
MIS = ("military", "government_intelligence", "mass_surveillance")
APPLICATIONS = ("cybersecurity", "digital_forensics", "penetration_testing", "robotic_control")
END_USES = MIS + APPLICATIONS + ("none",)
END_USE_ZH = {"military": "军事", "government_intelligence": "政府情报", "mass_surveillance": "大规模监控", "cybersecurity": "网络安全",
              "digital_forensics": "数字取证工具", "penetration_testing": "渗透测试工具", "robotic_control": "机器人系统控制"}
EXCEPTIONS = ("publicly_traded", "index_fund", "lp_small", "buyout", "intracompany", "prior_commitment", "syndicated_debt",
              "employee_compensation", "national_interest")
EXCEPTION_ZH = {"publicly_traded": "公开交易证券", "index_fund": "指数基金或类似基金", "lp_small": "小额有限合伙权益", "buyout": "收购关注国家全部持股",
                "intracompany": "集团内部交易", "prior_commitment": "2025-01-02 前的有约束力承诺", "syndicated_debt": "银团贷款",
                "employee_compensation": "员工薪酬", "national_interest": "国家利益豁免"}

FIELDS: dict[str, Field] = {
    "id": Field("id", "a unique identifier for the transaction"),
    "name": Field("text", "the target company's name"),
    "investor_us_person": Field("bool", "yes if the investor is a US person"),
    "transaction": Field("choice", f"the kind of transaction: {', '.join(KINDS)}", choices=KINDS),
    "target_country": Field("country", "where the target is organised or headquartered, ISO 3166 alpha-2 such as CN, HK"),
    "target_owner_country": Field("country", "where the target's 50 %-or-more owner is from, ISO alpha-2 (if any)"),
    "activities": Field("choices", f"the target's activities, separated by ';': {', '.join(ACTIVITIES)}", choices=ACTIVITIES),
    "process_nm": Field("number", "the node of the ICs the target designs or fabricates, in nm, e.g. 28", exclusive_minimum=True),
    "non_planar": Field("bool", "yes if those logic ICs use non-planar transistors"),
    "ic_kind": Field("choice", "logic, nand or dram (what the target fabricates)", choices=("logic", "nand", "dram")),
    "nand_layers": Field("number", "NAND layers, e.g. 128"),
    "dram_half_pitch_nm": Field("number", "DRAM half-pitch in nm, e.g. 18", exclusive_minimum=True),
    "ic_meets_3a090": Field("bool", "yes if the ICs the target designs meet or exceed the 3A090 / 4A090 parameters"),
    "ai_training_ops": Field("number", "operations used to train the target's AI system, e.g. 3.3e24"),
    "ai_bio_data": Field("bool", "yes if that AI system was trained primarily on biological sequence data"),
    "end_uses": Field("choices", f"end uses or applications of the AI / quantum system, separated by ';': {', '.join(END_USES)}",
                      choices=END_USES),
    "end_use_exclusive": Field("bool", "yes if the AI system is designed to be used exclusively for (or intended for) those "
                               "military / intelligence / surveillance end uses"),
    "exceptions": Field("choices", f"exceptions that apply, separated by ';': {', '.join(EXCEPTIONS)}", choices=EXCEPTIONS),
    "lp_amount_usd": Field("number", "the LP interest committed, in US dollars, e.g. 1500000"),
    "commitment_date": Field("date", "date of the binding commitment, YYYY-MM-DD"),
    "date": Field("date", "completion date of the transaction, YYYY-MM-DD (default --as-of)"),
}
VERDICTS = ("prohibited", "notifiable", "excepted", "not_covered", "indeterminate")


class _Verdicts:
    """The categories the activities reach: prohibited, notifiable, none; and what is missing."""

    def __init__(self) -> None:
        self.prohibited = False
        self.notifiable = False
        self.unknown: list[str] = []


def _activities(ans: Answer, case: Mapping[str, Any], inst: Any) -> _Verdicts:
    v = _Verdicts()
    acts = case.get("activities") or []
    p = inst.param
    if not acts:
        v.unknown.append(f"activities: what the target does decides the answer ({', '.join(ACTIVITIES)})")
    ends = case.get("end_uses") or []
    mis = [e for e in ends if e in MIS]
    if "eda_software" in acts:
        ans.add(inst, "prohibited_eda", "prohibited")
        v.prohibited = True
    if "fab_equipment" in acts:
        ans.add(inst, "prohibited_equipment", "prohibited")
        v.prohibited = True
    if "ic_design" in acts:
        meets = case.get("ic_meets_3a090")
        nm = case.get("process_nm")
        note = f" (designs at {nm:g} nm)" if nm else ""
        note_zh = f"（设计节点 {nm:g} 纳米）" if nm else ""
        if meets is True:
            ans.add(inst, "prohibited_design", "prohibited", node_note=note, node_note_zh=note_zh)
            v.prohibited = True
        elif meets is False:
            ans.add(inst, "notifiable_ic", "notifiable", what="designs", what_zh="设计")
            v.notifiable = True
        else:
            v.unknown.append("ic_meets_3a090: designing ICs at or above the 3A090 parameters is prohibited, other IC design notifiable")
    if "ic_fabrication" in acts:
        _fabrication(ans, case, inst, v)
    if "ic_packaging" in acts:
        ans.add(inst, "notifiable_ic", "notifiable", what="packages", what_zh="封装")
        v.notifiable = True
    if "advanced_packaging" in acts:
        ans.add(inst, "prohibited_packaging", "prohibited")
        v.prohibited = True
    if "supercomputer" in acts:
        ans.add(inst, "prohibited_supercomputer", "prohibited")
        v.prohibited = True
    if "quantum_computer" in acts:
        ans.add(inst, "prohibited_quantum", "prohibited", what="quantum computers or their critical components", what_zh="量子计算机或其关键部件")
        v.prohibited = True
    for act, en, zh in (("quantum_sensing", "quantum sensing platforms for military, intelligence or surveillance end uses", "用于军事、情报或监控最终用途的量子传感平台"),
                        ("quantum_networking", "quantum networking or communication systems for military, intelligence or surveillance end uses",
                         "用于军事、情报或监控最终用途的量子网络或通信系统")):
        if act in acts:
            if mis:
                ans.add(inst, "prohibited_quantum", "prohibited", what=en, what_zh=zh)
                v.prohibited = True
            elif not ends:
                v.unknown.append(f"end_uses: {act} is prohibited only for military, intelligence or surveillance end uses")
    if "ai_development" in acts:
        _ai(ans, case, inst, v, ends, mis, p)
    return v


def _fabrication(ans: Answer, case: Mapping[str, Any], inst: Any, v: _Verdicts) -> None:
    kind = case.get("ic_kind") or "logic"
    if kind == "logic":
        nm, non_planar, node = case.get("process_nm"), case.get("non_planar"), inst.param("advanced_logic_nm").value
        if (nm is not None and nm <= node) or non_planar is True:
            why = f"{nm:g} nm" if nm is not None and nm <= node else "non-planar"
            ans.add(inst, "prohibited_fabrication", "prohibited", what=f"logic ICs at the 16/14 nm node or below, or non-planar ({why})",
                    what_zh=f"16/14 纳米或更先进节点、或非平面晶体管的逻辑集成电路（{why}）")
            v.prohibited = True
        elif nm is not None and non_planar is False:
            ans.add(inst, "notifiable_ic", "notifiable", what=f"fabricates ({nm:g} nm planar logic)", what_zh=f"制造（{nm:g} 纳米平面逻辑）")
            v.notifiable = True
        else:
            v.unknown.append("process_nm" if nm is None else "non_planar: logic fabrication above 16/14 nm is prohibited only if non-planar")
        return
    if kind == "nand":
        layers, limit = case.get("nand_layers"), inst.param("nand_layers").value
        if layers is None:
            v.unknown.append("nand_layers: NAND with 128 layers or more is prohibited, other NAND notifiable")
        elif layers >= limit:
            ans.add(inst, "prohibited_fabrication", "prohibited", what=f"NAND memory with {layers:g} layers (>= {limit:g})",
                    what_zh=f"{layers:g} 层 NAND 存储器（≥ {limit:g}）")
            v.prohibited = True
        else:
            ans.add(inst, "notifiable_ic", "notifiable", what=f"fabricates ({layers:g}-layer NAND)", what_zh=f"制造（{layers:g} 层 NAND）")
            v.notifiable = True
        return
    pitch, limit = case.get("dram_half_pitch_nm"), inst.param("dram_half_pitch_nm").value
    if pitch is None:
        v.unknown.append("dram_half_pitch_nm: DRAM at 18 nm half-pitch or less is prohibited, other DRAM notifiable")
    elif pitch <= limit:
        ans.add(inst, "prohibited_fabrication", "prohibited", what=f"DRAM at {pitch:g} nm half-pitch (<= {limit:g} nm)",
                what_zh=f"半间距 {pitch:g} 纳米的 DRAM（≤ {limit:g} 纳米）")
        v.prohibited = True
    else:
        ans.add(inst, "notifiable_ic", "notifiable", what=f"fabricates ({pitch:g} nm half-pitch DRAM)", what_zh=f"制造（半间距 {pitch:g} 纳米 DRAM）")
        v.notifiable = True


def _ai(ans: Answer, case: Mapping[str, Any], inst: Any, v: _Verdicts, ends: list[str], mis: list[str], p: Any) -> None:
    if mis:
        names = ", ".join(e.replace("_", " ") for e in mis)
        names_zh = "、".join(END_USE_ZH[e] for e in mis)
        excl = case.get("end_use_exclusive")
        if excl is True:
            ans.add(inst, "prohibited_ai_end_use", "prohibited", end_use=names, end_use_zh=names_zh)
            v.prohibited = True
        elif excl is False:
            ans.add(inst, "notifiable_ai_end_use", "notifiable", end_use=names, end_use_zh=names_zh)
            v.notifiable = True
        else:
            v.unknown.append("end_use_exclusive: an AI system designed exclusively for (or intended for) these end uses is prohibited, "
                             "one merely designed for them notifiable")
    for app in (e for e in ends if e in APPLICATIONS):
        ans.add(inst, "notifiable_ai_application", "notifiable", application=app.replace("_", " "), application_zh=END_USE_ZH[app])
        v.notifiable = True
    ops = case.get("ai_training_ops")
    notif, prohib, bio_line = p("notifiable_ai_ops"), p("prohibited_ai_ops"), p("prohibited_ai_bio_ops")
    if ops is None:
        if not ends or ends == ["none"]:
            v.unknown.append("ai_training_ops: training compute above 10^23 operations makes AI development notifiable")
        return
    bio = case.get("ai_bio_data")
    if ops > prohib.value:
        ans.add(inst, "prohibited_ai_ops", "prohibited", ops=sci(ops), limit=sci(prohib.value), bio="", bio_zh="")
        ans.uses(f"{INSTRUMENT}.prohibited_ai_ops", prohib.fact)
        v.prohibited = True
        return
    if ops > bio_line.value and bio is True:
        ans.add(inst, "prohibited_ai_ops", "prohibited", ops=sci(ops), limit=sci(bio_line.value),
                bio=" with primarily biological sequence data", bio_zh="（主要以生物序列数据训练）")
        ans.uses(f"{INSTRUMENT}.prohibited_ai_bio_ops", bio_line.fact)
        v.prohibited = True
        return
    if ops > bio_line.value and bio is None:
        v.unknown.append("ai_bio_data: above 10^24 operations, an AI system trained primarily on biological sequence data is prohibited")
    if ops > notif.value:
        ans.add(inst, "notifiable_ai_ops", "notifiable", ops=sci(ops), limit=sci(notif.value))
        v.notifiable = True
        if prohib.fact == "UNCONFIRMED":
            ans.add(inst, "prohibited_line_unconfirmed", "flag", limit=sci(prohib.value), ops=sci(ops))
            ans.uses(f"{INSTRUMENT}.prohibited_ai_ops", prohib.fact)
    elif not (set(ends) & set(MIS + APPLICATIONS)):
        ans.add(inst, "ai_below", "not_covered", ops=sci(ops), limit=sci(notif.value))


def assess_case(case: Mapping[str, Any], rulebook: Rulebook, as_of: date, resolve: Callable[[date], Resolved] | None = None) -> dict[str, Any]:
    day, resolved, inst, ans = begin(case, rulebook, as_of, resolve, INSTRUMENT)
    out: dict[str, Any] = {"id": case["id"], "name": case.get("name"), "date": day.isoformat(), "verdict": "indeterminate",
                           "category": None, "exception": None, "filing_deadline": None, "training_ops": case.get("ai_training_ops")}
    version = inst.version
    if version is None:
        d = inst.definitions[0]
        ans.add_text(f"{INSTRUMENT}.{d.id}", d.fact, d.citation.text(), d.text_en.format(date=day), d.text_zh.format(date=day))
        out["verdict"] = "not_covered"
        return ans.finish(out, resolved)
    # 2. US person, 3. country of concern, 4. kind: each can end the answer as not covered
    if case.get("investor_us_person") is False:
        ans.add(inst, "not_us_person", "not_covered")
        out["verdict"] = "not_covered"
        return ans.finish(out, resolved)
    concern = scope_set(version.scopes["country_of_concern"], resolved)
    coins = scope_set(version.scopes.get("coins_act_pending"), resolved)
    countries = [(who, c) for who, c in (("The target", case.get("target_country")), ("The target's 50 % owner", case.get("target_owner_country")))
                 if c]
    linked = next(((who, c) for who, c in countries if c in concern), None)
    missing_pre: list[str] = []
    if case.get("investor_us_person") is None:
        missing_pre.append("investor_us_person: part 850 binds US persons")
    if linked is not None:
        who, c = linked
        ans.add(inst, "country_of_concern", "info", who=who, who_zh="投资对象" if who == "The target" else "投资对象的 50% 以上股东", country=c)
    elif not countries:
        missing_pre.append("target_country: a target linked to a country of concern is a covered foreign person")
    else:
        for _who, c in countries:
            if c in coins:
                ans.add(inst, "coins_pending", "flag", country=c)
        ans.add(inst, "not_linked", "not_covered", country=", ".join(c for _, c in countries), date=day)
        out["verdict"] = "not_covered"
        return ans.finish(out, resolved)
    kind = case.get("transaction")
    if kind is None:
        missing_pre.append(f"transaction: the kind of transaction ({', '.join(KINDS)})")
    elif kind not in COVERED_KINDS:
        ans.add(inst, "not_covered_kind", "not_covered", kind=kind.replace("_", " "), kind_zh=KIND_ZH[kind])
        out["verdict"] = "not_covered"
        return ans.finish(out, resolved)
    else:
        ans.add(inst, "covered_kind", "info", kind=kind.replace("_", " "), kind_zh=KIND_ZH[kind])
    # 5. activities
    v = _activities(ans, case, inst)
    if v.prohibited:
        category: str | None = "prohibited"
    elif v.unknown:
        category = None
    elif v.notifiable:
        category = "notifiable"
    else:
        category = "none"
        if case.get("activities"):
            ans.add(inst, "no_activity", "not_covered")
    out["category"] = category if category in ("prohibited", "notifiable") else None
    ans.add(inst, "knowledge")
    if category == "none":
        out["verdict"] = "not_covered"
        return ans.finish(out, resolved)
    if missing_pre or category is None:
        ans.missing += missing_pre + (v.unknown if category is None else [])
        out["verdict"] = "indeterminate"
        return ans.finish(out, resolved)
    # 6. exceptions
    exceptions = list(case.get("exceptions") or [])
    lp_limit = inst.param("lp_interest_usd")
    if kind == "lp_interest" and case.get("lp_amount_usd") is not None and case["lp_amount_usd"] <= lp_limit.value and "lp_small" not in exceptions:
        exceptions.append("lp_small")
    start = rulebook.instruments[INSTRUMENT].versions[0].from_
    if case.get("commitment_date") is not None and case["commitment_date"] < start and "prior_commitment" not in exceptions:
        exceptions.append("prior_commitment")
    if exceptions:
        ans.add(inst, "excepted", "excepted", exception=", ".join(e.replace("_", " ") for e in exceptions),
                exception_zh="、".join(EXCEPTION_ZH[e] for e in exceptions), would_be=category,
                would_be_zh="被禁止" if category == "prohibited" else "须通报")
        if "lp_small" in exceptions:
            ans.uses(f"{INSTRUMENT}.lp_interest_usd", lp_limit.fact)
        out.update(verdict="excepted", exception=exceptions)
        return ans.finish(out, resolved)
    out["verdict"] = category
    # 7. deadline
    if category == "notifiable":
        days = inst.param("notification_days")
        deadline = day + timedelta(days=int(days.value)) if case.get("date") else None  # type: ignore[arg-type]
        text = f": by {deadline.isoformat()} (completion {day.isoformat()})" if deadline else " (give the completion `date` for the exact day)"
        text_zh = f"：即 {deadline.isoformat()} 前（完成日 {day.isoformat()}）" if deadline else "（请给出完成日 date 以计算确切日期）"
        ans.add(inst, "deadline", "notifiable", days=f"{days.value:g}", deadline=text, deadline_zh=text_zh)
        ans.uses(f"{INSTRUMENT}.notification_days", days.fact)
        out["filing_deadline"] = deadline.isoformat() if deadline else None
    return ans.finish(out, resolved)


def assess_cases(cases: Iterable[Mapping[str, Any]], rulebook: Rulebook, as_of: date) -> list[dict[str, Any]]:
    resolve = resolver(rulebook)
    return [assess_case(c, rulebook, as_of, resolve) for c in cases]


def invest(transactions: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, as_of: date | str | None = None,
           scenario: str | None = None) -> list[dict[str, Any]]:
    """Python API: part 850 answers for one transaction (a dict of the FIELDS) or many, in input order."""
    rows = [transactions] if isinstance(transactions, Mapping) else list(transactions)
    day = parse_date(as_of) if as_of is not None else date.today()
    return assess_cases(validate_cases(rows, FIELDS, "invest"), load_rulebook(scenario), day)
