"""benchmarks/load.py: its summary over rounds, and that each round asks questions of its own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import load  # noqa: E402


def _res(endpoint: str, kind: str, p99: float, rps: float) -> dict:
    return {"endpoint": endpoint, "input": kind, "p99_ms": p99, "throughput_rps": rps}


def test_the_summary_gives_median_and_worst_p99_and_counts_runs_over_the_target(capsys: pytest.CaptureFixture[str]) -> None:
    runs = [_res("/v1/check", "distinct", p, 2000 + p) for p in (24.0, 51.0, 30.0)] + [_res("/v1/classify", "distinct", 20.0, 2500)]
    load.summarise(runs, 50.0, as_json=True)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    check = next(x for x in lines if x["summary"] == "/v1/check")
    assert (check["runs"], check["p99_median_ms"], check["p99_worst_ms"], check["p99_best_ms"]) == (3, 30.0, 51.0, 24.0)
    assert check["runs_over_target"] == 1 and check["throughput_median_rps"] == 2030.0
    classify = next(x for x in lines if x["summary"] == "/v1/classify")
    assert classify["runs_over_target"] == 0 and classify["runs"] == 1


def test_every_round_and_the_warm_up_ask_new_questions_in_distinct_runs() -> None:
    n = 60_000  # the most distinct bodies one run writes (run_wrk)
    for make in (load.check_body, load.classify_body):
        def ids(first: int, make=make) -> set[str]:
            return {json.dumps(make(first + i, True)[0], sort_keys=True) for i in range(1, n + 1, 97)}
        round0, round1, warm = ids(0), ids(load.ROUND_BODIES), ids(load.WARM_UP_FIRST)
        assert not round0 & round1 and not round0 & warm and not round1 & warm
    assert n <= load.ROUND_BODIES
