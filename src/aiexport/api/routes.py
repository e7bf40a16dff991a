"""The API under ``/v1/``: thin calls of the engine, every answer put on the audit record with the
caller's identity (``kind`` as the CLI's ``--record`` names it: classify, check, screen, …)."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from aiexport.api import answers
from aiexport.api.auth import require
from aiexport.api.errors import ERROR_SCHEMA, ApiError
from aiexport.api.keys import Caller
from aiexport.api.recorder import record
from aiexport.errors import InputError
from aiexport.specs import FIELDS as SPEC_FIELDS
from aiexport.transactions import TX_FIELDS

router = APIRouter(prefix="/v1")

Viewer = Annotated[Caller, Depends(require("viewer"))]
Analyst = Annotated[Caller, Depends(require("analyst"))]
Admin = Annotated[Caller, Depends(require("admin"))]

AsOfQ = Annotated[str | None, Query(description="Date to answer for, YYYY-MM-DD (default: today).", max_length=40)]
ScenarioQ = Annotated[str | None, Query(description="A packaged scenario overlay (GET /v1/scenarios), e.g. h20_class.", max_length=100)]
EnforceQ = Annotated[bool, Query(description="What-if: apply codified-but-not-enforced provisions as if enforced.")]

Scalar = str | float | int | bool | None
ERRORS: dict[int | str, dict[str, Any]] = {s: {"description": d, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
                                            for s, d in ((400, "Bad input: one line naming the field and the fix"),
                                                         (401, "No or invalid API key"), (403, "The key's role is not enough"),
                                                         (413, "Body too large"), (422, "Not the JSON this endpoint takes"))}
OBJECT = {200: {"content": {"application/json": {"schema": {"type": "object"}}}}}

ClassifySpec = create_model(  # type: ignore[call-overload]
    "ClassifySpec", __config__=ConfigDict(extra="allow", json_schema_extra={"examples": [{"name": "H100"}]}),
    **{f: (Scalar, Field(None, description=h)) for f, (_, h) in SPEC_FIELDS.items()})
Transaction = create_model(  # type: ignore[call-overload]
    "Transaction", __config__=ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"id": "q1", "kind": "export", "item": "H100", "destination_country": "CN", "consignee_country": "CN", "end_use": "datacenter",
         "party_list_status": "none", "date": "2026-01-15"}]}),
    **{f: (Scalar, Field(None, description=h)) for f, (_, h) in TX_FIELDS.items()})


def _given(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)


def _json(line: bytes) -> Response:
    return Response(content=line, media_type="application/json")


async def _answer_one(kind: str, caller: Caller, request: dict[str, Any], compute: Any) -> Response:
    line = compute()
    out = json.loads(line)
    await record(kind, request, out, caller.identity)
    return _json(line)


# ---------------------------------------------------------------------------------------------- ask


@router.get("/whoami", tags=["service"], responses=ERRORS)
async def whoami(caller: Viewer) -> dict[str, Any]:
    """The caller's key: id, name, role and prefix (never the key)."""
    return {"key_id": caller.key_id, "name": caller.name, "role": caller.role, "prefix": caller.prefix}


@router.get("/catalog", tags=["ask"], responses=ERRORS)
async def catalog_list(caller: Viewer) -> list[dict[str, Any]]:
    """The built-in catalog: id, name, vendor and type of every item."""
    from aiexport import catalog

    return [{"id": it["id"], "name": it["name"], "vendor": it["vendor"], "item_type": it["item_type"]} for it in catalog.items()]


@router.get("/scenarios", tags=["ask"], responses=ERRORS)
async def scenarios(caller: Viewer) -> list[str]:
    """The packaged scenario overlays a request may name."""
    return answers.scenario_names()


@router.post("/classify", tags=["ask"], responses={**ERRORS, **OBJECT}, response_class=Response)
async def classify(spec: ClassifySpec, caller: Viewer, as_of: AsOfQ = None, scenario: ScenarioQ = None) -> Response:  # type: ignore[valid-type]
    """Classify one item under 3A090 / 4A090 / .z: a spec's fields, or `{"name": CATALOG_NAME}`. The answer is
    the JSON object `aiexport classify --json` prints."""
    body = _given(spec)
    day = answers.as_of(as_of)
    line = await answers.classify_async(body, day, scenario or None)
    return await _answer_one("classify", caller, {"request": body, "as_of": day.isoformat(), "scenario": scenario}, lambda: line)


