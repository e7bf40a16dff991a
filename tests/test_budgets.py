"""TPP budgets of the 2025 AI Diffusion rule (issue #6 point 3): aiexport.ledger.budgets and
`aiexport budgets draw|list`, on SQLite and PostgreSQL.

Sources: 90 FR 4544 (2025-01-15), 15 CFR 740.29 (License Exception LPP: 26,900,000 TPP per ultimate
consignee per calendar year, not to Tier 3); Tier 2 country allocation 790,000,000 TPP cumulative
2025-2027 (CSIS; SemiAnalysis) — fact sheet §3, status S. The rule is codified but not enforced from
2025-05-13 (BIS press release): budgets bind only in the what-if (--enforce-codified).
H100 SXM: 1,979 dense FP8 TFLOPS x 8 bits = 15,832 TPP (NVIDIA H100 datasheet via the catalog;
fact sheet: "26,900,000 / 15,832 ≈ 1,699 H100-equivalents").
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from aiexport.errors import InputError
from aiexport.ledger import budgets
from aiexport.rulebook import load_rulebook
from tests import test_ledger_licences
from tests.conftest import run_cli

database = test_ledger_licences.database  # the SQLite / PostgreSQL fixture

DAY = date(2025, 6, 1)
LPP = dict(country="IN", consignee="Bharat Compute Pvt. Ltd.", on=DAY)  # India: Tier 2 under the rule


def test_h100_tpp_comes_from_its_classification():
    got = budgets.item_tpp("H100", load_rulebook(), DAY)
    assert got["control"] == "3A090.a" and got["tpp_per_unit"] == pytest.approx(15_832)


def test_lpp_acceptance_refused_with_the_excess(database):
    """Acceptance: a consignee at 26,000,000 TPP for the year; 60 more H100s (60 x 15,832 = 949,920
    TPP) would take it to 26,949,920 TPP: refused under LPP, exceeding the limit by 49,920 TPP."""
    opening = budgets.draw_tpp("opening-2025", tpp=26_000_000, enforce_codified=True, **LPP)
    assert opening["granted"] and opening["drawn"] and opening["budget"]["drawn_tpp"] == 26_000_000
    order = budgets.draw_tpp("SO-60xH100", item="H100", quantity=60, enforce_codified=True, **LPP)
    assert order["granted"] is False and order["drawn"] is False
    assert order["tpp"] == pytest.approx(949_920) and order["would_exceed_by_tpp"] == pytest.approx(49_920)
    assert "by 49,920 TPP" in order["reason"] and "LPP" in order["reason"]
    rules = [f["rule"] for f in order["findings"]]
    assert "diffusion/2025-01-13: not_enforced" in rules and "diffusion/2025-01-13: lpp_exhausted" in rules
    assert order["status"] == "codified_not_enforced" and "What-if" in order["reason"]
    assert order["budget"]["limit"]["citation"].startswith("90 FR 4544") and order["budget"]["limit"]["fact"] == "S"
    # what fits still goes: 56 x 15,832 = 886,592 TPP -> 26,886,592
    ok = budgets.draw_tpp("SO-56xH100", item="H100", quantity=56, enforce_codified=True, **LPP)
    assert ok["granted"] and ok["budget"]["drawn_tpp"] == pytest.approx(26_886_592)
    # a new calendar year is a new budget
    jan = budgets.draw_tpp("SO-2026", item="H100", quantity=60, enforce_codified=True, country="IN",
                           consignee="bharat  compute pvt. ltd.", on=date(2026, 1, 2))
    assert jan["granted"] and jan["budget"]["period"] == "2026"


def test_without_enforce_codified_it_is_the_what_if_and_draws_nothing(database):
    budgets.draw_tpp("opening", tpp=26_000_000, enforce_codified=True, **LPP)
    r = budgets.draw_tpp("what-if", item="H100", quantity=60, **LPP)
    assert r["binding"] is False and r["drawn"] is False and r["granted"] is False
    assert r["would_exceed_by_tpp"] == pytest.approx(49_920) and "nothing was drawn" in r["reason"]
    assert [b["drawn_tpp"] for b in budgets.budgets()] == [26_000_000]


def test_tiers_allocation_and_replay(database):
    china = budgets.draw_tpp("cn", item="H100", quantity=1, enforce_codified=True, country="CN", consignee="X", on=DAY)
    assert china["granted"] is False and "Tier 3" in china["reason"]
    tier1 = budgets.draw_tpp("de", item="H100", quantity=1, enforce_codified=True, country="DE", under="allocation", on=DAY)
    assert tier1["granted"] is False and "Tier 1" in tier1["reason"]
    alloc = budgets.draw_tpp("in-1", item="H100", quantity=1000, enforce_codified=True, country="IN", under="allocation", on=DAY)
    assert alloc["granted"] and alloc["budget"]["period"] == "2025-2027" and alloc["budget"]["limit_tpp"] == 790_000_000
    again = budgets.draw_tpp("in-1", item="H100", quantity=1000, enforce_codified=True, country="IN", under="allocation", on=DAY)
    assert again["replayed"] and again["budget"]["drawn_tpp"] == pytest.approx(15_832_000)
    assert [b["drawn_tpp"] for b in budgets.budgets()] == [pytest.approx(15_832_000)]
    after = budgets.draw_tpp("in-2028", item="H100", quantity=1, enforce_codified=True, country="IN", under="allocation",
                             on=date(2028, 1, 3))
    assert after["granted"] is None and "2025-2027" in after["reason"]
    small = budgets.draw_tpp("l40s", item="A100", quantity=1, enforce_codified=True, **LPP)
    assert small["control"] == "3A090.a"
    before = budgets.draw_tpp("early", item="H100", quantity=1, enforce_codified=True, country="IN", consignee="X",
                              on=date(2024, 6, 1))
    assert before["granted"] is True and "no AI Diffusion rule" in before["reason"] and not before["drawn"]


def test_the_limit_is_read_from_the_rulebook(database, tmp_path: Path):
    """No number is hard-coded: a scenario that lowers the LPP limit moves the refusal."""
    scen = tmp_path / "lpp_low.yaml"
    scen.write_text("""
