"""The audit record (issue #6 point 5): aiexport.ledger.audit and `aiexport audit verify|export|show|status`,
`--record` on classify, check and screen; on SQLite and PostgreSQL.

Why: "All records required to be kept by the EAR must be retained for five years" (15 CFR 762.6(a));
a regulator asks what the system answered on a day and why. Acceptance (issue #6): editing any
record's output directly in the database, deleting one, or inserting one is caught by
`audit verify`, naming the record. Tampering is simulated as a database administrator would do
it: with the append-only triggers switched off.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from aiexport import db
from aiexport.ledger import audit
from tests import test_ledger_licences
from tests.conftest import run_cli

database = test_ledger_licences.database  # the SQLite / PostgreSQL fixture


def _tamper(sql: str, **params) -> None:
    """Run `sql` with the append-only triggers off (a database administrator at work)."""
    engine = db.get_engine()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only"))
            conn.execute(sa.text(sql), params)
            conn.execute(sa.text("ALTER TABLE audit_records ENABLE TRIGGER audit_records_append_only"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_records_no_update"))
            conn.execute(sa.text("DROP TRIGGER audit_records_no_delete"))
            conn.execute(sa.text(sql), params)
            for what in ("UPDATE", "DELETE"):
                conn.execute(sa.text(f"CREATE TRIGGER audit_records_no_{what.lower()} BEFORE {what} ON audit_records "
                                     "BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END"))


def _row(seq: int) -> dict:
    with db.get_engine().connect() as conn:
        return dict(conn.execute(sa.select(audit.R).where(audit.R.c.seq == seq)).one()._mapping)


def _verify_cli() -> tuple[int, str]:
    r = run_cli("audit", "verify")
    return r.returncode, r.stdout + r.stderr


def _chain(n: int = 5) -> None:
    for i in range(n):
        audit.record("classify", {"name": f"item {i}"}, {"control": "3A090.a", "tpp": 15832.0 + i, "text_zh": "受管制"},
                     rulebook_hash="r" * 64, list_snapshot_hash=None)


def test_records_chain_and_verify(database):
    _chain(5)
    res = audit.verify()
    assert res["ok"] and res["records"] == 5 and res["head"]["seq"] == 5
    code, out = _verify_cli()
    assert code == 0 and "intact" in out and "5 records" in out
    r3 = _row(3)
    assert r3["prev_hash"] == _row(2)["hash"] and r3["user"] == "test officer"
    assert json.loads(r3["output"])["text_zh"] == "受管制"  # canonical JSON keeps Chinese text as written
    shown = audit.show(3)
    assert shown["hash_ok"] and shown["input"] == {"name": "item 2"}


def test_editing_an_output_is_caught_naming_the_record(database):
    _chain(5)
    original = _row(3)["output"]
    _tamper("UPDATE audit_records SET output = :o WHERE seq = 3", o=original.replace("3A090.a", "EAR99"))
    res = audit.verify()
    assert not res["ok"] and res["first_bad"]["seq"] == 3 and "was changed" in res["first_bad"]["problem"]
    code, out = _verify_cli()
    assert code == 1 and "record #3" in out
    _tamper("UPDATE audit_records SET output = :o WHERE seq = 3", o=original)
    assert audit.verify()["ok"]
    # changing the user, the time or the hashes is caught as well
    _tamper("UPDATE audit_records SET \"user\" = 'someone else' WHERE seq = 4")
    assert audit.verify()["first_bad"]["seq"] == 4


def test_deleting_a_record_is_caught_naming_it(database):
    _chain(5)
    _tamper("DELETE FROM audit_records WHERE seq = 2")
    res = audit.verify()
    assert not res["ok"] and res["first_bad"]["seq"] == 2 and "missing (deleted)" in res["first_bad"]["problem"]
    code, out = _verify_cli()
    assert code == 1 and "record #2" in out


def test_deleting_the_last_record_is_caught_by_the_head(database):
    _chain(5)
    _tamper("DELETE FROM audit_records WHERE seq = 5")
    res = audit.verify()
    assert not res["ok"] and res["first_bad"]["seq"] == 5 and "missing" in res["first_bad"]["problem"]


def test_inserting_a_record_is_caught_naming_it(database):
    _chain(5)
    # a forged record after the last one, correctly chained and hashed (the forger knows the algorithm)
    last = _row(5)
    forged = {**last, "seq": 6, "prev_hash": last["hash"], "output": audit.canonical({"control": "EAR99"})}
    forged["hash"] = audit.record_hash(forged)
    with db.get_engine().begin() as conn:  # inserting is not refused by a trigger: only the chain can tell
        conn.execute(audit.R.insert().values(**forged))
    res = audit.verify()
    assert not res["ok"] and res["first_bad"]["seq"] == 6 and "inserted" in res["first_bad"]["problem"]
    code, out = _verify_cli()
    assert code == 1 and "record #6" in out
    # a record slipped in before the first one
    _tamper("DELETE FROM audit_records WHERE seq = 6")
    assert audit.verify()["ok"]
    with db.get_engine().begin() as conn:
        conn.execute(audit.R.insert().values(seq=0, kind="check", recorded_at=last["recorded_at"], user="x", input="{}", output="{}",
                                             prev_hash=audit.GENESIS, hash=audit.GENESIS))
    res = audit.verify()
    assert not res["ok"] and res["first_bad"]["seq"] == 0


def test_the_database_refuses_update_and_delete(database):
    _chain(2)
    engine = db.get_engine()
    for sql in ("UPDATE audit_records SET output = '{}' WHERE seq = 1", "DELETE FROM audit_records WHERE seq = 2"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(sql))
    assert audit.verify()["ok"]


def test_export_jsonl_and_csv_for_a_period(database, tmp_path: Path):
    _chain(3)
    out = io.StringIO()
    assert audit.export(out, "jsonl", start="2000-01-01", end="2999-12-31") == 3
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["seq"] for r in rows] == [1, 2, 3] and rows[0]["input"] == {"name": "item 0"}
    assert audit.export(io.StringIO(), "jsonl", end="2000-01-01") == 0
    path = tmp_path / "audit.csv"
    r = run_cli("audit", "export", "--from", "2000-01-01", "--to", "2999-12-31", "--format", "csv", "--output", str(path))
    assert r.returncode == 0, r.stderr
    with open(path, newline="", encoding="utf-8") as fh:
        exported = list(csv.DictReader(fh))
    assert len(exported) == 3
    # a regulator can recompute every hash from the CSV alone
    for e in exported:
        fields = {**e, "seq": int(e["seq"]), "line": None, "batch_id": None, "list_snapshot_hash": None}
        assert audit.record_hash(fields) == e["hash"]
    bad = run_cli("audit", "export", "--from", "yesterday")
    assert bad.returncode == 2 and "--from" in bad.stderr


def test_record_option_on_classify_check_screen(database, tmp_path: Path):
    r = run_cli("classify", "H100", "--as-of", "2026-01-01", "--record", "--json", "--user", "Li Wei 李伟")
    assert r.returncode == 0, r.stderr
    book = tmp_path / "book.csv"
    book.write_text("id,date,kind,item,quantity,from_country,destination_country,consignee_country,end_use,party_list_status,"
                    "item_origin\nL1,2026-01-01,export,H100,8,US,CN,CN,datacenter,none,us_origin\n"
                    "L2,2026-01-01,export,RTX 4090,1,US,DE,DE,commercial,none,us_origin\n", encoding="utf-8")
    r = run_cli("check", str(book), "--record", "--json")
    assert r.returncode == 0, r.stderr
    names = tmp_path / "names.csv"
    names.write_text("id,name,country\nn1,Huawei Technologies Co. Ltd.,CN\nn2,Maple Leaf Dental Clinic,CA\n", encoding="utf-8")
    lst = tmp_path / "list.csv"
    lst.write_text("_id,source,entity_number,type,programs,name,title,addresses,federal_register_notice,start_date,end_date,"
                   "standard_order,license_requirement,license_policy,call_sign,vessel_type,gross_tonnage,gross_registered_tonnage,"
                   "vessel_flag,vessel_owner,remarks,source_list_url,alt_names,citizenships,dates_of_birth,nationalities,"
                   "places_of_birth,source_information_url,ids\n"
                   "e1,Entity List (EL) - Bureau of Industry and Security,,Entity,,Huawei Technologies Co. Ltd.,,\"Shenzhen, CN\","
                   "84 FR 22961,2019-05-16,,,For all items subject to the EAR,Presumption of denial,,,,,,,,,,,,,,,\n", encoding="utf-8")
    r = run_cli("screen", str(names), "--list", str(lst), "--record", "--json")
    assert r.returncode == 0, r.stderr
    st = audit.status()
    assert st["by_kind"] == {"classify": 1, "check": 2, "screen": 2}
    recs = list(audit.select_records())
    cls = recs[0]
    assert cls["user"] == "Li Wei 李伟" and cls["input"]["name"] == "H100" and cls["output"]["control"] == "3A090.a"
    assert cls["rulebook_hash"] == cls["output"]["rulebook_hash"]
    chk = [r for r in recs if r["kind"] == "check"]
    assert [c["line"] for c in chk] == [1, 2] and chk[0]["input"]["id"] == "L1" and chk[0]["output"]["id"] == "L1"
    assert chk[0]["user"] == "test officer"  # AIEXPORT_USER
    scr = [r for r in recs if r["kind"] == "screen"]
    assert scr[0]["list_snapshot_hash"] and scr[0]["output"]["decision"] == "alert" and scr[1]["output"]["decision"] != "alert"
    assert audit.verify()["ok"]
    again = run_cli("check", str(book), "--record")
    assert again.returncode == 2 and "--resume" in again.stderr


def test_record_option_on_weights_foundry_invest(database):
    # issue #6: every answer of weights, foundry and invest given with --record is on the chain,
    # with its input (the case as validated) and output (the --json object)
    ex = Path(__file__).resolve().parents[1] / "examples"
    for cmd, path in (("weights", "models.csv"), ("foundry", "foundry_orders.csv"), ("invest", "investments.csv")):
        r = run_cli(cmd, str(ex / path), "--record", "--json")
        assert r.returncode == 0, r.stderr
    with open(ex / "models.csv", encoding="utf-8") as fh:
        model_ids = [row["id"] for row in csv.DictReader(fh)]
    recs = list(audit.select_records())
    weights = [r for r in recs if r["kind"] == "weights"]
    assert [r["input"]["id"] for r in weights] == model_ids
    assert all(r["output"]["id"] == r["input"]["id"] and r["rulebook_hash"] == r["output"]["rulebook_hash"] for r in weights)
    assert {r["kind"] for r in recs} == {"weights", "foundry", "invest"}
    assert audit.verify()["ok"]
