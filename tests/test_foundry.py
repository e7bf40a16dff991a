"""Foundry due diligence (issue #5, point 2): 90 FR 5298, Note 1 to 3A090.a.

Sources of the case facts: fact sheet §4 (90 FR 5298, published and effective 2025-01-16; the
16/14 nm "applicable advanced logic IC"; rebuttals A, B, C; transistor lines 30 billion, 35 billion
without HBM in 2027, 40 billion without HBM from 2029 per the s-w-kelly transcription; the 2028 and
pre-2027 no-HBM values UNCONFIRMED); fact sheet worked example W8 (the 5 nm cases); red flag of
> 50 billion transistors with HBM: 88 FR 73458 via CSET (Supp. No. 3 to part 732).
"""

from __future__ import annotations

import pytest

from aiexport.errors import InputError
from aiexport.foundry import foundry
from tests.conftest import ROOT

DIE = {"process_nm": 5, "non_planar": "yes", "logic": "yes", "designer": "Example Design Co", "designer_status": "none",
       "packaging_country": "TW"}


def one(**kw):
    return foundry({"id": "o", **DIE, **kw})[0]


def test_w8_5nm_25b_with_hbm_2025_rebutted_by_fabricator_attestation():
    """Fact sheet W8: unapproved designer, packaged in Taiwan, 25 billion with HBM, 2025 -> rebuttal B."""
    a = one(transistors_billion=25, hbm="yes", date="2025-06-01")
    assert a["verdict"] == "presumption_rebutted" and a["rebuttals"] == ["B"]
    assert a["transistor_threshold"] == 30e9 and a["transistor_threshold_basis"] == "with HBM"
    assert a["must_attest"][0]["by"] == "front-end fabricator"
    assert a["unconfirmed"] == []


def test_w8_33b_2027_without_hbm_rebutted_with_hbm_not():
    """Fact sheet W8: 33 billion, 2027: below the 35 billion no-HBM line; with HBM the 30 billion line holds."""
    no_hbm = one(transistors_billion=33, hbm="no", date="2027-06-01")
    assert no_hbm["verdict"] == "presumption_rebutted" and no_hbm["transistor_threshold"] == 35e9
    hbm = one(transistors_billion=33, hbm="yes", date="2027-06-01")
    assert hbm["verdict"] == "presumption_applies" and hbm["control"] == "3A090.a"
    assert hbm["transistor_threshold"] == 30e9 and hbm["rebuttals"] == []


def test_w8_38b_2029_without_hbm_rebutted():
    a = one(transistors_billion=38, hbm="no", date="2029-03-01")
    assert a["verdict"] == "presumption_rebutted" and a["transistor_threshold"] == 40e9


@pytest.mark.parametrize("day,value", [("2026-06-01", 30e9), ("2028-06-01", 35e9)])
def test_unconfirmed_no_hbm_lines_are_flagged(day, value):
    """Fact sheet §4 / UNCONFIRMED register item 5: the 2028 value and the pre-2027 no-HBM value."""
    a = one(transistors_billion=20, hbm="no", date=day)
    assert a["transistor_threshold"] == value
    assert "foundry_due_diligence.threshold_unconfirmed" in a["unconfirmed"]


def test_boundary_is_strictly_below():
    """Note 1 to 3A090.a: the attested count must be *below* the line."""
    assert one(transistors_billion=30, hbm="yes", date="2025-06-01")["verdict"] == "presumption_applies"
    assert one(transistors_billion=29.999, hbm="yes", date="2025-06-01")["verdict"] == "presumption_rebutted"


def test_28nm_planar_not_applicable():
    a = foundry({"id": "p", "process_nm": 28, "non_planar": "no", "logic": "yes"})[0]
    assert a["verdict"] == "not_applicable" and a["transistor_threshold"] is None
    assert a["findings"][-1]["rule"] == "foundry_due_diligence.not_advanced"


def test_non_planar_above_16nm_is_in_scope_and_memory_is_not():
    assert one(process_nm=22, non_planar="yes", transistors_billion=10, hbm="no", date="2025-06-01")["verdict"] == "presumption_rebutted"
    assert one(logic="no", transistors_billion=10)["verdict"] == "not_applicable"


def test_packaging_in_macau_or_d5_closes_rebuttal_b():
    a = one(packaging_country="MO", transistors_billion=20, hbm="yes", date="2025-06-01")
    assert a["verdict"] == "presumption_applies"
    assert "foundry_due_diligence.packaged_in_d5m" in [f["rule"] for f in a["findings"]]
    assert one(packaging_country="CN", transistors_billion=20, hbm="yes", date="2025-06-01")["verdict"] == "presumption_applies"


def test_approved_designer_and_osat_lists_are_user_data():
    orders = [{"id": "x", **DIE, "designer": "Approved Accelerators Inc", "designer_status": None, "osat": "Approved Packaging Ltd",
               "packaging_country": "CN", "transistors_billion": 20, "hbm": "yes", "date": "2026-01-01"}]
    a = foundry(orders, approved_designers=["approved accelerators inc"], approved_osats=["Approved Packaging Ltd"])[0]
    assert a["rebuttals"] == ["A", "C"]
    b = foundry(orders, approved_designers=[], approved_osats=[])[0]
    assert b["verdict"] == "presumption_applies"


def test_red_flag_over_50b_with_hbm():
    a = one(designer_status="approved", transistors_billion=80, hbm="yes", date="2026-01-01")
    assert a["verdict"] == "presumption_rebutted" and a["rebuttals"] == ["A"]
    assert a["red_flags"] and "foundry_due_diligence.red_flag" in [f["rule"] for f in a["findings"]]
    assert one(transistors_billion=80, hbm="no", date="2026-01-01")["red_flags"] == []


def test_missing_facts_are_named():
    a = foundry({"id": "m", "process_nm": 7, "logic": "yes"})[0]
    assert a["verdict"] == "indeterminate"
    assert {m.split(":")[0] for m in a["missing"]} >= {"designer_status", "packaging_country", "transistors_billion"}
    b = foundry({"id": "n", "process_nm": 28, "logic": "yes"})[0]
    assert b["verdict"] == "indeterminate" and b["missing"][0].startswith("non_planar")
    c = one(transistors_billion=33, hbm=None, date="2027-06-01")
    assert c["verdict"] == "indeterminate" and any(m.startswith("hbm") for m in c["missing"])
    d = one(transistors_billion=10, hbm=None, date="2027-06-01")  # below both lines: HBM does not matter
    assert d["verdict"] == "presumption_rebutted"


def test_before_the_rule():
    a = one(transistors_billion=60, hbm="yes", date="2024-06-01")
    assert a["verdict"] == "not_applicable"


def test_example_file_runs(tmp_path):
    from aiexport.cases import read_case_file
    from aiexport.foundry import FIELDS
    rows = read_case_file(ROOT / "examples" / "foundry_orders.csv", FIELDS, "orders")
    assert [r["id"] for r in rows][:3] == ["5nm-25b-hbm-2025", "5nm-33b-nohbm-2027", "5nm-33b-hbm-2027"]


def test_bad_values_name_the_field():
    with pytest.raises(InputError, match="designer_status"):
        one(designer_status="maybe")
    with pytest.raises(InputError, match="transistors_billion"):
        one(transistors_billion="-3")
