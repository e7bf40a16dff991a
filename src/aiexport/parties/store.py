"""Restricted-party lists and screening results kept in the database (issue #4: snapshots stored;
decisions and re-screening).

* `import_snapshot(path)` stores a list file as a snapshot with all its entries (bulk insert). It is
  idempotent on the content hash (the same list again writes nothing) and all or nothing: a file
  that does not load leaves the database, and so the current snapshot, as it was.
* The *current* snapshot is the last one stored (`current_snapshot()`); `snapshots()` lists them.
* `screen_and_record(names, threshold)` screens names against the current snapshot with the
  matcher and records each party (`party_key`: normalised name and country) and its hits.
* `decide(party_key, entry_key, verdict, reason, reviewer)` records a reviewer's verdict on a hit.
  Decisions are append-only: the latest for a (party, entry) pair is the one that counts. A
  ``false_match`` suppresses the hit as long as the entry's content hash is the one decided on;
  when the entry changes the hit is open again, and says that its decision is outdated.
* `rescreen_after_import(old, new)` re-screens only the recorded parties that the change from one
  snapshot to the next can affect, and says which and why (see its docstring).

The *entry* of a hit is a list entry's `key` (stable across releases). A list can hold a key on
several rows (a party listed once per address); the hit's `entry_content` is then a hash of the
contents of all those rows, so that a decision covers the entry as a whole and any change of any of
its rows reopens it.
"""

from __future__ import annotations

import getpass
import hashlib
import http.client
import shutil
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from aiexport.db import (
    HitDecision,
    ListEntry,
    ListSnapshot,
    ScreenedParty,
    ScreeningHit,
    database_url,
    ensure_schema,
    session_scope,
)
from aiexport.db.engine import home
from aiexport.db.models import VERDICTS, utcnow
from aiexport.errors import InputError
from aiexport.parties.lists import COUNTRY_CODES, ENTRY_COLUMNS, ENTRY_SCHEMA, content_hash, diff, load_snapshot
from aiexport.parties.matcher import DEFAULT_THRESHOLD, Index

#: matches kept per name when recording (the matcher's default of 5 could let suppressed hits hide
#: a sixth); the matcher's candidate generation bounds it in practice
MATCH_LIMIT = 50
_CHUNK = 500  # keys per IN (...) clause
_INSERT_BATCH = 5000  # entry rows per executemany
_LIST_COLUMNS = tuple(c for c, t in ENTRY_SCHEMA.items() if isinstance(t, pl.List))


# ---------------------------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class StoredSnapshot:
    """A snapshot row; `inserted` tells whether this call wrote it (False: it was already stored)."""

    id: int
    source_path: str
    format: str
    data_date: str | None
    loaded_at: datetime
    content_hash: str
    counts: dict[str, int]
    entry_count: int
    inserted: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["loaded_at"] = self.loaded_at.isoformat(timespec="seconds")
        return d


def _stored(row: ListSnapshot, inserted: bool = False) -> StoredSnapshot:
    return StoredSnapshot(id=row.id, source_path=row.source_path, format=row.format, data_date=row.data_date,
                          loaded_at=row.loaded_at, content_hash=row.content_hash, counts=dict(row.counts),
                          entry_count=row.entry_count, inserted=inserted)


def _entry_rows(snapshot_id: int, entries: pl.DataFrame) -> Iterator[list[dict[str, Any]]]:
    frame = entries.select(ENTRY_COLUMNS).with_row_index("position").with_columns(
        pl.lit(snapshot_id, dtype=pl.Int64).alias("snapshot_id"), pl.col("position").cast(pl.Int64))
    for start in range(0, frame.height, _INSERT_BATCH):
        yield frame.slice(start, _INSERT_BATCH).to_dicts()


