"""The web UI: server-rendered pages (Jinja2), HTMX for the batch progress and the review
decisions, English and Chinese on every page (``?lang=zh``, kept in a cookie).

Login takes an API key and keeps a session token signed with it in a Secure, HttpOnly, SameSite=Strict
cookie; every page checks it as the API checks the Bearer header, with the same roles. Every POST of a
session also carries a CSRF token derived from the session (`keys.csrf_token`: a hidden field of each
form, a header of each htmx request), and a login posted from another site is refused. Answers go on
the audit record with the caller's identity, as through the API.
"""

from __future__ import annotations

import hmac
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from aiexport.api import answers
from aiexport.api.auth import COOKIE, web_caller
from aiexport.api.errors import ApiError
from aiexport.api.keys import Caller
from aiexport.api.recorder import record
from aiexport.errors import AiexportError, InputError
from aiexport.web import charts
from aiexport.web.i18n import LANGS, t, verdict

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
LANG_COOKIE = "aiexport_lang"


async def csrf_guard(request: Request) -> None:
    """Refuse a cross-site POST: the login, when the browser says it comes from another site; every
    other POST of a session, unless it sends the session's CSRF token back."""
    if request.method != "POST":
        return
    lang = lang_of(request)
    if request.url.path == "/login":
        origin = request.headers.get("origin")
        if request.headers.get("sec-fetch-site") == "cross-site" or (origin and urlsplit(origin).netloc != request.url.netloc):
            raise ApiError(403, t("csrf", lang), "csrf")
        return
    session = request.cookies.get(COOKIE)
    if not session:
        return  # no session: the page asks for a login (`need`)
    from aiexport.api.keys import csrf_token

    sent = request.headers.get("x-csrf-token")
    if sent is None:
        value = (await request.form()).get("csrf")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), csrf_token(session).encode("ascii")):
        raise ApiError(403, t("csrf", lang), "csrf")


router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_guard)])


class LoginRequired(Exception):
    pass


def lang_of(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGS else "en"


def switch_url(request: Request, lang: str) -> str:
    params = dict(request.query_params)
    params["lang"] = "zh" if lang == "en" else "en"
    return f"{request.url.path}?{urlencode(params)}"


def page(request: Request, name: str, caller: Caller | None, status: int = 200, **ctx: Any) -> HTMLResponse:
    from aiexport.api.keys import csrf_token

    lang = lang_of(request)
    session = request.cookies.get(COOKIE)
    resp = templates.TemplateResponse(request, name, {"lang": lang, "t": lambda k: t(k, lang), "verdict": lambda v: verdict(v, lang),
                                                      "caller": caller, "switch_url": switch_url(request, lang),
                                                      "path": request.url.path, "csrf": csrf_token(session) if caller and session else "",
                                                      **ctx}, status_code=status)
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True, secure=True)
    return resp


def need(request: Request, role: str = "viewer") -> Caller:
    caller = web_caller(request)
    if caller is None:
        raise LoginRequired
    if not caller.can(role):
        raise ApiError(403, t("forbidden", lang_of(request)), "role")
    return caller


# ---------------------------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    return page(request, "login.html", None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, key: Annotated[str, Form(max_length=200)] = "") -> Response:
    from aiexport.api.keys import SESSION_SECONDS, session_token

    token = await run_in_threadpool(session_token, key.strip())
    if token is None:
        return page(request, "login.html", None, status=401, error=t("bad_key", lang_of(request)))
    resp = RedirectResponse("/ask", status_code=303)
    resp.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict", max_age=SESSION_SECONDS, path="/")
    return resp


@router.post("/logout")
async def logout() -> Response:
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return resp


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse("/ask" if web_caller(request) else "/login", status_code=303)


# ---------------------------------------------------------------------------------------------- ask

CHECK_FIELDS = ("item", "kind", "destination_country", "consignee_country", "consignee_hq_country", "ultimate_parent_hq_country",
                "end_use", "party_list_status", "item_origin", "date", "quantity")
SPEC_FORM = ("name_spec", "vendor", "fp16", "bf16", "fp8", "int8", "die_area_mm2", "io_bidir_gbps", "memory_bw_gbps", "datacenter")


def _ask_ctx(request: Request) -> dict[str, Any]:
    from aiexport import catalog

    return {"catalog": [it["name"] for it in catalog.items()], "scenarios": answers.scenario_names(), "today": date.today().isoformat(),
            "form": {}}