@router.post("/check", tags=["ask"], responses={**ERRORS, **OBJECT}, response_class=Response)
async def check(tx: Transaction, caller: Viewer, as_of: AsOfQ = None, scenario: ScenarioQ = None,  # type: ignore[valid-type]
                enforce_codified: EnforceQ = False,
                screen: Annotated[bool, Query(description="Also screen the consignee and end user against the current stored "
                                                          "list snapshot.")] = False) -> Response:
    """Does this transaction need a licence? One transaction object; the answer is the JSON object
    `aiexport check --json` prints."""
    body = _given(tx)
    day = answers.as_of(as_of)
    if screen:
        line = await run_in_threadpool(answers.check_one, body, day, scenario or None, enforce_codified, True)
    else:
        line = await answers.check_async(body, day, scenario or None, enforce_codified)
    return await _answer_one("check", caller, {"request": body, "as_of": day.isoformat(), "scenario": scenario,
                                               "enforce_codified": enforce_codified, "screen": screen}, lambda: line)


@router.post("/timeline", tags=["ask"], responses=ERRORS)
async def timeline(spec: ClassifySpec, caller: Viewer, scenario: ScenarioQ = None) -> dict[str, Any]:  # type: ignore[valid-type]
    """The item under every rule version, with the dates on which its classification changed (as
    `aiexport timeline --json`)."""
    body = _given(spec)

    def run() -> dict[str, Any]:
        from aiexport.timeline import change_dates
        from aiexport.timeline import timeline as engine_timeline

        frame, source = answers.spec_frame(body)
        spans = engine_timeline(frame, answers.rulebook(scenario or None), source)
        names = dict(zip(frame["id"].to_list(), frame["name"].fill_null("").to_list(), strict=True))
        row_id, s = next(iter(spans.items()))
        return {"id": row_id, "name": names.get(row_id) or None, "changes": change_dates(s), "spans": s}

    out = await run_in_threadpool(run)
    await record("timeline", {"request": body, "scenario": scenario}, out, caller.identity)
    return out


class ImpactRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transactions: list[Transaction] = Field(..., min_length=1, max_length=10_000,  # type: ignore[valid-type]
                                            description="The book: transaction objects with the check fields.")


@router.post("/impact", tags=["ask"], responses=ERRORS)
async def impact(req: ImpactRequest, caller: Viewer,
                 scenario: Annotated[str, Query(description="The proposal to compare with the baseline (GET /v1/scenarios).",
                                                max_length=100)],
                 as_of: AsOfQ = None, enforce_codified: EnforceQ = False) -> dict[str, Any]:
    """Which lines would a proposed rule change? Baseline against scenario, line by line (as `aiexport impact --json`)."""
    from aiexport.licensing import compare

    txs = [_given(t) for t in req.transactions]
    day = answers.as_of(as_of)
    answers.scenario_path(scenario)

    def run() -> dict[str, Any]:
        base = answers.check_many(txs, day, None, enforce_codified)
        scen = answers.check_many(txs, day, scenario, enforce_codified)
        changed, counts = compare(base, scen)
        return {"scenario": scenario, "lines": base.height, "changed": [json.loads(x) for x in answers.ndjson_lines(changed)],
                "counts": counts.to_dicts()}

    out = await run_in_threadpool(run)
    await record("impact", {"transactions": txs, "scenario": scenario, "as_of": day.isoformat(), "enforce_codified": enforce_codified},
                 out, caller.identity)
    return out


def _controls(kind: str) -> tuple[Any, Any]:
    if kind == "weights":
        from aiexport.weights import FIELDS, assess_cases
    elif kind == "foundry":
        from aiexport.foundry import FIELDS, assess_cases  # type: ignore[assignment]
    else:
        from aiexport.investment import FIELDS, assess_cases  # type: ignore[assignment]
    return FIELDS, assess_cases