def import_snapshot(path: str | Path, fmt: str | None = None, *, url: str | None = None) -> StoredSnapshot:
    """Store the list file at `path` as a snapshot (the same content again: the stored row, nothing written).

    The file is read completely before anything is written, and the snapshot and its entries are
    written in one transaction: a bad file raises `InputError` and leaves the database unchanged."""
    snap = load_snapshot(path, fmt)
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        existing = s.scalar(sa.select(ListSnapshot).where(ListSnapshot.content_hash == snap.content_hash))
        if existing is not None:
            return _stored(existing)
        row = ListSnapshot(source_path=str(path), format=snap.format, data_date=snap.data_date,
                           loaded_at=datetime.fromisoformat(snap.loaded_at), content_hash=snap.content_hash,
                           counts=snap.counts, entry_count=snap.entries.height)
        s.add(row)
        s.flush()
        table = ListEntry.__table__
        for batch in _entry_rows(row.id, snap.entries):
            s.execute(sa.insert(table), batch)
        return _stored(row, inserted=True)


def current_snapshot(*, url: str | None = None) -> StoredSnapshot | None:
    """The snapshot screening uses: the last one stored (None when none is)."""
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        row = s.scalar(sa.select(ListSnapshot).order_by(ListSnapshot.id.desc()).limit(1))
        return _stored(row) if row is not None else None


def snapshots(*, url: str | None = None) -> list[StoredSnapshot]:
    """Every stored snapshot, oldest first."""
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        return [_stored(r) for r in s.scalars(sa.select(ListSnapshot).order_by(ListSnapshot.id))]


def _get_snapshot(s: Session, snapshot_id: int, what: str = "snapshot") -> ListSnapshot:
    row = s.get(ListSnapshot, snapshot_id)
    if row is None:
        raise InputError(f"{what}: no stored snapshot #{snapshot_id}; see `aiexport lists history`", field=what)
    return row


def snapshot_entries(snapshot_id: int, *, url: str | None = None) -> pl.DataFrame:
    """The entries frame of a stored snapshot, as `parties.lists` loaded it (checked against the stored hash)."""
    engine = ensure_schema(url)
    table = ListEntry.__table__
    with session_scope(engine) as s:
        snap = _get_snapshot(s, snapshot_id)
        # list columns come back as their JSON text, decoded by polars: much faster than building nested lists
        cols = [sa.cast(table.c[c], sa.Text).label(c) if c in _LIST_COLUMNS else table.c[c] for c in ENTRY_COLUMNS]
        rows = s.execute(sa.select(*cols).where(table.c.snapshot_id == snapshot_id).order_by(table.c.position)).all()
        expected = snap.content_hash
    data = {c: [r[i] for r in rows] for i, c in enumerate(ENTRY_COLUMNS)}
    frame = pl.DataFrame(data, schema=dict.fromkeys(ENTRY_COLUMNS, pl.String)).with_columns(
        [pl.col(c).str.json_decode(ENTRY_SCHEMA[c]) for c in _LIST_COLUMNS])
    if content_hash(frame) != expected:
        raise InputError(f"database: the entries of snapshot #{snapshot_id} do not hash to its content hash {expected[:16]}: "
                         "the database was changed outside aiexport; import the list again into a fresh database")
    return frame


_index_cache: dict[str, Index] = {}


def snapshot_index(snapshot: StoredSnapshot, *, url: str | None = None) -> Index:
    """The matcher's index of a stored snapshot (the last two built in this process are kept)."""
    cache_key = f"{database_url(url)}|{snapshot.id}|{snapshot.content_hash}"
    idx = _index_cache.get(cache_key)
    if idx is None:
        idx = Index.build(snapshot_entries(snapshot.id, url=url))
        while len(_index_cache) >= 2:
            _index_cache.pop(next(iter(_index_cache)))
        _index_cache[cache_key] = idx
    return idx


# ---------------------------------------------------------------------------------------------- parties and hits


