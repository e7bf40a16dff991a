"""Benchmark: `aiexport weights`, `foundry` and `invest` on generated batches, end to end.

    .venv/bin/python benchmarks/controls.py [--rows 20000] [--seed 5]

Generates (once) reproducible case files `benchmarks/out/{models,foundry,investments}_N.csv` by
varying the rows of examples/*.csv (figures scaled by a random factor, dates spread over
2024-06..2029-12, some cells emptied so that indeterminate answers occur), then measures for each:
  1. in process: read + validate + answer (`read_case_file` then `assess_cases`), best of three;
  2. through the CLI in a fresh process: `aiexport X FILE --json > /dev/null`, best of three (wall
     time including interpreter start-up and imports).
These commands answer case by case in Python (dated rule resolution cached per date); the figure
to watch is cases per second against the order-book use (thousands of cases, not millions).
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

NUMERIC = {"training_ops", "later_training_ops", "parameters_billion", "active_parameters_billion", "tokens_trillion",
           "accelerator_hours", "transistors_billion", "ai_training_ops", "lp_amount_usd"}


def generate(kind: str, rows: int, seed: int) -> Path:
    src = {"models": "models.csv", "foundry": "foundry_orders.csv", "investments": "investments.csv"}[kind]
    out = HERE / "out" / f"{kind}_{rows}.csv"
    if out.exists():
        return out
    out.parent.mkdir(exist_ok=True)
    rng = random.Random(seed)
    with open(ROOT / "examples" / src, encoding="utf-8") as fh:
        base = list(csv.DictReader(fh))
    start = date(2024, 6, 1)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(base[0]))
        w.writeheader()
        for i in range(rows):
            r = dict(rng.choice(base))
            r["id"] = f"{kind}-{i}"
            for k in NUMERIC & set(r):
                if r[k]:
                    r[k] = f"{float(r[k]) * rng.uniform(0.5, 2.0):.4g}"
            if "date" in r:
                r["date"] = (start + timedelta(days=rng.randrange(0, 2000))).isoformat()
            if rng.random() < 0.05:  # an unknown fact now and then
                k = rng.choice([k for k in r if k not in ("id", "name")])
                r[k] = ""
            w.writerow(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    from aiexport import foundry, investment, weights
    from aiexport.cases import read_case_file
    from aiexport.rulebook import load_rulebook

    rb = load_rulebook()
    exe = str(ROOT / ".venv" / "bin" / "aiexport")
    for kind, mod, cmd in (("models", weights, "weights"), ("foundry", foundry, "foundry"), ("investments", investment, "invest")):
        path = generate(kind, args.rows, args.seed)
        best = float("inf")
        verdicts: dict[str, int] = {}
        for _ in range(3):
            t0 = time.perf_counter()
            answers = mod.assess_cases(read_case_file(path, mod.FIELDS, kind), rb, date(2026, 11, 29))
            best = min(best, time.perf_counter() - t0)
        for a in answers:
            verdicts[a["verdict"]] = verdicts.get(a["verdict"], 0) + 1
        cli = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([exe, cmd, str(path), "--json"], check=True, stdout=subprocess.DEVNULL)
            cli = min(cli, time.perf_counter() - t0)
        print(f"{cmd:8s} {args.rows:,} cases: in process {best:.2f} s ({args.rows / best:,.0f}/s); "
              f"CLI {cli:.2f} s ({args.rows / cli:,.0f}/s) · {dict(sorted(verdicts.items()))}")


if __name__ == "__main__":
    main()