async def _assess(kind: str, cases: dict[str, Any] | list[dict[str, Any]], caller: Caller, as_of: str | None, scenario: str | None,
                  enforce: bool) -> list[dict[str, Any]]:
    from aiexport.cases import validate_cases

    fields, assess_cases = _controls(kind)
    rows = [cases] if isinstance(cases, dict) else list(cases)
    if not rows or len(rows) > 10_000:
        raise InputError("body: give one case object or a list of 1 to 10,000", field="body")
    day = answers.as_of(as_of)

    def run() -> list[dict[str, Any]]:
        valid = validate_cases(rows, fields, "request")
        rb = answers.rulebook(scenario or None)
        if kind == "weights":
            return assess_cases(valid, rb, day, enforce)
        return assess_cases(valid, rb, day)

    out = json.loads(json.dumps(await run_in_threadpool(run), ensure_ascii=False, default=str))
    for inp, ans in zip(rows, out, strict=False):
        await record(kind, {"request": inp, "as_of": day.isoformat(), "scenario": scenario, "enforce_codified": enforce}, ans,
                     caller.identity)
    return out


CasesBody = dict[str, Any] | list[dict[str, Any]]


@router.post("/weights", tags=["ask"], responses=ERRORS)
async def weights(cases: CasesBody, caller: Viewer, as_of: AsOfQ = None, scenario: ScenarioQ = None,
                  enforce_codified: EnforceQ = False) -> list[dict[str, Any]]:
    """Model weights under ECCN 4E091 (as `aiexport weights --json`): one case object or a list."""
    return await _assess("weights", cases, caller, as_of, scenario, enforce_codified)


@router.post("/foundry", tags=["ask"], responses=ERRORS)
async def foundry(cases: CasesBody, caller: Viewer, as_of: AsOfQ = None, scenario: ScenarioQ = None) -> list[dict[str, Any]]:
    """Foundry due diligence, 90 FR 5298 (as `aiexport foundry --json`): one order object or a list."""
    return await _assess("foundry", cases, caller, as_of, scenario, False)


@router.post("/invest", tags=["ask"], responses=ERRORS)
async def invest(cases: CasesBody, caller: Viewer, as_of: AsOfQ = None, scenario: ScenarioQ = None) -> list[dict[str, Any]]:
    """Outbound investment, 31 CFR 850 (as `aiexport invest --json`): one investment object or a list."""
    return await _assess("invest", cases, caller, as_of, scenario, False)


# ---------------------------------------------------------------------------------------------- screening and lists


