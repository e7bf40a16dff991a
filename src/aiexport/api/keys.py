"""API keys: created with a role, stored hashed, revoked; looked up on every request.

A key is ``aiex_`` followed by 43 URL-safe characters (32 random bytes from `secrets`); the
database keeps only its SHA-256 (a high-entropy key needs no slow hash) and its first characters
(`prefix`, to tell keys apart in lists and on the audit record). The key itself is shown once.

`lookup` caches answers for `CACHE_SECONDS` per process, so a request costs no database round
trip; a revoked key is refused by every worker within that time. A key in use is looked up again in
the background once its entry is `REFRESH_SECONDS` old (`cached`), so that it never drops out of the
cache while it is used: before, every request in flight when the entry ran out took the slow path at
once, each with its own database read (50 clients: some 50 reads every 5 s, and the engine's waves
split for a few hundred milliseconds; benchmarks/load.py, 2026-11-30). Lookups of one key wait for
one another's read rather than each reading (a cold start with 50 callers is one read).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from aiexport.db import ensure_schema, session_scope
from aiexport.db.models import API_ROLES, ApiKey, utcnow
from aiexport.errors import InputError

KEY_PREFIX = "aiex_"
PREFIX_CHARS = 12
CACHE_SECONDS = 5.0
REFRESH_SECONDS = CACHE_SECONDS / 2
ROLE_RANK = {r: i for i, r in enumerate(API_ROLES)}


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id, name, role and prefix (never the key)."""

    key_id: int
    name: str
    role: str
    prefix: str

    @property
    def identity(self) -> str:
        """How the caller is named on the audit record."""
        return f"{self.name} (api key #{self.key_id} {self.prefix}…, {self.role})"

    def can(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _role(role: str) -> str:
    r = (role or "").strip().lower()
    if r not in API_ROLES:
        raise InputError(f"--role: {role!r}; give one of {', '.join(API_ROLES)}", field="--role")
    return r


def _view(k: ApiKey) -> dict[str, Any]:
    return {"id": k.id, "name": k.name, "role": k.role, "prefix": k.prefix, "created_at": k.created_at.isoformat(timespec="seconds"),
            "created_by": k.created_by, "revoked_at": k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else None,
            "active": k.revoked_at is None}


def create_key(role: str, name: str | None = None, created_by: str | None = None, *, url: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new key with `role`: returns the key (shown once) and its stored record."""
    from aiexport.ledger.session import current_user

    r = _role(role)
    label = " ".join((name or "").split()) or f"{r} key"
    if len(label) > 200:
        raise InputError("--name: longer than 200 characters; give a shorter name", field="--name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        k = ApiKey(key_hash=key_hash(key), prefix=key[:PREFIX_CHARS], name=label, role=r, created_at=utcnow(),
                   created_by=current_user(created_by), revoked_at=None)
        s.add(k)
        s.flush()
        return key, _view(k)


def list_keys(*, include_revoked: bool = True, url: str | None = None) -> list[dict[str, Any]]:
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        q = sa.select(ApiKey).order_by(ApiKey.id)
        if not include_revoked:
            q = q.where(ApiKey.revoked_at.is_(None))
        return [_view(k) for k in s.scalars(q)]


def revoke_key(ident: str, *, url: str | None = None) -> dict[str, Any]:
    """Revoke a key named by its id or its prefix (as `keys list` shows them). Revoking twice is a no-op."""
    text = (ident or "").strip()
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        if text.isdigit():
            found = [k for k in [s.get(ApiKey, int(text))] if k is not None]
        else:
            found = list(s.scalars(sa.select(ApiKey).where(ApiKey.prefix.startswith(text[:PREFIX_CHARS])))) if text else []
        if len(found) != 1:
            why = "no such key" if not found else f"{len(found)} keys start so"
            raise InputError(f"KEY: {text!r}: {why}; give the id or the prefix `aiexport keys list` shows", field="KEY")
        k = found[0]
        if k.revoked_at is None:
            k.revoked_at = utcnow()
        view = _view(k)
    _cache.clear()
    return view


_cache: dict[str, tuple[float, Caller | None]] = {}
_lock = threading.Lock()


MISS = object()


def cached(key: str) -> Caller | None | object:
    """The cached answer of `lookup` for `key`, or `MISS` (not cached, or older than `CACHE_SECONDS`).
    An answer older than `REFRESH_SECONDS` is read again in the background meanwhile."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    h = key_hash(key)
    hit = _fresh(h)
    if hit is None:
        return MISS
    if time.monotonic() - hit[0] >= REFRESH_SECONDS:
        _refresh_soon(h)
    return hit[1]


def lookup(key: str, *, url: str | None = None) -> Caller | None:
    """The caller a key belongs to, or None (unknown or revoked)."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    h = key_hash(key)
    if (hit := _fresh(h)) is not None:
        return hit[1]
    with _reading(h):  # another lookup of this key may have read it meanwhile
        hit = _fresh(h)
        return hit[1] if hit is not None else _read(h, url)


def _fresh(h: str) -> tuple[float, Caller | None] | None:
    """The cache entry of key hash `h` (when read, caller) if younger than `CACHE_SECONDS`."""
    hit = _cache.get(h)
    return hit if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS else None


def _read(h: str, url: str | None = None) -> Caller | None:
    """Read key hash `h` from the database and cache the answer, as of the moment the read began."""
    now = time.monotonic()
    engine = ensure_schema(url)
    with session_scope(engine) as s:
        k = s.scalar(sa.select(ApiKey).where(ApiKey.key_hash == h))
        caller = Caller(k.id, k.name, k.role, k.prefix) if k is not None and k.revoked_at is None else None
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[h] = (now, caller)
    return caller


_readers: dict[str, threading.Lock] = {}
_refreshing: set[str] = set()
_refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aiexport-key-refresh")


def _reading(h: str) -> threading.Lock:
    """The lock held while key hash `h` is read from the database."""
    with _lock:
        if len(_readers) > 10_000:
            _readers.clear()
        return _readers.setdefault(h, threading.Lock())


def _refresh_soon(h: str) -> None:
    """Read key hash `h` again in the background (once at a time per key); its entry serves meanwhile."""
    with _lock:
        if h in _refreshing:
            return
        _refreshing.add(h)

    def refresh() -> None:
        try:
            with _reading(h):
                _read(h)
        except Exception:  # the entry runs out as it would have; the next request's lookup reports the error
            pass
        finally:
            with _lock:
                _refreshing.discard(h)

    _refresher.submit(refresh)


# ---------------------------------------------------------------------------------------------- web sessions

#: how long a web session lasts after the login
SESSION_SECONDS = 12 * 3600
_signers: dict[int, tuple[float, str | None, Caller | None]] = {}  # key id -> (when read, key hash, caller)


def session_token(key: str, *, now: float | None = None) -> str | None:
    """A web session for a valid key: "KEY_ID.EXPIRES.SIGNATURE", signed (HMAC-SHA256) with the key's
    stored hash, so that the browser never holds the API key itself, nobody without the key can
    make one, and revoking the key ends its sessions. None for an unknown or revoked key."""
    caller = lookup(key)
    if caller is None:
        return None
    expires = int((now if now is not None else time.time()) + SESSION_SECONDS)
    return f"{caller.key_id}.{expires}.{_sign(key_hash(key), caller.key_id, expires)}"


def session_caller(token: str | None, *, now: float | None = None) -> Caller | None:
    """The caller of a web session token, or None (malformed, forged, expired, or its key revoked)."""
    parts = (token or "").split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit() or len(parts[2]) != 64:
        return None
    key_id, expires = int(parts[0]), int(parts[1])
    if expires < (now if now is not None else time.time()):
        return None
    signer, caller = _signer(key_id)
    if signer is None or not hmac.compare_digest(parts[2], _sign(signer, key_id, expires)):
        return None
    return caller


def csrf_token(session: str) -> str:
    """The token every web form and htmx request of a session must send back (field `csrf` or
    header X-CSRF-Token): derived from the session token, which only the browser's HttpOnly cookie
    holds, so another site can neither read nor make it."""
    return hmac.new(session.encode("utf-8"), b"aiexport csrf", hashlib.sha256).hexdigest()[:32]


def _sign(stored_hash: str, key_id: int, expires: int) -> str:
    return hmac.new(stored_hash.encode("ascii"), f"{key_id}.{expires}".encode("ascii"), hashlib.sha256).hexdigest()


def _signer(key_id: int) -> tuple[str | None, Caller | None]:
    """The stored hash and caller of key `key_id` (None, None: unknown or revoked), cached like `lookup`."""
    now = time.monotonic()
    hit = _signers.get(key_id)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1], hit[2]
    with session_scope(ensure_schema()) as s:
        k = s.get(ApiKey, key_id)
        found = (k.key_hash, Caller(k.id, k.name, k.role, k.prefix)) if k is not None and k.revoked_at is None else (None, None)
    with _lock:
        if len(_signers) > 10_000:
            _signers.clear()
        _signers[key_id] = (now, *found)
    return found


def clear_cache() -> None:
    _cache.clear()
    _signers.clear()
