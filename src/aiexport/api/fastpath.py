"""A fast path for the questions asked most: POST /v1/classify and /v1/check from a caller whose key
is already in the key cache.

It answers exactly what the full route answers (the same bytes, recorded on the audit record with
the same input and the caller's identity) without the framework's routing, dependency solving and
body model. The route's body model accepts a JSON object whose declared fields are all scalars (or
null) and leaves it unchanged, so such a body goes to the engine as it is: from the answer cache
(the raw body's canonical JSON is the key) or, for a new question, through the same engine call as
the route's. Anything else (no or unknown key, another content type, a query option it does not
know, a body the model would refuse, any error, including the engine's refusal of a bad input) goes
on to the full application with the body untouched, which answers or reports it.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qsl

from aiexport.api import answers
from aiexport.api.keys import Caller, cached
from aiexport.api.limits import limits
from aiexport.specs import FIELDS as SPEC_FIELDS
from aiexport.transactions import TX_FIELDS

OPTIONS = {"/v1/classify": {"as_of", "scenario"}, "/v1/check": {"as_of", "scenario", "enforce_codified", "screen"}}
DECLARED = {"/v1/classify": frozenset(SPEC_FIELDS), "/v1/check": frozenset(TX_FIELDS)}  # the body models' fields (routes.py)
MAX_LENGTH = {"as_of": 40, "scenario": 100}  # the routes' query limits
BOOLS = {"true": True, "false": False}
SCALARS = (str, int, float, bool)


class FastPath:
    def __init__(self, app: Any):
        self.app = app
        self.max_body = limits()[0]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or scope.get("method") != "POST" or path not in OPTIONS:
            await self.app(scope, receive, send)
            return
        auth = ctype = length = None
        for k, v in scope.get("headers") or ():
            if k == b"authorization":
                auth = v
            elif k == b"content-type":
                ctype = v
            elif k == b"content-length":
                length = v
        caller = None
        if auth is not None and auth[:7].lower() == b"bearer " and ctype is not None and length is not None:
            found = cached(auth[7:].decode("latin-1").strip())
            caller = found if isinstance(found, Caller) else None
        try:
            size = int(length) if length is not None else -1
        except ValueError:
            size = -1
        if caller is None or ctype is None or ctype.split(b";")[0].strip().lower() != b"application/json" or not 0 < size <= self.max_body:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                await self.app(scope, _replay(b"".join(chunks), receive, msg), send)
                return
            chunks.append(msg.get("body", b""))
            more = msg.get("more_body", False)
        raw = b"".join(chunks)
        answered = False
        try:
            with ExitStack() as hold:  # a question the engine answers counts as in flight until its answer is sent
                answered = await self._answer(path, scope, raw, caller, send, hold)
        except Exception:  # anything unexpected: the full application answers (and reports) it
            answered = False
        if not answered:
            await self.app(scope, _replay(raw, receive), send)

    async def _answer(self, path: str, scope: Any, raw: bytes, caller: Caller, send: Any, hold: ExitStack) -> bool:
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        opts = dict(query)
        if len(opts) != len(query) or not set(opts) <= OPTIONS[path]:
            return False
        if any(len(opts.get(name) or "") > limit for name, limit in MAX_LENGTH.items()):
            return False
        body = json.loads(raw)
        if not isinstance(body, dict) or not body:
            return False
        if not all(v is None or isinstance(v, SCALARS) for k, v in body.items() if k in DECLARED[path]):
            return False  # the body model refuses it (422)
        day = answers.as_of(opts.get("as_of") or None)
        scenario_raw = opts.get("scenario")
        scenario = scenario_raw or None
        # the answer comes back once it is on the audit record, with the caller's identity
        if path == "/v1/classify":
            inp: dict[str, Any] = {"request": body, "as_of": day.isoformat(), "scenario": scenario_raw}
            line = await answers.classify_async(body, day, scenario, hold, ("classify", inp, caller.identity))  # cache or engine
        else:
            enforce = BOOLS.get(opts.get("enforce_codified", "false"))
            if enforce is None or BOOLS.get(opts.get("screen", "false")) is not False:
                return False
            inp = {"request": body, "as_of": day.isoformat(), "scenario": scenario_raw, "enforce_codified": enforce, "screen": False}
            line = await answers.check_async(body, day, scenario, enforce, hold, ("check", inp, caller.identity))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(line)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": line})
        return True


def _replay(raw: bytes, receive: Any, last: Any = None) -> Any:
    """A receive callable that gives the body already read, then whatever comes next."""
    state = {"sent": False}

    async def again() -> Any:
        if not state["sent"]:
            state["sent"] = True
            return {"type": "http.request", "body": raw, "more_body": False}
        if last is not None:
            return last
        return await receive()

    return again
