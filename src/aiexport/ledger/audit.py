"""The audit record: every answer given with ``--record``, kept unchanged and provably so.

Each record holds its input and output (canonical JSON: sorted keys, no spaces, UTF-8), the
rulebook hash and list snapshot hash the answer was made with, the user, the time, a sequence
number, and the hash of the record before it (`prev_hash`). Its own `hash` is the SHA-256 of the
canonical JSON of all those fields: change a record, and its hash no longer matches; delete or
insert one, and the next record's `prev_hash` (or the chain's head) no longer matches. The EAR
keeps records for five years (15 CFR 762.6); the database keeps them for good.

* Append-only through the application: nothing here updates or deletes, and the database refuses
  UPDATE and DELETE on ``audit_records`` (triggers, migration 0002).
* Appenders never fork the chain: each append transaction locks the chain's head (``audit_head``,
  ``SELECT … FOR UPDATE`` on PostgreSQL; the database write lock, ``BEGIN IMMEDIATE``, on SQLite),
  numbers its records after it and moves it. ``seq`` is the primary key besides.
* Batches (`record_batch`): the lines of one input file, answered with one set of options, form a
  batch whose id is the SHA-256 of (kind, the file's SHA-256, the options); ``(batch_id, line)`` is
  unique. Lines are appended in transactions of `CHUNK` lines, so a process killed half-way leaves
  whole chunks on record; resuming records only the lines not on record yet.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from aiexport.db import ensure_schema
from aiexport.db.models import AuditHead, AuditRecord, utcnow
from aiexport.errors import InputError
from aiexport.ledger.session import current_user, read_scope, write_scope

R = AuditRecord.__table__
H = AuditHead.__table__
GENESIS = "0" * 64
CHUNK = 2000
#: the fields a record's hash covers, in the order `audit export` writes them
FIELDS = ("seq", "kind", "recorded_at", "user", "rulebook_hash", "list_snapshot_hash", "batch_id", "line", "input", "output",
          "prev_hash")


def _default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, Decimal):
        return str(o)
    if isinstance(o, set | frozenset | tuple):
        return sorted(o, key=str) if isinstance(o, set | frozenset) else list(o)
    if isinstance(o, bytes):
        return o.hex()
    return str(o)


def canonical(obj: Any) -> str:
    """Canonical JSON: keys sorted, no whitespace, UTF-8 text kept as is; dates as ISO 8601."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)


def record_hash(fields: dict[str, Any]) -> str:
    """The hash of a record: SHA-256 of the canonical JSON of its `FIELDS` (input and output as their
    stored canonical text, the time as ISO 8601 in UTC)."""
    payload = {k: fields[k] for k in FIELDS}
    if isinstance(payload["recorded_at"], datetime):
        payload["recorded_at"] = payload["recorded_at"].isoformat()
    return hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One answer to put on record."""

    kind: str
    input: Any
    output: Any
    rulebook_hash: str | None = None
    list_snapshot_hash: str | None = None
    line: int | None = None


def _check_kind(kind: str) -> str:
    if not kind or len(kind) > 32 or not kind.replace("_", "").replace("-", "").isalnum():
        raise InputError(f"audit record kind {kind!r}: give a short name such as check, classify, screen", field="kind")
    return kind


def _append(engine: Any, entries: Sequence[Entry], user: str, batch_id: str | None) -> list[dict[str, Any]]:
    """Append `entries` in one transaction, after the chain's head (locked). Returns their seq and hash."""
    now = utcnow()
    texts = [(canonical(e.input), canonical(e.output)) for e in entries]
    with write_scope(engine) as conn:
        head = conn.execute(sa.select(H.c.seq, H.c.hash).where(H.c.id == 1).with_for_update()).one()
        seq, prev = head.seq, head.hash
        rows = []
        for e, (tin, tout) in zip(entries, texts, strict=True):
            seq += 1
            row = {"seq": seq, "kind": e.kind, "recorded_at": now, "user": user, "rulebook_hash": e.rulebook_hash,
                   "list_snapshot_hash": e.list_snapshot_hash, "batch_id": batch_id if e.line is not None else None, "line": e.line,
                   "input": tin, "output": tout, "prev_hash": prev}
            row["hash"] = prev = record_hash(row)
            rows.append(row)
        if rows:
            conn.execute(R.insert(), rows)
            conn.execute(H.update().where(H.c.id == 1).values(seq=seq, hash=prev))
    return [{"seq": r["seq"], "hash": r["hash"]} for r in rows]


def record(kind: str, input: Any, output: Any, rulebook_hash: str | None = None, list_snapshot_hash: str | None = None,
           user: str | None = None, *, url: str | None = None) -> dict[str, Any]:
    """Put one answer on record; returns its ``seq`` and ``hash``."""
    return _append(ensure_schema(url), [Entry(_check_kind(kind), input, output, rulebook_hash, list_snapshot_hash)],
                   current_user(user), None)[0]