def normalise_name(name: str) -> str:
    """A party's name as its key holds it: NFKC, case-folded, punctuation made space, spaces collapsed."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = "".join(" " if unicodedata.category(ch)[0] in "PZC" else ch for ch in text)
    return " ".join(text.split())


def normalise_country(country: str | None) -> str | None:
    if country is None or not country.strip():
        return None
    text = " ".join(country.split()).upper()
    return COUNTRY_CODES.get(text, text)


def party_key(name: str, country: str | None = None) -> str:
    """`<normalised name>|<ISO-2 country or empty>`: one party however its name is spaced or cased."""
    norm = normalise_name(name)
    if not norm:
        raise InputError(f"name {name!r}: nothing left after normalising; give a party name", field="name")
    return f"{norm}|{normalise_country(country) or ''}"


def key_contents(entries: pl.DataFrame) -> dict[str, str]:
    """entry key -> the content hash of the entry: of its row, or of all its rows when the list holds the key on several."""
    out: dict[str, str] = {}
    grouped = entries.group_by("key").agg(pl.col("content").sort())
    for key, contents in grouped.iter_rows():
        out[key] = contents[0] if len(contents) == 1 else hashlib.sha256("\n".join(contents).encode()).hexdigest()[:32]
    return out


@dataclass
class _Found:
    entry_key: str
    entry_content: str
    list_id: str | None
    list_code: str | None
    list_name: str | None
    matched_name: str
    score: float


@dataclass
class _Identity:
    """How the matcher's answers (by list_id) become hits (by entry key and content)."""

    by_list_id: dict[str, list[dict[str, Any]]]
    contents: dict[str, str]

    @classmethod
    def of(cls, entries: pl.DataFrame) -> _Identity:
        by: dict[str, list[dict[str, Any]]] = {}
        for r in entries.select("list_id", "key", "name", "alt_names").iter_rows(named=True):
            by.setdefault(r["list_id"], []).append(r)
        return cls(by, key_contents(entries))

    def found(self, answer: dict[str, Any]) -> list[_Found]:
        best: dict[str, _Found] = {}
        for m in answer["matches"]:
            rows = self.by_list_id.get(m["list_id"], [])
            if len(rows) > 1:  # a list that repeats ids: the row that holds the matched name
                rows = [r for r in rows if m["matched_name"] in (r["name"], *(r["alt_names"] or []))] or rows
            if not rows:
                continue
            key = rows[0]["key"]
            f = _Found(key, self.contents[key], m["list_id"], m.get("list_code"), m.get("list_name"), m["matched_name"],
                       float(m["score"]))
            if key not in best or f.score > best[key].score:
                best[key] = f
        return sorted(best.values(), key=lambda f: (-f.score, f.entry_key))


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def _open_hits(s: Session, party_keys: Sequence[str]) -> dict[str, list[ScreeningHit]]:
    out: dict[str, list[ScreeningHit]] = {}
    for chunk in _chunks(party_keys):
        q = sa.select(ScreeningHit).where(ScreeningHit.party_key.in_(chunk), ScreeningHit.cleared_at.is_(None)).order_by(ScreeningHit.id)
        for h in s.scalars(q):
            out.setdefault(h.party_key, []).append(h)
    return out


def _latest_decisions(s: Session, party_keys: Sequence[str]) -> dict[tuple[str, str], HitDecision]:
    out: dict[tuple[str, str], HitDecision] = {}
    for chunk in _chunks(party_keys):
        for d in s.scalars(sa.select(HitDecision).where(HitDecision.party_key.in_(chunk)).order_by(HitDecision.id)):
            out[(d.party_key, d.entry_key)] = d  # later ids supersede
    return out


def _decision_view(d: HitDecision) -> dict[str, Any]:
    return {"id": d.id, "verdict": d.verdict, "reason": d.reason, "reviewer": d.reviewer,
            "decided_at": d.decided_at.isoformat(timespec="seconds"), "entry_content": d.entry_content}


def hit_status(hit: ScreeningHit, decision: HitDecision | None) -> tuple[str, bool]:
    """(status, decision_outdated): ``cleared`` (no longer found), ``open`` (no decision, or one made on
    other content of the entry), ``suppressed`` (false match, same content) or ``confirmed`` (true
    match, same content)."""
    if hit.cleared_at is not None:
        return "cleared", bool(decision is not None and decision.entry_content != hit.entry_content)
    if decision is None:
        return "open", False
    if decision.entry_content != hit.entry_content:
        return "open", True
    return ("suppressed" if decision.verdict == "false_match" else "confirmed"), False


def _hit_view(h: ScreeningHit, decision: HitDecision | None) -> dict[str, Any]:
    status, outdated = hit_status(h, decision)
    return {"hit_id": h.id, "party_key": h.party_key, "entry_key": h.entry_key, "entry_content": h.entry_content,
            "list_id": h.list_id, "list_code": h.list_code, "list_name": h.list_name, "matched_name": h.matched_name,
            "score": round(h.score, 4), "status": status, "decision_outdated": outdated,
            "decision": _decision_view(decision) if decision is not None else None,
            "first_snapshot_id": h.first_snapshot_id, "snapshot_id": h.snapshot_id,
            "cleared": h.cleared_at is not None, "cleared_reason": h.cleared_reason, "cleared_snapshot_id": h.cleared_snapshot_id}


