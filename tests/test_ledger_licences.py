"""Licences and their draws (issue #6 points 1, 2 and 4): aiexport.ledger.licences and
`aiexport licences add|list|show|draw|consume|release`.

Every test runs against SQLite (a file in tmp_path) and, when AIEXPORT_TEST_DATABASE_URL is set
(CI: postgresql://postgres@127.0.0.1:5432/test), against PostgreSQL in a schema of its own that is
dropped afterwards. The `database` fixture here is shared by the other ledger tests.

What a licence is and how it is drawn follows BIS's licensing rules: a licence authorises a
quantity and value of items for named parties and destinations for a validity period (15 CFR 750.7,
issuance of licences); once "the full quantity of items approved on your license" is shipped no
shipping tolerance applies (15 CFR 750.11(a), bis.gov part 750): aiexport does not model shipping
tolerances, a draw beyond the authorised quantity is refused.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from aiexport import db
from aiexport.errors import InputError
from aiexport.ledger import licences
from tests.conftest import run_cli


@pytest.fixture
def database(database, monkeypatch) -> str:
    """The shared fresh database (tests/conftest.py), with AIEXPORT_USER set."""
    monkeypatch.setenv("AIEXPORT_USER", "test officer")
    return database


def cli_json(*args: str) -> dict:
    r = run_cli(*args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# ---------------------------------------------------------------------------------------------- the contract


def test_contract_add_draw_show_through_the_cli(database):
    """The issue's contract: `licences add`, `draw --json` (granted, remaining_quantity, reason; exit 0
    granted or refused), `show --json` (authorised, drawn, remaining)."""
    added = cli_json("licences", "add", "--number", "D1234567", "--quantity", "100", "--value", "2500000", "--eccn", "3A090.a",
                     "--country", "ae", "--valid-from", "2026-01-01", "--valid-until", "2027-12-31")
    assert added["authorised_quantity"] == 100 and added["countries"] == ["AE"] and added["eccns"] == ["3A090.a"]
    got = cli_json("licences", "draw", "--number", "D1234567", "--quantity", "40", "--value", "1000000", "--txn", "SO-1",
                   "--date", "2026-06-01")
    assert got["granted"] is True and got["remaining_quantity"] == 60 and got["reason"]
    refused = cli_json("licences", "draw", "--number", "D1234567", "--quantity", "61", "--value", "10", "--txn", "SO-2",
                       "--date", "2026-06-01")
    assert refused["granted"] is False and refused["remaining_quantity"] == 60
    assert "exceed the licence by 1" in refused["reason"]
    shown = cli_json("licences", "show", "D1234567")
    assert (shown["authorised_quantity"], shown["drawn_quantity"], shown["remaining_quantity"]) == (100, 40, 60)
    assert shown["remaining_value_usd"] == 1_500_000 and shown["ledger_consistent"]
    listed = run_cli("licences", "list")
    assert listed.returncode == 0 and "D1234567" in listed.stdout


def test_replay_with_the_same_transaction_id_changes_nothing(database):
    """Acceptance: a draw replayed with the same transaction id changes nothing (and says so)."""
    licences.add_licence("L-1", 10)
    first = licences.draw(3, "T-1", number="L-1")
    again = licences.draw(3, "T-1", number="L-1")
    assert first["granted"] and again["granted"] and again["replayed"] and not first["replayed"]
    assert again["remaining_quantity"] == first["remaining_quantity"] == 7
    shown = licences.show_licence("L-1")
    assert shown["drawn_quantity"] == 3 and shown["draws"] == {"consumed": {"count": 1, "quantity": 3}}
    r = run_cli("licences", "draw", "--number", "L-1", "--quantity", "3", "--txn", "T-1", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["replayed"] is True
    assert licences.show_licence("L-1")["drawn_quantity"] == 3
    # the same id for a different draw is an error, not a second draw
    with pytest.raises(InputError, match="already drew 3 units"):
        licences.draw(4, "T-1", number="L-1")
    r = run_cli("licences", "draw", "--number", "L-1", "--quantity", "4", "--txn", "T-1")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--txn" in r.stderr


def test_expired_not_yet_valid_and_exhausted_licences_are_never_used(database):
    licences.add_licence("OLD", 100, valid_from=date(2024, 1, 1), valid_until=date(2025, 12, 31))
    licences.add_licence("NEW", 100, valid_from=date(2027, 1, 1))
    licences.add_licence("SMALL", 2)
    day = date(2026, 3, 1)
    expired = licences.draw(1, "a", number="OLD", on=day)
    assert not expired["granted"] and "expired on 2025-12-31" in expired["reason"]
    early = licences.draw(1, "b", number="NEW", on=day)
    assert not early["granted"] and "not valid before 2027-01-01" in early["reason"]
    assert licences.draw(2, "c", number="SMALL", on=day)["granted"]
    empty = licences.draw(1, "d", number="SMALL", on=day)
    assert not empty["granted"] and "exhausted" in empty["reason"] and empty["remaining_quantity"] == 0
    # the last day of validity is still valid (inclusive)
    assert licences.draw(1, "e", number="OLD", on=date(2025, 12, 31))["granted"]
    # refusals hold nothing and are not stored: the ledger is unchanged
    assert licences.show_licence("OLD")["drawn_quantity"] == 1 and licences.show_licence("NEW")["drawn_quantity"] == 0


def test_earliest_expiry_is_drawn_first_when_several_fit(database):
    """The documented order: earliest valid_until first, licences without an end date last."""
    licences.add_licence("OPEN", 100, countries=["AE"], eccns=["3A090.a"])
    licences.add_licence("LATE", 100, countries=["AE"], eccns=["3A090.a"], valid_until=date(2028, 1, 1))
    licences.add_licence("SOON", 5, countries=["AE"], eccns=["3A090.a"], valid_until=date(2026, 12, 31))
    licences.add_licence("OTHER", 100, countries=["SA"], eccns=["3A090.a"], valid_until=date(2026, 7, 1))
    day = date(2026, 6, 1)
    a = licences.draw(4, "x1", country="AE", eccn="3A090.a", on=day)
    assert a["licence"] == "SOON"
    b = licences.draw(4, "x2", country="AE", eccn="3a090.a", on=day)  # SOON has 1 left: never split, the next one
    assert b["licence"] == "LATE"
    c = licences.draw(1, "x3", country="AE", eccn="3A090.a", on=date(2027, 6, 1))  # SOON expired by then
    assert c["licence"] == "LATE"
    d = licences.draw(1, "x4", country="AE", eccn="3A090.a", on=date(2029, 1, 1))
    assert d["licence"] == "OPEN"
    none = licences.draw(1, "x5", country="QA", eccn="3A090.a", on=day)
    assert not none["granted"] and "no licence fits" in none["reason"] and "does not cover country QA" in none["reason"]
    with pytest.raises(InputError, match="--number, or --country"):
        licences.draw(1, "x6", eccn="3A090.a")


def test_reserve_consume_release(database):
    licences.add_licence("R-1", 10, value_usd=1000, valid_until=date(2026, 12, 31))
    r = licences.draw(6, "res", number="R-1", value_usd=600, reserve_only=True, on=date(2026, 6, 1))
    assert r["granted"] and r["state"] == "reserved" and r["remaining_quantity"] == 4 and r["remaining_value_usd"] == 400
    assert licences.show_licence("R-1")["reserved_quantity"] == 6
    rel = licences.release("res")
    assert rel["granted"] and rel["state"] == "released" and rel["remaining_quantity"] == 10
    assert licences.release("res")["replayed"]  # releasing twice changes nothing
    r2 = licences.draw(5, "res2", number="R-1", value_usd=500, reserve_only=True, on=date(2026, 6, 1))
    assert r2["granted"]
    late = licences.consume("res2", on=date(2027, 1, 5))
    assert not late["granted"] and "expired on 2026-12-31" in late["reason"]
    shipped = licences.consume("res2", on=date(2026, 7, 1))
    assert shipped["granted"] and shipped["state"] == "consumed"
    no = licences.release("res2")
    assert not no["granted"] and "consumed" in no["reason"]
    s = licences.show_licence("R-1")
    assert (s["reserved_quantity"], s["consumed_quantity"], s["remaining_quantity"]) == (0, 5, 5) and s["ledger_consistent"]
    with pytest.raises(InputError, match="no draw has transaction id"):
        licences.release("nope")


def test_value_limit_and_coverage(database):
    licences.add_licence("V-1", 100, value_usd=50_000, parties=["Gulf AI Cloud LLC"], items=["H100"])
    no_value = licences.draw(1, "v0", number="V-1")
    assert not no_value["granted"] and "give the shipment's value" in no_value["reason"]
    assert licences.draw(2, "v1", number="V-1", value_usd=40_000, party="gulf ai  cloud llc", item="h100")["granted"]
    over = licences.draw(1, "v2", number="V-1", value_usd=10_000.01)
    assert not over["granted"] and "exceed the licence by USD 0.01" in over["reason"]
    wrong = licences.draw(1, "v3", number="V-1", value_usd=1, party="Someone Else")
    assert not wrong["granted"] and "does not name party" in wrong["reason"]


def test_bad_input_is_one_line_and_exit_2(database):
    assert run_cli("licences", "add", "--number", "B-1", "--quantity", "5").returncode == 0
    for args, field in [
        (("licences", "add", "--number", "B-1", "--quantity", "5"), "already exists"),
        (("licences", "add", "--number", "B-2", "--quantity", "-5"), "--quantity"),
        (("licences", "add", "--number", "B-3", "--quantity", "5", "--country", "Germany"), "--country"),
        (("licences", "add", "--number", "B-4", "--quantity", "5", "--valid-from", "2026-02-01", "--valid-until", "2026-01-01"),
         "--valid-until"),
        (("licences", "add", "--number", "B-5", "--quantity", "5", "--valid-until", "31/12/2026"), "--valid-until"),
        (("licences", "draw", "--number", "B-1", "--quantity", "1", "--txn", " "), "--txn"),
        (("licences", "draw", "--number", "NOPE", "--quantity", "1", "--txn", "t"), "no such licence"),
        (("licences", "show", "NOPE"), "no such licence"),
    ]:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert field in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_database_refuses_an_overdraw_even_from_outside_the_application(database):
    """The CHECK constraint is the last line of defence: no UPDATE can push a licence past its authorisation."""
    licences.add_licence("C-1", 3)
    engine = db.get_engine()
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("UPDATE licences SET consumed_quantity = 4 WHERE number = 'C-1'"))
    assert licences.show_licence("C-1")["drawn_quantity"] == 0
