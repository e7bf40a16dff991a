"""TPP budgets of the 2025 AI Diffusion rule (90 FR 4544): the LPP consignee-year budget and the
Tier 2 country allocations, drawn down by shipments in TPP.

* **LPP** (15 CFR 740.29): an ultimate consignee may receive up to `lpp_tpp_per_year` TPP per
  calendar year (not in Tier 3). The budget is keyed by the consignee (normalised name and
  country) and the calendar year of the shipment.
* **Tier 2 allocation**: a Tier 2 country's cumulative allocation `tier2_allocation_tpp` from
  `tier2_allocation_first_year` to `tier2_allocation_last_year` (licensed shipments; LPP and VEU
  shipments do not count against it, so a draw names which budget it is under).
* Every number comes from `rules/ai_diffusion_2025.yaml` resolved on the shipment date; the TPP of
  an item from its classification (`chips.classify_frame` on the catalog's figures), times the
  quantity. A draw that would exceed is refused and says by how much.
* **Status**: the rule is codified but not enforced (from 2025-05-13). A budget only binds in the
  what-if (`enforce_codified=True`, `--enforce-codified`): without it the answer says whether the
  shipment would fit, says that the rule is not enforced, and draws nothing.
* Idempotent on the transaction id, atomic under concurrency (a conditional UPDATE, as licences).
  TPP is kept in milli-TPP integers, so sums are exact.
"""

from __future__ import annotations

import contextlib
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aiexport import catalog
from aiexport.countries import canonical, scope_set
from aiexport.db import ensure_schema
from aiexport.db.models import TppBudget, TppDraw, utcnow
from aiexport.errors import InputError
from aiexport.ledger.licences import _country, _text
from aiexport.ledger.session import current_user, read_scope, write_scope
from aiexport.rulebook import Resolved, Rulebook, load_rulebook

B = TppBudget.__table__
T = TppDraw.__table__
INSTRUMENT = "ai_diffusion_2025"
KINDS = {"lpp": "lpp_consignee_year", "allocation": "tier2_country"}


def _finding(resolved: Resolved, key: str) -> dict[str, Any]:
    inst = resolved[INSTRUMENT]
    assert inst.version is not None
    p = inst.version.provisions[key]
    return {"rule": f"{inst.version.id}: {key}", "citation": p.citation.text(), "text_en": p.text_en, "text_zh": p.text_zh,
            "fact": p.fact}


def _param(resolved: Resolved, name: str) -> dict[str, Any]:
    p = resolved[INSTRUMENT].param(name)
    return {"name": name, "value": p.value, "unit": p.unit, "since": p.since.isoformat(), "status": p.status, "fact": p.fact,
            "citation": p.citation.text()}


def item_tpp(item: str, rb: Rulebook, day: date) -> dict[str, Any]:
    """The classification of a catalog item on `day`: its TPP per unit and control."""
    from aiexport.chips import classify_frame
    from aiexport.specs import specs_from_python

    found = catalog.find(item)
    if found is None:
        raise InputError(f"--item: {item!r} is not in the catalog ({catalog.suggest(item)}); "
                         "give a catalog name, or the shipment's total TPP with --tpp", field="--item")
    row = classify_frame(specs_from_python([catalog.spec_of(found)], "catalog"), rb, day, "catalog", explain=False).to_dicts()[0]
    return {"item": found["name"], "item_id": found["id"], "control": row["control"], "tpp_per_unit": row["tpp"]}


def _counts(control: str, controls: list[str]) -> bool:
    return control in controls or (".z" in controls and control.endswith(".z"))


def _tier(country: str, resolved: Resolved) -> str:
    prov = resolved[INSTRUMENT].version.provisions  # type: ignore[union-attr]
    code = canonical(country, resolved)
    if code in scope_set(prov["tier1"].scope, resolved):
        return "tier1"
    if code in scope_set(prov["tier3"].scope, resolved):
        return "tier3"
    return "tier2"


def _key(kind: str, consignee: str | None, country: str) -> str:
    if kind == "lpp_consignee_year":
        assert consignee is not None
        return f"{country}:{' '.join(consignee.casefold().split())}"
    return country


def _period(kind: str, day: date, resolved: Resolved) -> tuple[str | None, str | None]:
    """(period, why there is none)."""
    if kind == "lpp_consignee_year":
        return str(day.year), None
    first = int(resolved[INSTRUMENT].param("tier2_allocation_first_year").value or 0)
    last = int(resolved[INSTRUMENT].param("tier2_allocation_last_year").value or 0)
    if not first <= day.year <= last:
        return None, f"the Tier 2 allocation covers {first}-{last}; the rule file gives none for {day.year}"
    return f"{first}-{last}", None


def _m(tpp: float) -> int:
    return round(tpp * 1000)


def _tpp(mtpp: int) -> float:
    return mtpp / 1000


