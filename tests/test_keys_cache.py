"""The per-process cache of API keys (aiexport.api.keys): a key in use is read again in the
background before its entry runs out, a revocation still takes effect within CACHE_SECONDS, and
lookups of one key at once read the database once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from aiexport.api import keys
from aiexport.db import ensure_schema, session_scope
from aiexport.db.models import ApiKey, utcnow
from tests.test_api_support import fresh_database


def _age(h: str, seconds: float) -> float:
    """Make the cache entry of key hash `h` `seconds` old; returns its new time."""
    when, caller = keys._cache[h]
    keys._cache[h] = (time.monotonic() - seconds, caller)
    return keys._cache[h][0]


def _refreshed(h: str, since: float, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if keys._cache[h][0] > since and h not in keys._refreshing:
            return True
        time.sleep(0.01)
    return False


def test_a_key_in_use_is_read_again_before_its_entry_runs_out_and_a_revocation_still_counts(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path):
        key, view = keys.create_key("viewer", "refresh test")
        h = keys.key_hash(key)
        caller = keys.lookup(key)
        assert caller is not None and caller.key_id == view["id"]

        # younger than REFRESH_SECONDS: served, nothing read
        young = _age(h, keys.REFRESH_SECONDS / 2)
        assert keys.cached(key) == caller
        time.sleep(0.1)
        assert keys._cache[h][0] == young

        # older than REFRESH_SECONDS: still served at once, and read again in the background
        aged = _age(h, keys.REFRESH_SECONDS + 0.1)
        assert keys.cached(key) == caller
        assert _refreshed(h, aged)
        assert keys.cached(key) == caller and time.monotonic() - keys._cache[h][0] < keys.REFRESH_SECONDS

        # revoked by another process (this one's cache is not cleared): the stale entry serves until
        # the background read, which sees the revocation, well within CACHE_SECONDS
        with session_scope(ensure_schema()) as s:
            s.get(ApiKey, view["id"]).revoked_at = utcnow()
        aged = _age(h, keys.REFRESH_SECONDS + 0.1)
        assert keys.cached(key) == caller
        assert _refreshed(h, aged)
        assert keys.cached(key) is None

        # an entry older than CACHE_SECONDS is not served
        _age(h, keys.CACHE_SECONDS + 0.1)
        assert keys.cached(key) is keys.MISS


def test_lookups_of_one_key_at_once_read_the_database_once(tmp_path: Path, monkeypatch) -> None:
    with fresh_database("sqlite", tmp_path):
        key, _ = keys.create_key("analyst", "cold start")
        keys.clear_cache()
        reads = []
        real = keys._read

        def counted(h: str, url: str | None = None) -> keys.Caller | None:
            reads.append(h)
            time.sleep(0.05)  # a slow database: the other lookups arrive meanwhile
            return real(h, url)

        monkeypatch.setattr(keys, "_read", counted)
        start = threading.Barrier(20)
        found: list[keys.Caller | None] = []

        def ask() -> None:
            start.wait()
            found.append(keys.lookup(key))

        threads = [threading.Thread(target=ask) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(found) == 20 and all(c is not None and c.role == "analyst" for c in found)
        assert len(reads) == 1  # before, each of the 20 read the database
