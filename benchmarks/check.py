"""Benchmark: licence determination of an order book of 1,000,000 transactions, end to end.

    .venv/bin/python benchmarks/check.py [--rows 1000000] [--seed 11] [--in-process] [--cli PATH]

Generates (once) a reproducible order book `benchmarks/out/book_N.csv`: a customer master of ~3,000
customers drawn Zipf-like, weighted destinations, catalog items (plus ~5% rows given only by ECCN),
exports / reexports / in-country transfers, end uses, origins, party-list statuses and some empty
cells. Then measures:
  1. the baseline: what polars alone takes to read the input CSV (`pl.read_csv`) plus to write an
     output of the same size (the check's own Parquet output written again with lz4), 3 runs each;
  2. the CLI as a user runs it, in a fresh process, 3 runs:
     `aiexport check book_N.csv --output checked_N.parquet` (wall time including interpreter start
     and imports, peak RSS of the children);
  3. with --in-process, `aiexport.licensing.check_file(path, output)` in this process, if it exists.
Targets: check wall time <= 3x the baseline (median against median; best against best is shown
too: timings on a shared 2-core machine vary by 10-20 %), peak memory of the CLI < 2 GB.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from bisect import bisect
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from aiexport import catalog  # noqa: E402

COLUMNS = (
    "id", "date", "kind", "item", "quantity", "unit_value_usd", "from_country", "destination_country",
    "consignee_name", "consignee_country", "consignee_hq_country", "end_user_name", "end_user_country",
    "end_user_hq_country", "ultimate_parent_hq_country", "end_use", "party_list_status", "item_origin",
    "us_content_pct", "eccn", "consignee_year_tpp",
)
# ISO alpha-2 destinations with rough weights (share of an AI-hardware order book, not of world trade)
COUNTRIES = {
    "US": 20, "CN": 12, "HK": 4, "MO": 0.5, "DE": 5, "GB": 4, "JP": 5, "KR": 4, "TW": 5, "SG": 5, "MY": 3, "IN": 3,
    "AE": 2, "SA": 1.5, "NL": 2, "FR": 2.5, "IL": 1.5, "VN": 1.5, "RU": 0.3, "BR": 1.5, "MX": 1.5, "CA": 3, "AU": 2,
    "SE": 1, "CH": 1, "IE": 1.5, "ES": 1, "IT": 1, "PL": 0.8, "TH": 1, "ID": 1, "PH": 0.5, "TR": 0.8, "QA": 0.5,
    "KW": 0.3, "BH": 0.2, "OM": 0.2, "JO": 0.2, "EG": 0.3, "ZA": 0.5, "PK": 0.3, "BD": 0.2, "LK": 0.1, "KH": 0.1,
    "KZ": 0.3, "UA": 0.2, "BY": 0.1, "AR": 0.4, "CL": 0.3, "NZ": 0.4, "FI": 0.5, "NO": 0.5, "DK": 0.5, "AT": 0.4,
    "BE": 0.5, "CZ": 0.4, "HU": 0.3, "PT": 0.3, "GR": 0.2, "RO": 0.3, "VE": 0.05, "MM": 0.05, "IQ": 0.05, "LB": 0.05,
    "IR": 0.03, "SY": 0.01, "CU": 0.01, "KP": 0.005,
}
# where reexports ship from (distribution hubs and makers abroad)
REEXPORT_FROM = {"SG": 6, "MY": 4, "TW": 5, "HK": 3, "NL": 3, "DE": 2, "JP": 2, "KR": 2, "AE": 2, "MX": 2, "IE": 1, "GB": 1, "CN": 1}
SUFFIX = {
    "US": "Inc.", "CA": "Ltd.", "GB": "Ltd", "IE": "Ltd", "DE": "GmbH", "AT": "GmbH", "CH": "AG", "FR": "SAS", "NL": "B.V.",
    "BE": "NV", "JP": "K.K.", "KR": "Co., Ltd.", "CN": "Co., Ltd.", "HK": "Limited", "MO": "Limitada", "TW": "Co., Ltd.",
    "SG": "Pte. Ltd.", "MY": "Sdn. Bhd.", "IN": "Pvt. Ltd.", "AE": "FZ-LLC", "SA": "LLC", "RU": "OOO", "BR": "Ltda.",
    "MX": "S.A. de C.V.", "VN": "JSC", "IL": "Ltd.", "ES": "S.L.", "IT": "S.r.l.", "PL": "Sp. z o.o.", "SE": "AB", "AU": "Pty Ltd",
}
WORDS_A = ("Northwind", "Blue River", "Silverline", "Apex", "Quantum", "Harbor", "Golden Peak", "Nova", "Cedar", "Orion",
           "Pacific", "Meridian", "Vertex", "Red Lotus", "Stellar", "Granite", "Summit", "Jade", "Polaris", "Atlas",
           "Evergreen", "Crescent", "Lighthouse", "Sunrise", "Iron Bridge", "Falcon", "Tianrui", "Hanbit", "Sakura", "Vega")
WORDS_B = ("Compute", "Data Systems", "Cloud", "AI Labs", "Technology", "Networks", "Electronics", "Trading", "Semiconductor",
           "Research", "Digital", "Infrastructure", "Logistics", "Supercomputing", "Solutions", "Hosting", "Analytics", "Robotics")
LIST_STATUS = {"": 60, "none": 38, "entity_list": 1, "uvl": 0.6, "meu": 0.4}
SEVERITY = {"": 0, "none": 1, "uvl": 2, "meu": 3, "entity_list": 4}
KIND = {"export": 85, "reexport": 10, "transfer": 5}
END_USE = {"datacenter": 34, "ai_training": 20, "ai_inference": 20, "commercial": 16, "research": 6, "": 3,
           "military": 0.25, "military_intelligence": 0.1, "wmd": 0.05, "supercomputer": 0.35, "advanced_node_ic_production": 0.25}
ORIGIN = {"us_origin": 88, "foreign_made": 10, "foreign_direct_product": 2}
# rows given only by ECCN: (weight, typical unit value in USD)
ECCN_ONLY = {"3A090.a": (3, 18_000), "4A090.a": (2, 250_000), "5A992.c": (3, 600), "EAR99": (2, 120)}
OPTIONAL = ("unit_value_usd", "consignee_hq_country", "end_user_name", "end_user_country", "end_user_hq_country",
            "ultimate_parent_hq_country", "item_origin")
N_CUSTOMERS = 3_000
FIRST_DAY, LAST_DAY = date(2022, 6, 1), date(2026, 11, 29)


class Weighted:
    """Draws from a fixed weighted population with one random() and a bisect (rng.choices is slower per draw)."""

    def __init__(self, rng: random.Random, weights: dict) -> None:
        self.pop = list(weights)
        self.cum = list(accumulate(float(w) for w in weights.values()))
        self.total = self.cum[-1]
        self.rnd = rng.random

    def __call__(self):
        return self.pop[min(bisect(self.cum, self.rnd() * self.total), len(self.pop) - 1)]


def customers(rng: random.Random, n: int = N_CUSTOMERS) -> list[tuple[str, str, str, str, str]]:
    """(name, country, hq_country, parent_hq_country, list_status); most are headquartered where they are."""
    country, status = Weighted(rng, COUNTRIES), Weighted(rng, LIST_STATUS)
    seen: set[str] = set()
    out = []
    for _ in range(n):
        c = country()
        hq = c if rng.random() < 0.8 else country()
        parent = hq if rng.random() < 0.85 else rng.choice(("CN", "US", "CN", "HK", "JP", "TW", "KR", "DE", "SG", "MO", "RU"))
        base, suffix = f"{rng.choice(WORDS_A)} {rng.choice(WORDS_B)}", SUFFIX.get(c, "Ltd.")
        name, n = f"{base} {suffix}", 1
        while name in seen:  # "Apex Cloud 2 Pte. Ltd."
            n += 1
            name = f"{base} {n} {suffix}"
        seen.add(name)
        out.append((name, c, hq, parent, status()))
    return out


def item_prices(rng: random.Random) -> dict[str, float]:
    """A plausible list price per catalog item (systems ~$300k, consumer GPUs ~$2k, HBM stacks ~$1k)."""
    prices = {}
    for it in catalog.items():
        name = it["name"]
        if it["item_type"] == "system":
            prices[name] = rng.uniform(250_000, 400_000)
        elif it["item_type"] == "hbm_stack":
            prices[name] = rng.uniform(300, 1_500)
        elif "GeForce" in name:
            prices[name] = rng.uniform(1_600, 2_600)
        else:
            prices[name] = rng.uniform(6_000, 40_000)
    return prices


def generate(path: Path, rows: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    rnd, uniform, lognorm = rng.random, rng.uniform, rng.lognormvariate
    master = customers(rng)
    zipf = {i: 1 / (i + 1) ** 1.07 for i in range(len(master))}
    customer = Weighted(rng, zipf)
    prices = item_prices(rng)
    names = list(prices)
    rng.shuffle(names)  # popularity is Zipf-like over a seeded order of the catalog
    item = Weighted(rng, {n: 1 / (k + 1) ** 0.8 for k, n in enumerate(names)})
    eccn_only = Weighted(rng, {e: w for e, (w, _) in ECCN_ONLY.items()})
    kind, end_use, origin = Weighted(rng, KIND), Weighted(rng, END_USE), Weighted(rng, ORIGIN)
    country, hub = Weighted(rng, COUNTRIES), Weighted(rng, REEXPORT_FROM)
    abroad = Weighted(rng, {c: w for c, w in COUNTRIES.items() if c != "US"})
    days = [(FIRST_DAY + timedelta(d)).isoformat() for d in range((LAST_DAY - FIRST_DAY).days + 1)]
    n_days = len(days)
    optional_at = [COLUMNS.index(c) for c in OPTIONAL]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        batch = []
        for i in range(rows):
            cons = master[customer()]
            user = cons if rnd() < 0.7 else master[customer()]
            k = kind()
            dest = cons[1] if rnd() < 0.95 else country()
            if k == "export":
                src = "US"
                if dest == "US":  # a US buyer's order shipped to one of its sites abroad
                    dest = abroad()
            elif k == "transfer":
                src = dest
            else:
                src = hub()
                if src == dest:
                    src = "SG" if dest != "SG" else "MY"
            if rnd() < 0.05:
                eccn = eccn_only()
                it, price = "", ECCN_ONLY[eccn][1] * uniform(0.5, 1.5)
            else:
                it = item()
                eccn, price = "", prices[it] * uniform(0.8, 1.2)
            qty = min(5_000, max(1, int(lognorm(2.2, 1.6))))
            status = cons[4] if SEVERITY[cons[4]] >= SEVERITY[user[4]] else user[4]
            o = origin()
            content = f"{uniform(0, 60):.1f}" if o == "foreign_made" else ""
            tpp = "" if rnd() < 0.9 else str(int(10 ** uniform(3, 7.6)))  # up to ~40,000,000
            row = [f"T{i:08d}", days[int(rnd() * n_days)], k, it, qty, f"{price:.2f}", src, dest,
                   cons[0], cons[1], cons[2], user[0], user[1], user[2], user[3],
                   end_use(), status, o, content, eccn, tpp]
            if rnd() < 0.14:  # ~2% of the 7 optional cells, never more than one per row
                row[optional_at[int(rnd() * len(optional_at))]] = ""
            batch.append(row)
            if len(batch) == 50_000:
                w.writerows(batch)
                batch.clear()
        w.writerows(batch)


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def timings(n: int, fn) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def rewrite_times(path: Path, scratch: Path, repeat: int) -> list[float]:
    """Times to write the frame in `path` again as lz4 Parquet: the polars floor for the check's output."""
    frame = pl.read_parquet(path)
    t = timings(repeat, lambda: frame.write_parquet(scratch, compression="lz4"))
    scratch.unlink(missing_ok=True)
    return t