scenario: {id: lpp-low, title_en: "Hypothetical: LPP at 1,000,000 TPP", title_zh: "假设：LPP 为 1,000,000 TPP",
           status: proposed, hypothetical: true}
instruments:
  ai_diffusion_2025:
    parameters:
      lpp_tpp_per_year:
        label_en: "LPP (hypothetical)"
        label_zh: "LPP（假设）"
        unit: TPP
        values:
          - {from: 2025-01-13, value: 1000000, status: proposed, fact: D, citation: {other: "test scenario"}}
""", encoding="utf-8")
    r = budgets.draw_tpp("s1", item="H100", quantity=64, enforce_codified=True, scenario=scen, **LPP)
    assert r["granted"] is False and r["budget"]["limit_tpp"] == 1_000_000 and r["would_exceed_by_tpp"] == pytest.approx(13_248)


def test_cli_and_bad_input(database):
    r = run_cli("budgets", "draw", "--txn", "o", "--country", "IN", "--consignee", "Acme", "--tpp", "26000000", "--date",
                "2025-06-01", "--enforce-codified", "--json")
    assert r.returncode == 0, r.stderr
    r = run_cli("budgets", "draw", "--txn", "o2", "--country", "IN", "--consignee", "Acme", "--item", "H100", "--quantity", "60",
                "--date", "2025-06-01", "--enforce-codified", "--json")
    ans = json.loads(r.stdout)
    assert r.returncode == 0 and ans["granted"] is False and ans["would_exceed_by_tpp"] == 49_920
    human = run_cli("budgets", "draw", "--txn", "o3", "--country", "IN", "--consignee", "Acme", "--item", "H100", "--quantity", "60",
                    "--date", "2025-06-01")
    assert human.returncode == 0 and "refused" in human.stdout and "codified but not enforced" in human.stdout
    assert "lpp_consignee_year" in run_cli("budgets", "list").stdout
    for args, field in [(("--txn", "b", "--country", "IN", "--tpp", "5"), "--consignee"),
                        (("--txn", "b", "--country", "IN", "--consignee", "A", "--item", "H999", "--quantity", "1"), "--item"),
                        (("--txn", "b", "--country", "IN", "--consignee", "A", "--item", "H100"), "--quantity"),
                        (("--txn", "b", "--country", "IN", "--consignee", "A", "--tpp", "5", "--under", "veu"), "--under")]:
        r = run_cli("budgets", "draw", *args)
        assert r.returncode == 2 and field in r.stderr and "Traceback" not in r.stderr, r.stderr
    with pytest.raises(InputError):
        budgets.draw_tpp("x", country="IN", consignee="A", item="H100", tpp=5)
