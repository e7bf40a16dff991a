"""Benchmark: the fixed cost of one question, in process (what one service request costs the engine).

    .venv/bin/python benchmarks/single.py [-n 500] [--what classify,check,api-classify,api-check] [--batch 1]

Times N calls, each with a new question (the bodies of benchmarks/load.py's `distinct` runs), of
  classify       aiexport.classify(spec)                      (the Python face)
  check          aiexport.check(tx)
  api-classify   the service's engine call for one spec        (answers._classify_rows, no cache)
  api-check      the service's engine call for one transaction (answers._check_rows, no cache)
The api-* calls run on a polars thread, as the service runs them (--no-pool: on this thread).
With --batch K, the api-* calls answer K new questions at once, as the service's coalescer does
when K requests arrive together. Prints the mean, p50 and p99 per call (wall clock) and the CPU time per call (all threads: steadier
than the wall clock on a busy machine). The first call of each (loading the rulebook, the
catalog and building plans) is made before timing and reported apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from load import check_body, classify_body  # noqa: E402

import aiexport  # noqa: E402
from aiexport.api import answers  # noqa: E402
from aiexport.queries import on_engine_thread  # noqa: E402

DAY = date(2026, 1, 15)


def calls(k: int = 1, pool: bool = True) -> dict[str, Any]:
    def bodies(make: Any, i: int) -> list[dict[str, Any]]:
        return [make(i * k + j, True)[0] for j in range(k)]

    def served(work: Any) -> Any:  # as the service's coalescer runs it: on a polars thread (answers.Coalescer)
        return on_engine_thread(work) if pool else work()

    return {
        "classify": lambda i: aiexport.classify(classify_body(i, True)[0], as_of=DAY),
        "check": lambda i: aiexport.check(check_body(i, True)[0], as_of=DAY),
        "api-classify": lambda i: served(lambda: answers._classify_rows(bodies(classify_body, i), (DAY, None), batch=k > 1)),
        "api-check": lambda i: served(lambda: answers._check_rows(bodies(check_body, i), (DAY, None, False, False), batch=k > 1)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--what", default="classify,check,api-classify,api-check")
    ap.add_argument("--batch", type=int, default=1, help="New questions per api-* call (the coalescer's batch).")
    ap.add_argument("--no-pool", action="store_true", help="Run the api-* calls on this thread, not on a polars thread as the "
                                                           "service does (queries.on_engine_thread).")
    args = ap.parse_args()
    table = calls(args.batch, pool=not args.no_pool)
    for name in args.what.split(","):
        fn = table[name]
        t0 = time.perf_counter()
        fn(0)
        first = time.perf_counter() - t0
        times = []
        cpu0 = time.process_time()
        for i in range(1, args.n + 1):
            t0 = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t0)
        cpu = (time.process_time() - cpu0) / args.n
        times.sort()
        q = statistics.quantiles(times, n=100)
        label = f"{name} x{args.batch}" if args.batch > 1 and name.startswith("api") else name
        print(f"{label:<16} {args.n} calls: mean {statistics.fmean(times) * 1000:.2f} ms · p50 {q[49] * 1000:.2f} ms · "
              f"p99 {q[98] * 1000:.2f} ms · CPU {cpu * 1000:.2f} ms per call · first call {first * 1000:.0f} ms")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
