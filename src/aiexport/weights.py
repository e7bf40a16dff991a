"""Model weights under ECCN 4E091 (rules/model_weights_4e091.yaml): training compute, the published
exclusions, and the licence the weights need for a destination and a recipient.

One pipeline per case, top to bottom, each step adding findings:
1. compute    training operations as given, or estimated (6 x parameters x tokens; accelerator-hours
              x dense peak rate from the chip catalog x utilisation), plus later training
2. control    published weights are out; below 10^26 is out (the >= / > question flagged near the
              line); the "most capable published model" floor (dated data) may exclude the rest
3. licence    the codified answer: US destination, D:5/Macau headquarters, Tier 3, Tier 1 with AIA,
              Tier 2 (tiers from rules/ai_diffusion_2025.yaml, groups via countries.py)
4. status     4E091 shares the Diffusion rule's status (codified, not enforced from 2025-05-13):
              applied only with `enforce_codified`, else both answers are shown
5. reporting  with the scenario rules/scenarios/reporting_2024.yaml: the proposed 89 FR 73612 reports
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from aiexport import catalog
from aiexport.cases import Answer, Field, begin, resolver, sci, validate_cases
from aiexport.countries import canonical, scope_members, scope_set
from aiexport.errors import InputError
from aiexport.rulebook import Resolved, Rulebook, load_rulebook, parse_date
from aiexport.specs import RATE_FIELDS

INSTRUMENT = "model_weights_4e091"
DIFFUSION = "ai_diffusion_2025"

FIELDS: dict[str, Field] = {
    "id": Field("id", "a unique identifier for the case"),
    "name": Field("text", "the model's name"),
    "training_ops": Field("number", "the training compute in operations (integer or floating point), e.g. 3e26", exclusive_minimum=True),
    "later_training_ops": Field("number", "operations of fine-tuning and other later training, added to the total, e.g. 1e24"),
    "parameters_billion": Field("number", "the total parameter count in billions, e.g. 671", exclusive_minimum=True),
    "active_parameters_billion": Field("number", "parameters active per token in billions (mixture of experts), e.g. 37",
                                       exclusive_minimum=True),
    "tokens_trillion": Field("number", "training tokens in trillions, e.g. 14.8", exclusive_minimum=True),
    "accelerator": Field("text", "the accelerator's catalog name, e.g. H800 (see `aiexport catalog list`)"),
    "accelerator_hours": Field("number", "total accelerator-hours of training (devices x hours), e.g. 2788000", exclusive_minimum=True),
    "precision": Field("choice", f"the training precision whose dense peak is used: {', '.join(RATE_FIELDS)} (default bf16)",
                       choices=RATE_FIELDS),
    "utilisation": Field("number", "the share of the dense peak actually used, a number in (0, 1], e.g. 0.4",
                         exclusive_minimum=True, maximum=1.0),
    "published": Field("bool", "yes if the weights are published (open weights), no if closed"),
    "destination_country": Field("country", "where the weights go, an ISO 3166 alpha-2 code such as AE"),
    "recipient_hq_country": Field("country", "where the recipient (or its ultimate parent) is headquartered, ISO alpha-2"),
    "date": Field("date", "the date of the export, YYYY-MM-DD (default --as-of)"),
    "cluster_ops_per_s": Field("number", "the training cluster's theoretical peak in operations per second (dense), e.g. 2e20"),
    "cluster_network_gbps": Field("number", "the cluster's data-centre networking in Gbit/s, e.g. 400"),
}
VERDICTS = ("not_controlled", "no_license_required", "license_exception", "license_required", "indeterminate")


def estimate(case: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    """The training-compute figures of a case: given, 6ND, hardware, and the total used (the given
    figure, else the higher estimate, plus later training), with the assumptions made."""
    inst = resolved[INSTRUMENT]
    out: dict[str, Any] = {"given": case.get("training_ops"), "six_nd": None, "hardware": None, "assumptions": {}}
    params = case.get("active_parameters_billion") or case.get("parameters_billion")
    if params and case.get("tokens_trillion"):
        out["six_nd"] = 6 * params * 1e9 * case["tokens_trillion"] * 1e12
        out["assumptions"]["parameters_used"] = "active" if case.get("active_parameters_billion") else "total"
    if case.get("accelerator_hours") and case.get("accelerator"):
        item = catalog.find(case["accelerator"])
        if item is None:
            raise InputError(f"case {case.get('id')}: field accelerator: {case['accelerator']!r} is not in the catalog; "
                             f"{catalog.suggest(case['accelerator'])}", field="accelerator")
        precision = case.get("precision") or "bf16"
        rate = item.get(precision) or ""
        if not rate:
            have = [p for p in RATE_FIELDS if item.get(p)]
            raise InputError(f"case {case.get('id')}: field precision: the catalog has no dense {precision} rate for {item['name']}; "
                             f"give one of {', '.join(have)}", field="precision")
        util_given = case.get("utilisation")
        util = util_given if util_given is not None else inst.param("default_utilisation").value
        assert util is not None
        peak = float(rate) * 1e12
        out["hardware"] = case["accelerator_hours"] * 3600 * peak * util
        out["assumptions"].update({"accelerator": item["name"], "precision": precision, "peak_ops_per_s": peak,
                                   "utilisation": util, "utilisation_assumed": util_given is None})
    base = out["given"] if out["given"] is not None else max((x for x in (out["six_nd"], out["hardware"]) if x is not None), default=None)
    later = case.get("later_training_ops") or 0.0
    out["total"] = None if base is None else base + later
    out["method"] = ("given" if out["given"] is not None else
                     "higher estimate" if out["six_nd"] is not None and out["hardware"] is not None else
                     "6ND estimate" if out["six_nd"] is not None else "hardware estimate" if out["hardware"] is not None else None)
    return out


def _method_findings(ans: Answer, case: Mapping[str, Any], fig: dict[str, Any], resolved: Resolved) -> None:
    inst = resolved[INSTRUMENT]
    if fig["given"] is not None:
        ans.add(inst, "method_given", ops=sci(fig["given"]))
    if fig["six_nd"] is not None:
        active = fig["assumptions"]["parameters_used"] == "active"
        params = case["active_parameters_billion"] if active else case["parameters_billion"]
        ans.add(inst, "method_6nd", params=f"{params:g}e9", tokens=f"{case['tokens_trillion']:g}e12", ops=sci(fig["six_nd"]),
                which="active" if active else "total", which_zh="激活" if active else "总")
    if fig["hardware"] is not None:
        a = fig["assumptions"]
        note = " (assumed: give `utilisation` to replace it)" if a["utilisation_assumed"] else " (given)"
        note_zh = "（假设值：可用 utilisation 字段替换）" if a["utilisation_assumed"] else "（给定）"
        ans.add(inst, "method_hardware", hours=f"{case['accelerator_hours']:,.0f}", rate=f"{a['peak_ops_per_s'] / 1e12:g} TFLOPS",
                precision=a["precision"].upper(), chip=a["accelerator"], util=f"{a['utilisation']:g}", util_note=note,
                util_note_zh=note_zh, ops=sci(fig["hardware"]))
        if a["utilisation_assumed"]:
            ans.uses(f"{INSTRUMENT}.default_utilisation", inst.param("default_utilisation").fact)
    if fig["total"] is not None:
        how = {"given": ("as given", "给定值"), "higher estimate": ("the higher of the two estimates, the cautious choice", "两项估算中较高者（审慎取值）"),
               "6ND estimate": ("6ND estimate", "6ND 估算"), "hardware estimate": ("hardware estimate", "硬件估算")}[fig["method"]]
        if case.get("later_training_ops"):
            how = (how[0] + f" + later training {sci(case['later_training_ops'])}", how[1] + f" + 后续训练 {sci(case['later_training_ops'])}")
        ans.add(inst, "method_total", ops=sci(fig["total"]), how=how[0], how_zh=how[1])


def _codified(ans: Answer, case: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    """The licence answer for 4E091 weights as codified: verdict, exception, policy, findings, missing."""
    inst = resolved[INSTRUMENT]
    sub = Answer(ans.id)
    dest, hq = case.get("destination_country"), case.get("recipient_hq_country")
    diff = resolved[DIFFUSION].version
    tier1 = scope_set(diff.provisions["tier1"].scope, resolved) if diff else frozenset()
    tier3 = scope_set(diff.provisions["tier3"].scope, resolved) if diff else frozenset()
    d5m = scope_members("headquarters", resolved)
    d = canonical(dest, resolved) if dest else None
    h = canonical(hq, resolved) if hq else None
    result: dict[str, Any] = {"verdict": "indeterminate", "license_exception": None, "review_policy": None}
    if d is None:
        sub.missing.append("destination_country: where the weights go decides the licence")
    elif d == "US":
        sub.add(inst, "to_us")
        result["verdict"] = "no_license_required"
    else:
        sub.add(inst, "worldwide")
        if h is not None and h in d5m:
            sub.add(inst, "hq_d5m", "license_required", hq=hq)
            result.update(verdict="license_required", review_policy="presumption_of_denial")
        elif d in tier3:
            sub.add(inst, "tier3", "license_required", dest=dest)
            result.update(verdict="license_required", review_policy="presumption_of_denial")
        elif d in tier1:
            if h is None:
                sub.missing.append("recipient_hq_country: License Exception AIA depends on where the recipient is headquartered")
            elif h in tier1 or h == "US":
                sub.add(inst, "aia", "license_exception", dest=dest, hq=hq)
                result.update(verdict="license_exception", license_exception="AIA")
            else:
                sub.add(inst, "tier1_no_aia", "license_required", dest=dest, hq=hq)
                result["verdict"] = "license_required"
        else:
            sub.add(inst, "tier2", "license_required", dest=dest)
            result.update(verdict="license_required", review_policy="presumption_of_denial")
    result["answer"] = sub
    return result


def assess_case(case: Mapping[str, Any], rulebook: Rulebook, as_of: date, enforce_codified: bool = False, resolve: Callable[[date], Resolved] | None = None) -> dict[str, Any]:
    """The answer to one validated case (a plain dict, JSON as it stands)."""
    day, resolved, inst, ans = begin(case, rulebook, as_of, resolve, INSTRUMENT)
    fig = estimate(case, resolved)
    if inst.version is not None:
        _method_findings(ans, case, fig, resolved)
    ops = fig["total"]
    out: dict[str, Any] = {"id": case["id"], "name": case.get("name"), "date": day.isoformat(), "verdict": "indeterminate",
                           "verdict_if_enforced": None, "control": None, "license_exception": None, "review_policy": None,
                           "license_exception_if_enforced": None, "review_policy_if_enforced": None,
                           "training_ops": ops, "training_ops_method": fig["method"],
                           "estimates": {"given": fig["given"], "six_nd": fig["six_nd"], "hardware": fig["hardware"]},
                           "assumptions": fig["assumptions"] or None}
    version = inst.version
    if version is None:
        d = inst.definitions[0]
        ans.add_text(f"{INSTRUMENT}.{d.id}", d.fact, d.citation.text(), d.text_en.format(date=day), d.text_zh.format(date=day))
        out["verdict"] = "not_controlled"
        return _finish(out, ans, resolved, enforce_codified, rulebook)
    threshold = inst.param("training_ops_threshold")
    margin = inst.param("boundary_margin").value or 0.0
    near = ops is not None and abs(ops / threshold.value - 1) <= margin  # type: ignore[operator]
    if near:
        ans.add(inst, "boundary", "flag", ops=sci(ops), margin=f"{margin:.0%}")  # type: ignore[arg-type]
    if case.get("published") is True:
        ans.add(inst, "published", "not_controlled")
        out["verdict"] = "not_controlled"
    elif ops is None:
        ans.missing.append("training_ops, or parameters_billion and tokens_trillion, or accelerator and accelerator_hours: "
                           "the training compute decides 4E091")
    elif ops < threshold.value:  # type: ignore[operator]
        ans.add(inst, "below", "not_controlled", ops=sci(ops), threshold=sci(threshold.value))  # type: ignore[arg-type]
        out["verdict"] = "not_controlled"
    elif ops == threshold.value:
        ans.missing.append("whether 4E091 reads '10^26 or more' or 'more than 10^26' (UNCONFIRMED): exactly 10^26 operations")
    elif case.get("published") is None:
        ans.add(inst, "above", "info", ops=sci(ops), threshold=sci(threshold.value))  # type: ignore[arg-type]
        ans.missing.append("published: published (open) weights are not subject to 4E091")
    else:
        ans.add(inst, "above", "info", ops=sci(ops), threshold=sci(threshold.value))  # type: ignore[arg-type]
        floor = max(((p.value, p) for n, p in inst.params.items() if n.startswith("published.")), default=None, key=lambda t: t[0])
        if floor is not None and floor[0] >= ops:
            p = floor[1]
            ans.add(inst, "floor_open", "indeterminate", floor_model=p.label_en, floor_model_zh=p.label_zh, floor_ops=sci(p.value))  # type: ignore[arg-type]
            ans.missing.append("a BIS determination whether a published model matches this one (the published-model exclusion)")
        else:
            if floor is not None:
                p = floor[1]
                ans.add(inst, "floor_clear", floor_model=p.label_en, floor_model_zh=p.label_zh, floor_ops=sci(p.value), date=day)  # type: ignore[arg-type]
                ans.uses(f"{INSTRUMENT}.{p.name}", p.fact)
            out["control"] = "4E091"
            codified = _codified(ans, case, resolved)
            enforced = enforce_codified or rulebook.version_status_on(version, day) == "in_force"
            sub: Answer = codified.pop("answer")
            if enforced:
                if enforce_codified and version.status != "in_force":
                    ans.add(inst, "enforced")
                ans.findings += sub.findings
                ans.missing += sub.missing
                ans.unconfirmed += [u for u in sub.unconfirmed if u not in ans.unconfirmed]
                out.update(codified)
            else:
                words = {"license_required": ("a licence is required", "须获许可"),
                         "license_exception": (f"License Exception {codified['license_exception']}", f"适用 {codified['license_exception']} 许可例外"),
                         "no_license_required": ("no licence is required", "无须许可"),
                         "indeterminate": ("indeterminate: " + "; ".join(sub.missing), "无法确定：" + "；".join(sub.missing))}
                en, zh = words[codified["verdict"]]
                ans.add(inst, "not_enforced", "info", if_enforced=en, if_enforced_zh=zh)
                out["verdict"] = "no_license_required"
                out["verdict_if_enforced"] = codified["verdict"]
                out["license_exception_if_enforced"] = codified["license_exception"]
                out["review_policy_if_enforced"] = codified["review_policy"]
            ans.add(inst, "cloud_duties")
    if out["verdict"] == "indeterminate" and not ans.missing:
        ans.missing.append("see the findings")
    _reporting(ans, case, ops, resolved)
    return _finish(out, ans, resolved, enforce_codified, rulebook)


def _reporting(ans: Answer, case: Mapping[str, Any], ops: float | None, resolved: Resolved) -> None:
    """The proposed 89 FR 73612 reports, when a scenario puts them in the rulebook."""
    inst = resolved[INSTRUMENT]
    records = {r.id: r for r in inst.records}
    if "reporting.training_ops" not in inst.params or not records:
        return
    hit = False
    limit = inst.param("reporting.training_ops").value
    if ops is not None and ops > limit and "reporting_2024.training_run" in records:  # type: ignore[operator]
        r = records["reporting_2024.training_run"]
        vals = {"ops": sci(ops), "limit": sci(limit)}  # type: ignore[arg-type]
        ans.add_text(r.id, r.fact, r.citation.text(), r.text_en.format(**vals), r.text_zh.format(**vals), "flag")
        hit = True
    c_ops, c_net = case.get("cluster_ops_per_s"), case.get("cluster_network_gbps")
    ops_lim, net_lim = inst.param("reporting.cluster_ops_per_s").value, inst.param("reporting.cluster_network_gbps").value
    if c_ops is not None and c_net is not None and c_ops > ops_lim and c_net > net_lim and "reporting_2024.cluster" in records:  # type: ignore[operator]
        r = records["reporting_2024.cluster"]
        vals = {"cluster_ops": sci(c_ops), "network": f"{c_net:g}", "ops_limit": sci(ops_lim), "net_limit": f"{net_lim:g}"}  # type: ignore[arg-type]
        ans.add_text(r.id, r.fact, r.citation.text(), r.text_en.format(**vals), r.text_zh.format(**vals), "flag")
        hit = True
    if not hit and "reporting_2024.below" in records:
        r = records["reporting_2024.below"]
        ans.add_text(r.id, r.fact, r.citation.text(), r.text_en, r.text_zh, "info")


def _finish(out: dict[str, Any], ans: Answer, resolved: Resolved, enforce: bool, rulebook: Rulebook) -> dict[str, Any]:
    out["enforce_codified"] = enforce
    return ans.finish(out, resolved)


def assess_cases(cases: Iterable[Mapping[str, Any]], rulebook: Rulebook, as_of: date, enforce_codified: bool = False) -> list[dict[str, Any]]:
    resolve = resolver(rulebook)
    return [assess_case(c, rulebook, as_of, enforce_codified, resolve) for c in cases]


def weights(cases: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, as_of: date | str | None = None,
            scenario: str | None = None, enforce_codified: bool = False) -> list[dict[str, Any]]:
    """Python API: 4E091 answers for one case (a dict of the FIELDS) or many, in input order."""
    rows = [cases] if isinstance(cases, Mapping) else list(cases)
    day = parse_date(as_of) if as_of is not None else date.today()
    return assess_cases(validate_cases(rows, FIELDS, "weights"), load_rulebook(scenario), day, enforce_codified)
