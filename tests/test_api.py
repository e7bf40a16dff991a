"""The REST service (issue #7): every endpoint, every role, the refusals, the error shape, the
contract with the CLI (POST /v1/classify and /v1/check answer the very JSON object `aiexport
classify --json` / `aiexport check --json` print), the audit record of every answer with the
caller's identity, batch jobs, keys. Runs on SQLite and, when AIEXPORT_TEST_DATABASE_URL is set,
on PostgreSQL."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import BACKENDS, run_cli, served
from tests.test_api_support import (
    BOOK_CSV,
    CSL_2026,
    PG_URL,
    csl_rows,
    fresh_database,
    make_keys,
    name_of,
    small_list,
    write_list,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

H100_CN = {"id": "q1", "kind": "export", "item": "H100", "destination_country": "CN", "consignee_country": "CN",
           "consignee_hq_country": "CN", "ultimate_parent_hq_country": "CN", "end_use": "datacenter", "party_list_status": "none",
           "item_origin": "us_origin", "date": "2026-01-15"}


class Service:
    def __init__(self, client: TestClient, keys: dict[str, str], folder: Path):
        self.client, self.keys, self.folder = client, keys, folder

    def h(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def get(self, path: str, role: str = "viewer", **kw: Any) -> Any:
        return self.client.get(path, headers=self.h(role), **kw)

    def post(self, path: str, role: str = "viewer", **kw: Any) -> Any:
        return self.client.post(path, headers=self.h(role), **kw)


@pytest.fixture(params=BACKENDS)
def svc(request, tmp_path) -> Iterator[Service]:
    from aiexport.api import create_app

    with fresh_database(request.param, tmp_path):
        keys = make_keys()
        with TestClient(create_app(), base_url="https://testserver") as client:
            yield Service(client, keys, tmp_path)


def assert_error(r: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    e = r.json()["error"]
    assert set(e) == {"status", "code", "message", "field"} and e["status"] == status and e["code"] == code and e["message"]
    if field is not None:
        assert e["field"] == field, e
    return e


def audit_records(svc: Service, kind: str | None = None) -> list[dict[str, Any]]:
    r = svc.get("/v1/audit/records", params={"limit": 500, **({"kind": kind} if kind else {})})
    assert r.status_code == 200
    return r.json()


# ---------------------------------------------------------------------------------------------- health, auth, roles


def test_healthz_needs_no_key_and_openapi_documents_every_endpoint(svc: Service):
    r = svc.client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["database"]["ok"]
    doc = svc.client.get("/openapi.json").json()
    paths = set(doc["paths"])
    for p in ("/v1/classify", "/v1/check", "/v1/timeline", "/v1/impact", "/v1/screen", "/v1/screening/decisions", "/v1/lists",
              "/v1/lists/diff", "/v1/licences", "/v1/licences/draw", "/v1/audit/verify", "/v1/audit/export", "/v1/jobs/check",
              "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result", "/v1/weights", "/v1/foundry", "/v1/invest", "/v1/keys"):
        assert p in paths, p
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def test_every_api_call_without_a_key_is_refused(svc: Service):
    doc = svc.client.get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method in ops:
            url = path.replace("{job_id}", "abc").replace("{snapshot_id}", "1").replace("{number}", "L1").replace(
                "{seq}", "1").replace("{key_id}", "1")
            r = svc.client.request(method.upper(), url)
            if path == "/healthz":
                assert r.status_code == 200
                continue
            assert_error(r, 401, "unauthenticated", "Authorization")
            assert r.headers.get("www-authenticate") == "Bearer"
            bad = svc.client.request(method.upper(), url, headers={"Authorization": "Bearer aiex_not-a-key"})
            assert_error(bad, 401, "unauthenticated")


@pytest.mark.parametrize("method,path,body,needs", [
    ("post", "/v1/screening/decisions", {"party_key": "x", "entry_key": "y", "verdict": "true_match", "reason": "r"}, "analyst"),
    ("post", "/v1/screening/record", {"names": [{"id": "1", "name": "ACME"}]}, "analyst"),
    ("post", "/v1/licences/draw", {"quantity": 1, "txn": "t1"}, "analyst"),
    ("post", "/v1/licences/consume", {"txn": "t1"}, "analyst"),
    ("post", "/v1/licences/release", {"txn": "t1"}, "analyst"),
    ("post", "/v1/licences", {"number": "L1", "quantity": 10}, "admin"),
    ("post", "/v1/keys", {"role": "viewer"}, "admin"),
    ("get", "/v1/keys", None, "admin"),
    ("delete", "/v1/keys/1", None, "admin"),
])
def test_roles_refuse_what_they_do_not_allow(svc: Service, method: str, path: str, body: Any, needs: str):
    """Issue #7: viewer reads and asks; analyst also decides hits and draws licences; admin also manages keys, lists, licences."""
    lower = ["viewer"] if needs == "analyst" else ["viewer", "analyst"]
    for role in lower:
        kw = {"json": body} if body is not None else {}
        r = svc.client.request(method.upper(), path, headers=svc.h(role), **kw)
        e = assert_error(r, 403, "forbidden", "role")
        assert needs in e["message"] and role in e["message"]