def record_many(entries: Iterable[Entry], user: str | None = None, *, url: str | None = None, chunk: int = CHUNK) -> int:
    """Put many answers on record, `chunk` per transaction (not one per answer); returns how many."""
    engine, who, n = ensure_schema(url), current_user(user), 0
    buf: list[Entry] = []
    for e in entries:
        _check_kind(e.kind)
        buf.append(e)
        if len(buf) >= chunk:
            n += len(_append(engine, buf, who, None))
            buf = []
    if buf:
        n += len(_append(engine, buf, who, None))
    return n


# ---------------------------------------------------------------------------------------------- batches


def batch_id(kind: str, file_sha256: str, options: dict[str, Any]) -> str:
    """The id of a batch: the same kind, input file and options give the same id."""
    return hashlib.sha256(canonical({"kind": kind, "file_sha256": file_sha256, "options": options}).encode()).hexdigest()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def recorded_lines(bid: str, *, url: str | None = None) -> set[int]:
    engine = ensure_schema(url)
    with read_scope(engine) as conn:
        return {line for (line,) in conn.execute(sa.select(R.c.line).where(R.c.batch_id == bid))}


#: answers of lines [start, start + n): (inputs, outputs, rulebook hashes, list snapshot hashes)
Fetch = Callable[[int, int], tuple[list[Any], list[Any], list[str | None], list[str | None]]]


def record_batch(kind: str, bid: str, height: int, fetch: Fetch, *, resume: bool = False, user: str | None = None,
                 url: str | None = None, chunk: int = CHUNK) -> dict[str, Any]:
    """Record lines 1..`height` of a batch, `chunk` lines per transaction. A batch already (partly)
    on record is an error unless `resume`, which records only the lines missing."""
    _check_kind(kind)
    who = current_user(user)
    engine = ensure_schema(url)
    done = recorded_lines(bid, url=url)
    if done and not resume:
        state = "complete" if len(done) >= height else f"{len(done):,} of {height:,} lines"
        raise InputError(f"--record: this input with these options is already on record as batch {bid[:16]} ({state}); "
                         "add --resume to record the lines still missing (no line is recorded twice)", field="--record")
    written = 0
    for start in range(0, height, chunk):
        n = min(chunk, height - start)
        need = [i for i in range(start, start + n) if (i + 1) not in done]
        if not need:
            continue
        inputs, outputs, rb_hashes, list_hashes = fetch(start, n)
        entries = [Entry(kind, inputs[i - start], outputs[i - start], rb_hashes[i - start], list_hashes[i - start], line=i + 1)
                   for i in need]
        try:
            written += len(_append(engine, entries, who, bid))
        except sa.exc.IntegrityError:  # another process recorded some of these lines meanwhile: take only what is missing
            again = recorded_lines(bid, url=url)
            rest = [e for e in entries if e.line not in again]
            written += len(_append(engine, rest, who, bid)) if rest else 0
    return {"batch_id": bid, "lines": height, "recorded": written, "already_recorded": len(done),
            "complete": len(done) + written >= height}


# ---------------------------------------------------------------------------------------------- reading


def _rows(conn: Any, where: Any = None, batch: int = 5000) -> Iterator[Any]:
    """The records in seq order, `batch` at a time (keyset pagination: constant memory on any size)."""
    last = None
    while True:
        q = sa.select(R).order_by(R.c.seq).limit(batch)
        if where is not None:
            q = q.where(where)
        if last is not None:
            q = q.where(R.c.seq > last)
        rows = conn.execute(q).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(*, url: str | None = None) -> dict[str, Any]:
    """Check the whole chain: every record's hash, every link, no gap in the numbering, and the head.
    Returns ``ok``, ``records`` and, when broken, ``first_bad`` (``seq``, ``problem``)."""
    engine = ensure_schema(url)
    n, expect_seq, prev = 0, 1, GENESIS

    def broken(seq: int, problem: str) -> dict[str, Any]:
        return {"ok": False, "records": n, "first_bad": {"seq": seq, "problem": problem}}

    with read_scope(engine) as conn:
        head = conn.execute(sa.select(H.c.seq, H.c.hash).where(H.c.id == 1)).one()
        for r in _rows(conn):
            if r.seq < expect_seq:
                return broken(r.seq, f"record #{r.seq} is out of sequence (expected #{expect_seq}): a record was inserted")
            if r.seq > expect_seq:
                return broken(expect_seq, f"record #{expect_seq} is missing (deleted): the chain jumps from #{expect_seq - 1} "
                                          f"to #{r.seq}")
            if r.prev_hash != prev:
                return broken(r.seq, f"record #{r.seq} does not follow record #{r.seq - 1} (its prev_hash is {r.prev_hash[:16]}…, "
                                     f"the hash of #{r.seq - 1} is {prev[:16]}…): a record was inserted, replaced or deleted")
            actual = record_hash(r._mapping)
            if actual != r.hash:
                return broken(r.seq, f"record #{r.seq} ({r.kind}, recorded {r.recorded_at.isoformat()} by {r.user}) was changed: "
                                     f"its content hashes to {actual[:16]}…, its stored hash is {r.hash[:16]}…")
            prev, expect_seq, n = r.hash, r.seq + 1, n + 1
    if head.seq != n or head.hash != prev:
        if head.seq > n:
            return broken(n + 1, f"record #{n + 1} is missing (deleted): the chain ends at #{n}, its head says #{head.seq}")
        return broken(head.seq + 1, f"record #{head.seq + 1} is not part of the chain (inserted): the chain's head says it ends "
                                    f"at #{head.seq}, the table goes on to #{n}")
    return {"ok": True, "records": n, "head": {"seq": head.seq, "hash": head.hash}}