def draw_tpp(txn: str, *, country: str, under: str = "lpp", consignee: str | None = None, item: str | None = None,
             quantity: int | None = None, tpp: float | None = None, on: date | None = None, enforce_codified: bool = False,
             scenario: str | Path | None = None, user: str | None = None, url: str | None = None) -> dict[str, Any]:
    """Draw a shipment's TPP on a budget (`under` "lpp": the consignee's calendar year; "allocation":
    the Tier 2 country's allocation). Returns the answer: ``granted``, ``drawn``, ``binding``,
    ``budget`` (limit, drawn, remaining), ``would_exceed_by_tpp``, ``reason``, ``findings``."""
    tid = _text(txn, "--txn")
    if tid is None:
        raise InputError("--txn: missing; every draw carries a transaction id (the same id draws once)", field="--txn")
    if under not in KINDS:
        raise InputError(f"--under: {under!r}; give lpp (the consignee's calendar-year LPP budget) or allocation "
                         "(the Tier 2 country allocation)", field="--under")
    kind = KINDS[under]
    cc = _country(country)
    who_consignee = _text(consignee, "--consignee")
    if kind == "lpp_consignee_year" and who_consignee is None:
        raise InputError("--consignee: missing; the LPP budget is per ultimate consignee: give its name", field="--consignee")
    if (item is None) == (tpp is None):
        raise InputError("give either --item NAME with --quantity, or the shipment's total TPP with --tpp (not both)", field="--item/--tpp")
    if item is not None and (quantity is None or isinstance(quantity, bool) or quantity <= 0):
        raise InputError(f"--quantity: {quantity!r}; give the number of units of {item} (a positive whole number)", field="--quantity")
    if tpp is not None and not (0 < tpp < float("inf")):
        raise InputError(f"--tpp: {tpp!r}; give the shipment's total TPP, a number > 0", field="--tpp")
    day = on or date.today()
    rb = load_rulebook(scenario)
    resolved = rb.resolve(day)
    who = current_user(user)
    inst = resolved[INSTRUMENT]
    base: dict[str, Any] = {"txn": tid, "date": day.isoformat(), "under": under, "consignee": who_consignee, "country": cc,
                            "binding": enforce_codified, "rulebook_hash": resolved.rulebook_hash, "replayed": False,
                            "drawn": False, "granted": None, "would_exceed_by_tpp": None, "budget": None, "findings": []}
    if inst.version is None:
        return {**base, "granted": True, "status": None,
                "reason": f"no AI Diffusion rule on {day.isoformat()}: no TPP budget applies (the rule took effect later)"}
    status = rb.version_status_on(inst.version, day)
    base["status"] = status
    if item is not None:
        cls = item_tpp(item, rb, day)
        assert quantity is not None
        total = cls["tpp_per_unit"] * quantity if cls["tpp_per_unit"] is not None else None
        base.update(item=cls["item"], control=cls["control"], quantity=quantity, tpp_per_unit=cls["tpp_per_unit"], tpp=total)
        controls = inst.version.provisions["worldwide"].controls
        if total is None:
            return {**base, "granted": None, "reason": f"the TPP of {cls['item']} is not known: give --tpp", "findings": []}
        if not _counts(cls["control"], controls):
            return {**base, "granted": True, "reason": f"{cls['item']} is {cls['control']} on {day.isoformat()}: the LPP limit and "
                    f"the Tier 2 allocations count {', '.join(controls)} items only", "findings": [_finding(resolved, "worldwide")]}
    else:
        total = float(tpp)  # type: ignore[arg-type]
        base.update(item=None, control=None, quantity=None, tpp_per_unit=None, tpp=total)
    findings = [_finding(resolved, "le_lpp" if kind == "lpp_consignee_year" else "rp_tier")]
    if status != "in_force":
        findings.insert(0, _finding(resolved, "not_enforced"))
    base["findings"] = findings
    tier = _tier(cc, resolved)
    base["tier"] = tier
    if kind == "lpp_consignee_year" and tier == "tier3":
        return {**base, "granted": False, "reason": f"LPP is not available for {cc} (Tier 3: Country Group D:5 or Macau)",
                "findings": [*findings, _finding(resolved, "tier3")]}
    if kind == "tier2_country" and tier != "tier2":
        return {**base, "granted": False, "reason": f"{cc} is in {tier.replace('tier', 'Tier ')}: only Tier 2 countries have an allocation",
                "findings": [*findings, _finding(resolved, tier)]}
    period, why = _period(kind, day, resolved)
    if period is None:
        return {**base, "granted": None, "reason": why}
    limit_name = "lpp_tpp_per_year" if kind == "lpp_consignee_year" else "tier2_allocation_tpp"
    limit = _m(resolved[INSTRUMENT].param(limit_name).value or 0)
    key = _key(kind, who_consignee, cc)
    budget = {"kind": kind, "key": key, "period": period, "limit_tpp": _tpp(limit), "limit": _param(resolved, limit_name)}
    engine = ensure_schema(url)
    what = "LPP limit" if kind == "lpp_consignee_year" else f"Tier 2 allocation of {cc}"
    not_enforced = (" The AI Diffusion rule is codified but not enforced (see the findings): this is the what-if; nothing was "
                    "drawn (use --enforce-codified to draw)." if not enforce_codified else
                    (" What-if: the AI Diffusion rule is codified but not enforced (see the findings); applied as if enforced."
                     if status != "in_force" else ""))

    def answer(granted: bool, drawn_m: int, did_draw: bool) -> dict[str, Any]:
        after = drawn_m + (_m(total) if not did_draw else 0)
        over = max(0, after - limit) if not granted else 0
        b = {**budget, "drawn_tpp": _tpp(drawn_m), "remaining_tpp": _tpp(max(0, limit - drawn_m))}
        if granted:
            head = (f"{'drew' if did_draw else 'would fit:'} {total:,.0f} TPP on the {what} ({period}): "
                    f"{_tpp(drawn_m if did_draw else after):,.0f} of {_tpp(limit):,.0f} TPP")
        else:
            head = (f"over the {what} ({period}): {_tpp(drawn_m):,.0f} TPP already drawn + {total:,.0f} TPP of this shipment "
                    f"= {_tpp(after):,.0f} TPP, which would exceed the limit of {_tpp(limit):,.0f} TPP by {_tpp(over):,.0f} TPP")
            if kind == "lpp_consignee_year":
                head += "; a licence is required (counted against the Tier 2 country allocation)"
        fnd = findings + ([_finding(resolved, "lpp_exhausted")] if not granted and kind == "lpp_consignee_year" else [])
        return {**base, "granted": granted, "drawn": did_draw, "budget": b, "would_exceed_by_tpp": _tpp(over) if not granted else None,
                "reason": head + "." + not_enforced, "findings": fnd}

    with read_scope(engine) as s:
        seen = _replay(s, tid)
        if seen is not None:
            return seen
        row = s.execute(sa.select(B.c.id, B.c.drawn_mtpp).where((B.c.kind == kind) & (B.c.key == key) & (B.c.period == period))).first()
    drawn_now = row.drawn_mtpp if row is not None else 0
    if not enforce_codified:
        return answer(drawn_now + _m(total) <= limit, drawn_now, False)
    if drawn_now + _m(total) > limit:
        return answer(False, drawn_now, False)
    with contextlib.suppress(sa.exc.IntegrityError), write_scope(engine) as s:
        s.execute(B.insert().values(kind=kind, key=key, period=period, drawn_mtpp=0))  # first draw on this budget
    try:
        with write_scope(engine) as s:
            bid = s.execute(sa.select(B.c.id).where((B.c.kind == kind) & (B.c.key == key) & (B.c.period == period))).scalar_one()
            got = s.execute(B.update().where((B.c.id == bid) & (B.c.drawn_mtpp + _m(total) <= limit))
                            .values(drawn_mtpp=B.c.drawn_mtpp + _m(total)).returning(B.c.drawn_mtpp)).first()
            if got is None:
                refusal = answer(False, s.execute(sa.select(B.c.drawn_mtpp).where(B.c.id == bid)).scalar_one(), False)
                raise _Refused(refusal)
            result = answer(True, got[0], True)
            s.execute(T.insert().values(txn=tid, budget_id=bid, mtpp=_m(total), ship_date=day, user=who, created_at=utcnow(),
                                        result=result))
    except _Refused as r:
        return r.answer
    except sa.exc.IntegrityError:
        with read_scope(engine) as s:
            seen = _replay(s, tid)
        assert seen is not None
        return seen
    return result