def _party_decision(views: Iterable[dict[str, Any]]) -> str:
    return "alert" if any(v["status"] in ("open", "confirmed") for v in views) else "clear"


@dataclass
class _Applied:
    new: list[ScreeningHit] = field(default_factory=list)
    kept: list[ScreeningHit] = field(default_factory=list)
    cleared: list[ScreeningHit] = field(default_factory=list)


def _apply_hits(s: Session, key: str, found: list[_Found], open_hits: list[ScreeningHit], snapshot_id: int,
                contents: dict[str, str], now: datetime) -> _Applied:
    """Bring a party's open hits in line with what a screening against `snapshot_id` found: hits found
    again are kept (their snapshot, score and name refreshed), new ones inserted, the others cleared
    with the reason (the entry left the list, changed, or no longer scores at the threshold)."""
    out = _Applied()
    want = {(f.entry_key, f.entry_content): f for f in found}
    for h in open_hits:
        f = want.pop((h.entry_key, h.entry_content), None)
        if f is not None:
            h.snapshot_id, h.score, h.matched_name, h.list_id, h.list_name, h.screened_at = (
                snapshot_id, f.score, f.matched_name, f.list_id, f.list_name, now)
            out.kept.append(h)
            continue
        now_content = contents.get(h.entry_key)
        h.cleared_reason = "entry_removed" if now_content is None else "entry_changed" if now_content != h.entry_content \
            else "below_threshold"
        h.cleared_at, h.cleared_snapshot_id = now, snapshot_id
        out.cleared.append(h)
    for f in want.values():
        h = ScreeningHit(party_key=key, snapshot_id=snapshot_id, first_snapshot_id=snapshot_id, entry_key=f.entry_key,
                         entry_content=f.entry_content, list_id=f.list_id, list_code=f.list_code, list_name=f.list_name,
                         matched_name=f.matched_name, score=f.score, decision="alert", found_at=now, screened_at=now)
        s.add(h)
        out.new.append(h)
    return out


def _check_threshold(threshold: float) -> float:
    t = float(threshold)
    if not 0.0 < t <= 1.0:
        raise InputError(f"--threshold: {threshold} is outside 0..1; give a score such as {DEFAULT_THRESHOLD}", field="--threshold")
    return t


def _require_current(url: str | None) -> StoredSnapshot:
    snap = current_snapshot(url=url)
    if snap is None:
        raise InputError("no list snapshot is stored yet; run `aiexport lists import FILE` or `aiexport lists update` first")
    return snap


