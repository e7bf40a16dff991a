"""Running polars queries with the engine and optimiser that suit the size of the input."""

from __future__ import annotations

from typing import Any

import polars as pl

#: up to this many input rows, a query is small (one question to the service, or a few)
SMALL = 1000
_UNOPTIMISED = pl.QueryOptFlags.none()


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
