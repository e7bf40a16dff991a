"""Foundry and OSAT due diligence (rules/foundry_due_diligence.yaml, 90 FR 5298): does the
presumption of 3A090.a apply to an order, which rebuttal is available, what must be attested, and
which red flags show.

One pipeline per order, each step adding findings:
1. scope       a logic IC at the 16/14 nm node or below, or non-planar, is an "applicable advanced
               logic IC"; anything else is outside the rule
2. threshold   the transistor line for the completion year and HBM status (dated parameters; the
               UNCONFIRMED values flagged)
3. rebuttals   A: approved / authorised designer with its TPP/PD attestation; B: packaged outside
               Macau/D:5 with the fabricator's transistor-count attestation below the line; C: an
               approved OSAT with the same attestation
4. verdict     rebutted, presumption applies (treat as 3A090.a), not applicable, or indeterminate
5. red flags   more than 50 billion transistors with HBM

Approved / authorised designer and approved OSAT lists are the user's data: give the status in the
order (`designer_status`, `osat_status`) or the lists as files (`approved_names`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from aiexport.cases import Answer, Field, begin, billions, read_case_file, resolver, validate_cases
from aiexport.countries import canonical, scope_set
from aiexport.rulebook import Resolved, Rulebook, load_rulebook, parse_date

INSTRUMENT = "foundry_due_diligence"

FIELDS: dict[str, Field] = {
    "id": Field("id", "a unique identifier for the order"),
    "name": Field("text", "the die or product name"),
    "process_nm": Field("number", "the process node in nm, e.g. 5", exclusive_minimum=True),
    "non_planar": Field("bool", "yes if the logic die uses non-planar transistors (FinFET, GAA), no if planar"),
    "logic": Field("bool", "yes if the die is a logic IC, no if memory, analog or other"),
    "designer": Field("text", "the IC designer's name"),
    "designer_status": Field("choice", "approved, authorized or none (approved IC designer, Supp. No. 6 to part 740; "
                             "authorised IC designer; or neither)", choices=("approved", "authorized", "authorised", "none")),
    "osat": Field("text", "the OSAT (packaging house) name, if one packages the die"),
    "osat_status": Field("choice", "approved or none (approved OSAT, Supp. No. 7 to part 740)", choices=("approved", "none")),
    "packaging_country": Field("country", "where the die is packaged, an ISO 3166 alpha-2 code such as TW"),
    "transistors_billion": Field("number", "the final packaged IC's aggregated approximated transistor count, in billions, e.g. 25"),
    "hbm": Field("bool", "yes if the packaged IC contains high-bandwidth memory, no if not"),
    "date": Field("date", "the date the transaction is completed, YYYY-MM-DD (default --as-of)"),
}
VERDICTS = ("not_applicable", "presumption_rebutted", "presumption_applies", "indeterminate")
NAMES_FIELDS = {"name": Field("text", "a designer's or OSAT's name as it appears in the orders")}


def read_names(path: str | Path) -> frozenset[str]:
    """An approved-list file (CSV with a `name` column, or JSON/YAML rows with `name`), as normalised names."""
    rows = read_case_file(path, {"id": Field("id", "an optional identifier"), **NAMES_FIELDS}, "a CSV list with a name column")
    return frozenset(_norm(r["name"]) for r in rows if r.get("name"))


def _norm(name: str) -> str:
    return " ".join(name.casefold().split())


def with_lists(case: Mapping[str, Any], designers: frozenset[str] | None, osats: frozenset[str] | None) -> dict[str, Any]:
    """The order with `designer_status` / `osat_status` taken from the approved lists where the order gives none."""
    out = dict(case)
    if out.get("designer_status") is None and designers is not None and out.get("designer"):
        out["designer_status"] = "approved" if _norm(out["designer"]) in designers else "none"
    if out.get("osat_status") is None and osats is not None and out.get("osat"):
        out["osat_status"] = "approved" if _norm(out["osat"]) in osats else "none"
    if out.get("designer_status") == "authorised":
        out["designer_status"] = "authorized"
    return out


def assess_case(case: Mapping[str, Any], rulebook: Rulebook, as_of: date, resolve: Callable[[date], Resolved] | None = None) -> dict[str, Any]:
    day, resolved, inst, ans = begin(case, rulebook, as_of, resolve, INSTRUMENT)
    out: dict[str, Any] = {"id": case["id"], "name": case.get("name"), "date": day.isoformat(), "verdict": "indeterminate",
                           "control": None, "rebuttals": [], "must_attest": [], "red_flags": [], "transistor_threshold": None,
                           "transistor_threshold_basis": None}
    if inst.version is None:
        d = inst.definitions[0]
        ans.add_text(f"{INSTRUMENT}.{d.id}", d.fact, d.citation.text(), d.text_en.format(date=day), d.text_zh.format(date=day))
        out["verdict"] = "not_applicable"
        return ans.finish(out, resolved)
    count = case.get("transistors_billion")
    count = None if count is None else count * 1e9
    _red_flags(ans, out, inst, count, case.get("hbm"))
    applicable = _scope(ans, case, inst)
    if applicable is False:
        out["verdict"] = "not_applicable"
        return ans.finish(out, resolved)
    threshold = _threshold(ans, out, inst, case.get("hbm"), count, day)
    below = None if count is None or threshold is None else count < threshold
    packaged = case.get("packaging_country")
    excluded = scope_set(inst.version.scopes["packaging_excluded"], resolved)
    outside = None if packaged is None else canonical(packaged, resolved) not in excluded
    basis = out["transistor_threshold_basis"] or ""
    basis_zh = basis.replace("with HBM", "含 HBM").replace("without HBM", "不含 HBM").replace("any IC", "任何集成电路")
    fill = {"count": billions(count) if count is not None else "", "threshold": billions(threshold) if threshold else "",
            "basis": basis, "basis_zh": basis_zh}
    options: dict[str, bool | None] = {}
    status = case.get("designer_status")
    options["A"] = None if status is None else status in ("approved", "authorized")
    options["B"] = None if outside is None or below is None else (outside and below)
    osat = case.get("osat_status")
    options["C"] = False if osat == "none" or (osat is None and not case.get("osat")) else (
        None if osat is None or below is None else (osat == "approved" and below))
    if applicable is None:
        out["verdict"] = "indeterminate"
        return ans.finish(out, resolved)
    if options["A"]:
        ans.add(inst, "rebuttal_a", "rebuttal", designer=case.get("designer") or "(named in the order)")
        out["rebuttals"].append("A")
        out["must_attest"].append({"rebuttal": "A", "by": "designer",
                                   "attests": "TPP and performance density (with datasheet) showing the IC is not 3A090.a"})
    if outside is False:
        ans.add(inst, "packaged_in_d5m", "info", country=packaged)
    if below is False:
        ans.add(inst, "over_threshold", "info", **fill)
    if options["B"]:
        ans.add(inst, "rebuttal_b", "rebuttal", country=packaged, **fill)
        out["rebuttals"].append("B")
        out["must_attest"].append({"rebuttal": "B", "by": "front-end fabricator",
                                   "attests": f"aggregated approximated transistor count of the final packaged IC below {fill['threshold']}"})
    if options["C"]:
        ans.add(inst, "rebuttal_c", "rebuttal", osat=case.get("osat") or "(named in the order)", **fill)
        out["rebuttals"].append("C")
        out["must_attest"].append({"rebuttal": "C", "by": "approved OSAT",
                                   "attests": f"aggregated approximated transistor count of the packaged IC below {fill['threshold']}"})
    if out["rebuttals"]:
        ans.add(inst, "reliance_limit")
        out["verdict"] = "presumption_rebutted"
    elif any(v is None for v in options.values()):
        if options["A"] is None:
            ans.missing.append("designer_status: an approved or authorised designer's attestation would rebut the presumption (rebuttal A)")
        if options["B"] is None or options["C"] is None:
            if packaged is None and options["B"] is None:
                ans.missing.append("packaging_country: packaging outside Macau/D:5 opens rebuttal B")
            if count is None:
                ans.missing.append("transistors_billion: the packaged transistor count decides rebuttals B and C")
            elif threshold is None:
                ans.missing.append("hbm: the transistor line depends on whether the packaged IC contains HBM")
            if options["C"] is None and osat is None and options["B"] is not True:
                ans.missing.append("osat_status: an approved OSAT's attestation opens rebuttal C")
        out["verdict"] = "indeterminate"
    else:
        ans.add(inst, "presumption_stands", "license_required")
        out["verdict"] = "presumption_applies"
        out["control"] = "3A090.a"
    ans.add(inst, "scope_limit")
    return ans.finish(out, resolved)


def _scope(ans: Answer, case: Mapping[str, Any], inst: Any) -> bool | None:
    """True: an applicable advanced logic IC; False: outside the rule; None: unknown (missing named)."""
    node = inst.param("advanced_node_nm").value
    nm, non_planar, logic = case.get("process_nm"), case.get("non_planar"), case.get("logic")
    advanced: bool | None
    if (nm is not None and nm <= node) or non_planar is True:
        advanced = True
    elif nm is not None and non_planar is False:
        advanced = False
    else:
        advanced = None
    if logic is False:
        ans.add(inst, "not_logic", "not_applicable")
        return False
    if advanced is False:
        ans.add(inst, "not_advanced", "not_applicable", node=f"{nm:g}")
        return False
    if advanced is None:
        ans.missing.append("process_nm" if nm is None else "non_planar: a node above 16/14 nm is in scope only if its transistors are non-planar")
    if logic is None:
        ans.missing.append("logic: the presumption reaches logic ICs only")
    if advanced is None or logic is None:
        return None
    why = (f"{nm:g} nm, at or below the 16/14 nm node" if nm is not None and nm <= node else "non-planar transistors")
    why_zh = (f"{nm:g} 纳米，不高于 16/14 纳米节点" if nm is not None and nm <= node else "非平面晶体管")
    ans.add(inst, "advanced", "presumption", why=why, why_zh=why_zh)
    return True


def _threshold(ans: Answer, out: dict[str, Any], inst: Any, hbm: bool | None, count: float | None, day: date) -> float | None:
    with_hbm = inst.param("threshold_hbm")
    no_hbm = inst.param("threshold_no_hbm")
    if hbm is None:
        low = min(with_hbm.value, no_hbm.value)
        if count is not None and count < low:  # below either line: HBM does not matter
            chosen, basis = (with_hbm, "any IC") if with_hbm.value <= no_hbm.value else (no_hbm, f"without HBM, {day.year}")
        else:
            return None
    elif hbm:
        chosen, basis = with_hbm, "with HBM"
    else:
        chosen, basis = no_hbm, f"without HBM, {day.year}"
    out["transistor_threshold"] = chosen.value
    out["transistor_threshold_basis"] = basis
    ans.uses(f"{INSTRUMENT}.{chosen.name}", chosen.fact)
    if chosen.fact == "UNCONFIRMED":
        ans.add(inst, "threshold_unconfirmed", "flag", year=day.year, threshold=billions(chosen.value))
    return chosen.value


def _red_flags(ans: Answer, out: dict[str, Any], inst: Any, count: float | None, hbm: bool | None) -> None:
    limit = inst.param("red_flag_transistors").value
    if count is not None and count > limit and hbm is True:
        ans.add(inst, "red_flag", "flag", count=billions(count), limit=billions(limit))
        out["red_flags"].append(f"more than {billions(limit)} transistors with HBM")


def assess_cases(cases: Iterable[Mapping[str, Any]], rulebook: Rulebook, as_of: date, designers: frozenset[str] | None = None,
                 osats: frozenset[str] | None = None) -> list[dict[str, Any]]:
    resolve = resolver(rulebook)
    return [assess_case(with_lists(c, designers, osats), rulebook, as_of, resolve) for c in cases]


def foundry(orders: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, as_of: date | str | None = None, scenario: str | None = None,
            approved_designers: Iterable[str] | None = None, approved_osats: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Python API: foundry due-diligence answers for one order (a dict of the FIELDS) or many, in input order."""
    rows = [orders] if isinstance(orders, Mapping) else list(orders)
    day = parse_date(as_of) if as_of is not None else date.today()
    designers = frozenset(_norm(n) for n in approved_designers) if approved_designers is not None else None
    osats = frozenset(_norm(n) for n in approved_osats) if approved_osats is not None else None
    return assess_cases(validate_cases(rows, FIELDS, "foundry"), load_rulebook(scenario), day, designers, osats)