def screen_and_record(names: pl.DataFrame, threshold: float = DEFAULT_THRESHOLD, *, url: str | None = None) -> dict[str, Any]:
    """Screen `names` (id, name[, country], as `screening.read_names_file` gives) against the current
    snapshot, record every party and its hits, and answer one result per row, in order.

    A party's ``decision`` is ``alert`` when it has a hit that is open or confirmed a true match, and
    ``clear`` otherwise; hits suppressed by a false-match decision are listed with status
    ``suppressed`` and the decision that suppresses them."""
    t = _check_threshold(threshold)
    for c in ("id", "name"):
        if c not in names.columns:
            raise InputError(f"names: field {c}: the column is missing; give columns id,name and optionally country", field=c)
    snap = _require_current(url)
    index = snapshot_index(snap, url=url)
    ident = _Identity.of(index.entries)
    answers = index.search([str(n) for n in names["name"].to_list()], threshold=t, limit=MATCH_LIMIT, explain=False)
    countries = names["country"].to_list() if "country" in names.columns else [None] * names.height
    rows = []
    parties: dict[str, tuple[str, str | None, list[_Found]]] = {}
    for i, (row_id, name, country, ans) in enumerate(zip(names["id"].to_list(), names["name"].to_list(), countries, answers,
                                                         strict=True), start=1):
        if not normalise_name(str(name or "")):
            raise InputError(f"names: row {i}, field name: {name!r} has no letter or digit; give the party's name", field="name", row=i)
        pk = party_key(str(name), country)
        found = ident.found(ans)
        parties.setdefault(pk, (str(name), normalise_country(country), found))
        rows.append((row_id, name, country, pk))
    now = utcnow()
    engine = ensure_schema(url)

    def record() -> tuple[dict[str, Any], dict[str, Any]]:
        with session_scope(engine) as s:
            keys = list(parties)
            existing = {p.party_key: p for chunk in _chunks(keys)
                        for p in s.scalars(sa.select(ScreenedParty).where(ScreenedParty.party_key.in_(chunk)))}
            for pk, (name, country, _) in parties.items():
                p = existing.get(pk)
                if p is None:
                    s.add(ScreenedParty(party_key=pk, name=name, country=country, threshold=t, first_screened_at=now,
                                        last_screened_at=now, last_snapshot_id=snap.id, checked_snapshot_id=snap.id))
                else:
                    p.name, p.threshold, p.last_screened_at, p.last_snapshot_id, p.checked_snapshot_id = name, t, now, snap.id, snap.id
            s.flush()
            opened = _open_hits(s, keys)
            applied = {pk: _apply_hits(s, pk, found, opened.get(pk, []), snap.id, ident.contents, now)
                       for pk, (_, _, found) in parties.items()}
            s.flush()
            decisions = _latest_decisions(s, keys)
            views = {pk: [_hit_view(h, decisions.get((pk, h.entry_key))) for h in sorted(a.kept + a.new, key=lambda h: (-h.score, h.entry_key))]
                     for pk, a in applied.items()}
        return applied, views

    # two recorders creating the same new party at once: the loser's transaction fails on the
    # unique key and is simply run again (it then sees the party the other one created)
    for attempt in range(3):
        try:
            applied, views = record()
            break
        except sa.exc.IntegrityError:
            if attempt == 2:
                raise
    results = []
    for row_id, name, country, pk in rows:
        v = views[pk]
        results.append({"id": row_id, "name": name, "country": country, "party_key": pk, "decision": _party_decision(v),
                        "suppressed": sum(x["status"] == "suppressed" for x in v), "new_hits": len(applied[pk].new),
                        "cleared_hits": len(applied[pk].cleared), "matches": v})
    counts = {"names": len(results), "parties": len(parties), "alerts": sum(r["decision"] == "alert" for r in results),
              "clear": sum(r["decision"] == "clear" for r in results),
              "suppressed_hits": sum(x["status"] == "suppressed" for v in views.values() for x in v),
              "new_hits": sum(len(a.new) for a in applied.values()), "cleared_hits": sum(len(a.cleared) for a in applied.values())}
    return {"snapshot": snap.as_dict(), "threshold": t, "counts": counts, "results": results}


def hits(party: str | None = None, *, include_cleared: bool = False, url: str | None = None) -> list[dict[str, Any]]:
    """The recorded hits (open ones unless `include_cleared`), of one party or all, with their status."""
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        q = sa.select(ScreeningHit)
        if party is not None:
            if s.get(ScreenedParty, party) is None:
                raise InputError(f"--party: {party!r} is not a recorded party; see `aiexport review hits` for the party keys",
                                 field="--party")
            q = q.where(ScreeningHit.party_key == party)
        if not include_cleared:
            q = q.where(ScreeningHit.cleared_at.is_(None))
        found = list(s.scalars(q.order_by(ScreeningHit.party_key, ScreeningHit.score.desc(), ScreeningHit.id)))
        decisions = _latest_decisions(s, sorted({h.party_key for h in found}))
        return [_hit_view(h, decisions.get((h.party_key, h.entry_key))) for h in found]


def parties(*, url: str | None = None) -> list[dict[str, Any]]:
    """Every recorded party, with the snapshots it was screened and checked against."""
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        return [{"party_key": p.party_key, "name": p.name, "country": p.country, "threshold": p.threshold,
                 "last_snapshot_id": p.last_snapshot_id, "checked_snapshot_id": p.checked_snapshot_id,
                 "last_screened_at": p.last_screened_at.isoformat(timespec="seconds")}
                for p in s.scalars(sa.select(ScreenedParty).order_by(ScreenedParty.party_key))]


