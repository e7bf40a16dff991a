"""The engine as the service calls it: the same functions and the same JSON as the CLI's ``--json``.

The rulebook (per scenario), the catalog and the list index are loaded once per process, lazily.
Classify and check answers are pure functions of (input, date, rulebook, list snapshot): each is
kept in a bounded LRU cache keyed by all of them, so a question asked again costs a dictionary
look-up. The JSON is polars' ``write_ndjson`` of the engine's frame, exactly as `aiexport classify
--json` and `aiexport check --json` print it.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from aiexport.errors import InputError
from aiexport.queries import on_engine_thread
from aiexport.rulebook import Rulebook, load_rulebook, parse_date

SCENARIOS = Path(__file__).resolve().parent.parent / "rules" / "scenarios"
CACHE_SIZE = 20_000
#: dynamic batching (see Coalescer): how long the engine may wait for askers in flight to join a batch
#: (a tuning knob, not a rule; measured with benchmarks/load.py), and how often it looks
BATCH_LINGER_MS = float(os.environ.get("AIEXPORT_BATCH_LINGER_MS", "10"))
BATCH_QUIET_MS = float(os.environ.get("AIEXPORT_BATCH_QUIET_MS", "3"))
#: what an asker hands over to have its answer recorded before it is given: (kind, input, user)
Record = tuple[str, Any, str]
#: a question as the engine thread holds it: (body, its answer's future, its record request)
Asked = tuple[dict[str, Any], Future[bytes], Record | None]


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


_rulebooks: dict[str | None, Rulebook] = {}
_rb_lock = threading.Lock()


def scenario_path(name: str | None) -> Path | None:
    """A packaged scenario by name (the service never reads a path a caller gives)."""
    if not name:
        return None
    if name not in scenario_names():
        raise InputError(f"scenario: {name!r} is not a packaged scenario; give one of {', '.join(scenario_names())} or none",
                         field="scenario")
    return SCENARIOS / f"{name}.yaml"


def rulebook(scenario: str | None = None) -> Rulebook:
    key = scenario or None
    rb = _rulebooks.get(key)
    if rb is None:
        with _rb_lock:
            rb = _rulebooks.get(key)
            if rb is None:
                rb = _rulebooks[key] = load_rulebook(scenario_path(key))
    return rb


def as_of(text: str | None) -> date:
    return parse_date(text, "as_of") if text else date.today()


class LRU:
    """A small thread-safe LRU map."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            v = self.data.get(key)
            if v is not None:
                self.data.move_to_end(key)
            return v

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


answer_cache = LRU()


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def ndjson_lines(df: pl.DataFrame) -> list[bytes]:
    """One JSON object per row, as the CLI's ``--json`` writes them (polars ``write_ndjson``). Rows
    end with "\n" alone: a text may hold U+2028, U+2029 or U+0085 as they are (JSON allows them),
    where `str.splitlines` would cut the row."""
    text = df.write_ndjson()
    return [line.encode("utf-8") for line in text.split("\n") if line]


def spec_frame(spec: Mapping[str, Any]) -> tuple[pl.DataFrame, str]:
    """A classify request: ``{"name": CATALOG_NAME}`` alone, or the fields of a spec."""
    from aiexport import catalog
    from aiexport.specs import specs_from_python

    if not isinstance(spec, Mapping) or not spec:
        raise InputError("body: give one spec object (the classify fields) or {\"name\": CATALOG_NAME}", field="body")
    if set(spec) == {"name"}:
        name = spec["name"]
        if not isinstance(name, str) or not name.strip():
            raise InputError("name: give a catalog name such as \"H100\" (see GET /v1/catalog)", field="name")
        found = catalog.find(name)
        if found is None:
            raise InputError(f"name: {name!r} is not in the catalog ({catalog.suggest(name, 'see GET /v1/catalog')}); give a catalog "
                             "name or the spec's fields", field="name")
        return specs_from_python(catalog.spec_of(found), "catalog"), "catalog"
    return specs_from_python(dict(spec), "request"), "request"