class Name(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(..., min_length=1, max_length=200)
    name: str = Field(..., min_length=1, max_length=1000)
    country: str | None = Field(None, max_length=100)


class ScreenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    names: list[Name] = Field(..., min_length=1, max_length=10_000)
    threshold: float | None = Field(None, gt=0, le=1, description="Alert at or above this score (default: the measured one).")


def _names_frame(names: list[Name]) -> Any:
    import polars as pl

    ids = [n.id.strip() for n in names]
    if len(set(ids)) != len(ids):
        raise InputError("names: duplicate id; give each name a unique id", field="id")
    if any(not n.name.strip() or not i for n, i in zip(names, ids, strict=True)):
        raise InputError("names: an empty id or name; give every row an id and a name", field="name")
    return pl.DataFrame({"id": ids, "name": [n.name.strip() for n in names], "country": [n.country for n in names]},
                        schema={"id": pl.String, "name": pl.String, "country": pl.String})


@router.post("/screen", tags=["screening"], responses=ERRORS)
async def screen(req: ScreenRequest, caller: Viewer) -> list[dict[str, Any]]:
    """Screen names against the current stored list snapshot (as `aiexport screen --json`); nothing is
    kept but the audit record (POST /v1/screening/record keeps parties and hits for review)."""
    from aiexport.parties.matcher import DEFAULT_THRESHOLD
    from aiexport.parties.screening import screen_frame

    t = DEFAULT_THRESHOLD if req.threshold is None else req.threshold
    frame = _names_frame(req.names)

    def run() -> list[dict[str, Any]]:
        index, snap_hash, _ = answers.current_index()
        return screen_frame(frame, index, t, snapshot_hash=snap_hash)

    out = json.loads(json.dumps(await run_in_threadpool(run), ensure_ascii=False, default=str))
    for row, ans in zip(frame.to_dicts(), out, strict=True):
        await record("screen", {"threshold": t, **row}, ans, caller.identity)
    return out


@router.post("/screening/record", tags=["screening"], responses=ERRORS)
async def screening_record(req: ScreenRequest, caller: Analyst) -> dict[str, Any]:
    """Screen names against the current snapshot and keep the parties and their hits for review
    (as `aiexport review record --json`); decisions already made apply."""
    from aiexport.parties.matcher import DEFAULT_THRESHOLD
    from aiexport.parties.store import screen_and_record

    t = DEFAULT_THRESHOLD if req.threshold is None else req.threshold
    frame = _names_frame(req.names)
    out = json.loads(json.dumps(await run_in_threadpool(screen_and_record, frame, t), ensure_ascii=False, default=str))
    for row, ans in zip(frame.to_dicts(), out["results"], strict=True):
        await record("screen", {"threshold": t, "recorded": True, **row}, ans, caller.identity)
    return out


@router.get("/screening/hits", tags=["screening"], responses=ERRORS)
async def screening_hits(caller: Viewer, party: Annotated[str | None, Query(max_length=1000)] = None,
                         include_cleared: bool = False) -> list[dict[str, Any]]:
    """The recorded hits, highest score first, with their status and decision (the review queue)."""
    from aiexport.parties.store import hits

    rows = await run_in_threadpool(lambda: hits(party, include_cleared=include_cleared))
    rows = json.loads(json.dumps(rows, ensure_ascii=False, default=str))
    rows.sort(key=lambda r: (-float(r.get("score") or 0), r["party_key"], r["entry_key"]))
    await record("api_read", {"path": "/v1/screening/hits", "party": party, "include_cleared": include_cleared}, {"hits": len(rows)},
                 caller.identity)
    return rows


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party_key: str = Field(..., min_length=1, max_length=1000)
    entry_key: str = Field(..., min_length=1, max_length=1000)
    verdict: str = Field(..., pattern="^(true_match|false_match)$")
    reason: str = Field(..., min_length=1, max_length=2000)


@router.post("/screening/decisions", tags=["screening"], responses=ERRORS)
async def screening_decide(d: Decision, caller: Analyst) -> dict[str, Any]:
    """Decide a hit: true or false match, with the reason (append-only; the reviewer is the caller)."""
    from aiexport.parties.store import decide

    out = await run_in_threadpool(decide, d.party_key, d.entry_key, d.verdict, d.reason, caller.identity)
    out = json.loads(json.dumps(out, ensure_ascii=False, default=str))
    await record("screening_decision", d.model_dump(), out, caller.identity)
    return out


@router.get("/lists", tags=["lists"], responses=ERRORS)
async def lists_history(caller: Viewer) -> list[dict[str, Any]]:
    """The stored list snapshots, oldest first; the last is the current one."""
    from aiexport.parties.store import snapshots

    rows = await run_in_threadpool(snapshots)
    out = [{**r.as_dict(), "current": i == len(rows) - 1} for i, r in enumerate(rows)]
    await record("api_read", {"path": "/v1/lists"}, {"snapshots": len(out)}, caller.identity)
    return out


def _snapshot(snapshot_id: int) -> Any:
    from aiexport.parties.store import snapshots

    for s in snapshots():
        if s.id == snapshot_id:
            return s
    raise ApiError(404, f"list snapshot #{snapshot_id}: not stored; see GET /v1/lists", "snapshot_id")


@router.get("/lists/diff", tags=["lists"], responses=ERRORS)
async def lists_diff(caller: Viewer, old: Annotated[int, Query(ge=1, le=2**31)], new: Annotated[int, Query(ge=1, le=2**31)]) -> dict[str, Any]:
    """Entries added, removed and changed between two stored snapshots (as `aiexport lists diff --json`)."""
    from aiexport.parties.lists import diff
    from aiexport.parties.store import snapshot_entries

    def run() -> dict[str, Any]:
        _snapshot(old)
        _snapshot(new)
        d = diff(snapshot_entries(old), snapshot_entries(new))
        return json.loads(json.dumps({"old": old, "new": new, "counts": d["counts"], "fields": d.get("fields")}, default=str))

    out = await run_in_threadpool(run)
    await record("api_read", {"path": "/v1/lists/diff", "old": old, "new": new}, out, caller.identity)
    return out


@router.get("/lists/{snapshot_id}", tags=["lists"], responses=ERRORS)
async def lists_show(snapshot_id: int, caller: Viewer) -> dict[str, Any]:
    """One stored snapshot: format, data date, content hash, entries per list."""
    if not 1 <= snapshot_id <= 2**31:
        raise ApiError(404, f"list snapshot #{snapshot_id}: not stored; see GET /v1/lists", "snapshot_id")
    s = await run_in_threadpool(_snapshot, snapshot_id)
    return s.as_dict()


async def _saved(upload: UploadFile, folder: Path) -> Path:
    name = Path(upload.filename or "upload").name or "upload"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[-100:] or "upload"
    path = folder / safe
    with open(path, "wb") as fh:
        while chunk := await upload.read(1 << 20):
            fh.write(chunk)
    return path


@router.post("/lists", tags=["lists"], responses=ERRORS)
async def lists_import(caller: Admin, file: Annotated[UploadFile, File(description="A list file: CSL CSV or JSON, OFAC SDN CSV, "
                                                                                  "BIS DPL text, FtM JSON.")]) -> dict[str, Any]:
    """Store a list file as the current snapshot and re-screen the recorded parties its changes can
    affect (as `aiexport lists import --json`)."""
    from aiexport.parties.store import import_and_rescreen

    with tempfile.TemporaryDirectory(prefix="aiexport-list-") as tmp:
        path = await _saved(file, Path(tmp))
        out = json.loads(json.dumps(await run_in_threadpool(import_and_rescreen, path), ensure_ascii=False, default=str))
    await record("lists_import", {"file": file.filename, "sha256": out["snapshot"].get("content_hash")},
                 {"snapshot": out["snapshot"], "rescreen": {k: v for k, v in (out.get("rescreen") or {}).items() if k != "parties"}},
                 caller.identity)
    return out


# ---------------------------------------------------------------------------------------------- licences


def _date(text: str | None, field: str) -> date | None:
    from aiexport.rulebook import parse_date

    return parse_date(text, field) if text else None


@router.get("/licences", tags=["licences"], responses=ERRORS)
async def licences_list(caller: Viewer, as_of: AsOfQ = None) -> list[dict[str, Any]]:
    """Every licence with its balance and its status on a date (as `aiexport licences list --json`)."""
    from aiexport.ledger.licences import list_licences

    out = await run_in_threadpool(lambda: list_licences(on=_date(as_of, "as_of")))
    out = json.loads(json.dumps(out, default=str))
    await record("api_read", {"path": "/v1/licences", "as_of": as_of}, {"licences": len(out)}, caller.identity)
    return out


@router.get("/licences/{number}", tags=["licences"], responses=ERRORS)
async def licences_show(number: Annotated[str, PathParam(max_length=100)], caller: Viewer, as_of: AsOfQ = None,
                        draws: bool = True) -> dict[str, Any]:
    """One licence: authorised, drawn and remaining quantity and value; its draws."""
    from aiexport.ledger import licences

    def run() -> dict[str, Any]:
        res = licences.show_licence(number, on=_date(as_of, "as_of"))
        if draws:
            res["draw_list"] = licences.draws(number)
        return res

    try:
        out = json.loads(json.dumps(await run_in_threadpool(run), default=str))
    except InputError as exc:
        raise ApiError(404, str(exc), "number") from None
    await record("api_read", {"path": "/v1/licences/{number}", "number": number}, {"number": out.get("number")}, caller.identity)
    return out


class LicenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(..., min_length=1, max_length=100)
    quantity: int = Field(..., ge=0, le=10**12)
    value_usd: float | None = Field(None, ge=0, le=1e13)
    items: list[str] | None = Field(None, max_length=1000)
    eccns: list[str] | None = Field(None, max_length=1000)
    parties: list[str] | None = Field(None, max_length=1000)
    countries: list[str] | None = Field(None, max_length=300)
    valid_from: str | None = Field(None, max_length=40)
    valid_until: str | None = Field(None, max_length=40)
    conditions: str | None = Field(None, max_length=10_000)


@router.post("/licences", tags=["licences"], responses=ERRORS)
async def licences_add(lic: LicenceIn, caller: Admin) -> dict[str, Any]:
    """Store a licence (as `aiexport licences add --json`)."""
    from aiexport.ledger.licences import add_licence

    out = await run_in_threadpool(lambda: add_licence(
        lic.number, lic.quantity, value_usd=lic.value_usd, items=lic.items, eccns=lic.eccns, parties=lic.parties,
        countries=lic.countries, valid_from=_date(lic.valid_from, "valid_from"), valid_until=_date(lic.valid_until, "valid_until"),
        conditions=lic.conditions, user=caller.identity))
    out = json.loads(json.dumps(out, default=str))
    await record("licence_add", lic.model_dump(), out, caller.identity)
    return out


class DrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int = Field(..., ge=0, le=10**12)
    txn: str = Field(..., min_length=1, max_length=200)
    number: str | None = Field(None, max_length=100)
    value_usd: float | None = Field(None, ge=0, le=1e13)
    item: str | None = Field(None, max_length=200)
    eccn: str | None = Field(None, max_length=40)
    country: str | None = Field(None, max_length=10)
    party: str | None = Field(None, max_length=200)
    date: str | None = Field(None, max_length=40)
    reserve: bool = False


@router.post("/licences/draw", tags=["licences"], responses=ERRORS)
async def licences_draw(d: DrawIn, caller: Analyst) -> dict[str, Any]:
    """Draw a shipment on a licence (reserve and consume, or only reserve); idempotent on `txn`."""
    from aiexport.ledger.licences import draw

    out = await run_in_threadpool(lambda: draw(d.quantity, d.txn, number=d.number, value_usd=d.value_usd, item=d.item, eccn=d.eccn,
                                                country=d.country, party=d.party, on=_date(d.date, "date"), reserve_only=d.reserve,
                                                user=caller.identity))
    out = json.loads(json.dumps(out, default=str))
    await record("licence_draw", d.model_dump(), out, caller.identity)
    return out


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    txn: str = Field(..., min_length=1, max_length=200)
    date: str | None = Field(None, max_length=40)


@router.post("/licences/consume", tags=["licences"], responses=ERRORS)
async def licences_consume(m: MoveIn, caller: Analyst) -> dict[str, Any]:
    """Mark a reservation shipped (reserved → consumed)."""
    from aiexport.ledger.licences import consume

    out = json.loads(json.dumps(await run_in_threadpool(lambda: consume(m.txn, on=_date(m.date, "date"), user=caller.identity)),
                                default=str))
    await record("licence_consume", m.model_dump(), out, caller.identity)
    return out


@router.post("/licences/release", tags=["licences"], responses=ERRORS)
async def licences_release(m: MoveIn, caller: Analyst) -> dict[str, Any]:
    """Cancel a reservation (reserved → released)."""
    from aiexport.ledger.licences import release

    out = json.loads(json.dumps(await run_in_threadpool(lambda: release(m.txn, user=caller.identity)), default=str))
    await record("licence_release", m.model_dump(), out, caller.identity)
    return out


# ---------------------------------------------------------------------------------------------- audit


@router.get("/audit/verify", tags=["audit"], responses=ERRORS)
async def audit_verify(caller: Viewer) -> dict[str, Any]:
    """Check the whole chain (as `aiexport audit verify --json`): ok, records, and the first bad record if broken."""
    from aiexport.ledger.audit import verify

    out = await run_in_threadpool(verify)
    await record("api_read", {"path": "/v1/audit/verify"}, {"ok": out["ok"], "records": out["records"]}, caller.identity)
    return out


@router.get("/audit/records", tags=["audit"], responses=ERRORS)
async def audit_records(caller: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        before: Annotated[int | None, Query(ge=1, le=2**62, description="Records before this seq (paging).")] = None,
                        kind: Annotated[str | None, Query(max_length=32)] = None) -> list[dict[str, Any]]:
    """Browse the record, newest first."""
    from aiexport.api.audit_browse import latest

    return await run_in_threadpool(latest, limit, before, kind)


@router.get("/audit/records/{seq}", tags=["audit"], responses=ERRORS)
async def audit_record(seq: int, caller: Viewer) -> dict[str, Any]:
    """One record with its input, output and whether its hash still matches."""
    from aiexport.ledger.audit import show

    if not 1 <= seq <= 2**62:
        raise ApiError(404, f"audit record #{seq}: no such record", "seq")
    try:
        return json.loads(json.dumps(await run_in_threadpool(show, seq), default=str))
    except InputError as exc:
        raise ApiError(404, str(exc), "seq") from None


@router.get("/audit/export", tags=["audit"], responses=ERRORS, response_class=StreamingResponse)
async def audit_export(caller: Viewer, format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl",
                       start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                       end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
                       kind: Annotated[str | None, Query(max_length=32)] = None) -> StreamingResponse:
    """The records of a period for a regulator (as `aiexport audit export`): JSONL or CSV."""
    import io

    from aiexport.ledger.audit import export

    def run() -> tuple[str, int]:
        buf = io.StringIO()
        n = export(buf, format, start=start, end=end, kind=kind)
        return buf.getvalue(), n

    text, n = await run_in_threadpool(run)
    await record("api_read", {"path": "/v1/audit/export", "from": start, "to": end, "kind": kind, "format": format}, {"records": n},
                 caller.identity)
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(iter([text]), media_type=media,
                             headers={"content-disposition": f'attachment; filename="audit.{format}"'})


# ---------------------------------------------------------------------------------------------- keys


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(..., pattern="^(viewer|analyst|admin)$")
    name: str | None = Field(None, max_length=200)


@router.get("/keys", tags=["keys"], responses=ERRORS)
async def keys_list(caller: Admin) -> list[dict[str, Any]]:
    """Every key: id, name, role, prefix, created, revoked (never the key)."""
    from aiexport.api.keys import list_keys

    return await run_in_threadpool(list_keys)


@router.post("/keys", tags=["keys"], responses=ERRORS)
async def keys_create(k: KeyIn, caller: Admin) -> dict[str, Any]:
    """A new key (shown once, in `key`)."""
    from aiexport.api.keys import create_key

    key, view = await run_in_threadpool(lambda: create_key(k.role, k.name, caller.identity))
    await record("key_create", k.model_dump(), view, caller.identity)
    return {**view, "key": key}


@router.delete("/keys/{key_id}", tags=["keys"], responses=ERRORS)
async def keys_revoke(key_id: int, caller: Admin) -> dict[str, Any]:
    """Revoke a key by id."""
    from aiexport.api.keys import revoke_key

    if not 1 <= key_id <= 2**31:
        raise ApiError(404, f"key #{key_id}: no such key", "key_id")
    try:
        view = await run_in_threadpool(revoke_key, str(key_id))
    except InputError as exc:
        raise ApiError(404, str(exc), "key_id") from None
    await record("key_revoke", {"id": key_id}, view, caller.identity)
    return view


# ---------------------------------------------------------------------------------------------- batch jobs


@router.post("/jobs/check", tags=["jobs"], responses=ERRORS, status_code=202)
async def jobs_check(caller: Viewer, file: Annotated[UploadFile, File(description="The order book: CSV, JSON, YAML or Parquet, "
                                                                                "one line per transaction (the check fields).")],
                     as_of: AsOfQ = None, scenario: ScenarioQ = None, enforce_codified: EnforceQ = False) -> dict[str, Any]:
    """Check a whole order book as a job: answers 202 with the job; poll GET /v1/jobs/{id} for progress,
    then download the result (JSONL or CSV, as `aiexport check --output`). Every line goes on the audit record."""
    from aiexport.api import jobs

    answers.as_of(as_of)
    answers.scenario_path(scenario)
    folder = jobs.new_folder()
    name = Path(file.filename or "book.csv").name or "book.csv"
    suffix = "".join(c for c in Path(name).suffix.lower() if c.isalnum() or c == ".")[:10] or ".csv"
    saved = folder / f"input{suffix}"
    with open(saved, "wb") as fh:
        while chunk := await file.read(1 << 20):
            fh.write(chunk)
    st = jobs.start(name[-200:], saved, caller, as_of=as_of, scenario=scenario or None, enforce=enforce_codified)
    return jobs.public(st)


@router.get("/jobs/{job_id}", tags=["jobs"], responses=ERRORS)
async def jobs_status(job_id: Annotated[str, PathParam(max_length=64)], caller: Viewer) -> dict[str, Any]:
    """A job's state (queued, running, done, failed), progress (0..1), summary by verdict and result links."""
    from aiexport.api import jobs

    return jobs.public(jobs.state_for(job_id, caller))


@router.get("/jobs/{job_id}/result", tags=["jobs"], responses=ERRORS, response_class=Response)
async def jobs_result(job_id: Annotated[str, PathParam(max_length=64)], caller: Viewer,
                      format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl") -> Response:
    """The answers of a finished job, one per line of the book, in book order."""
    from fastapi.responses import FileResponse

    from aiexport.api import jobs

    st = jobs.state_for(job_id, caller)
    path = jobs.result_path(st, format)
    stem = Path(st["file"]).stem or "book"
    return FileResponse(path, media_type="text/csv" if format == "csv" else "application/x-ndjson",
                        filename=f"{stem}-answers.{format}")


def not_found() -> JSONResponse:
    return JSONResponse({"error": {"status": 404, "code": "not_found", "message": "no such endpoint; see /docs", "field": None}},
                        status_code=404)