class _Refused(Exception):
    def __init__(self, answer: dict[str, Any]):
        self.answer = answer


def _replay(s: Any, txn: str) -> dict[str, Any] | None:
    row = s.execute(sa.select(T.c.result).where(T.c.txn == txn)).first()
    if row is None:
        return None
    out = dict(row.result)
    out["replayed"] = True
    out["reason"] = f"transaction {txn} was already drawn: nothing changed; " + str(out.get("reason", ""))
    return out


def budgets(*, url: str | None = None) -> list[dict[str, Any]]:
    """Every budget drawn on: kind, key, period, TPP drawn, number of draws, and whether the draws
    add up to the running total."""
    engine = ensure_schema(url)
    with read_scope(engine) as s:
        sums = {bid: (int(m or 0), n) for bid, m, n in s.execute(
            sa.select(T.c.budget_id, sa.func.sum(T.c.mtpp), sa.func.count()).group_by(T.c.budget_id))}
        rows = s.execute(sa.select(B).order_by(B.c.kind, B.c.key, B.c.period)).all()
    return [{"kind": r.kind, "key": r.key, "period": r.period, "drawn_tpp": _tpp(r.drawn_mtpp), "draws": sums.get(r.id, (0, 0))[1],
             "ledger_consistent": sums.get(r.id, (0, 0))[0] == r.drawn_mtpp} for r in rows]
