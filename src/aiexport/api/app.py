"""The application: the API under /v1/, the web UI under /, /healthz, /openapi.json and /docs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from aiexport import __version__ as VERSION
from aiexport.api import errors
from aiexport.api.limits import BodyLimit


def create_app(*, web: bool = True) -> FastAPI:
    from aiexport.api.routes import router

    app = FastAPI(title="aiexport", version=VERSION,
                  description="US export controls on AI chips, licences, screening, ledger and audit record, as a service. "
                              "Every call but /healthz takes `Authorization: Bearer KEY` (`aiexport keys create --role ROLE`). "
                              "Errors: `{\"error\": {\"status\", \"code\", \"message\", \"field\"}}`.")
    errors.install(app)
    app.add_middleware(BodyLimit)

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, Any]:
        """Alive, and the database reachable at the revision this aiexport needs. No key needed."""
        from fastapi.concurrency import run_in_threadpool

        from aiexport.db import current_revision, get_engine, head_revision

        def db_state() -> dict[str, Any]:
            try:
                rev = current_revision(get_engine())
            except Exception as exc:
                return {"ok": False, "error": type(exc).__name__}
            return {"ok": rev in (None, head_revision()), "revision": rev, "head": head_revision()}

        db = await run_in_threadpool(db_state)
        return {"status": "ok" if db["ok"] else "degraded", "version": VERSION, "database": db}

    app.include_router(router)
    if web:
        from aiexport.web.routes import mount

        mount(app)
    return app