_COALESCERS: weakref.WeakSet[Coalescer] = weakref.WeakSet()  # every coalescer of this process (their askers in flight)


class Coalescer:
    """Concurrent questions of one kind answered by one engine call.

    The engine's cost is per call, not per row (classifying 50 specs costs about what one costs), so
    questions that arrive while the engine is busy are queued and answered together in the next
    call, grouped by their options. Each row gets a temporary id, put back in its answer; a batch
    with any bad row is answered row by row, so each question gets its own error.

    Dynamic batching. Answering whatever is queued the moment the engine is free splits steady
    callers into waves, each queued behind the other's call (50 clients: two calls' wait, p50 about
    40 ms). So when two or more questions are waiting, the engine first lets the rest of the wave
    in: it waits while questions keep coming, until none has come for `quiet` seconds and no other
    asker is in flight (`asking`: a question the cache could not answer, until its answer is sent),
    `linger` seconds at most. A lone question is held only while other askers are in flight: a client a
    few ms late for the last wave then waits for that wave's clients, who ask again as soon as their
    answers are out, instead of taking an engine call for itself while they queue behind it (with
    50 clients, waves then split in two for a while). A client alone is never held. (50 clients, new questions: every call
    answered all 50, p50 about 27 ms; benchmarks/load.py.) Under `aiexport serve`, which counts its
    open connections (`connections`), the wave closes as soon as every open connection has a question
    in flight: no other can come, and the quiet gap (3 ms after the last question of every wave, a
    tenth of the cycle) is not waited out (p50 about 3 ms lower, benchmarks/load.py, 2026-11-29). The
    quiet gap counts from the last question or the last answer sent, whichever is later: a client
    in a loop asks again as soon as it has its answer, and a wave that closed while the last wave's
    answers were still going out left those clients a whole engine call behind (waves closed on
    a quiet gap at 50 clients: 32-42 -> 15-21 in 20 s, benchmarks/load.py, 2026-11-30).

    Each call runs on one of polars' own threads where `pooled(options)` allows it
    (`queries.on_engine_thread`: a call is some twenty small queries, and from any other thread each
    pays a hand-over to polars' pool and back; benchmarks/single.py --batch 50).
    """

    def __init__(self, name: str, compute: Any, max_batch: int = 256, linger_ms: float | None = None,
                 quiet_ms: float | None = None, pooled: Any = None):
        self.name, self.compute, self.max_batch = name, compute, max_batch
        self.pooled = pooled or (lambda options: False)  # options -> may the call run on a polars thread
        self.linger = (BATCH_LINGER_MS if linger_ms is None else linger_ms) / 1000
        self.quiet = (BATCH_QUIET_MS if quiet_ms is None else quiet_ms) / 1000
        self.callers = 0  # askers in flight (`asking`)
        self.left = 0.0  # when the last asker left, answered (monotonic)
        self.pending: deque[tuple[tuple[Any, ...], dict[str, Any], Future[bytes], Record | None]] = deque()
        self.cv = threading.Condition()
        self.thread: threading.Thread | None = None
        _COALESCERS.add(self)

    @contextmanager
    def asking(self) -> Iterator[None]:
        with self.cv:
            self.callers += 1
        try:
            yield
        finally:
            with self.cv:
                self.callers -= 1
                self.left = time.monotonic()  # answered: a client in a loop asks again within a moment

    def submit(self, options: tuple[Any, ...], body: dict[str, Any], record: Record | None = None) -> Future[bytes]:
        """The answer's future; with `record` (kind, input, user), it resolves once the answer is on
        the audit record, the answers of one engine call going to the recorder together."""
        fut: Future[bytes] = Future()
        with self.cv:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name=f"aiexport-{self.name}", daemon=True)
                self.thread.start()
            self.pending.append((options, body, fut, record))
            self.cv.notify()
        return fut

    def _take(self) -> list[tuple[tuple[Any, ...], dict[str, Any], Future[bytes], Record | None]]:
        with self.cv:
            while not self.pending:
                self.cv.wait()
            if len(self.pending) > 1 or self.callers > len(self.pending):  # a wave is forming, or askers in flight will ask again
                deadline = time.monotonic() + self.linger
                while len(self.pending) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    seen = len(self.pending)
                    if self.callers <= seen and _every_connection_asking():
                        break  # every open connection waits for an answer: no other question can come
                    self.cv.wait(min(left, self.quiet))
                    if len(self.pending) == seen and self.callers <= seen and time.monotonic() - self.left >= self.quiet:
                        break  # none came for `quiet`, no other asker is in flight, and none was answered meanwhile
            return [self.pending.popleft() for _ in range(min(len(self.pending), self.max_batch))]

    def _run(self) -> None:
        while True:
            groups: dict[tuple[Any, ...], list[Asked]] = {}
            for options, body, fut, record in self._take():
                groups.setdefault(options, []).append((body, fut, record))
            _deliver([answer for options, group in groups.items() for answer in self._answer(options, group)])

    def _answer(self, options: tuple[Any, ...], group: list[Asked]) -> list[tuple[Future[bytes], bytes, Record | None]]:
        """The answers of `group` (a question the engine refuses gets its error at once), worked out
        on a polars thread (`queries.on_engine_thread`) where `self.compute` allows it."""
        compute = self.compute
        if self.pooled(options):
            def compute(bodies: list[dict[str, Any]], options: tuple[Any, ...], batch: bool) -> list[bytes]:
                return on_engine_thread(lambda: self.compute(bodies, options, batch=batch))
        if len(group) > 1:
            try:
                lines = compute([b for b, _, _ in group], options, batch=True)
            except Exception:  # a bad row (or a row that cannot share a frame): answer each on its own
                lines = None
            if lines is not None:
                return [(fut, line, record) for (_, fut, record), line in zip(group, lines, strict=True)]
        out = []
        for body, fut, record in group:
            try:
                out.append((fut, compute([body], options, batch=False)[0], record))
            except BaseException as exc:
                fut.set_exception(exc)
        return out




