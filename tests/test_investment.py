"""Outbound investment under 31 CFR 850 (issue #5, point 3).

Sources of the case facts: fact sheet §8: 89 FR 90398, effective 2025-01-02; country of concern the
PRC incl. Hong Kong and Macau; notifiable AI > 10^23 operations and ICs not prohibited (31 CFR
850.217, eCFR text, P); prohibited AI > 10^25 / bio > 10^24, the semiconductor list and the
exceptions (§850.224, §850.501) UNCONFIRMED; COINS Act (FY2026 NDAA, 2025-12-18) countries pending
Treasury regulations. Worked example W9 (3e24 -> notifiable). DeepSeek-V3's compute: arXiv
2412.19437 (6 x 37e9 x 14.8e12 ≈ 3.3e24). 30-day filing: 31 CFR 850.403 (UNCONFIRMED; the COINS Act
keeps 30 days, 50 U.S.C. 4582(a)).
"""

from __future__ import annotations

import pytest

from aiexport.errors import InputError
from aiexport.investment import invest

US_FUND = {"investor_us_person": "yes", "transaction": "equity", "target_country": "CN", "date": "2025-06-02"}


def one(**kw):
    return invest({"id": "t", **US_FUND, **kw})[0]


def test_deepseek_stake_notifiable_with_unconfirmed_prohibited_line():
    """Issue #5 acceptance: a US fund buying a stake in DeepSeek's developer: notifiable, not prohibited,
    flagging that the prohibited line is UNCONFIRMED; deadline 30 days after completion."""
    a = one(activities="ai_development", ai_training_ops=3.29e24, ai_bio_data="no", end_uses="none")
    assert a["verdict"] == "notifiable" and a["category"] == "notifiable"
    assert "outbound_investment_850.prohibited_line_unconfirmed" in a["unconfirmed"]
    assert a["filing_deadline"] == "2025-07-02"
    assert a["training_ops"] == 3.29e24


def test_w9_thresholds():
    """Fact sheet W9: 2e25 -> prohibited (if the 10^25 line holds); bio 2e24 -> prohibited; 5e22 with a
    mass-surveillance design -> notifiable, prohibited if exclusively for it."""
    assert one(activities="ai_development", ai_training_ops=2e25)["verdict"] == "prohibited"
    assert one(activities="ai_development", ai_training_ops=2e24, ai_bio_data="yes")["verdict"] == "prohibited"
    assert one(activities="ai_development", ai_training_ops=5e22, end_uses="mass_surveillance", end_use_exclusive="no")["verdict"] == "notifiable"
    assert one(activities="ai_development", ai_training_ops=5e22, end_uses="mass_surveillance", end_use_exclusive="yes")["verdict"] == "prohibited"
    assert one(activities="ai_development", ai_training_ops=5e22, end_uses="none")["verdict"] == "not_covered"
    assert one(activities="ai_development", ai_training_ops=1e23, end_uses="none")["verdict"] == "not_covered"  # "more than" 10^23


def test_5nm_ai_chip_designer_prohibited():
    a = one(activities="ic_design", process_nm=5, ic_meets_3a090="yes")
    assert a["verdict"] == "prohibited"
    assert "outbound_investment_850.prohibited_design" in a["unconfirmed"]


def test_28nm_legacy_maker_notifiable_and_public_shares_excepted():
    a = one(activities="ic_fabrication", process_nm=28, non_planar="no")
    assert a["verdict"] == "notifiable" and a["filing_deadline"] == "2025-07-02"
    b = one(activities="ic_fabrication", process_nm=28, non_planar="no", exceptions="publicly_traded")
    assert b["verdict"] == "excepted" and b["category"] == "notifiable" and b["exception"] == ["publicly_traded"]


def test_advanced_fabrication_and_memory_lines():
    assert one(activities="ic_fabrication", process_nm=14)["verdict"] == "prohibited"
    assert one(activities="ic_fabrication", ic_kind="nand", nand_layers=128)["verdict"] == "prohibited"
    assert one(activities="ic_fabrication", ic_kind="nand", nand_layers=96)["verdict"] == "notifiable"
    assert one(activities="ic_fabrication", ic_kind="dram", dram_half_pitch_nm=18)["verdict"] == "prohibited"


def test_hong_kong_and_macau_are_countries_of_concern_and_owner_link():
    assert one(target_country="HK", activities="eda_software")["verdict"] == "prohibited"
    assert one(target_country="MO", activities="ic_packaging")["verdict"] == "notifiable"
    assert one(target_country="SG", activities="eda_software")["verdict"] == "not_covered"
    assert one(target_country="SG", target_owner_country="CN", activities="eda_software")["verdict"] == "prohibited"


def test_coins_act_countries_flagged_pending():
    before = one(target_country="RU", activities="ai_development", ai_training_ops=1e26, date="2025-06-02")
    after = one(target_country="RU", activities="ai_development", ai_training_ops=1e26, date="2026-03-01")
    assert before["verdict"] == after["verdict"] == "not_covered"
    assert "outbound_investment_850.coins_pending" not in [f["rule"] for f in before["findings"]]
    assert "outbound_investment_850.coins_pending" in [f["rule"] for f in after["findings"]]


def test_not_covered_kinds_persons_and_dates():
    assert one(transaction="debt", activities="eda_software")["verdict"] == "not_covered"
    assert one(investor_us_person="no", activities="eda_software")["verdict"] == "not_covered"
    assert one(activities="eda_software", date="2024-12-31")["verdict"] == "not_covered"


def test_exceptions_lp_and_prior_commitment():
    a = one(transaction="lp_interest", activities="eda_software", lp_amount_usd=1_500_000)
    assert a["verdict"] == "excepted" and a["exception"] == ["lp_small"]
    assert one(transaction="lp_interest", activities="eda_software", lp_amount_usd=5_000_000)["verdict"] == "prohibited"
    assert one(activities="eda_software", commitment_date="2024-11-01")["exception"] == ["prior_commitment"]


def test_missing_facts_are_named():
    a = one(activities="ai_development")
    assert a["verdict"] == "indeterminate" and a["missing"][0].startswith("ai_training_ops")
    b = one(activities="ic_design")
    assert b["verdict"] == "indeterminate" and b["missing"][0].startswith("ic_meets_3a090")
    c = one(activities="ai_development", ai_training_ops=3e24)
    assert c["verdict"] == "indeterminate" and c["missing"][0].startswith("ai_bio_data")
    d = invest({"id": "d", "transaction": "equity", "target_country": "CN", "activities": "eda_software"})[0]
    assert d["verdict"] == "indeterminate" and d["missing"][0].startswith("investor_us_person")
    assert one(activities="ic_design;eda_software")["verdict"] == "prohibited"  # prohibited whatever the unknown


def test_findings_cited_bilingual_and_filled():
    for a in invest([{"id": "a", **US_FUND, "activities": "ai_development", "ai_training_ops": 3e24, "ai_bio_data": "no"},
                     {"id": "b", **US_FUND, "activities": "ic_fabrication", "process_nm": 28, "non_planar": "no", "exceptions": "publicly_traded"}]):
        for f in a["findings"]:
            assert f["citation"] and f["text_en"] and f["text_zh"] and "{" not in f["text_en"] + f["text_zh"], f


def test_bad_values_name_the_field():
    with pytest.raises(InputError, match="activities"):
        one(activities="ai_development;crypto")
    with pytest.raises(InputError, match="transaction"):
        one(transaction="gift")
