"""Request size limits (pure ASGI, before anything reads the body): a request whose declared or
streamed body exceeds the limit is answered 413 in the error shape, without reading the rest.

`AIEXPORT_MAX_BODY_BYTES` (default 1 MiB) for JSON requests; `AIEXPORT_MAX_UPLOAD_BYTES` (default
64 MiB) for multipart uploads (order books, list files)."""

from __future__ import annotations

import json
import os
from typing import Any

from aiexport.api.errors import body as error_body

DEFAULT_BODY = 1 << 20
DEFAULT_UPLOAD = 64 << 20


def limits() -> tuple[int, int]:
    def env(name: str, default: int) -> int:
        try:
            return max(1024, int(os.environ.get(name, default)))
        except ValueError:
            return default

    return env("AIEXPORT_MAX_BODY_BYTES", DEFAULT_BODY), env("AIEXPORT_MAX_UPLOAD_BYTES", DEFAULT_UPLOAD)


class BodyLimit:
    def __init__(self, app: Any):
        self.app = app
        self.max_body, self.max_upload = limits()

    async def _reject(self, send: Any, limit: int) -> None:
        payload = json.dumps(error_body(413, f"body: larger than {limit:,} bytes; send less (a big order book goes to "
                                             "POST /v1/jobs/check as a file)")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = self.max_upload if ctype.startswith("multipart/") else self.max_body
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    await self._reject(send, limit)
                    return
            except ValueError:
                pass
        if declared is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # no declared length (chunked): read up to the limit first, then hand the body on
            chunks, seen, more = [], 0, True
            while more:
                msg = await receive()
                if msg["type"] != "http.request":
                    break
                chunks.append(msg.get("body", b""))
                seen += len(chunks[-1])
                if seen > limit:
                    await self._reject(send, limit)
                    return
                more = msg.get("more_body", False)
            whole = b"".join(chunks)
            sent = False

            async def replay() -> Any:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": whole, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)