def decide(party: str, entry_key: str, verdict: str, reason: str, reviewer: str | None = None, *,
           url: str | None = None) -> dict[str, Any]:
    """Record a reviewer's verdict (``true_match`` or ``false_match``) on the open hit of `party` on
    `entry_key`, for the entry's content as the hit holds it. Appends; never changes an earlier decision."""
    if verdict not in VERDICTS:
        raise InputError(f"verdict: {verdict!r}; give --true-match or --false-match", field="verdict")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InputError("--reason: empty; say why (it is kept with the decision)", field="--reason")
    who = " ".join((reviewer or "").split()) or _default_reviewer()
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        if s.get(ScreenedParty, party) is None:
            raise InputError(f"PARTY_KEY: {party!r} is not a recorded party; see `aiexport review hits` for the party keys",
                             field="PARTY_KEY")
        hit = s.scalar(sa.select(ScreeningHit).where(ScreeningHit.party_key == party, ScreeningHit.entry_key == entry_key,
                                                     ScreeningHit.cleared_at.is_(None)).order_by(ScreeningHit.id.desc()).limit(1))
        if hit is None:
            cleared = s.scalar(sa.select(sa.func.count()).select_from(ScreeningHit).where(
                ScreeningHit.party_key == party, ScreeningHit.entry_key == entry_key))
            why = "its hits on it were cleared" if cleared else "no hit on it"
            raise InputError(f"ENTRY_KEY: party {party!r} has {why}: {entry_key!r}; see `aiexport review hits --party '{party}'`",
                             field="ENTRY_KEY")
        d = HitDecision(party_key=party, entry_key=entry_key, entry_content=hit.entry_content, verdict=verdict, reason=reason,
                        reviewer=who, decided_at=utcnow(), hit_id=hit.id, snapshot_id=hit.snapshot_id)
        s.add(d)
        s.flush()
        return {"decision": _decision_view(d), "hit": _hit_view(hit, d)}


def _default_reviewer() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment
        return "unknown"


# ---------------------------------------------------------------------------------------------- re-screening


def touched_entries(old: pl.DataFrame, new: pl.DataFrame, changes: dict[str, Any]) -> pl.DataFrame:
    """The entries of `new` a party could newly match: those `lists.diff` calls added or changed, and
    any row whose (key, content) the old snapshot does not hold (a change in a field the diff did not
    compare, because one side leaves it empty throughout)."""
    parts = [changes["added"].select(ENTRY_COLUMNS), changes["changed"].select(ENTRY_COLUMNS),
             new.join(old.select("key", "content").unique(), on=["key", "content"], how="anti").select(ENTRY_COLUMNS)]
    return pl.concat(parts).unique(maintain_order=True)


def _affected_by(touched: pl.DataFrame, full: Index, group: list[ScreenedParty]) -> dict[str, str]:
    """party_key -> the touched entry the matcher, on an index of the touched entries only, scores the
    party at or above its threshold against. The small index takes the token weights (IDF) of the full
    one, so a (party, entry) score is the one a full re-screen would give."""
    small = Index.build(touched)
    small.token_idf = full.token_idf
    small._max_idf = full.max_idf
    out: dict[str, str] = {}
    by_threshold: dict[float, list[ScreenedParty]] = {}
    for p in group:
        by_threshold.setdefault(p.threshold, []).append(p)
    for t, ps in by_threshold.items():
        for p, ans in zip(ps, small.search([p.name for p in ps], threshold=t, limit=1, explain=False), strict=True):
            if ans["decision"] == "alert":
                m = ans["matches"][0]
                out[p.party_key] = f"scores {m['score']:.2f} against the added or changed entry {m['list_name']!r} ({m['list_code']})"
    return out