def verdict_report(path: Path) -> None:
    out = pl.read_parquet(path)
    print(f"output rows: {out.height:,}  columns: {out.width}  ({path.stat().st_size / 1e6:.1f} MB)")
    if "verdict" not in out.columns:
        print(f"   no `verdict` column; columns are: {', '.join(out.columns)}")
        return
    counts = out.group_by("verdict").len().sort("len", descending=True)
    for v, n in counts.iter_rows():
        print(f"   {str(v):28s} {n:>10,}  {100 * n / max(out.height, 1):5.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=3, help="baseline runs (best is kept)")
    ap.add_argument("--in-process", action="store_true", help="also time aiexport.licensing.check_file in this process")
    ap.add_argument("--cli", default=None, help="aiexport executable (default .venv/bin/aiexport, else aiexport on PATH)")
    args = ap.parse_args()
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    src = out_dir / f"book_{args.rows}.csv"
    if src.exists():
        print(f"input: {src.relative_to(ROOT)} (exists, not regenerated)")
    else:
        t0 = time.perf_counter()
        generate(src, args.rows, args.seed)
        print(f"input: {src.relative_to(ROOT)} generated in {time.perf_counter() - t0:.1f}s")
    print(f"rows: {args.rows:,}  (input {src.stat().st_size / 1e6:.1f} MB)")

    reads = timings(args.repeat, lambda: pl.read_csv(src))
    print(f"baseline read:  pl.read_csv best {reads[0]:.3f}s, median {median(reads):.3f}s ({args.repeat} runs)")

    out = out_dir / f"checked_{args.rows}.parquet"
    exe = ROOT / ".venv" / "bin" / "aiexport"
    cmd = [args.cli or (str(exe) if exe.exists() else "aiexport"), "check", str(src), "--output", str(out)]
    print("CLI:", " ".join(cmd))
    runs = []
    for _ in range(args.repeat):  # the same number of runs as the baseline, so best is compared with best
        out.unlink(missing_ok=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "120"})
        except OSError as e:
            print(f"FAIL: could not run the CLI: {e}")
            sys.exit(1)
        runs.append(time.perf_counter() - t0)
        if proc.returncode != 0 or not out.exists():
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-15:]
            why = f"exit status {proc.returncode}" if proc.returncode else f"exit status 0 but no {out.name} written"
            print(f"FAIL: the check CLI failed ({why}); last lines of its stderr:")
            for line in tail or ["(empty)"]:
                print(f"   {line}")
            sys.exit(1)
    runs.sort()
    cli_rss = peak_rss_mb(resource.RUSAGE_CHILDREN)

    writes = rewrite_times(out, out_dir / f"baseline_{args.rows}.parquet", args.repeat)
    print(f"baseline write: write_parquet(lz4) of the check's output best {writes[0]:.3f}s, median {median(writes):.3f}s")
    base_best, base_median = reads[0] + writes[0], median(reads) + median(writes)
    print(f"baseline: best {base_best:.3f}s, median {base_median:.3f}s  (polars alone: read the CSV + write an output of the same size)")
    print()
    ratio_best, ratio = runs[0] / base_best, median(runs) / base_median
    print(f"CLI check (fresh process, imports included): best {runs[0]:.3f}s, median {median(runs):.3f}s ({args.repeat} runs)"
          f" -> {args.rows / median(runs):,.0f} rows/s")
    print(f"ratio: best/best {ratio_best:.2f}, median/median {ratio:.2f}")
    print(f"peak RSS of the CLI child: {cli_rss:,.0f} MB")
    verdict_report(out)
    baseline = base_median

    if args.in_process:
        try:
            from aiexport.licensing import check_file
        except (ImportError, AttributeError):
            print("in process: aiexport.licensing.check_file not available")
        else:
            inproc = out_dir / f"checked_{args.rows}_inprocess.parquet"
            t0 = time.perf_counter()
            check_file(src, inproc)
            s = time.perf_counter() - t0
            print(f"in process: check_file {s:.3f}s -> {args.rows / s:,.0f} rows/s  (ratio {s / baseline:.2f};"
                  f" peak RSS of this process {peak_rss_mb():,.0f} MB)")

    print()
    ok_ratio, ok_mem = ratio <= 3, cli_rss < 2048
    print(f"target ratio  <= 3.00 : {ratio:5.2f} (median/median)        {'PASS' if ok_ratio else 'FAIL'}")
    print(f"target memory <  2 GB : {cli_rss / 1024:5.2f} GB     {'PASS' if ok_mem else 'FAIL'}")


if __name__ == "__main__":
    main()
