"""Batch check jobs: an order book uploaded, determined in chunks (progress), the answers written as
JSONL and CSV the way `aiexport check --output` writes them, every line put on the audit record as
one batch with the caller's identity, and a summary by verdict.

A job lives in ``<AIEXPORT_HOME>/jobs/<id>/`` (``job.json`` holds its state and progress), so any
worker process on the machine can report on it and serve its result; each process runs one job at a
time (one thread), leaving the other core to the API. Only the key that started a job, or an admin,
sees it.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from aiexport.api import answers
from aiexport.api.errors import ApiError
from aiexport.api.keys import Caller
from aiexport.errors import AiexportError

CHUNK = 5_000
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aiexport-job")
_write_lock = threading.Lock()


def jobs_dir() -> Path:
    from aiexport.db import home

    d = home() / "jobs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _folder(job_id: str) -> Path:
    if not job_id or len(job_id) > 64 or not all(c.isalnum() for c in job_id):
        raise ApiError(404, f"job {job_id[:70]!r}: no such job", "job_id")
    return jobs_dir() / job_id


def _write(folder: Path, state: dict[str, Any]) -> None:
    tmp = folder / f"job.json.{os.getpid()}.{threading.get_ident()}"
    tmp.write_text(json.dumps(state, ensure_ascii=False, default=str), encoding="utf-8")
    tmp.replace(folder / "job.json")


def read_state(job_id: str) -> dict[str, Any]:
    f = _folder(job_id) / "job.json"
    if not f.is_file():
        raise ApiError(404, f"job {job_id!r}: no such job", "job_id")
    return json.loads(f.read_text(encoding="utf-8"))


def state_for(job_id: str, caller: Caller) -> dict[str, Any]:
    st = read_state(job_id)
    if st["owner_key_id"] != caller.key_id and not caller.can("admin"):
        raise ApiError(404, f"job {job_id!r}: no such job", "job_id")  # another caller's job is not shown to exist
    return st


def public(st: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in st.items() if k not in ("input_path",)}
    if st["state"] == "done":
        out["results"] = {fmt: f"/v1/jobs/{st['id']}/result?format={fmt}" for fmt in ("jsonl", "csv")}
    return out


def start(input_name: str, saved: Path, caller: Caller, *, as_of: str | None, scenario: str | None, enforce: bool) -> dict[str, Any]:
    """Register a job for the book at `saved` (inside the job's folder) and queue it."""
    day = answers.as_of(as_of)
    answers.scenario_path(scenario)
    st = {"id": saved.parent.name, "kind": "check", "state": "queued", "file": input_name, "created_at": time.time(),
          "owner_key_id": caller.key_id, "owner": caller.identity, "options": {"as_of": day.isoformat(), "scenario": scenario,
                                                                               "enforce_codified": enforce},
          "lines": None, "done": 0, "progress": 0.0, "summary": None, "error": None, "audit": None, "input_path": str(saved)}
    _write(saved.parent, st)
    _pool.submit(_run, saved.parent, st)
    return st


def new_folder() -> Path:
    d = jobs_dir() / secrets.token_hex(12)
    d.mkdir()
    return d


def _run(folder: Path, st: dict[str, Any]) -> None:
    try:
        _determine(folder, st)
    except AiexportError as exc:
        st.update(state="failed", error=str(exc))
        _write(folder, st)
    except Exception as exc:  # a bug: say so in the job, never leave it "running"
        st.update(state="failed", error=f"internal error ({type(exc).__name__}); please report it with the book")
        _write(folder, st)


def _determine(folder: Path, st: dict[str, Any]) -> None:
    from aiexport.cli import _sink
    from aiexport.ledger import audit
    from aiexport.licensing import check_frame
    from aiexport.rulebook import parse_date
    from aiexport.transactions import read_transaction_file, validate_transactions

    st.update(state="running", started_at=time.time())
    _write(folder, st)
    path = Path(st["input_path"])
    raw = read_transaction_file(path)
    tx = validate_transactions(raw, st["file"])
    opts = st["options"]
    rb = answers.rulebook(opts["scenario"])
    day = parse_date(opts["as_of"])
    st["lines"] = tx.height
    parts: list[pl.DataFrame] = []
    for start_at in range(0, tx.height, CHUNK):
        parts.append(check_frame(tx.slice(start_at, CHUNK), rb, day, enforce_codified=opts["enforce_codified"], source=st["file"]))
        st.update(done=min(tx.height, start_at + CHUNK), progress=round(min(tx.height, start_at + CHUNK) / max(tx.height, 1) * 0.9, 4))
        _write(folder, st)
    result = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()
    _sink(result.lazy(), folder / "result.jsonl")
    _sink(result.lazy(), folder / "result.csv")
    rows = result.to_dicts()
    inputs = raw.to_dicts()
    bid = audit.batch_id("check", audit.file_sha256(path), {**opts, "job": st["id"]})

    def fetch(s: int, n: int) -> tuple[list[Any], list[Any], list[str | None], list[str | None]]:
        outs = json.loads(json.dumps(rows[s:s + n], default=str))
        return inputs[s:s + n], outs, [o.get("rulebook_hash") for o in outs], [o.get("list_snapshot_hash") for o in outs]

    st["audit"] = audit.record_batch("check", bid, len(rows), fetch, user=st["owner"])
    counts = result.group_by("verdict").len().sort("verdict").to_dicts() if result.height else []
    st.update(state="done", progress=1.0, finished_at=time.time(), summary={c["verdict"]: c["len"] for c in counts})
    _write(folder, st)


def result_path(st: dict[str, Any], fmt: str) -> Path:
    if st["state"] != "done":
        raise ApiError(409, f"job {st['id']}: {st['state']}, no result yet; poll GET /v1/jobs/{st['id']}", "job_id")
    return _folder(st["id"]) / f"result.{fmt}"
