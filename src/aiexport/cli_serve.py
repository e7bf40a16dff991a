"""`aiexport serve` (the REST API and web UI, uvicorn) and `aiexport keys create|list|revoke`
(issue #7). Registered in cli.py by `register(app)`; errors go through cli.py's handling (one line,
exit 2 on bad input)."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Annotated

import typer

from aiexport import render
from aiexport.cli import JsonOpt
from aiexport.errors import InputError

keys_app = typer.Typer(no_args_is_help=True, help="API keys of the service: roles viewer, analyst, admin; stored hashed.")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="viewer (read and ask), analyst (also decide screening hits, draw "
                                                     "licences) or admin (also manage keys, lists, licences).")],
    name: Annotated[str | None, typer.Option("--name", help="Who or what uses the key (shown in lists and on the audit record).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a key. The key is printed once, on the last line; only its SHA-256 is stored."""
    from aiexport.api.keys import create_key

    key, view = create_key(role, name)
    if json_out:
        print(json.dumps(view))
    else:
        render.console(stderr=True).print(f"key #{view['id']} ({view['role']}, {view['name']}): keep it secret, it is shown only now")
    print(key)


@keys_app.command("list")
def keys_list(json_out: JsonOpt = False) -> None:
    """Every key: id, name, role, prefix, created, revoked (never the key itself)."""
    from aiexport.api.keys import list_keys

    rows = list_keys()
    if json_out:
        for r in rows:
            print(json.dumps(r))
        return
    if not rows:
        render.console().print("no key yet; create one with `aiexport keys create --role admin`")
        return
    t = render.Table(show_header=True, header_style="bold")
    for col in ("id", "prefix", "name", "role", "created (UTC)", "by", "revoked"):
        t.add_column(col)
    for r in rows:
        t.add_row(str(r["id"]), r["prefix"] + "…", r["name"], r["role"], r["created_at"], r["created_by"], r["revoked_at"] or "")
    render.console().print(t)


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key's id or prefix, as `aiexport keys list` shows them.")],
                json_out: JsonOpt = False) -> None:
    """Revoke a key: refused by every server process within 5 seconds."""
    from aiexport.api.keys import revoke_key

    view = revoke_key(key)
    if json_out:
        print(json.dumps(view))
        return
    render.console().print(f"key #{view['id']} ({view['prefix']}…, {view['role']}, {view['name']}) revoked at {view['revoked_at']}")


#: polars threads per worker by default (`--engine-threads`). Measured with benchmarks/load.py, 50 clients,
#: new questions, five runs each way on 2 cores: p50 29.9 / p99 44.5 ms with 1, 32.4 / 47.4 ms with 2 (the
#: small queries gain nothing from a second thread and take CPU from the HTTP side); a 200,000-line
#: order book takes about 20 % longer with 1 (benchmarks/check.py)
ENGINE_THREADS = 1
_REEXEC = "AIEXPORT_SERVE_REEXEC"


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes (several share one database: use PostgreSQL, "
                                                           "AIEXPORT_DATABASE_URL).")] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="critical, error, warning, info or debug.")] = "info",
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log one line per request (method, path, "
                                                                                 "status; never a key).")] = True,
    engine_threads: Annotated[int | None, typer.Option("--engine-threads", help="Threads of each worker's query engine "
                                                       "(polars); default POLARS_MAX_THREADS if set, else 1. 1 suits questions "
                                                       "(each is a small query; on 2 cores the HTTP side keeps the other core); "
                                                       "more suit large batch uploads.")] = None,
) -> None:
    """Run the REST API (/v1/, /openapi.json, /docs) and the web UI (/) with uvicorn."""
    import uvicorn

    from aiexport.api.connections import PROTOCOL
    from aiexport.db import ensure_schema

    if not 0 < port < 65536:
        raise InputError(f"--port: {port} is not a TCP port; give 1-65535", field="--port")
    if workers < 1 or workers > 64:
        raise InputError(f"--workers: {workers}; give 1 to 64", field="--workers")
    if log_level not in ("critical", "error", "warning", "info", "debug"):
        raise InputError(f"--log-level: {log_level!r}; give critical, error, warning, info or debug", field="--log-level")
    if engine_threads is None:
        given = os.environ.get("POLARS_MAX_THREADS", "")
        engine_threads = int(given) if given.isdigit() and int(given) > 0 else ENGINE_THREADS
    if not 1 <= engine_threads <= 256:
        raise InputError(f"--engine-threads: {engine_threads}; give 1 to 256", field="--engine-threads")
    if os.environ.get("POLARS_MAX_THREADS") != str(engine_threads) and not os.environ.get(_REEXEC) and "serve" in sys.argv[1:]:
        # polars sizes its thread pool once per process, and the CLI has already started it: start again with it set
        # (only the `aiexport serve` command itself; a program that calls this function keeps its own pool)
        env = {**os.environ, "POLARS_MAX_THREADS": str(engine_threads), _REEXEC: "1"}
        os.execve(sys.executable, [sys.executable, "-m", "aiexport", *sys.argv[1:]], env)
    os.environ.pop(_REEXEC, None)  # started again (or need not be): what this process starts decides for itself
    engine = ensure_schema()  # migrate an empty database once, before the workers start
    if workers > 1 and engine.dialect.name == "sqlite":
        render.console(stderr=True).print("warning: several workers on one SQLite file take turns to write (each answer goes on the "
                                          "audit record); for several workers set AIEXPORT_DATABASE_URL to PostgreSQL")
    os.environ.setdefault("AIEXPORT_SERVE", "1")
    if hasattr(signal, "SIGPIPE"):  # `aiexport` lets SIGPIPE end a CLI quietly (`| head`); a server must not die of it:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # uvloop writes to a socket its client has closed and gets EPIPE
    uvicorn.run("aiexport.api.app:create_served_app", factory=True, host=host, port=port, workers=workers, log_level=log_level,
                access_log=access_log, proxy_headers=False, server_header=False, http=PROTOCOL)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("serve")(serve)
