"""Errors as JSON with one stable shape, whatever went wrong:

    {"error": {"status": 400, "code": "bad_input", "message": "…one line naming the field and the fix…",
               "field": "destination_country" | null}}

Codes: ``bad_input`` (400), ``unauthenticated`` (401), ``forbidden`` (403), ``not_found`` (404),
``method_not_allowed`` (405), ``too_large`` (413), ``unsupported_media_type`` (415),
``invalid_request`` (422: the body is not the JSON the endpoint takes), ``internal`` (500: a bug;
the message says to report it, and nothing of the input or the key is logged).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiexport.errors import AiexportError, InputError

log = logging.getLogger("aiexport.api")

CODES = {400: "bad_input", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 409: "conflict",
         413: "too_large", 415: "unsupported_media_type", 422: "invalid_request", 500: "internal"}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["status", "code", "message"], "properties": {
        "status": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"},
        "field": {"type": ["string", "null"]}}}},
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


def body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "code": CODES.get(status, "error"), "message": message, "field": field}}


def error_response(status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body(status, message, field), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errs = exc.errors()
    if not errs:
        return "the request is not valid", None
    e = errs[0]
    if e.get("type") == "json_invalid":
        err = (e.get("ctx") or {}).get("error", "invalid JSON")
        return f"body: not valid JSON ({str(err)[:80]}); send one JSON object", None
    loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    msg = str(e.get("msg", "invalid")).splitlines()[0]
    where = f"{field}: " if field else "body: "
    return f"{where}{msg[:200]}; see /docs for the request this endpoint takes", field


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.field, exc.headers)

    @app.exception_handler(InputError)
    async def _input(_: Request, exc: InputError) -> JSONResponse:
        return error_response(400, str(exc), exc.field)

    @app.exception_handler(AiexportError)
    async def _aiexport(_: Request, exc: AiexportError) -> JSONResponse:
        return error_response(400 if exc.exit_code == 2 else 500, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        msg, field = _validation_message(exc)
        return error_response(422, msg, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, msg, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(500, f"internal error ({type(exc).__name__}); please report it with the request that caused it")