def _parse_when(text: str | None, field: str) -> datetime | None:
    if text is None:
        return None
    from datetime import UTC

    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{field}: {text!r} is not a date or time; give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)", field=field) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def select_records(*, start: str | None = None, end: str | None = None, kind: str | None = None, batch: str | None = None,
                   url: str | None = None) -> Iterator[dict[str, Any]]:
    """The records from `start` (inclusive) to `end` (exclusive; a date alone means up to the end of
    that day), as dicts with input and output parsed."""
    from datetime import timedelta

    lo = _parse_when(start, "--from")
    hi = _parse_when(end, "--to")
    if hi is not None and end is not None and len(end.strip()) == 10:
        hi = hi + timedelta(days=1)
    where = sa.true()
    if lo is not None:
        where = where & (R.c.recorded_at >= lo)
    if hi is not None:
        where = where & (R.c.recorded_at < hi)
    if kind is not None:
        where = where & (R.c.kind == kind)
    if batch is not None:
        where = where & (R.c.batch_id.startswith(batch))
    engine = ensure_schema(url)
    with read_scope(engine) as conn:
        for r in _rows(conn, where):
            d = dict(r._mapping)
            d["recorded_at"] = r.recorded_at.isoformat()
            d["input"], d["output"] = json.loads(r.input), json.loads(r.output)
            yield d


def export(out: IO[str], fmt: str = "jsonl", **query: Any) -> int:
    """Write the selected records as JSONL (one record per line, input and output as JSON) or CSV
    (input and output as their canonical JSON text, so the hash can be recomputed)."""
    if fmt not in ("jsonl", "csv"):
        raise InputError(f"--format: {fmt!r}; give jsonl or csv", field="--format")
    n = 0
    writer = None
    for d in select_records(**query):
        if fmt == "jsonl":
            out.write(canonical(d) + "\n")
        else:
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=[*FIELDS, "hash"])
                writer.writeheader()
            writer.writerow({**d, "input": canonical(d["input"]), "output": canonical(d["output"])})
        n += 1
    if fmt == "csv" and writer is None:
        csv.DictWriter(out, fieldnames=[*FIELDS, "hash"]).writeheader()
    return n


def show(seq: int, *, url: str | None = None) -> dict[str, Any]:
    engine = ensure_schema(url)
    with read_scope(engine) as conn:
        r = conn.execute(sa.select(R).where(R.c.seq == seq)).first()
    if r is None:
        raise InputError(f"audit record #{seq}: no such record; see `aiexport audit export`", field="SEQ")
    d = dict(r._mapping)
    d["recorded_at"] = r.recorded_at.isoformat()
    d["input"], d["output"] = json.loads(r.input), json.loads(r.output)
    d["hash_ok"] = record_hash(r._mapping) == r.hash
    return d


def status(*, url: str | None = None) -> dict[str, Any]:
    engine = ensure_schema(url)
    with read_scope(engine) as conn:
        head = conn.execute(sa.select(H.c.seq, H.c.hash).where(H.c.id == 1)).one()
        by_kind = dict(conn.execute(sa.select(R.c.kind, sa.func.count()).group_by(R.c.kind)).all())
    return {"records": head.seq, "head_hash": head.hash, "by_kind": by_kind}


__all__ = ["CHUNK", "FIELDS", "GENESIS", "Entry", "batch_id", "canonical", "export", "file_sha256", "record", "record_batch",
           "record_hash", "record_many", "recorded_lines", "select_records", "show", "status", "verify"]
