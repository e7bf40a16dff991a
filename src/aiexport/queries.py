"""Running polars queries with the engine and optimiser that suit the size of the input, and on the
thread that suits many small ones (`on_engine_thread`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl

#: up to this many input rows, a query is small (one question to the service, or a few)
SMALL = 1000
_UNOPTIMISED = pl.QueryOptFlags.none()
T = TypeVar("T")


def collect(query: pl.LazyFrame, rows: int, *, plan: bool = True, **large: Any) -> pl.DataFrame:
    """Run `query` over an input of `rows` rows. A small input runs on the in-memory engine (the
    streaming engine's set-up costs more than the work), and with `plan=False` without the query
    optimiser too: on the long chains of expressions of the licence steps, planning costs more than
    it saves when there is next to no data (measured with benchmarks/single.py). A larger input runs
    as `query.collect(**large)`. The answer is the same either way: the optimiser only rearranges
    the work."""
    if rows <= SMALL:
        return query.collect(engine="in-memory", optimizations=pl.QueryOptFlags() if plan else _UNOPTIMISED)
    return query.collect(**large)


def on_engine_thread(work: Callable[[], T]) -> T:
    """`work()`, run on one of polars' own worker threads, for a call made of many small queries.

    Each polars operation that evaluates several expressions hands them to polars' thread pool and
    waits for them; from a thread outside the pool, that is a wake-up of a pool thread and one back,
    about 80 microseconds on this machine, whatever the size of the data. A question to the service
    is some twenty queries of a few rows, so the hand-overs cost a quarter of its time. From a pool
    thread, polars runs the same work where it is, with no hand-over (benchmarks/single.py --batch 50
    against --no-pool: 50 new classify questions 20.4 -> 16.1 ms, 50 checks 20.0 -> 12.5 ms). The
    answer is the same either way.

    `work` runs inside a one-row polars expression (the only way into the pool from Python); what it
    returns or raises comes back here. Where polars would run that expression on the calling thread,
    `work` simply runs there. `work` must not take a lock another such call may hold: with two or
    more pool threads, a pool thread waiting on polars may run another queued call in the meantime.
    """
    box: dict[str, Any] = {}

    def run(s: pl.Series, **_: Any) -> pl.Series:  # polars passes `return_dtype` (and retries without it on a TypeError)
        if not box:  # once, however often polars calls back
            try:
                box["value"] = work()
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller as it is
                box["error"] = exc
        return s

    pl.select(pl.lit(0).map_batches(run, return_dtype=pl.Int32), pl.lit(0).alias("__pool"))  # two expressions: run in the pool
    if "error" in box:
        raise box["error"]
    if "value" not in box:  # polars did not call back (not seen): run it here
        return work()
    return box["value"]
