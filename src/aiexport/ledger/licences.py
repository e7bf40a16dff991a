"""Licences and their draws.

A licence authorises a quantity (and optionally a value in USD) of items, for named ECCNs, items,
parties and countries (an empty list: not limited by it), from `valid_from` to `valid_until`
(inclusive). A shipment *draws* on it, keyed by a transaction id:

* ``reserve``: the units are set aside (``reserved``), then ``consume`` marks them shipped
  (``consumed``) or ``release`` gives them back (cancellation). ``draw(..., reserve_only=False)``
  (the default) reserves and consumes in one step.
* A licence is drawn only if it is valid on the shipment date (not before ``valid_from``, not after
  ``valid_until``), covers the ECCN, item, party and country given, and has the quantity (and value)
  left. Never partly: a draw takes all its units from one licence or none.
* **Which licence** when the draw does not name one (`number` None): the licences that fit, ordered
  by earliest ``valid_until`` first (licences without an end date last), then by the smallest
  remaining quantity, then by number. The first that still has the units when the draw reaches it
  is drawn (use the licence that lapses first, keep the long ones).
* **Idempotency**: the transaction id is unique in ``licence_draws``. The same id again changes
  nothing and returns the original answer (``replayed``: true); the same id with a different
  licence, quantity or value is an error. A refused draw holds no units and is not stored: the same
  id may be drawn again later (e.g. after a new licence is added).
* **Concurrency**: the units are taken by one conditional UPDATE (``… SET reserved = reserved + q
  WHERE reserved + consumed + q <= authorised``), atomic on SQLite (the database's write lock,
  taken at the start of the transaction) and on PostgreSQL (the row lock; a waiting writer
  re-evaluates the condition on the committed row). A CHECK constraint on ``licences`` refuses any
  total beyond the authorisation as a last line of defence.
"""

from __future__ import annotations

import contextlib
import functools
from datetime import date
from typing import Any

import sqlalchemy as sa

from aiexport.db import ensure_schema
from aiexport.db.engine import connection_error
from aiexport.db.models import Licence, LicenceDraw, utcnow
from aiexport.errors import InputError
from aiexport.ledger.session import current_user, read_scope, write_scope

L = Licence.__table__
D = LicenceDraw.__table__


class _Refused(Exception):
    """Raised inside a write transaction to roll it back when the units are not there."""


# ---------------------------------------------------------------------------------------------- input checks


def _text(value: str | None, field: str, limit: int = 200) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    if not text:
        raise InputError(f"{field}: empty; give a value or leave the option out", field=field)
    if len(text) > limit:
        raise InputError(f"{field}: longer than {limit} characters", field=field)
    return text


def _quantity(q: Any, field: str = "--quantity") -> int:
    if isinstance(q, bool) or not isinstance(q, int) or q <= 0:
        raise InputError(f"{field}: {q!r} is not a positive whole number of units; give e.g. 100", field=field)
    return q


def _cents(usd: float | None, field: str = "--value") -> int | None:
    if usd is None:
        return None
    if not (usd >= 0) or usd == float("inf"):
        raise InputError(f"{field}: {usd!r} is not an amount in USD; give a number >= 0, e.g. 250000", field=field)
    return round(usd * 100)


def _country(cc: str, field: str = "--country") -> str:
    code = cc.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise InputError(f"{field}: {cc!r} is not an ISO 3166 alpha-2 country code; give e.g. DE", field=field)
    return code


def _eccn(e: str, field: str = "--eccn") -> str:
    code = e.strip().upper()
    if not code or len(code) > 32 or " " in code:
        raise InputError(f"{field}: {e!r} is not an ECCN; give e.g. 3A090.a", field=field)
    return code[:5] + code[5:].lower()  # 3A090.a.1, 4A090.b, 5A992.c, EAR99


def _norm_party(p: str) -> str:
    return " ".join(p.casefold().split())


def _usd(cents: int | None) -> float | None:
    return None if cents is None else cents / 100


def _value_left(row: Any) -> int | None:
    if row.authorised_value_cents is None:
        return None
    return row.authorised_value_cents - row.reserved_value_cents - row.consumed_value_cents