def rescreen_after_import(old_snapshot_id: int, new_snapshot_id: int, *, url: str | None = None) -> dict[str, Any]:
    """Re-screen, against the new snapshot, only the recorded parties that the change from the old
    snapshot can affect, and record the result.

    The parties whose hits were known to hold for the old snapshot (``checked_snapshot_id``) are:

    * re-screened when the matcher, run against an index of just the added and changed entries,
      scores them at or above their threshold (they may have a new hit), or when one of their open
      hits is on an entry whose content changed (the hit may change or go);
    * else only cleared of their hits on entries that left the list;
    * else carried forward: their hits hold for the new snapshot as they are.

    Parties last checked against another snapshot (neither the old nor the new) are re-screened in
    full: the diff says nothing about them. Parties already checked against the new one are left.
    One approximation remains: adding or removing entries shifts the matcher's token weights a
    little for every name, which can move a score that sits right at the threshold.
    """
    if old_snapshot_id == new_snapshot_id:
        raise InputError(f"re-screen: the old and the new snapshot are both #{old_snapshot_id}; give two different snapshots")
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        old = _stored(_get_snapshot(s, old_snapshot_id, "old snapshot"))
        new = _stored(_get_snapshot(s, new_snapshot_id, "new snapshot"))
        recorded = list(s.scalars(sa.select(ScreenedParty).order_by(ScreenedParty.party_key)))
        s.expunge_all()
    old_frame, new_frame = snapshot_entries(old.id, url=url), snapshot_entries(new.id, url=url)
    changes = diff(old_frame, new_frame)
    touched = touched_entries(old_frame, new_frame, changes)
    out: dict[str, Any] = {"old_snapshot_id": old.id, "new_snapshot_id": new.id, "diff": changes["counts"],
                           "touched_entries": touched.height, "recorded": len(recorded), "rescreened": 0, "cleared_only": 0,
                           "carried_forward": 0, "already_current": 0, "new_hits": 0, "cleared_hits": 0, "parties": []}
    if not recorded:
        return out
    in_scope = [p for p in recorded if p.checked_snapshot_id == old.id]
    stale = [p for p in recorded if p.checked_snapshot_id not in (old.id, new.id)]
    out["already_current"] = sum(p.checked_snapshot_id == new.id for p in recorded)
    reasons: dict[str, list[str]] = {p.party_key: [f"last checked against snapshot #{p.checked_snapshot_id}, not #{old.id}"]
                                     for p in stale}
    contents = key_contents(new_frame)
    full: Index | None = None
    if touched.height and in_scope:
        full = snapshot_index(new, url=url)
        for pk, why in _affected_by(touched, full, in_scope).items():
            reasons.setdefault(pk, []).append(why)
    now = utcnow()
    with session_scope(engine) as s:
        scope_keys = [p.party_key for p in in_scope]
        opened = _open_hits(s, [p.party_key for p in recorded])
        removed_only: dict[str, list[ScreeningHit]] = {}
        for pk in scope_keys:
            for h in opened.get(pk, []):
                now_content = contents.get(h.entry_key)
                if now_content is None:
                    removed_only.setdefault(pk, []).append(h)
                elif now_content != h.entry_content:
                    reasons.setdefault(pk, []).append(f"its hit on {h.entry_key!r} changed")
        decisions = _latest_decisions(s, sorted(set(reasons) | set(removed_only)))

        def decision_of(pk: str, hs: Iterable[ScreeningHit]) -> str:
            return _party_decision(_hit_view(h, decisions.get((pk, h.entry_key))) for h in hs)

        by_key = {p.party_key: p for p in recorded}
        todo = [by_key[pk] for pk in reasons]
        if todo:
            full = full or snapshot_index(new, url=url)
            ident = _Identity.of(full.entries)
            by_threshold: dict[float, list[ScreenedParty]] = {}
            for p in todo:
                by_threshold.setdefault(p.threshold, []).append(p)
            for t, ps in by_threshold.items():
                answers = full.search([p.name for p in ps], threshold=t, limit=MATCH_LIMIT, explain=False)
                for p, ans in zip(ps, answers, strict=True):
                    before = decision_of(p.party_key, opened.get(p.party_key, []))
                    applied = _apply_hits(s, p.party_key, ident.found(ans), opened.get(p.party_key, []), new.id, contents, now)
                    s.flush()
                    out["parties"].append(_party_change(p, "rescreened", reasons[p.party_key], before,
                                                        decision_of(p.party_key, applied.kept + applied.new), applied, decisions))
        for pk, hs in removed_only.items():
            if pk in reasons:
                continue
            before = decision_of(pk, opened.get(pk, []))
            for h in hs:
                h.cleared_at, h.cleared_snapshot_id, h.cleared_reason = now, new.id, "entry_removed"
            kept = [h for h in opened.get(pk, []) if h.cleared_at is None]
            applied = _Applied(kept=kept, cleared=hs)
            out["parties"].append(_party_change(by_key[pk], "cleared", ["hit entries left the list"], before, decision_of(pk, kept),
                                                applied, decisions))
        rescreened = set(reasons)
        carried = [pk for pk in scope_keys if pk not in rescreened]
        for chunk in _chunks(carried):
            s.execute(sa.update(ScreenedParty).where(ScreenedParty.party_key.in_(chunk)).values(checked_snapshot_id=new.id))
        for chunk in _chunks(sorted(rescreened)):
            s.execute(sa.update(ScreenedParty).where(ScreenedParty.party_key.in_(chunk))
                      .values(checked_snapshot_id=new.id, last_snapshot_id=new.id, last_screened_at=now))
    out["rescreened"] = len(rescreened)
    out["cleared_only"] = sum(1 for pk in removed_only if pk not in rescreened)
    out["carried_forward"] = len(carried) - out["cleared_only"]
    out["new_hits"] = sum(len(p["new_hits"]) for p in out["parties"])
    out["cleared_hits"] = sum(len(p["cleared_hits"]) for p in out["parties"])
    return out


