"""The application: the API under /v1/, the web UI under /, /healthz, /openapi.json and /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from aiexport import __version__ as VERSION
from aiexport.api import errors
from aiexport.api.fastpath import FastPath
from aiexport.api.limits import BodyLimit

GC_YOUNG = 100_000


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the rulebook and catalog and run the engine once before the first request, then move
    everything loaded out of the garbage collector's way: those objects live as long as the process,
    and a full collection walking them stalled every request in flight (p99 ~110 ms -> ~20 ms).
    The youngest generation is collected every GC_YOUNG allocations instead of Python's 700: a
    request allocates thousands of short-lived objects, and at 700 the collector ran several times
    per request (new questions at 50 clients: p99 ~47 -> ~42 ms, benchmarks/load.py)."""
    import gc
    from datetime import date

    from fastapi.concurrency import run_in_threadpool

    from aiexport.api import answers

    def run() -> None:
        try:
            answers._classify_rows([{"name": "H100"}], (date.today(), None), batch=False)
            answers._check_rows([{"kind": "export", "item": "H100", "destination_country": "DE"}], (date.today(), None, False, False),
                                batch=False)
        except Exception:  # warming is best effort: a real request reports any problem
            pass

    await run_in_threadpool(run)
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
    yield


def create_served_app() -> FastPath:
    """The application as `aiexport serve` runs it: the fast path in front of the whole application
    (not inside its middleware), so a question it answers skips the framework's per-request layers
    (FastAPI's telemetry check, Starlette's error and size middleware); everything else goes on to
    `create_app()`'s application, size limit first. The fast path reads only a body whose declared
    length is within the limit."""
    return FastPath(create_app(fastpath=False))


def create_app(*, web: bool = True, fastpath: bool = True) -> FastAPI:
    from aiexport.api.routes import router

    app = FastAPI(title="aiexport", version=VERSION, lifespan=lifespan,
                  description="US export controls on AI chips, licences, screening, ledger and audit record, as a service. "
                              "Every call but /healthz takes `Authorization: Bearer KEY` (`aiexport keys create --role ROLE`). "
                              "Errors: `{\"error\": {\"status\", \"code\", \"message\", \"field\"}}`.")
    errors.install(app)
    if fastpath:  # inside the size limit: classify/check answers without the framework's overhead (`create_served_app`: in front)
        app.add_middleware(FastPath)
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
        import polars as pl

        from aiexport.api.connections import open_connections

        return {"status": "ok" if db["ok"] else "degraded", "version": VERSION, "database": db, "engine_threads": pl.thread_pool_size(),
                "open_connections": open_connections()}

    app.include_router(router)
    if web:
        from aiexport.web.routes import mount

        mount(app)
    return app