# ---------------------------------------------------------------------------------------------- views


def _view(row: Any, on: date | None = None) -> dict[str, Any]:
    drawn = row.reserved_quantity + row.consumed_quantity
    remaining_value = (None if row.authorised_value_cents is None
                       else row.authorised_value_cents - row.reserved_value_cents - row.consumed_value_cents)
    out = {
        "number": row.number,
        "authorised_quantity": row.authorised_quantity,
        "drawn_quantity": drawn,
        "reserved_quantity": row.reserved_quantity,
        "consumed_quantity": row.consumed_quantity,
        "remaining_quantity": row.authorised_quantity - drawn,
        "authorised_value_usd": _usd(row.authorised_value_cents),
        "drawn_value_usd": _usd(row.reserved_value_cents + row.consumed_value_cents),
        "remaining_value_usd": _usd(remaining_value),
        "items": list(row.items), "eccns": list(row.eccns), "parties": list(row.parties), "countries": list(row.countries),
        "valid_from": row.valid_from.isoformat() if row.valid_from else None,
        "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        "conditions": row.conditions,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }
    if on is not None:
        out["status"] = _status(row, on, 0, None)[0]
    return out


def _status(row: Any, on: date, quantity: int, value_cents: int | None) -> tuple[str, str]:
    """(status, reason): usable, not_yet_valid, expired, exhausted or insufficient, with one line why."""
    n = row.number
    if row.valid_from is not None and on < row.valid_from:
        return "not_yet_valid", f"licence {n} is not valid before {row.valid_from.isoformat()} (shipment date {on.isoformat()})"
    if row.valid_until is not None and on > row.valid_until:
        return "expired", f"licence {n} expired on {row.valid_until.isoformat()} (shipment date {on.isoformat()})"
    remaining = row.authorised_quantity - row.reserved_quantity - row.consumed_quantity
    if remaining <= 0:
        return "exhausted", f"licence {n} is exhausted: all {row.authorised_quantity:,} authorised units are drawn"
    if quantity > remaining:
        return "insufficient", (f"licence {n} has {remaining:,} of {row.authorised_quantity:,} units left; this draw asks "
                                f"{quantity:,} (it would exceed the licence by {quantity - remaining:,})")
    if row.authorised_value_cents is not None:
        left = row.authorised_value_cents - row.reserved_value_cents - row.consumed_value_cents
        if value_cents is None and quantity:
            return "value_unknown", (f"licence {n} limits value (USD {left / 100:,.2f} left): give the shipment's value (--value)")
        if value_cents is not None and value_cents > left:
            return "insufficient", (f"licence {n} has USD {left / 100:,.2f} of value left; this draw is USD {value_cents / 100:,.2f} "
                                    f"(it would exceed the licence by USD {(value_cents - left) / 100:,.2f})")
    return "usable", f"licence {n} is valid on {on.isoformat()} with {remaining:,} units left"


def _covers(row: Any, item: str | None, eccn: str | None, country: str | None, party: str | None) -> str | None:
    """Why the licence does not cover the shipment (None: it does)."""
    n = row.number
    if country is not None and row.countries and country not in row.countries:
        return f"licence {n} does not cover country {country} (it covers {', '.join(row.countries)})"
    if eccn is not None and row.eccns and eccn not in row.eccns:
        return f"licence {n} does not cover ECCN {eccn} (it covers {', '.join(row.eccns)})"
    if item is not None and row.items and _norm_party(item) not in {_norm_party(i) for i in row.items}:
        return f"licence {n} does not cover item {item} (it covers {', '.join(row.items)})"
    if party is not None and row.parties and _norm_party(party) not in {_norm_party(p) for p in row.parties}:
        return f"licence {n} does not name party {party} (it names {', '.join(row.parties)})"
    return None


# ---------------------------------------------------------------------------------------------- licences


def add_licence(number: str, quantity: int, *, value_usd: float | None = None, items: list[str] | None = None,
                eccns: list[str] | None = None, parties: list[str] | None = None, countries: list[str] | None = None,
                valid_from: date | None = None, valid_until: date | None = None, conditions: str | None = None,
                user: str | None = None, url: str | None = None) -> dict[str, Any]:
    """Store a licence. Its number is unique: adding it again is an error."""
    num = _text(number, "--number", 100)
    assert num is not None
    qty = _quantity(quantity)
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise InputError(f"--valid-until: {valid_until} is before --valid-from {valid_from}; give the licence's dates",
                         field="--valid-until")
    row = {
        "number": num, "authorised_quantity": qty, "authorised_value_cents": _cents(value_usd),
        "reserved_quantity": 0, "consumed_quantity": 0, "reserved_value_cents": 0, "consumed_value_cents": 0,
        "items": sorted({_text(i, "--item") or "" for i in items or []}),
        "eccns": sorted({_eccn(e) for e in eccns or []}),
        "parties": sorted({_text(p, "--party") or "" for p in parties or []}),
        "countries": sorted({_country(c) for c in countries or []}),
        "valid_from": valid_from, "valid_until": valid_until, "conditions": _text(conditions, "--conditions", 4000),
        "created_at": utcnow(), "created_by": current_user(user),
    }
    engine = ensure_schema(url)
    try:
        with write_scope(engine) as s:
            s.execute(L.insert().values(**row))
    except sa.exc.IntegrityError:
        raise InputError(f"--number: licence {num} already exists; see `aiexport licences show {num}`", field="--number") from None
    return show_licence(num, url=url)


def _get(s: Any, number: str) -> Any:
    row = s.execute(sa.select(L).where(L.c.number == number)).first()
    if row is None:
        raise InputError(f"licence {number!r}: no such licence; see `aiexport licences list`", field="--number")
    return row


def show_licence(number: str, *, on: date | None = None, url: str | None = None) -> dict[str, Any]:
    """The licence, its balance, its draws by state, and whether its draws add up to its balance."""
    engine = ensure_schema(url)
    with read_scope(engine) as s:
        row = _get(s, number)
        by_state = {st: (n, q, v) for st, n, q, v in s.execute(
            sa.select(D.c.state, sa.func.count(), sa.func.coalesce(sa.func.sum(D.c.quantity), 0),
                      sa.func.coalesce(sa.func.sum(D.c.value_cents), 0))
            .where(D.c.licence_id == row.id).group_by(D.c.state))}
    out = _view(row, on or date.today())
    out["draws"] = {st: {"count": n, "quantity": int(q)} for st, (n, q, _v) in sorted(by_state.items())}
    ledger_res = int(by_state.get("reserved", (0, 0, 0))[1])
    ledger_con = int(by_state.get("consumed", (0, 0, 0))[1])
    out["ledger_consistent"] = (ledger_res == row.reserved_quantity and ledger_con == row.consumed_quantity)
    return out


def list_licences(*, on: date | None = None, url: str | None = None) -> list[dict[str, Any]]:
    engine = ensure_schema(url)
    with read_scope(engine) as s:
        rows = s.execute(sa.select(L).order_by(L.c.number)).all()
    return [_view(r, on or date.today()) for r in rows]


# ---------------------------------------------------------------------------------------------- draws


def _answer(txn: str, granted: bool, reason: str, *, licence: Any = None, quantity: int, value_cents: int | None,
            state: str | None, on: date, remaining: int | None = None, remaining_value: int | None = None) -> dict[str, Any]:
    return {
        "txn": txn, "granted": granted, "licence": licence.number if licence is not None else None,
        "quantity": quantity, "value_usd": _usd(value_cents), "state": state, "date": on.isoformat(),
        "remaining_quantity": remaining, "remaining_value_usd": _usd(remaining_value), "reason": reason, "replayed": False,
    }


def _replay(s: Any, txn: str, number: str | None, quantity: int, value_cents: int | None) -> dict[str, Any] | None:
    row = s.execute(sa.select(D, L.c.number, L.c.authorised_quantity, L.c.reserved_quantity, L.c.consumed_quantity,
                              L.c.authorised_value_cents, L.c.reserved_value_cents, L.c.consumed_value_cents)
                    .join(L, L.c.id == D.c.licence_id).where(D.c.txn == txn)).first()
    if row is None:
        return None
    if (number is not None and row.number != number) or row.quantity != quantity or (
            value_cents is not None and row.value_cents != value_cents):
        raise InputError(f"--txn: transaction {txn!r} already drew {row.quantity:,} units"
                         f"{'' if row.value_cents is None else f' (USD {row.value_cents / 100:,.2f})'} on licence {row.number}; "
                         "a transaction id names one draw: give a new id for a different draw", field="--txn")
    out = dict(row.result)
    out.update(replayed=True, state=row.state,
               remaining_quantity=row.authorised_quantity - row.reserved_quantity - row.consumed_quantity,
               remaining_value_usd=None if row.authorised_value_cents is None else
               _usd(row.authorised_value_cents - row.reserved_value_cents - row.consumed_value_cents),
               reason=f"transaction {txn} was already drawn (state {row.state}): nothing changed; " + str(row.result.get("reason", "")))
    return out


def draw(quantity: int, txn: str, *, number: str | None = None, value_usd: float | None = None, item: str | None = None,
         eccn: str | None = None, country: str | None = None, party: str | None = None, on: date | None = None,
         reserve_only: bool = False, user: str | None = None, url: str | None = None) -> dict[str, Any]:
    """Draw `quantity` units for transaction `txn`: from licence `number`, or from the first licence
    that fits (see the module's docstring for the order). Returns the answer: ``granted``,
    ``licence``, ``remaining_quantity``, ``reason`` (and ``replayed`` for a transaction seen before)."""
    qty = _quantity(quantity)
    tid = _text(txn, "--txn")
    if tid is None:
        raise InputError("--txn: missing; every draw carries a transaction id (the same id draws once)", field="--txn")
    num = _text(number, "--number", 100)
    vc = _cents(value_usd)
    cc = _country(country) if country is not None else None
    ec = _eccn(eccn) if eccn is not None else None
    it, pt = _text(item, "--item"), _text(party, "--party")
    if num is None and (cc is None or (ec is None and it is None)):
        raise InputError("give --number, or --country with --eccn or --item so that the licence can be chosen", field="--number")
    day = on or date.today()
    who = current_user(user)
    engine = ensure_schema(url)
    if engine.dialect.name != "postgresql":
        return _draw(engine, None, tid, qty, num, vc, it, ec, cc, pt, day, who, reserve_only)
    try:  # one connection for the whole draw, in autocommit: each statement is its own transaction
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as pg:
            return _draw(engine, pg, tid, qty, num, vc, it, ec, cc, pt, day, who, reserve_only)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise connection_error(exc, engine) from None


def _reader(engine: Any, pg: Any) -> Any:
    return contextlib.nullcontext(pg) if pg is not None else read_scope(engine)


def _draw(engine: Any, pg: Any, tid: str, qty: int, num: str | None, vc: int | None, it: str | None, ec: str | None,
          cc: str | None, pt: str | None, day: date, who: str, reserve_only: bool) -> dict[str, Any]:
    if pg is not None and num is not None and it is None and ec is None and cc is None and pt is None:
        done = _fast_pg(pg, tid, qty, num, vc, "reserved" if reserve_only else "consumed", day, who)
        if done is not None:
            return done
    with _reader(engine, pg) as s:
        candidates = [_get(s, num)] if num is not None else s.execute(sa.select(L)).all()
    refusals: list[str] = []
    fitting = []
    for row in candidates:
        why = _covers(row, it, ec, cc, pt)
        if why is None:
            status, why = _status(row, day, qty, vc)
            if status == "usable":
                fitting.append(row)
                continue
        refusals.append(why)
    fitting.sort(key=lambda r: (r.valid_until is None, r.valid_until or date.max,
                                r.authorised_quantity - r.reserved_quantity - r.consumed_quantity, r.number))
    state = "reserved" if reserve_only else "consumed"
    for row in fitting:
        answer = _try_draw(engine, pg, row, tid, qty, vc, state, day, who, it, ec, cc, pt)
        if answer is None or not answer["granted"]:
            with _reader(engine, pg) as s:  # drawn before under this id (or by a concurrent equal draw)?
                seen = _replay(s, tid, num, qty, vc)
            if seen is not None:
                return seen
        if answer is not None and answer["granted"]:
            return answer
        if answer is not None:
            refusals.append(answer["reason"])
    with _reader(engine, pg) as s:
        seen = _replay(s, tid, num, qty, vc)
        if seen is not None:
            return seen
        only = _get(s, num) if num is not None else None
    if not candidates:
        refusals.append("no licence is stored; add one with `aiexport licences add`")
    remaining = None if only is None else only.authorised_quantity - only.reserved_quantity - only.consumed_quantity
    reason = refusals[-1] if num is not None else ("no licence fits: " + "; ".join(refusals))
    return _answer(tid, False, reason, licence=only, quantity=qty, value_cents=vc, state=None, on=day, remaining=remaining,
                   remaining_value=_value_left(only) if only is not None else None)


_INSERT_DRAW = D.insert()


@functools.cache
def _take(state: str, with_value: bool, fast: bool = False) -> Any:
    """The conditional UPDATE that takes `:q` units (and `:v` cents) from licence `:lid`, or nothing.
    `fast` (PostgreSQL, a licence named by number, nothing else to check): the licence is `:num`,
    and its validity on `:day` (and, for a draw without a value, that it does not limit value) is
    part of the condition, so that a draw that goes through needs no read before it."""
    col_q, col_v = (L.c.reserved_quantity, L.c.reserved_value_cents) if state == "reserved" else (
        L.c.consumed_quantity, L.c.consumed_value_cents)
    q, v = sa.bindparam("q", type_=sa.BigInteger), sa.bindparam("v", type_=sa.BigInteger)
    cond = (L.c.reserved_quantity + L.c.consumed_quantity + q) <= L.c.authorised_quantity
    if fast:
        day = sa.bindparam("day", type_=sa.Date)
        cond = cond & (L.c.number == sa.bindparam("num")) & sa.or_(L.c.valid_from.is_(None), L.c.valid_from <= day) \
            & sa.or_(L.c.valid_until.is_(None), L.c.valid_until >= day)
        if not with_value:
            cond = cond & L.c.authorised_value_cents.is_(None)
    else:
        cond = cond & (L.c.id == sa.bindparam("lid"))
    values: dict[Any, Any] = {col_q: col_q + q}
    if with_value:
        cond = cond & sa.or_(L.c.authorised_value_cents.is_(None),
                             (L.c.reserved_value_cents + L.c.consumed_value_cents + v) <= L.c.authorised_value_cents)
        values[col_v] = col_v + v
    return L.update().where(cond).values(values).returning(
        L.c.authorised_quantity - L.c.reserved_quantity - L.c.consumed_quantity,
        L.c.authorised_value_cents - L.c.reserved_value_cents - L.c.consumed_value_cents, L.c.id)


@functools.cache
def _take_and_insert_pg(state: str, with_value: bool, fast: bool = False) -> Any:
    """PostgreSQL: the conditional UPDATE and the draw's INSERT in one statement (a data-modifying
    CTE), run in autocommit: the licence's row is locked only while the server executes it and
    commits, never while the client is between two statements (8 writers on 2 cores would
    otherwise queue behind a descheduled lock holder)."""
    take = _take(state, with_value, fast).cte("take")
    cols = [c for c in D.c if c.name != "id"]
    # bind names are not column names of licences (an UPDATE would take them as values to set)
    binds = [take.c.id if c.name == "licence_id" else sa.bindparam(f"d_{c.name}", type_=c.type) for c in cols]
    insert = D.insert().from_select([c.name for c in cols], sa.select(*binds).select_from(take)).returning(D.c.id).cte("ins")
    return sa.select(*take.c, sa.select(sa.func.count()).select_from(insert).scalar_subquery())


def _fast_pg(pg: Any, tid: str, qty: int, num: str, vc: int | None, state: str, day: date, who: str) -> dict[str, Any] | None:
    """A draw on a licence named by number with nothing else to check, in one statement; None when it
    did not go through (refused, or the transaction id exists): the full path then says why."""
    verb = "reserved" if state == "reserved" else "drawn"
    answer = _answer(tid, True, f"{verb} {qty:,} units on licence {num}, valid on {day.isoformat()}", licence=None, quantity=qty,
                     value_cents=vc, state=state, on=day)
    answer["licence"] = num
    now = utcnow()
    params = {"d_txn": tid, "d_quantity": qty, "d_value_cents": vc, "d_state": state, "d_ship_date": day, "d_item": None,
              "d_eccn": None, "d_country": None, "d_party": None, "d_user": who, "d_created_at": now, "d_updated_at": now,
              "d_result": answer, "num": num, "day": day, "q": qty, "v": vc or 0}
    try:
        got = pg.execute(_take_and_insert_pg(state, vc is not None, True), params).first()
    except sa.exc.IntegrityError:
        return None
    if got is None:
        return None
    return {**answer, "remaining_quantity": got[0], "remaining_value_usd": _usd(got[1])}


def _take_pg(pg: Any, state: str, with_value: bool, params: dict[str, Any]) -> Any:
    """(remaining quantity, remaining value), False when the units are not there, None when the
    transaction id exists already. `pg`: a connection in autocommit."""
    try:
        got = pg.execute(_take_and_insert_pg(state, with_value), params).first()
    except sa.exc.IntegrityError:
        return None
    return False if got is None else got


def _try_draw(engine: Any, pg: Any, row: Any, txn: str, qty: int, vc: int | None, state: str, day: date, who: str,
              item: str | None, eccn: str | None, country: str | None, party: str | None) -> dict[str, Any] | None:
    """One attempt on one licence, in one transaction: the draw row first (its unique transaction id
    settles a race between two equal draws before any unit moves, and the licence's row is locked
    only for the UPDATE and the commit), then the conditional UPDATE. None: the transaction id
    exists already."""
    now = utcnow()
    verb = "reserved" if state == "reserved" else "drawn"
    refusal: dict[str, Any] | None = None
    answer = _answer(txn, True, f"{verb} {qty:,} units on licence {row.number}, valid on {day.isoformat()}",
                     licence=row, quantity=qty, value_cents=vc, state=state, on=day)
    params = {"txn": txn, "licence_id": row.id, "quantity": qty, "value_cents": vc, "state": state, "ship_date": day,
              "item": item, "eccn": eccn, "country": country, "party": party, "user": who, "created_at": now, "updated_at": now}
    if pg is not None:
        got = _take_pg(pg, state, vc is not None, {**{f"d_{k}": v for k, v in params.items()}, "d_result": answer,
                                                        "lid": row.id, "q": qty, "v": vc or 0})
        if got is None:
            return None
        if got is not False:
            return {**answer, "remaining_quantity": got[0], "remaining_value_usd": _usd(got[1])}
        fresh = pg.execute(sa.select(L).where(L.c.id == row.id)).one()
        return _answer(txn, False, _status(fresh, day, qty, vc)[1], licence=row, quantity=qty, value_cents=vc, state=None, on=day,
                       remaining=fresh.authorised_quantity - fresh.reserved_quantity - fresh.consumed_quantity,
                       remaining_value=_value_left(fresh))
    try:
        with write_scope(engine) as s:
            s.execute(_INSERT_DRAW, {"txn": txn, "licence_id": row.id, "quantity": qty, "value_cents": vc, "state": state,
                                     "ship_date": day, "item": item, "eccn": eccn, "country": country, "party": party,
                                     "user": who, "created_at": now, "updated_at": now, "result": answer})
            got = s.execute(_take(state, vc is not None), {"lid": row.id, "q": qty, "v": vc or 0}).first()
            if got is None:
                fresh = s.execute(sa.select(L).where(L.c.id == row.id)).one()
                _st, why = _status(fresh, day, qty, vc)
                refusal = _answer(txn, False, why, licence=row, quantity=qty, value_cents=vc, state=None, on=day,
                                  remaining=fresh.authorised_quantity - fresh.reserved_quantity - fresh.consumed_quantity,
                       remaining_value=_value_left(fresh))
                raise _Refused
    except _Refused:
        return refusal
    except sa.exc.IntegrityError:
        return None
    return {**answer, "remaining_quantity": got[0], "remaining_value_usd": _usd(got[1])}


def _move(txn: str, to: str, on: date | None, url: str | None, user: str | None) -> dict[str, Any]:
    tid = _text(txn, "--txn")
    assert tid is not None
    day = on or date.today()
    current_user(user)  # a bad --user is bad input here too
    engine = ensure_schema(url)
    with write_scope(engine) as s:
        row = s.execute(sa.select(D, L.c.number, L.c.valid_until).join(L, L.c.id == D.c.licence_id).where(D.c.txn == tid)).first()
        if row is None:
            raise InputError(f"--txn: no draw has transaction id {tid!r}; see `aiexport licences show NUMBER`", field="--txn")
        lic = s.execute(sa.select(L).where(L.c.id == row.licence_id)).one()

        def answer(done: bool, reason: str, state: str, lic_row: Any) -> dict[str, Any]:
            return {"txn": tid, "granted": done, "licence": row.number, "quantity": row.quantity, "value_usd": _usd(row.value_cents),
                    "state": state, "date": day.isoformat(), "reason": reason, "replayed": False,
                    "remaining_quantity": lic_row.authorised_quantity - lic_row.reserved_quantity - lic_row.consumed_quantity}

        if row.state == to:
            return {**answer(True, f"transaction {tid} is already {to}: nothing changed", to, lic), "replayed": True}
        if row.state != "reserved":
            return answer(False, f"transaction {tid} is {row.state}, not reserved: it cannot be {to}", row.state, lic)
        if to == "consumed" and row.valid_until is not None and day > row.valid_until:
            return answer(False, f"licence {row.number} expired on {row.valid_until.isoformat()}: the reservation cannot be "
                                 "shipped on it; release it", row.state, lic)
        moved = s.execute(D.update().where((D.c.txn == tid) & (D.c.state == "reserved")).values(state=to, updated_at=utcnow()))
        if moved.rowcount != 1:  # pragma: no cover - the write lock / row lock makes this unreachable
            raise InputError(f"--txn: transaction {tid} changed meanwhile; try again", field="--txn")
        vc = row.value_cents or 0
        values: dict[Any, Any] = {L.c.reserved_quantity: L.c.reserved_quantity - row.quantity,
                                  L.c.reserved_value_cents: L.c.reserved_value_cents - vc}
        if to == "consumed":
            values.update({L.c.consumed_quantity: L.c.consumed_quantity + row.quantity,
                           L.c.consumed_value_cents: L.c.consumed_value_cents + vc})
        s.execute(L.update().where(L.c.id == row.licence_id).values(values))
        lic = s.execute(sa.select(L).where(L.c.id == row.licence_id)).one()
        what = "released (cancelled)" if to == "released" else "consumed (shipped)"
        return answer(True, f"transaction {tid}: {row.quantity:,} units {what} on licence {row.number}", to, lic)


def consume(txn: str, *, on: date | None = None, user: str | None = None, url: str | None = None) -> dict[str, Any]:
    """Mark a reservation shipped (reserved → consumed); refused when the licence has expired by then."""
    return _move(txn, "consumed", on, url, user)


def release(txn: str, *, user: str | None = None, url: str | None = None) -> dict[str, Any]:
    """Cancel a reservation (reserved → released): its units return to the licence. A consumed
    (shipped) draw is not released."""
    return _move(txn, "released", None, url, user)


def draws(number: str, *, url: str | None = None) -> list[dict[str, Any]]:
    engine = ensure_schema(url)
    with read_scope(engine) as s:
        lic = _get(s, number)
        rows = s.execute(sa.select(D).where(D.c.licence_id == lic.id).order_by(D.c.id)).all()
    return [{"txn": r.txn, "quantity": r.quantity, "value_usd": _usd(r.value_cents), "state": r.state,
             "date": r.ship_date.isoformat(), "user": r.user, "created_at": r.created_at.isoformat()} for r in rows]