def _every_connection_asking() -> bool:
    """Every open HTTP connection of this process has a question in flight (`Coalescer.asking`), as
    counted by `aiexport serve` (`connections`); False where connections are not counted."""
    from aiexport.api.connections import open_connections

    n = open_connections()
    return n is not None and sum(c.callers for c in list(_COALESCERS)) >= n


def _deliver(answered: list[tuple[Future[bytes], bytes, Record | None]]) -> None:
    """Give each answer; those with a record request once committed, all of one call in one hand-over."""
    from aiexport.api.recorder import entry, submit_many

    to_record = []
    for fut, line, record in answered:
        if record is None:
            fut.set_result(line)
            continue
        try:
            kind, inp, user = record
            to_record.append((fut, line, entry(kind, inp, json.loads(line)), user))
        except BaseException as exc:
            fut.set_exception(exc)
    if not to_record:
        return
    done = submit_many([(e, user) for _, _, e, user in to_record])
    for (fut, line, _, _), committed in zip(to_record, done, strict=True):
        committed.add_done_callback(lambda c, fut=fut, line=line: fut.set_exception(c.exception()) if c.exception() else fut.set_result(line))


def _tmp_id(i: int) -> str:
    return f"__aiexport_batch_row_{i}__"


def _restore_ids(lines: list[bytes], ids: list[Any]) -> list[bytes]:
    """Put each row's own id back in place of its temporary one (which must appear exactly once)."""
    out = []
    for i, (line, real) in enumerate(zip(lines, ids, strict=True)):
        token = json.dumps(_tmp_id(i)).encode()
        if line.count(token) != 1:
            raise ValueError("temporary id not found exactly once")
        out.append(line.replace(token, json.dumps(real, ensure_ascii=False).encode("utf-8"), 1))
    return out