@router.get("/ask", response_class=HTMLResponse)
async def ask(request: Request) -> HTMLResponse:
    caller = need(request)
    return page(request, "ask.html", caller, **_ask_ctx(request))


@router.post("/ask/classify", response_class=HTMLResponse)
async def ask_classify(request: Request) -> HTMLResponse:
    caller = need(request)
    form = {k: str(v).strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    ctx = _ask_ctx(request)
    ctx["form"] = form
    try:
        if form.get("name"):
            body: dict[str, Any] = {"name": form["name"]}
        else:
            body = {("name" if k == "name_spec" else k): form[k] for k in SPEC_FORM if form.get(k)}
            if not body:
                raise InputError("give a catalog name, or the item's figures", field="name")
        day = answers.as_of(form.get("as_of") or None)
        scen = form.get("scenario") or None
        line = await run_in_threadpool(answers.classify_one, body, day, scen)
        out = json.loads(line)
        await record("classify", {"request": body, "as_of": day.isoformat(), "scenario": scen, "via": "web"}, out, caller.identity)
        ctx["classified"] = out
    except AiexportError as exc:
        ctx["error"] = str(exc)
    return page(request, "ask.html", caller, status=400 if "error" in ctx else 200, **ctx)


@router.post("/ask/check", response_class=HTMLResponse)
async def ask_check(request: Request) -> HTMLResponse:
    caller = need(request)
    form = {k: str(v).strip() for k, v in (await request.form()).items() if isinstance(v, str)}
    ctx = _ask_ctx(request)
    ctx["form"] = form
    try:
        body = {k: form[k] for k in CHECK_FIELDS if form.get(k)}
        body["id"] = form.get("id") or "web"
        day = answers.as_of(form.get("as_of") or None)
        scen = form.get("scenario") or None
        line = await run_in_threadpool(answers.check_one, body, day, scen, False, False)
        out = json.loads(line)
        await record("check", {"request": body, "as_of": day.isoformat(), "scenario": scen, "via": "web"}, out, caller.identity)
        ctx["checked"] = out
    except AiexportError as exc:
        ctx["error"] = str(exc)
    return page(request, "ask.html", caller, status=400 if "error" in ctx else 200, **ctx)


# ---------------------------------------------------------------------------------------------- batch


def _my_jobs(caller: Caller) -> list[dict[str, Any]]:
    from aiexport.api import jobs

    out = []
    for f in sorted(jobs.jobs_dir().glob("*/job.json"), key=lambda p: p.stat().st_mtime, reverse=True)[:200]:
        try:
            st = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if st.get("owner_key_id") == caller.key_id:
            out.append(st)
        if len(out) >= 20:
            break
    return out


@router.get("/batch", response_class=HTMLResponse)
async def batch(request: Request) -> HTMLResponse:
    caller = need(request)
    return page(request, "batch.html", caller, jobs=_my_jobs(caller), scenarios=answers.scenario_names())


@router.post("/batch", response_class=HTMLResponse)
async def batch_upload(request: Request, file: Annotated[UploadFile, File()], as_of: Annotated[str, Form(max_length=40)] = "",
                       scenario: Annotated[str, Form(max_length=100)] = "") -> Response:
    from aiexport.api import jobs

    caller = need(request)
    try:
        answers.as_of(as_of or None)
        answers.scenario_path(scenario or None)
        if not file.filename:
            raise InputError("file: choose an order book to upload", field="file")
        folder = jobs.new_folder()
        name = Path(file.filename).name
        suffix = "".join(c for c in Path(name).suffix.lower() if c.isalnum() or c == ".")[:10] or ".csv"
        saved = folder / f"input{suffix}"
        with open(saved, "wb") as fh:
            while chunk := await file.read(1 << 20):
                fh.write(chunk)
        st = jobs.start(name[-200:], saved, caller, as_of=as_of or None, scenario=scenario or None, enforce=False)
    except AiexportError as exc:
        return page(request, "batch.html", caller, status=400, jobs=_my_jobs(caller), scenarios=answers.scenario_names(), error=str(exc))
    return RedirectResponse(f"/batch/{st['id']}", status_code=303)


@router.get("/batch/{job_id}", response_class=HTMLResponse)
async def batch_job(request: Request, job_id: str) -> HTMLResponse:
    from aiexport.api import jobs

    caller = need(request)
    st = jobs.public(jobs.state_for(job_id, caller))
    return page(request, "batch_job.html", caller, job=st)


@router.get("/batch/{job_id}/progress", response_class=HTMLResponse)
async def batch_progress(request: Request, job_id: str) -> HTMLResponse:
    from aiexport.api import jobs

    caller = need(request)
    st = jobs.public(jobs.state_for(job_id, caller))
    return page(request, "_progress.html", caller, job=st)


@router.get("/batch/{job_id}/download")
async def batch_download(request: Request, job_id: str, format: str = "csv") -> Response:
    from aiexport.api import jobs

    caller = need(request)
    if format not in ("csv", "jsonl"):
        raise ApiError(400, "format: give csv or jsonl", "format")
    st = jobs.state_for(job_id, caller)
    path = jobs.result_path(st, format)
    return FileResponse(path, media_type="text/csv" if format == "csv" else "application/x-ndjson",
                        filename=f"{Path(st['file']).stem or 'book'}-answers.{format}")


# ---------------------------------------------------------------------------------------------- screening review


def _explain(hits: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """A short explanation of each hit: the matcher's own, for the party's name against the current snapshot."""
    from aiexport.parties.store import parties

    try:
        index, _, _ = answers.current_index()
    except InputError:
        return {}
    names = {p["party_key"]: p["name"] for p in parties()}
    wanted = sorted({h["party_key"] for h in hits if h["party_key"] in names})
    found = index.search([names[k] for k in wanted], threshold=0.0, explain=True) if wanted else []
    out: dict[tuple[str, str], str] = {}
    for k, ans in zip(wanted, found, strict=True):
        for m in ans["matches"]:
            e = m.get("explanation") or {}
            parts = [f"{e.get('query_form', '')} ≈ {e.get('list_form', '')}"]
            if e.get("decided_by"):
                parts.append(f"decided by: {e['decided_by']}")
            if e.get("how"):
                parts.append("; ".join(map(str, e["how"]))[:200])
            out[(k, str(m.get("list_id")))] = " · ".join(parts)
    return out


async def _queue(show_all: bool) -> list[dict[str, Any]]:
    from aiexport.parties.store import hits

    def run() -> list[dict[str, Any]]:
        rows = hits(None, include_cleared=show_all)
        if not show_all:
            rows = [r for r in rows if r["status"] == "open"]
        rows.sort(key=lambda r: (-float(r["score"]), r["party_key"], r["entry_key"]))
        rows = rows[:300]
        ex = _explain(rows)
        for r in rows:
            r["explanation"] = ex.get((r["party_key"], str(r["list_id"])), "")
        return rows

    return await run_in_threadpool(run)


@router.get("/review", response_class=HTMLResponse)
async def review(request: Request, all: bool = False) -> HTMLResponse:
    caller = need(request)
    rows = await _queue(all)
    return page(request, "review.html", caller, hits=rows, show_all=all)


@router.post("/review/decide", response_class=HTMLResponse)
async def review_decide(request: Request, party_key: Annotated[str, Form(max_length=1000)],
                        entry_key: Annotated[str, Form(max_length=1000)], verdict_: Annotated[str, Form(alias="verdict", max_length=20)],
                        reason: Annotated[str, Form(max_length=2000)] = "") -> HTMLResponse:
    from aiexport.parties.store import decide

    caller = need(request, "analyst")
    lang = lang_of(request)
    try:
        if verdict_ not in ("true_match", "false_match"):
            raise InputError("verdict: give true_match or false_match", field="verdict")
        if not reason.strip():
            reason = "true match (web review)" if verdict_ == "true_match" else "false match (web review)"
        out = await run_in_threadpool(decide, party_key, entry_key, verdict_, reason, caller.identity)
        out = json.loads(json.dumps(out, default=str))
        await record("screening_decision", {"party_key": party_key, "entry_key": entry_key, "verdict": verdict_, "reason": reason,
                                            "via": "web"}, out, caller.identity)
    except AiexportError as exc:
        return HTMLResponse(f'<tr class="error"><td colspan="7">{t("error", lang)}: {_esc(str(exc))}</td></tr>', status_code=400)
    hit = out["hit"]
    return page(request, "_hit_row.html", caller, h={**hit, "explanation": ""}, decided=True)


def _esc(s: str) -> str:
    from html import escape

    return escape(s)


# ---------------------------------------------------------------------------------------------- licences


@router.get("/licences", response_class=HTMLResponse)
async def licences(request: Request, number: str | None = None) -> HTMLResponse:
    from aiexport.ledger import licences as ledger
    from aiexport.ledger.budgets import budgets

    caller = need(request)
    lang = lang_of(request)
    rows = await run_in_threadpool(ledger.list_licences)
    draws: list[dict[str, Any]] = []
    if number and any(r["number"] == number for r in rows):
        draws = await run_in_threadpool(ledger.draws, number)
    bud = await run_in_threadpool(budgets)
    return page(request, "licences.html", caller, licences=rows, chart=charts.licence_bars(rows, lang), number=number, draws=draws,
                budgets=bud)


# ---------------------------------------------------------------------------------------------- chip map


@router.get("/chips", response_class=HTMLResponse)
async def chips(request: Request, day: str | None = None, io: str = "900", datacenter: str = "yes") -> HTMLResponse:
    caller = need(request)
    lang = lang_of(request)
    error = None
    try:
        when = answers.as_of(day or None)
        io_rate = float(io)
        if not 0 <= io_rate <= 1e6:
            raise ValueError
    except (AiexportError, ValueError):
        when, io_rate, error = date.today(), 900.0, "day: give YYYY-MM-DD; io: a number of GB/s"
    dc = datacenter != "no"
    svg, legend, pts = await run_in_threadpool(charts.chip_map, when, io_rate, dc, lang)
    return page(request, "chips.html", caller, svg=svg, legend=legend, points=pts, day=when.isoformat(), io=f"{io_rate:g}", dc=dc,
                error=error)


@router.get("/chips/{chip_id}", response_class=HTMLResponse)
async def chip(request: Request, chip_id: str) -> HTMLResponse:
    from aiexport import catalog
    from aiexport.timeline import change_dates
    from aiexport.timeline import timeline as engine_timeline

    caller = need(request)
    it = catalog.find(chip_id)
    if it is None:
        raise ApiError(404, f"{chip_id!r} is not in the catalog", "chip_id")

    def run() -> tuple[list[dict[str, Any]], list[str]]:
        frame, source = answers.spec_frame({"name": it["id"]})
        spans = next(iter(engine_timeline(frame, answers.rulebook(), source).values()))
        return spans, change_dates(spans)

    spans, changed = await run_in_threadpool(run)
    return page(request, "chip.html", caller, item=it, spans=spans, changed=changed)


# ---------------------------------------------------------------------------------------------- audit


@router.get("/audit", response_class=HTMLResponse)
async def audit(request: Request, before: int | None = None, kind: str | None = None) -> HTMLResponse:
    from aiexport.api.audit_browse import latest

    caller = need(request)
    if before is not None and not 1 <= before <= 2**62:
        before = None
    rows = await run_in_threadpool(latest, 50, before, kind or None)
    return page(request, "audit.html", caller, records=rows, kind=kind or "", verified=None)


@router.post("/audit/verify", response_class=HTMLResponse)
async def audit_verify(request: Request) -> HTMLResponse:
    from aiexport.api.audit_browse import latest
    from aiexport.ledger.audit import verify

    caller = need(request)
    res = await run_in_threadpool(verify)
    rows = await run_in_threadpool(latest, 50, None, None)
    return page(request, "audit.html", caller, records=rows, kind="", verified=res)


@router.get("/audit/export")
async def audit_export(request: Request, format: str = "jsonl") -> Response:
    import io

    from aiexport.ledger.audit import export

    caller = need(request)
    if format not in ("jsonl", "csv"):
        raise ApiError(400, "format: give jsonl or csv", "format")

    def run() -> str:
        buf = io.StringIO()
        export(buf, format)
        return buf.getvalue()

    text = await run_in_threadpool(run)
    await record("api_read", {"path": "/audit/export", "format": format, "via": "web"}, {"bytes": len(text)}, caller.identity)
    return Response(text, media_type="text/csv" if format == "csv" else "application/x-ndjson",
                    headers={"content-disposition": f'attachment; filename="audit.{format}"'})


# ---------------------------------------------------------------------------------------------- mounting


def mount(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)

    @app.exception_handler(ApiError)
    async def _error(request: Request, exc: ApiError) -> Response:
        """Errors of the API in the JSON shape; of the web pages, as a page (htmx: a fragment)."""
        from aiexport.api.errors import error_response

        if request.url.path.startswith("/v1/") or request.url.path in ("/healthz", "/openapi.json"):
            return error_response(exc.status, exc.message, exc.field, exc.headers)
        if request.headers.get("hx-request"):
            return HTMLResponse(f'<p class="error">{_esc(exc.message)}</p>', status_code=exc.status)
        return page(request, "error.html", web_caller(request), status=exc.status, error=exc.message, code=exc.status)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: LoginRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)