def test_list_import_needs_admin(svc: Service, tmp_path: Path):
    if not CSL_2026.exists():
        pytest.skip("shared list data not present")
    path = small_list(tmp_path / "list.csv")
    for role in ("viewer", "analyst"):
        r = svc.post("/v1/lists", role, files={"file": ("list.csv", path.read_bytes(), "text/csv")})
        assert_error(r, 403, "forbidden")


def test_whoami_names_the_key_never_shows_it(svc: Service):
    r = svc.get("/v1/whoami", "analyst")
    assert r.status_code == 200 and r.json()["role"] == "analyst" and r.json()["name"] == "test analyst"
    assert svc.keys["analyst"] not in r.text


# ---------------------------------------------------------------------------------------------- the contract with the CLI


def test_classify_answers_the_cli_json_object(svc: Service):
    r = svc.post("/v1/classify", json={"name": "H100"}, params={"as_of": "2026-11-29"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    cli = run_cli("classify", "H100", "--json", "--as-of", "2026-11-29")
    assert cli.returncode == 0, cli.stderr
    assert r.json() == json.loads(cli.stdout.strip())
    # 15 CFR 774 Supp. 1, ECCN 3A090.a.1 (88 FR 73458): TPP >= 4800; H100 SXM dense INT8 1979 TOPS x 8 = 15,832 TPP (NVIDIA datasheet)
    assert r.json()["control"] == "3A090.a" and r.json()["tpp"] == 15832.0


def test_classify_spec_fields_as_the_cli_reads_a_spec_file(svc: Service, tmp_path: Path):
    spec = {"id": "mychip", "name": "My chip", "int8": 700, "die_area_mm2": 600, "io_bidir_gbps": 900, "datacenter": "yes"}
    r = svc.post("/v1/classify", json=spec, params={"as_of": "2025-01-01"})
    assert r.status_code == 200, r.text
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    cli = run_cli("classify", "--spec", str(tmp_path / "spec.json"), "--json", "--as-of", "2025-01-01")
    assert cli.returncode == 0, cli.stderr
    api, ref = r.json(), json.loads(cli.stdout.strip())
    assert api == ref


def test_check_answers_the_cli_json_object(svc: Service, tmp_path: Path):
    r = svc.post("/v1/check", json=H100_CN)
    assert r.status_code == 200, r.text
    (tmp_path / "tx.json").write_text(json.dumps([H100_CN]))
    cli = run_cli("check", str(tmp_path / "tx.json"), "--json")
    assert cli.returncode == 0, cli.stderr
    assert r.json() == json.loads(cli.stdout.strip())
    # 15 CFR 744.23 / 742.6(a)(6) (88 FR 73458): a 3A090.a IC to China needs a licence
    assert r.json()["verdict"] == "license_required"


def test_texts_with_unicode_line_separators_come_back_whole(svc: Service):
    """JSON allows U+2028, U+2029 and U+0085 inside a string as they are, and polars writes them so:
    an answer is one line ending with "\n", not whatever `str.splitlines` cuts (before: the answer
    to one question was cut at the separator)."""
    for sep in ("\u2028", "\u2029", "\x85"):
        tx = {**H100_CN, "id": f"q{sep}1"}
        r = svc.post("/v1/check", json=tx)
        assert r.status_code == 200, r.text
        assert r.json()["id"] == tx["id"] and r.json()["verdict"] == "license_required"
        spec = {"id": f"c{sep}1", "name": f"My{sep}chip", "int8": 700, "die_area_mm2": 600, "io_bidir_gbps": 900, "datacenter": "yes"}
        r = svc.post("/v1/classify", json=spec, params={"as_of": "2025-01-01"})
        assert r.status_code == 200, r.text
        assert r.json()["id"] == spec["id"] and r.json()["name"] == spec["name"]


def test_scenario_and_as_of_options(svc: Service):
    r = svc.post("/v1/classify", json={"name": "A800"}, params={"as_of": "2023-06-01"})
    later = svc.post("/v1/classify", json={"name": "A800"}, params={"as_of": "2024-01-01"})
    # 88 FR 73458 (2023-10-25, in force 2023-11-17) brought the A800 under 3A090 (the 2022 rule's 600 GB/s I/O test had excluded it)
    assert r.json()["control"] == "none" and later.json()["control"].startswith("3A090")
    s = svc.post("/v1/classify", json={"name": "H20"}, params={"scenario": "h20_class"})
    assert s.status_code == 200 and s.json()["scenario"]
    assert_error(svc.post("/v1/classify", json={"name": "H20"}, params={"scenario": "../../etc/passwd"}), 400, "bad_input", "scenario")
    assert_error(svc.post("/v1/classify", json={"name": "H20"}, params={"as_of": "yesterday"}), 400, "bad_input", "as_of")


def test_bad_input_is_one_line_naming_the_field(svc: Service):
    e = assert_error(svc.post("/v1/classify", json={"name": "H1OO-unknown"}), 400, "bad_input", "name")
    assert "not in the catalog" in e["message"] and "\n" not in e["message"]
    e = assert_error(svc.post("/v1/classify", json={"int8": -5, "die_area_mm2": 10}), 400, "bad_input", "int8")
    e = assert_error(svc.post("/v1/check", json={**H100_CN, "destination_country": "XX"}), 400, "bad_input", "destination_country")
    assert_error(svc.post("/v1/check", json={**H100_CN, "colour": "red"}), 400, "bad_input")
    assert_error(svc.post("/v1/classify", json={}), 400, "bad_input", "body")
    assert_error(svc.post("/v1/classify", json=[1, 2]), 422, "invalid_request")
    r = svc.client.post("/v1/check", content=b'{"id": ', headers={**svc.h("viewer"), "content-type": "application/json"})
    e = assert_error(r, 422, "invalid_request")
    assert "not valid JSON" in e["message"]


def test_request_size_limits(svc: Service):
    big = {"id": "x", "name": "a" * (2 << 20)}
    e = assert_error(svc.post("/v1/classify", json=big), 413, "too_large")
    assert "1,048,576" in e["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds on the streamed body too
        yield b'{"name": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    r = svc.client.post("/v1/classify", content=chunks(), headers={**svc.h("viewer"), "content-type": "application/json"})
    assert_error(r, 413, "too_large")


def test_unknown_paths_and_methods_answer_in_the_error_shape(svc: Service):
    assert_error(svc.get("/v1/nothing-here"), 404, "not_found")
    assert_error(svc.client.put("/v1/classify", headers=svc.h("viewer")), 405, "method_not_allowed")


# ---------------------------------------------------------------------------------------------- other answers


def test_timeline_impact_and_the_controls(svc: Service):
    r = svc.post("/v1/timeline", json={"name": "A800"})
    cli = run_cli("timeline", "A800", "--json")
    assert r.status_code == 200 and r.json() == json.loads(cli.stdout.strip())
    assert "2023-11-17" in r.json()["changes"]
    book = [H100_CN, {**H100_CN, "id": "q2", "item": "H20", "date": "2026-01-15"}]
    r = svc.post("/v1/impact", json={"transactions": book}, params={"scenario": "h20_class"})
    assert r.status_code == 200, r.text
    assert r.json()["lines"] == 2 and {c["verdict"] for c in r.json()["counts"]}
    assert_error(svc.post("/v1/impact", json={"transactions": book}, params={"scenario": "nope"}), 400, "bad_input", "scenario")
    for kind, case, cli_args in (
            ("weights", {"id": "m1", "training_ops": 3e26, "destination_country": "CN", "date": "2025-02-01"}, ["-f", "id=m1", "-f",
                                                                                                              "training_ops=3e26", "-f",
                                                                                                              "destination_country=CN", "-f",
                                                                                                              "date=2025-02-01"]),
            ("invest", {"id": "i1", "investor_us_person": "yes", "transaction": "equity", "target_country": "CN",
                        "activities": "ai_development", "ai_training_ops": 3.29e24, "ai_bio_data": "no", "end_uses": "none", "date": "2025-03-01"}, None),
            ("foundry", {"id": "f1", "process_nm": 7, "non_planar": "yes", "logic": "yes", "transistors_billion": 40,
                         "designer_status": "none", "date": "2025-03-01"}, None)):
        r = svc.post(f"/v1/{kind}", json=case)
        assert r.status_code == 200, (kind, r.text)
        assert r.json()[0]["id"] == case["id"] and r.json()[0]["verdict"] and r.json()[0]["rulebook_hash"]
        if cli_args:
            cli = run_cli(kind, *cli_args, "--json")
            assert cli.returncode == 0, cli.stderr
            assert r.json()[0] == json.loads(cli.stdout.strip())
    assert_error(svc.post("/v1/weights", json={"id": "m", "training_ops": "lots"}), 400, "bad_input", "training_ops")
    assert_error(svc.post("/v1/weights", json=[]), 400, "bad_input")


def test_catalog_and_scenarios(svc: Service):
    names = {it["name"] for it in svc.get("/v1/catalog").json()}
    assert "H100 SXM5 80GB" in names or any("H100" in n for n in names)
    assert "h20_class" in svc.get("/v1/scenarios").json()


# ---------------------------------------------------------------------------------------------- lists, screening, review


def test_lists_screening_and_review_decisions(svc: Service, tmp_path: Path):
    if not CSL_2026.exists():
        pytest.skip("shared list data not present")
    assert_error(svc.post("/v1/screen", json={"names": [{"id": "1", "name": "x"}]}), 400, "bad_input", "snapshot")
    first = small_list(tmp_path / "first.csv")
    r = svc.post("/v1/lists", "admin", files={"file": ("first.csv", first.read_bytes(), "text/csv")})
    assert r.status_code == 200, r.text
    snap1 = r.json()["snapshot"]["id"]
    listed = name_of(csl_rows("EL", 1)[0])
    r = svc.post("/v1/screen", json={"names": [{"id": "p1", "name": listed}, {"id": "p2", "name": "Zyxwv Quux Bakery Oy"}]})
    assert r.status_code == 200, r.text
    by_id = {a["id"]: a for a in r.json()}
    assert by_id["p1"]["decision"] == "alert" and by_id["p2"]["decision"] == "clear"
    assert by_id["p1"]["list_snapshot_hash"] == svc.get("/v1/lists").json()[-1]["content_hash"]
    r = svc.post("/v1/screening/record", "analyst", json={"names": [{"id": "p1", "name": listed}]})
    assert r.status_code == 200, r.text
    hits = svc.get("/v1/screening/hits").json()
    assert hits and hits[0]["status"] == "open"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    h = hits[0]
    r = svc.post("/v1/screening/decisions", "analyst", json={"party_key": h["party_key"], "entry_key": h["entry_key"],
                                                            "verdict": "false_match", "reason": "different address"})
    assert r.status_code == 200, r.text
    assert r.json()["hit"]["status"] == "suppressed" and "test analyst" in r.json()["decision"]["reviewer"]
    assert_error(svc.post("/v1/screening/decisions", "analyst", json={"party_key": "nobody", "entry_key": "x", "verdict": "true_match",
                                                                     "reason": "r"}), 400, "bad_input", "PARTY_KEY")
    assert_error(svc.post("/v1/screening/decisions", "analyst", json={**{k: h[k] for k in ("party_key", "entry_key")},
                                                                     "verdict": "maybe", "reason": "r"}), 422, "invalid_request")
    # a second snapshot: the first 30 Entity List entries only
    second = write_list(tmp_path / "second.csv", csl_rows("EL", 30))
    r = svc.post("/v1/lists", "admin", files={"file": ("second.csv", second.read_bytes(), "text/csv")})
    assert r.status_code == 200, r.text
    snap2 = r.json()["snapshot"]["id"]
    d = svc.get("/v1/lists/diff", params={"old": snap1, "new": snap2})
    assert d.status_code == 200 and d.json()["counts"]["removed"] == 30
    assert svc.get(f"/v1/lists/{snap2}").json()["entry_count"] == 30
    assert_error(svc.get("/v1/lists/999"), 404, "not_found")
    assert_error(svc.get("/v1/lists/diff", params={"old": 1, "new": 999}), 404, "not_found")


# ---------------------------------------------------------------------------------------------- licences


def test_licences_add_draw_and_balances(svc: Service):
    r = svc.post("/v1/licences", "admin", json={"number": "D123456", "quantity": 100, "countries": ["CN"], "valid_until": "2030-12-31"})
    assert r.status_code == 200, r.text
    assert_error(svc.post("/v1/licences", "admin", json={"number": "D123456", "quantity": 5}), 400, "bad_input")
    d = svc.post("/v1/licences/draw", "analyst", json={"quantity": 30, "txn": "SO-1", "number": "D123456", "country": "CN", "date": "2026-01-15"})
    assert d.status_code == 200 and d.json()["granted"] and d.json()["remaining_quantity"] == 70
    again = svc.post("/v1/licences/draw", "analyst", json={"quantity": 30, "txn": "SO-1", "number": "D123456", "country": "CN", "date": "2026-01-15"})
    assert again.json()["granted"] and again.json()["remaining_quantity"] == 70  # idempotent on the transaction id
    over = svc.post("/v1/licences/draw", "analyst", json={"quantity": 500, "txn": "SO-2", "number": "D123456", "country": "CN", "date": "2026-01-15"})
    assert over.status_code == 200 and not over.json()["granted"]
    svc.post("/v1/licences/draw", "analyst", json={"quantity": 10, "txn": "SO-3", "number": "D123456", "country": "CN", "reserve": True})
    assert svc.post("/v1/licences/release", "analyst", json={"txn": "SO-3"}).json()["granted"] is not None
    show = svc.get("/v1/licences/D123456")
    assert show.status_code == 200 and show.json()["consumed_quantity"] == 30 and len(show.json()["draw_list"]) >= 2
    assert svc.get("/v1/licences").json()[0]["remaining_quantity"] == 70
    assert_error(svc.get("/v1/licences/NOPE"), 404, "not_found", "number")


# ---------------------------------------------------------------------------------------------- the audit record


def test_every_answer_is_on_the_audit_record_with_the_callers_identity(svc: Service):
    svc.post("/v1/classify", json={"name": "H100"})
    svc.post("/v1/check", json=H100_CN, role="analyst")
    svc.post("/v1/classify", json={"name": "H100"})  # a cached answer is recorded too
    recs = audit_records(svc)
    kinds = [r["kind"] for r in recs]
    assert kinds.count("classify") == 2 and kinds.count("check") == 1
    chk = next(r for r in recs if r["kind"] == "check")
    assert chk["user"].startswith("test analyst (api key #") and chk["rulebook_hash"] == chk["output"]["rulebook_hash"]
    assert chk["input"]["request"]["item"] == "H100"
    v = svc.get("/v1/audit/verify").json()
    assert v["ok"] and v["records"] >= 3
    one = svc.get(f"/v1/audit/records/{chk['seq']}").json()
    assert one["hash_ok"] and one["kind"] == "check"
    assert_error(svc.get("/v1/audit/records/99999"), 404, "not_found")
    exp = svc.get("/v1/audit/export", params={"format": "jsonl"})
    assert exp.status_code == 200 and len(exp.text.strip().splitlines()) >= 3
    csv_exp = svc.get("/v1/audit/export", params={"format": "csv", "kind": "check"})
    assert csv_exp.status_code == 200 and csv_exp.text.startswith("seq,")
    for key in svc.keys.values():  # no secret on the record
        assert key not in exp.text


def test_audit_records_concurrent_answers_in_one_chain(svc: Service):
    import concurrent.futures

    def ask(i: int) -> int:
        return svc.post("/v1/classify", json={"name": "H100"}, params={"as_of": f"2025-01-{1 + i % 28:02d}"}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(ask, range(40))) == {200}
    v = svc.get("/v1/audit/verify").json()
    assert v["ok"] and v["records"] == 40  # no fork, no gap: verify sees the 40 answers before its own record
    assert len(audit_records(svc, "classify")) == 40


# ---------------------------------------------------------------------------------------------- batch jobs


def _wait(svc: Service, job_id: str, role: str = "viewer") -> dict[str, Any]:
    for _ in range(300):
        st = svc.get(f"/v1/jobs/{job_id}", role).json()
        if st["state"] in ("done", "failed"):
            return st
        time.sleep(0.1)
    raise AssertionError("job did not finish")


def test_batch_job_progress_result_and_audit(svc: Service, tmp_path: Path):
    r = svc.post("/v1/jobs/check", files={"file": ("book.csv", BOOK_CSV.encode(), "text/csv")}, params={"as_of": "2026-01-15"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] in ("queued", "running", "done") and "input_path" not in job
    st = _wait(svc, job["id"])
    assert st["state"] == "done" and st["progress"] == 1.0 and st["lines"] == 5 and sum(st["summary"].values()) == 5
    res = svc.get(f"/v1/jobs/{job['id']}/result", params={"format": "jsonl"})
    assert res.status_code == 200
    (tmp_path / "book.csv").write_text(BOOK_CSV)
    cli = run_cli("check", str(tmp_path / "book.csv"), "--json", "--as-of", "2026-01-15")
    api_rows = [json.loads(x) for x in res.text.splitlines()]
    cli_rows = [json.loads(x) for x in cli.stdout.splitlines()]
    strip = ("source",)
    assert [{k: v for k, v in a.items() if k not in strip} for a in api_rows] == [{k: v for k, v in c.items() if k not in strip}
                                                                                  for c in cli_rows]
    csv_res = svc.get(f"/v1/jobs/{job['id']}/result", params={"format": "csv"})
    assert csv_res.status_code == 200 and csv_res.text.splitlines()[0].startswith("id,") and len(csv_res.text.splitlines()) == 6
    recs = [x for x in audit_records(svc, "check") if x["batch_id"]]
    assert len(recs) == 5 and {x["line"] for x in recs} == {1, 2, 3, 4, 5} and recs[0]["user"].startswith("test viewer")
    # another caller's job does not exist for them; an admin sees it
    assert_error(svc.get(f"/v1/jobs/{job['id']}", "analyst"), 404, "not_found")
    assert svc.get(f"/v1/jobs/{job['id']}", "admin").status_code == 200
    assert_error(svc.get("/v1/jobs/../../etc"), 404, "not_found")


def test_batch_job_with_bad_book_fails_with_one_line(svc: Service):
    r = svc.post("/v1/jobs/check", files={"file": ("bad.csv", b"id,kind,item\n1,export,H100\n2,exprt,H100\n", "text/csv")})
    st = _wait(svc, r.json()["id"])
    assert st["state"] == "failed" and "kind" in st["error"] and "\n" not in st["error"]
    assert_error(svc.get(f"/v1/jobs/{st['id']}/result"), 409, "conflict")


# ---------------------------------------------------------------------------------------------- keys


def test_keys_through_the_api_and_revocation(svc: Service):
    r = svc.post("/v1/keys", "admin", json={"role": "analyst", "name": "erp"})
    assert r.status_code == 200
    new = r.json()["key"]
    assert svc.client.get("/v1/whoami", headers={"Authorization": f"Bearer {new}"}).json()["name"] == "erp"
    listed = svc.get("/v1/keys", "admin").json()
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert svc.client.delete(f"/v1/keys/{r.json()['id']}", headers=svc.h("admin")).json()["active"] is False
    assert_error(svc.client.get("/v1/whoami", headers={"Authorization": f"Bearer {new}"}), 401, "unauthenticated")
    assert_error(svc.client.delete("/v1/keys/9999", headers=svc.h("admin")), 404, "not_found")


def test_cli_keys_create_prints_the_key_last_and_it_works(svc: Service):
    cli = run_cli("keys", "create", "--role", "analyst", "--name", "cli made")
    assert cli.returncode == 0, cli.stderr
    key = cli.stdout.strip().splitlines()[-1]
    assert key.startswith("aiex_")
    who = svc.client.get("/v1/whoami", headers={"Authorization": f"Bearer {key}"})
    assert who.status_code == 200 and who.json()["role"] == "analyst"
    listed = run_cli("keys", "list", "--json")
    rows = [json.loads(x) for x in listed.stdout.splitlines()]
    made = next(r for r in rows if r["name"] == "cli made")
    assert key not in listed.stdout
    rev = run_cli("keys", "revoke", str(made["id"]))
    assert rev.returncode == 0, rev.stderr
    from aiexport.api import keys

    keys.clear_cache()
    assert svc.client.get("/v1/whoami", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    bad = run_cli("keys", "create", "--role", "root")
    assert bad.returncode == 2 and "--role" in bad.stderr and "Traceback" not in bad.stderr


def test_no_key_in_logs(svc: Service, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    svc.post("/v1/classify", json={"name": "H100"})
    svc.client.get("/v1/whoami", headers={"Authorization": "Bearer aiex_wrong"})
    svc.client.post("/login", data={"key": svc.keys["admin"]})
    text = "\n".join(r.getMessage() for r in caplog.records)
    for key in svc.keys.values():
        assert key not in text


# ---------------------------------------------------------------------------------------------- web UI (server side)


def test_web_login_cookie_and_roles(svc: Service):
    c = svc.client
    assert c.get("/ask", follow_redirects=False).headers["location"] == "/login"
    r = c.post("/login", data={"key": "aiex_nope"})
    assert r.status_code == 401
    r = c.post("/login", data={"key": svc.keys["viewer"]}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303 and "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    page = c.get("/ask?lang=zh")
    assert page.status_code == 200 and "物项归类" in page.text and 'lang="zh-CN"' in page.text
    csrf = csrf_of(page.text)
    refused = c.post("/review/decide", data={"party_key": "x", "entry_key": "y", "verdict": "true_match", "csrf": csrf})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"] and 'id="error"' in refused.text
    r = c.post("/ask/classify", data={"name": "H100", "csrf": csrf})
    assert r.status_code == 200 and "3A090.a" in r.text
    for p in ("/batch", "/review", "/licences", "/chips", "/chips/A800", "/audit"):
        assert c.get(p).status_code == 200, p
    c.post("/logout", data={"csrf": csrf})
    assert c.get("/ask", follow_redirects=False).status_code == 303


def csrf_of(html: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([0-9a-f]{32})"', html)
    assert found, "every form of a session page carries the CSRF token"
    return found.group(1)


def test_web_posts_without_the_sessions_csrf_token_are_refused(svc: Service):
    # a page of another site can make the browser POST with its cookies (SameSite=Strict stops most
    # browsers; the token stops the rest): without the token derived from the session, nothing is done
    c = svc.client
    c.post("/login", data={"key": svc.keys["analyst"]})
    page = c.get("/ask")
    csrf = csrf_of(page.text)
    assert f'"X-CSRF-Token": "{csrf}"' in page.text  # htmx requests send it as a header
    for data in ({"name": "H100"}, {"name": "H100", "csrf": "0" * 32}, {"name": "H100", "csrf": "令牌"}):
        r = c.post("/ask/classify", data=data)
        assert r.status_code == 403 and "CSRF" in r.text, data
    assert c.post("/ask/classify", data={"name": "H100"}, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert c.post("/logout").status_code == 403 and c.get("/ask", follow_redirects=False).status_code == 200  # still signed in
    # another session's token does not fit this one
    other = svc.client.__class__(svc.client.app, base_url=str(svc.client.base_url))
    other.post("/login", data={"key": svc.keys["viewer"]})
    assert other.post("/ask/classify", data={"name": "H100", "csrf": csrf}).status_code == 403
    # a login posted from another site is refused; from this one it works
    fresh = svc.client.__class__(svc.client.app, base_url=str(svc.client.base_url))
    r = fresh.post("/login", data={"key": svc.keys["viewer"]}, headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = fresh.post("/login", data={"key": svc.keys["viewer"]}, headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert r.status_code == 403
    r = fresh.post("/login", data={"key": svc.keys["viewer"]}, headers={"Origin": str(svc.client.base_url)}, follow_redirects=False)
    assert r.status_code == 303


def test_web_session_cookie_never_holds_the_key_and_cannot_be_forged(svc: Service):
    from aiexport.api import keys

    c = svc.client
    r = c.post("/login", data={"key": svc.keys["analyst"]}, follow_redirects=False)
    token = r.cookies.get("aiexport_session")
    assert token and svc.keys["analyst"] not in r.headers["set-cookie"]
    caller = keys.session_caller(token)
    assert caller is not None and caller.role == "analyst"
    key_id, expires, sig = token.split(".")
    assert keys.session_caller(f"{key_id}.{int(expires) + 3600}.{sig}") is None  # a longer session: signature breaks
    assert keys.session_caller(f"{key_id}.{expires}.{'0' * 64}") is None  # forged
    assert keys.session_caller(token, now=int(expires) + 1) is None  # expired
    assert keys.session_caller("garbage") is None and keys.session_caller(svc.keys["analyst"]) is None
    assert run_cli("keys", "revoke", key_id).returncode == 0
    keys.clear_cache()
    assert keys.session_caller(token) is None  # revoking the key ends its sessions
    assert c.get("/ask", follow_redirects=False).status_code == 303


def test_every_web_word_has_chinese():
    from aiexport.web.i18n import WORDS

    assert all(w.get("zh") and w.get("en") for w in WORDS.values())


@pytest.mark.skipif(not PG_URL, reason="AIEXPORT_TEST_DATABASE_URL is not set")
def test_several_workers_share_one_postgresql_database(tmp_path: Path):
    """Issue #7: `aiexport serve --workers N` with AIEXPORT_DATABASE_URL: the workers answer concurrently
    and their records form one unbroken chain; a key revoked through one worker is refused by all."""
    import concurrent.futures
    import os

    import httpx

    with fresh_database("postgresql", tmp_path) as url:
        keys = make_keys()
        env = {**os.environ, "AIEXPORT_DATABASE_URL": url}
        with served(["--workers", "2", "--no-access-log", "--engine-threads", "2"], env, tmp_path / "server.log") as (_, base, _):
            h = {"Authorization": f"Bearer {keys['viewer']}"}

            def ask(i: int) -> int:
                r = httpx.post(base + "/v1/check", json={**H100_CN, "id": f"w{i}"}, headers=h, timeout=60)
                return r.status_code

            assert {httpx.get(base + "/healthz", timeout=60).json()["engine_threads"] for _ in range(6)} == {2}
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                codes = list(pool.map(ask, range(120)))
            assert set(codes) == {200}
            v = httpx.get(base + "/v1/audit/verify", headers=h, timeout=60).json()
            assert v["ok"] and v["records"] == 120
            admin = {"Authorization": f"Bearer {keys['admin']}"}
            made = httpx.post(base + "/v1/keys", json={"role": "viewer", "name": "short-lived"}, headers=admin, timeout=60).json()
            httpx.delete(f"{base}/v1/keys/{made['id']}", headers=admin, timeout=60)
            time.sleep(5.5)  # the per-process key cache holds answers for 5 s
            gone = {"Authorization": f"Bearer {made['key']}"}
            assert {httpx.get(base + "/v1/whoami", headers=gone, timeout=60).status_code for _ in range(10)} == {401}


def test_questions_answered_together_get_the_answers_they_get_alone():
    """The service answers concurrent classify/check questions in one engine call: each answer must be
    byte for byte the one the question gets on its own (ids restored, nothing shared between rows)."""
    import random
    from datetime import date

    from aiexport import catalog
    from aiexport.api import answers

    day = date(2026, 11, 29)
    specs = [{"name": it["name"]} for it in catalog.items() if "contains" not in catalog.spec_of(it)]
    specs += [{"id": f"c{i}", "int8": random.Random(i).uniform(50, 4000), "die_area_mm2": 500, "io_bidir_gbps": 900} for i in range(10)]
    specs += [{"int8": 100, "die_area_mm2": 50}, {"name": "H100"}, {"name": "H100"}]
    together = answers._classify_rows(specs, (day, None), batch=True)
    assert together == [answers._classify_rows([s], (day, None), batch=False)[0] for s in specs]
    books = [{**H100_CN, "id": f"t{i}", "item": ["H100", "A100", "H20", "RTX 4090"][i % 4],
              "destination_country": ["CN", "DE", "JP", "AE"][i % 4]} for i in range(12)]
    books += [{k: v for k, v in H100_CN.items() if k != "id"}, {**H100_CN, "id": 7}]
    together = answers._check_rows(books, (day, None, False, False), batch=True)
    assert together == [answers._check_rows([b], (day, None, False, False), batch=False)[0] for b in books]
    with pytest.raises(ValueError):  # an id that validation would change is answered on its own
        answers._check_rows([{**H100_CN, "id": " padded "}, H100_CN], (day, None, False, False), batch=True)


def test_the_fast_path_answers_and_records_as_the_full_route(svc: Service):
    """A repeated question is answered by the fast path (cached answer, cached key): same bytes, same
    audit input, same identity as the first answer, which went through the full route."""
    for path, body, params in (("/v1/classify", {"name": "H100"}, {"as_of": "2026-11-29"}),
                               ("/v1/check", H100_CN, {"enforce_codified": "false", "scenario": ""})):
        first = svc.post(path, json=body, params=params)
        again = svc.post(path, json=body, params=params)
        assert first.status_code == again.status_code == 200 and first.content == again.content
        assert again.headers["content-type"] == "application/json"
        recs = audit_records(svc, path.rsplit("/", 1)[1])[:2]
        assert recs[0]["input"] == recs[1]["input"] and recs[0]["user"] == recs[1]["user"] and recs[0]["output"] == recs[1]["output"]
    # what the fast path does not know goes to the full route: its errors keep their shape
    assert_error(svc.post("/v1/classify", json={"name": "H100"}, params={"as_of": "nope"}), 400, "bad_input", "as_of")
    assert_error(svc.post("/v1/classify", json={"name": "H100"}, params={"colour": "red", "as_of": "x"}), 400, "bad_input")
    assert_error(svc.client.post("/v1/classify", json={"name": "H100"}, headers={"Authorization": "Bearer aiex_x"}), 401,
                 "unauthenticated")


def test_a_client_that_hangs_up_mid_answer_does_not_stop_the_server(tmp_path: Path):
    """`aiexport serve` must outlive clients that close their connection while it writes to them. The
    CLI lets SIGPIPE end it quietly (`aiexport ... | head`); uvloop's write to a reset socket then
    raised SIGPIPE and killed the server (seen under wrk: exit status -13). Each client here asks for
    50 answers without reading them and resets the connection."""
    import os
    import socket
    import struct
    import subprocess

    import httpx

    from tests.conftest import aiexport_exe

    env = {**os.environ, "AIEXPORT_HOME": str(tmp_path), "AIEXPORT_DATABASE_URL": f"sqlite:///{tmp_path}/aiexport.db"}
    key = subprocess.run([aiexport_exe(), "keys", "create", "--role", "viewer"], capture_output=True, text=True, env=env,
                         check=True).stdout.strip().splitlines()[-1]
    with served(["--no-access-log"], env, tmp_path / "server.log") as (proc, base, port):
        ask = f"GET /openapi.json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
        for _ in range(30):
            with socket.create_connection(("127.0.0.1", port)) as c:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
                c.sendall(ask * 50)
                time.sleep(0.05)  # the server is writing answers that are never read
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
            assert proc.poll() is None, f"the server stopped with status {proc.returncode}"
        health = httpx.get(base + "/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json()["engine_threads"] == 1  # `serve` started again with one polars thread (--engine-threads)
        # the server counts its open connections (for its batching of questions): this one, then two idle ones more
        assert health.json()["open_connections"] >= 1
        with socket.create_connection(("127.0.0.1", port)), socket.create_connection(("127.0.0.1", port)):
            time.sleep(0.3)
            assert httpx.get(base + "/healthz", timeout=5).json()["open_connections"] >= 3
        time.sleep(0.3)
        assert httpx.get(base + "/healthz", timeout=5).json()["open_connections"] <= 2
        assert httpx.get(base + "/v1/whoami", headers={"Authorization": f"Bearer {key}"}, timeout=5).status_code == 200
