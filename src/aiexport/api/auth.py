"""Who is calling, and may they: ``Authorization: Bearer KEY`` on the API, the session cookie on the
web UI (a signed session token set by the login form; the browser never holds the key). Roles: viewer (read and ask) < analyst (also decide screening hits,
draw licences) < admin (also manage keys, lists, licences). The key is never logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aiexport.api.errors import ApiError
from aiexport.api.keys import MISS, Caller, cached, lookup, session_caller

COOKIE = "aiexport_session"
bearer = HTTPBearer(auto_error=False, description="An API key from `aiexport keys create --role ROLE`.")


def require(role: str = "viewer") -> Callable[..., Any]:
    """A dependency: the caller, if their key is valid and their role reaches `role`."""

    async def dependency(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
        if creds is None or not creds.credentials:
            raise ApiError(401, "no API key: send the header `Authorization: Bearer KEY` (a key from `aiexport keys create`)",
                           "Authorization", {"WWW-Authenticate": "Bearer"})
        key = creds.credentials.strip()
        caller = cached(key)
        if caller is MISS:  # the database is asked only when the key is not in the per-process cache
            caller = await run_in_threadpool(lookup, key)
        if caller is None:
            raise ApiError(401, "the API key is not valid (unknown or revoked); ask an admin for a key", "Authorization",
                           {"WWW-Authenticate": "Bearer"})
        if not caller.can(role):
            raise ApiError(403, f"this needs the {role} role; your key has the {caller.role} role", "role")
        return caller

    return dependency


def web_caller(request: Request) -> Caller | None:
    """The caller of the web UI: its session cookie holds a signed session token, never the key."""
    return session_caller(request.cookies.get(COOKIE))
