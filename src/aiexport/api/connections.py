"""The server's open HTTP connections, counted for the coalescer (`answers.Coalescer`).

A client on HTTP/1.1 asks one question at a time on a connection. When every open connection of
this process has a question waiting in a coalescer, no other question can join the wave that is
forming, so the engine need not wait for one. `aiexport serve` runs uvicorn with this protocol
(httptools, as uvicorn's own, plus the count); elsewhere (tests in process) nothing is counted and
`open_connections()` is None.
"""

from __future__ import annotations

import asyncio
import threading

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: the protocol class `aiexport serve` gives uvicorn (`--http`), as uvicorn imports it
PROTOCOL = "aiexport.api.connections:CountingHttpToolsProtocol"

_lock = threading.Lock()
_open: int | None = None  # None until the first connection: not served by this protocol


class CountingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        global _open
        with _lock:
            _open = (_open or 0) + 1
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        global _open
        with _lock:
            _open = max(0, (_open or 0) - 1)
        super().connection_lost(exc)


def open_connections() -> int | None:
    """Open HTTP connections of this process, or None when they are not counted."""
    return _open