def _classify_rows(bodies: list[dict[str, Any]], options: tuple[Any, ...], batch: bool) -> list[bytes]:
    from aiexport.chips import classify_frame
    from aiexport.specs import specs_from_python

    day, scenario = options
    rb = rulebook(scenario)
    if not batch:
        frame, source = spec_frame(bodies[0])
        lines = ndjson_lines(classify_frame(frame, rb, day, source))
        if len(lines) != 1:
            raise InputError("body: give exactly one spec (a system's contained IC is named by `contains`)", field="body")
        return lines
    from aiexport import catalog

    specs, ids = [], []
    for i, body in enumerate(bodies):
        if set(body) == {"name"}:
            found = catalog.find(body["name"]) if isinstance(body["name"], str) else None
            if found is None:
                raise ValueError("not a catalog name: answered on its own, with its error")
            spec = catalog.spec_of(found)
        else:
            spec = dict(body)
        if "contains" in spec:
            raise ValueError("a system is classified on its own")
        ids.append(_plain_id(spec.get("id", "spec1")))
        specs.append({**spec, "id": _tmp_id(i)})
    rows = classify_frame(specs_from_python(specs, "request"), rb, day, "request")
    return _restore_ids(ndjson_lines(rows), ids)


def _plain_id(value: Any) -> str:
    """An id that validation keeps as it is (else the row is answered on its own)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("an id that validation may change")
    text = str(value)
    if not text or text != text.strip():
        raise ValueError("an id that validation may change")
    return text


def _check_rows(bodies: list[dict[str, Any]], options: tuple[Any, ...], batch: bool) -> list[bytes]:
    from aiexport.licensing import check_frame

    day, scenario, enforce, screen = options
    rb = rulebook(scenario)
    party = None
    if screen:
        from aiexport.parties.screening import party_screen

        index, snap_hash, _ = current_index()
        party = party_screen(index, snapshot_hash=snap_hash)
    if not batch:
        return ndjson_lines(check_frame(transactions(bodies[0]), rb, day, enforce_codified=enforce, source="request", screen=party))
    ids = [_plain_id(b["id"]) if b.get("id") is not None else "tx1" for b in bodies]
    frame = transactions([{**b, "id": _tmp_id(i)} for i, b in enumerate(bodies)])
    lines = ndjson_lines(check_frame(frame, rb, day, enforce_codified=enforce, source="request", screen=party))
    return _restore_ids(lines, ids)


def _pooled(options: tuple[Any, ...]) -> bool:
    """May the engine call for `options` (classify: day, scenario; check: also enforce, screen) run on
    a polars thread? Not with screening (the list index and its twin take locks), and only once the
    rulebook is loaded (its loading takes one; an unknown scenario is refused by the call itself)."""
    if len(options) > 3 and options[3]:
        return False
    try:
        rulebook(options[1])
    except Exception:
        return False
    return True


_classifier = Coalescer("classify", _classify_rows, pooled=_pooled)
_checker = Coalescer("check", _check_rows, pooled=_pooled)


def classify_one(spec: Mapping[str, Any], day: date, scenario: str | None = None) -> bytes:
    """The classification of one spec, as the JSON object `aiexport classify --json` prints."""
    key = ("classify", canonical(spec), day, scenario)
    hit = answer_cache.get(key)
    if hit is not None:
        return hit
    rulebook(scenario)  # a bad scenario is the caller's error, before anything is queued
    line = _classifier.submit((day, scenario), dict(spec)).result()
    answer_cache.put(key, line)
    return line


async def classify_async(spec: Mapping[str, Any], day: date, scenario: str | None = None, hold: ExitStack | None = None,
                         record: Record | None = None) -> bytes:
    """As `classify_one`, awaited on the event loop (no thread is held while the engine works). A
    question the cache cannot answer counts as in flight for dynamic batching until `hold` closes.
    With `record`, the answer is on the audit record when it is returned."""
    import asyncio

    key = ("classify", canonical(spec), day, scenario)
    hit = answer_cache.get(key)
    if hit is not None:
        return await _recorded(hit, record)
    if scenario not in _rulebooks:
        await asyncio.to_thread(rulebook, scenario)
    if hold is not None:
        hold.enter_context(_classifier.asking())
    line = await asyncio.wrap_future(_classifier.submit((day, scenario), dict(spec), record))
    answer_cache.put(key, line)
    return line


async def check_async(tx: Mapping[str, Any], day: date, scenario: str | None = None, enforce: bool = False,
                      hold: ExitStack | None = None, record: Record | None = None) -> bytes:
    """As `check_one` without screening, awaited on the event loop (`hold`, `record`: see `classify_async`)."""
    import asyncio

    key = ("check", canonical(tx), day, scenario, enforce, None)
    hit = answer_cache.get(key)
    if hit is not None:
        return await _recorded(hit, record)
    if not isinstance(tx, Mapping) or not tx:
        raise InputError("body: give one transaction object with the check fields", field="body")
    if scenario not in _rulebooks:
        await asyncio.to_thread(rulebook, scenario)
    if hold is not None:
        hold.enter_context(_checker.asking())
    line = await asyncio.wrap_future(_checker.submit((day, scenario, enforce, False), dict(tx), record))
    answer_cache.put(key, line)
    return line


async def _recorded(line: bytes, record: Record | None) -> bytes:
    if record is not None:
        from aiexport.api.recorder import record as put_on_record

        kind, inp, user = record
        await put_on_record(kind, inp, json.loads(line), user)
    return line


def check_one(tx: Mapping[str, Any], day: date, scenario: str | None = None, enforce: bool = False, screen: bool = False) -> bytes:
    """The determination of one transaction, as the JSON object `aiexport check --json` prints."""
    rulebook(scenario)
    snap_hash = current_index()[1] if screen else None
    key = ("check", canonical(tx), day, scenario, enforce, snap_hash)
    hit = answer_cache.get(key)
    if hit is not None:
        return hit
    if not isinstance(tx, Mapping) or not tx:
        raise InputError("body: give one transaction object with the check fields", field="body")
    line = _checker.submit((day, scenario, enforce, screen), dict(tx)).result()
    answer_cache.put(key, line)
    return line


def transactions(tx: Any) -> pl.DataFrame:
    from aiexport.transactions import transactions_from_python

    if isinstance(tx, Mapping):
        if not tx:
            raise InputError("body: give one transaction object with the check fields", field="body")
        return transactions_from_python(dict(tx), "request")
    if not isinstance(tx, list) or not tx or not all(isinstance(t, Mapping) for t in tx):
        raise InputError("body: give a list of transaction objects with the check fields", field="body")
    return transactions_from_python([dict(t) for t in tx], "request")


def check_many(txs: list[Mapping[str, Any]], day: date, scenario: str | None = None, enforce: bool = False) -> pl.DataFrame:
    from aiexport.licensing import check_frame

    return check_frame(transactions(txs), rulebook(scenario), day, enforce_codified=enforce, source="request")


_index: dict[str, Any] = {}
_index_lock = threading.Lock()


def current_index() -> tuple[Any, str, int]:
    """The matcher index of the current stored list snapshot (built once per snapshot per process)."""
    from aiexport.parties import store

    snap = store.current_snapshot()
    if snap is None:
        raise InputError("no list snapshot is stored; an admin imports one with POST /v1/lists (or `aiexport lists import FILE`)",
                         field="snapshot")
    with _index_lock:
        if _index.get("id") != snap.id:
            _index.update(id=snap.id, index=store.snapshot_index(snap), hash=snap.content_hash)
        return _index["index"], _index["hash"], snap.id