def _party_change(p: ScreenedParty, action: str, reasons: list[str], before: str, after: str, applied: _Applied,
                  decisions: dict[tuple[str, str], HitDecision]) -> dict[str, Any]:
    def brief(h: ScreeningHit) -> dict[str, Any]:
        v = _hit_view(h, decisions.get((p.party_key, h.entry_key)))
        return {k: v[k] for k in ("entry_key", "entry_content", "list_code", "list_name", "matched_name", "score", "status",
                                  "decision_outdated", "cleared_reason")}

    return {"party_key": p.party_key, "name": p.name, "country": p.country, "action": action, "reasons": reasons,
            "before": before, "after": after, "new_hits": [brief(h) for h in applied.new],
            "cleared_hits": [brief(h) for h in applied.cleared], "kept_hits": len(applied.kept)}


def import_and_rescreen(path: str | Path, fmt: str | None = None, *, url: str | None = None) -> dict[str, Any]:
    """`import_snapshot`, then — when the file was new and a snapshot was current before it — the diff
    from that snapshot and `rescreen_after_import`."""
    previous = current_snapshot(url=url)
    stored = import_snapshot(path, fmt, url=url)
    out: dict[str, Any] = {"snapshot": stored.as_dict(), "previous": previous.as_dict() if previous else None, "rescreen": None}
    if stored.inserted and previous is not None:
        out["rescreen"] = rescreen_after_import(previous.id, stored.id, url=url)
    return out


# ---------------------------------------------------------------------------------------------- download

#: trade.gov's Consolidated Screening List, CSV
CSL_URL = "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv"
DOWNLOAD_TIMEOUT = 120  # seconds without data before giving up


def download(url: str = CSL_URL, output_dir: str | Path | None = None) -> Path:
    """Download a list file to `output_dir` (default ``<AIEXPORT_HOME>/lists``) as
    ``<name>-<UTC time><suffix>``; written under a ``.part`` name and renamed only when complete."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"--url: {url!r} is not an http(s) URL; give the list's download address, e.g. {CSL_URL}", field="--url")
    folder = Path(output_dir) if output_dir is not None else home() / "lists"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--output-dir: cannot create {folder} ({exc.strerror}); give a writable folder", field="--output-dir") from None
    base = Path(urllib.parse.unquote(parts.path)).name or "list"
    stem, suffix = (base.split(".", 1) + [""])[:2]
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"{stem}-{stamp}{'.' + suffix if suffix else ''}"
    part = target.with_name(target.name + ".part")
    from aiexport import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"aiexport/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as resp, open(part, "wb") as fh:
            shutil.copyfileobj(resp, fh, 1 << 20)
    except urllib.error.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise InputError(f"--url {url}: the server answered HTTP {exc.code} {exc.reason}; check the URL or try again later",
                         field="--url") from None
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
        part.unlink(missing_ok=True)
        why = getattr(exc, "reason", None) or exc.__class__.__name__
        raise InputError(f"--url {url}: the download failed ({why}); check the URL and the network, then try again",
                         field="--url") from None
    part.replace(target)
    return target
