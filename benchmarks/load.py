"""Load test of the service: p50 / p99 latency and throughput of POST /v1/classify and POST /v1/check
at N concurrent clients (default 50), each client sending its next request as soon as the last is
answered (closed loop: wrk, Debian's C load generator, when installed; else httpx async). Every answer goes on the audit record, as in production.

Two kinds of input: `repeat` (the ERP asking about its catalog: a few dozen distinct questions, so
most answers come from the per-process answer cache) and `distinct` (every request a new question:
the engine runs each time).

    .venv/bin/python benchmarks/load.py                       # starts `aiexport serve` on a free port, SQLite in a temp dir
    .venv/bin/python benchmarks/load.py --workers 2           # two server processes
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8000 --key aiex_...   # a server already running

Traffic goes only to the loopback address; each run is bounded by --seconds and --max-requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHIPS = ["H100", "H200", "H20", "A100", "A800", "B200", "RTX 4090", "L40S", "MI300X", "Gaudi 3", "A30", "L20", "TPU v4", "V100"]
WARM_UP_FIRST = 10_000_000  # the warm-up's bodies start here, past those of any measured run
ROUND_BODIES = 100_000  # --rounds: round r's bodies start at r * ROUND_BODIES (a run asks at most 60,000 distinct ones)
DESTS = ["CN", "DE", "JP", "AE", "IN", "MO", "SG", "BR", "MX", "VN"]


def _exe() -> str:
    exe = ROOT / ".venv" / "bin" / "aiexport"
    return str(exe) if exe.exists() else (shutil.which("aiexport") or "aiexport")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def classify_body(i: int, distinct: bool) -> tuple[dict[str, Any], dict[str, str]]:
    if not distinct:
        return {"name": CHIPS[i % len(CHIPS)]}, {}
    rnd = random.Random(i)
    return {"id": f"c{i}", "int8": round(rnd.uniform(50, 4000), 3), "die_area_mm2": round(rnd.uniform(100, 900), 1),
            "io_bidir_gbps": rnd.choice([400, 600, 900]), "datacenter": rnd.choice(["yes", "no"])}, {}


def check_body(i: int, distinct: bool) -> tuple[dict[str, Any], dict[str, str]]:
    n = i if distinct else i % 40
    dest = DESTS[n % len(DESTS)]
    tx = {"id": f"t{n}", "kind": "export", "item": CHIPS[n % len(CHIPS)], "destination_country": dest, "consignee_country": dest,
          "consignee_hq_country": dest, "ultimate_parent_hq_country": dest, "end_use": "datacenter", "party_list_status": "none",
          "item_origin": "us_origin", "date": "2026-01-15", "quantity": 1 + n % 1000}
    return tx, {}


async def run(url: str, key: str, path: str, make: Any, distinct: bool, clients: int, seconds: float, max_requests: int,
              first: int = 0) -> dict[str, Any]:
    """Closed loop with httpx; request k sends body `make(first + k)`."""
    lat: list[float] = []
    errors: dict[int, int] = {}
    counter = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, limits=limits, timeout=60) as client:

        async def one_client() -> None:
            nonlocal counter
            while time.perf_counter() < stop_at and counter < max_requests:
                counter += 1
                body, params = make(first + counter, distinct)
                t0 = time.perf_counter()
                r = await client.post(path, json=body, params=params)
                lat.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors[r.status_code] = errors.get(r.status_code, 0) + 1

        t_start = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - t_start
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) >= 100 else [lat[len(lat) // 2]] * 99
    return {"endpoint": path, "input": "distinct" if distinct else "repeat", "clients": clients, "requests": len(lat),
            "seconds": round(elapsed, 2), "throughput_rps": round(len(lat) / elapsed, 1), "p50_ms": round(q[49] * 1000, 1),
            "p99_ms": round(q[98] * 1000, 1), "max_ms": round(lat[-1] * 1000, 1), "errors": errors}


WRK_SCRIPT = """
local bodies = {}
local tid = 0
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  counter = (tid - 1) * math.floor(#bodies / 4)
end
request = function()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]
  return wrk.format("POST", "@PATH@", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer @KEY@"}, body)
end
"""


def run_wrk(url: str, key: str, path: str, make: Any, distinct: bool, clients: int, seconds: float, folder: Path,
            threads: int = 2, first: int = 0) -> dict[str, Any]:
    """The same measurement with wrk (C, Debian's `wrk`): the client costs far less CPU than Python's."""
    import re

    n = 60_000 if distinct else 40
    bodies = folder / f"bodies-{path.strip('/').replace('/', '_')}-{int(distinct)}.jsonl"
    bodies.write_text("".join(json.dumps(make(first + i, distinct)[0]) + "\n" for i in range(1, n + 1)))
    script = folder / "post.lua"
    script.write_text(WRK_SCRIPT.replace("@PATH@", path).replace("@KEY@", key))
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{clients}", f"-d{max(1, int(seconds))}s", "--latency", "--timeout", "30s",
                          "-s", str(script), url, "--", str(bodies)], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert total and rps, out
    elapsed = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
    return {"endpoint": path, "input": "distinct" if distinct else "repeat", "clients": clients, "requests": int(total.group(1)),
            "seconds": round(elapsed, 2), "throughput_rps": round(float(rps.group(1)), 1), "p50_ms": round(ms("50%"), 1),
            "p99_ms": round(ms("99%"), 1), "max_ms": None, "errors": {"non_2xx": int(bad.group(1))} if bad else {}, "client": "wrk"}


def report(res: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(res))
    else:
        tail = f"max {res['max_ms']} ms" if res["max_ms"] is not None else f"client {res.get('client')}"
        print(f"{res['endpoint']:<13} {res['input']:<8} {res['clients']} clients: {res['requests']:,} requests in "
              f"{res['seconds']} s = {res['throughput_rps']:,} req/s · p50 {res['p50_ms']} ms · p99 {res['p99_ms']} ms · "
              + tail + (f" · errors {res['errors']}" if res["errors"] else ""))
    sys.stdout.flush()


def summarise(results: list[dict[str, Any]], target_ms: float, as_json: bool = False) -> None:
    """Per endpoint and input, over the rounds: the median, best and worst p99, the median
    throughput, and how many runs missed the target."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for res in results:
        groups.setdefault((res["endpoint"], res["input"]), []).append(res)
    for (endpoint, kind), runs in groups.items():
        p99 = sorted(r["p99_ms"] for r in runs)
        rps = sorted(r["throughput_rps"] for r in runs)
        over = sum(p > target_ms for p in p99)
        line = {"summary": endpoint, "input": kind, "runs": len(runs), "p99_median_ms": round(statistics.median(p99), 1),
                "p99_worst_ms": p99[-1], "p99_best_ms": p99[0], "throughput_median_rps": round(statistics.median(rps), 1),
                "target_ms": target_ms, "runs_over_target": over}
        if as_json:
            print(json.dumps(line))
        else:
            print(f"{endpoint:<13} {kind:<8} {len(runs)} runs: p99 median {line['p99_median_ms']} ms, best {p99[0]}, worst {p99[-1]} · "
                  f"median {line['throughput_median_rps']:,} req/s · {over} of {len(runs)} over {target_ms:g} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="A running server (default: start one on a free loopback port).")
    ap.add_argument("--key", help="An API key for --url (default: one is created for the server started here).")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=1, help="Server processes when the script starts the server.")
    ap.add_argument("--inputs", choices=["repeat", "distinct", "both"], default="both")
    ap.add_argument("--rounds", type=int, default=1, help="Measure every endpoint and input this many times over (against "
                                                          "the same server), then summarise the p99s: a shared machine's speed "
                                                          "varies from one run to the next.")
    ap.add_argument("--target-ms", type=float, default=50.0, help="The p99 target the summary counts runs against.")
    ap.add_argument("--json", action="store_true", help="One JSON object per run.")
    ap.add_argument("--client", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx",
                    help="Load generator: wrk (Debian package; default when installed) or httpx async (Python: itself "
                         "CPU-bound near 150-200 req/s on this machine).")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error(f"--rounds: {args.rounds} is not a number of rounds; give 1 or more")
    proc = None
    tmp = None
    url, key = args.url, args.key
    if url is None:
        tmp = tempfile.TemporaryDirectory(prefix="aiexport-load-")
        env = {**os.environ, "AIEXPORT_HOME": tmp.name, "AIEXPORT_DATABASE_URL": os.environ.get("AIEXPORT_DATABASE_URL")
               or f"sqlite:///{tmp.name}/aiexport.db"}
        key = subprocess.run([_exe(), "keys", "create", "--role", "viewer", "--name", "load test"], capture_output=True, text=True,
                             env=env, check=True).stdout.strip().splitlines()[-1]
        port = _port()
        url = f"http://127.0.0.1:{port}"
        server_log = open(Path(tmp.name) / "server.log", "w")  # noqa: SIM115 (open while the server runs)
        proc = subprocess.Popen([_exe(), "serve", "--port", str(port), "--workers", str(args.workers), "--no-access-log",
                                 "--log-level", "warning"], env=env, stdout=server_log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if proc.poll() is not None:  # the server stopped (say, the free port was taken meanwhile)
                    server_log.flush()
                    log = (Path(tmp.name) / "server.log").read_text()[-2000:]
                    raise SystemExit(f"load.py: `aiexport serve` exited with status {proc.returncode}; its log ends:\n{log}") from None
                time.sleep(0.1)
    assert key, "give --key with --url"
    try:
        modes = [False, True] if args.inputs == "both" else [args.inputs == "distinct"]
        results = []
        for round_ in range(args.rounds):
            first = round_ * ROUND_BODIES  # each round's bodies (and its warm-up's) are its own
            for path, make in (("/v1/classify", classify_body), ("/v1/check", check_body)):
                for distinct in modes:
                    # warm-up (not reported), with questions of its own: a `distinct` run's questions are all new to the server
                    asyncio.run(run(url, key, path, make, distinct, min(args.clients, 8), 1.0, 400, first=WARM_UP_FIRST + first))
                    if args.client == "wrk":
                        with tempfile.TemporaryDirectory(prefix="aiexport-wrk-") as wdir:
                            res = run_wrk(url, key, path, make, distinct, args.clients, args.seconds, Path(wdir), first=first)
                    else:
                        res = asyncio.run(run(url, key, path, make, distinct, args.clients, args.seconds, args.max_requests, first=first))
                    results.append(res)
                    report(res, args.json)
        if args.rounds > 1:
            summarise(results, args.target_ms, as_json=args.json)
    except Exception:
        if proc is not None:
            print(f"server exit status {proc.poll()}; its log:\n" + (Path(tmp.name) / "server.log").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
