"""Model weights under ECCN 4E091 (issue #5, point 1): training compute, exclusions, licence, status.

Sources of the case facts:
- DeepSeek-V3: DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv 2412.19437 (Dec 2024): 671 B total
  parameters, 37 B activated per token, 14.8 T tokens, 2.788 M H800 GPU-hours, FP8 mixed precision,
  open weights. H800 dense peak (989.5 TFLOPS BF16, 1,979 FP8): the chip catalog (NVIDIA datasheet
  via the Kelly toolkit and Epoch AI).
- 4E091 (10^26 operations, published weights excluded, worldwide licence, AIA for Tier 1; codified,
  not enforced from 2025-05-13): 90 FR 4544 and fact sheet §3; tiers: CSIS (Harithas, 2025-02-18).
- Reporting thresholds (10^26 operations; 10^20 OP/s with > 300 Gbit/s): proposed 89 FR 73612.
"""

from __future__ import annotations

from datetime import date

import pytest

from aiexport.errors import InputError
from aiexport.rulebook import baseline, load_rulebook
from aiexport.weights import assess_case, weights
from tests.conftest import ROOT

REPORTING = ROOT / "src" / "aiexport" / "rules" / "scenarios" / "reporting_2024.yaml"
DEEPSEEK = {"id": "deepseek-v3", "parameters_billion": 671, "active_parameters_billion": 37, "tokens_trillion": 14.8,
            "accelerator": "H800", "accelerator_hours": 2_788_000, "published": "yes", "destination_country": "CN",
            "recipient_hq_country": "CN", "date": "2025-03-01"}
CLOSED = {"id": "closed", "training_ops": 3e26, "published": "no", "destination_country": "AE", "recipient_hq_country": "AE",
          "date": "2025-03-01"}


@pytest.mark.parametrize("precision", ["bf16", "fp8"])
def test_deepseek_v3_both_estimates_between_1e24_and_1e25(precision):
    """Issue #5 acceptance: 6 x 37e9 x 14.8e12 ≈ 3.29e24; 2.788e6 h x 3600 x H800 dense peak x 0.4 is
    3.97e24 (BF16) or 7.95e24 (FP8): both between 10^24 and 10^25; open weights, not 4E091."""
    a = weights({**DEEPSEEK, "precision": precision})[0]
    est = a["estimates"]
    assert est["six_nd"] == pytest.approx(6 * 37e9 * 14.8e12)
    peak = {"bf16": 989.5e12, "fp8": 1979e12}[precision]
    assert est["hardware"] == pytest.approx(2.788e6 * 3600 * peak * 0.4)
    for x in (est["six_nd"], est["hardware"]):
        assert 1e24 < x < 1e25
    assert a["training_ops"] == max(est["six_nd"], est["hardware"])  # the cautious choice, stated
    assert a["verdict"] == "not_controlled" and a["control"] is None
    rules = [f["rule"] for f in a["findings"]]
    assert "model_weights_4e091.published" in rules
    hw = next(f for f in a["findings"] if f["rule"].endswith("method_hardware"))
    assert "0.4" in hw["text_en"] and "H800" in hw["text_en"] and "assumed" in hw["text_en"]  # method, figures, utilisation shown
    assert a["assumptions"]["utilisation_assumed"] is True
    assert "model_weights_4e091.default_utilisation" in a["unconfirmed"]


def test_given_utilisation_replaces_the_assumption():
    a = weights({**DEEPSEEK, "utilisation": 0.3})[0]
    assert a["estimates"]["hardware"] == pytest.approx(2.788e6 * 3600 * 989.5e12 * 0.3)
    assert "model_weights_4e091.default_utilisation" not in a["unconfirmed"]


def test_closed_3e26_to_tier2_both_answers():
    """Issue #5 acceptance: closed model, 3e26 operations, weights to a company in a Tier 2 country
    (UAE) on 2025-03-01: licence required under the framework as codified; not enforced on the
    baseline (both answers shown)."""
    base = weights(CLOSED)[0]
    assert base["control"] == "4E091"
    assert base["verdict"] == "no_license_required"
    assert base["verdict_if_enforced"] == "license_required"
    assert base["review_policy_if_enforced"] == "presumption_of_denial"
    assert any(f["rule"] == "model_weights_4e091.not_enforced" for f in base["findings"])
    what_if = weights(CLOSED, enforce_codified=True)[0]
    assert what_if["verdict"] == "license_required" and what_if["review_policy"] == "presumption_of_denial"
    assert what_if["enforce_codified"] is True
    assert "model_weights_4e091.tier2" in [f["rule"] for f in what_if["findings"]]
    later = weights({**CLOSED, "date": "2025-06-01"})[0]
    assert later["verdict"] == "no_license_required" and later["verdict_if_enforced"] == "license_required"


def test_the_control_shares_the_diffusion_rule_status():
    r = baseline().resolve(date(2025, 6, 1))
    assert r["model_weights_4e091"].version.status == r["ai_diffusion_2025"].version.status == "codified_not_enforced"


@pytest.mark.parametrize("dest,hq,verdict,exception,rule", [
    ("JP", "US", "license_exception", "AIA", "aia"),            # Tier 1 destination, US-headquartered recipient
    ("JP", "CN", "license_required", None, "hq_d5m"),           # D:5-headquartered recipient anywhere
    ("JP", "IN", "license_required", None, "tier1_no_aia"),     # Tier 1 destination, Tier 2 headquarters
    ("CN", "CN", "license_required", None, "hq_d5m"),
    ("MO", None, "license_required", None, "tier3"),            # Tier 3: Macau
    ("US", None, "no_license_required", None, "to_us"),
])
def test_codified_licence_by_destination_and_headquarters(dest, hq, verdict, exception, rule):
    case = {**CLOSED, "destination_country": dest, "recipient_hq_country": hq}
    a = weights(case, enforce_codified=True)[0]
    assert a["verdict"] == verdict and a["license_exception"] == exception
    assert f"model_weights_4e091.{rule}" in [f["rule"] for f in a["findings"]]


def test_tier1_without_headquarters_is_indeterminate_naming_it():
    a = weights({**CLOSED, "destination_country": "JP", "recipient_hq_country": None}, enforce_codified=True)[0]
    assert a["verdict"] == "indeterminate"
    assert any(m.startswith("recipient_hq_country") for m in a["missing"])


def test_below_the_line_and_later_training_counts():
    """90 FR 4544 (via eccnfinder/WilmerHale): later training such as fine-tuning counts toward the total."""
    below = weights({**CLOSED, "training_ops": 5e25})[0]
    assert below["verdict"] == "not_controlled" and below["training_ops"] == 5e25
    summed = weights({**CLOSED, "training_ops": 9.5e25, "later_training_ops": 6e24})[0]
    assert summed["training_ops"] == pytest.approx(1.01e26)
    assert summed["control"] == "4E091"


def test_boundary_flagged_unconfirmed_and_exact_line_indeterminate():
    """Fact sheet §3: '10^26 or more' (eccnfinder) vs 'more than' (Perkins Coie) is UNCONFIRMED."""
    near = weights({**CLOSED, "training_ops": 1.05e26})[0]
    assert "model_weights_4e091.boundary" in near["unconfirmed"]
    far = weights(CLOSED)[0]
    assert "model_weights_4e091.boundary" not in far["unconfirmed"]
    exact = weights({**CLOSED, "training_ops": 1e26})[0]
    assert exact["verdict"] == "indeterminate" and "10^26" in exact["missing"][0]


def test_unknown_publication_or_compute_is_indeterminate():
    a = weights({**CLOSED, "published": None})[0]
    assert a["verdict"] == "indeterminate" and any(m.startswith("published") for m in a["missing"])
    b = weights({"id": "x", "published": "no", "destination_country": "AE"})[0]
    assert b["verdict"] == "indeterminate" and "training_ops" in b["missing"][0]


def test_published_model_floor_is_dated_data():
    """Llama 3.1 405B (Meta, 2024-07-23, ~3.8e25 FLOPs per the Llama 3 paper) is the largest published
    figure in the rulebook; before its publication the floor is lower."""
    rb = load_rulebook()
    a = assess_case({**CLOSED, "date": date(2025, 3, 1), "training_ops": 3e26, "published": False}, rb, date(2025, 3, 1))
    floor = next(f for f in a["findings"] if f["rule"].endswith("floor_clear"))
    assert "Llama 3.1 405B" in floor["text_en"] and "3.8 × 10^25" in floor["text_en"]
    params = rb.resolve(date(2024, 7, 1))["model_weights_4e091"].params
    assert "published.llama_3_1_405b" not in params


def test_before_4e091_existed():
    a = weights({**CLOSED, "date": "2024-12-31"})[0]
    assert a["verdict"] == "not_controlled"
    assert a["findings"][-1]["rule"] == "model_weights_4e091.not_yet"


def test_reporting_scenario_89fr73612():
    """Proposed 89 FR 73612: training runs > 10^26 operations; clusters > 10^20 OP/s with > 300 Gbit/s."""
    base = weights({**CLOSED, "cluster_ops_per_s": 2e20, "cluster_network_gbps": 400})[0]
    assert not any(f["rule"].startswith("reporting_2024") for f in base["findings"])
    a = weights({**CLOSED, "cluster_ops_per_s": 2e20, "cluster_network_gbps": 400}, scenario=str(REPORTING))[0]
    rules = [f["rule"] for f in a["findings"]]
    assert "reporting_2024.training_run" in rules and "reporting_2024.cluster" in rules
    assert a["scenario"] == "reporting-2024-89fr73612"
    small = weights({**CLOSED, "training_ops": 5e25, "cluster_ops_per_s": 2e20, "cluster_network_gbps": 200}, scenario=str(REPORTING))[0]
    assert [f["rule"] for f in small["findings"] if f["rule"].startswith("reporting")] == ["reporting_2024.below"]
    assert base["rulebook_hash"] != a["rulebook_hash"]


def test_every_finding_is_cited_and_bilingual():
    for a in weights([DEEPSEEK, CLOSED]) + weights(CLOSED, enforce_codified=True):
        assert a["rulebook_hash"] and len(a["rulebook_hash"]) == 64
        for f in a["findings"]:
            assert f["rule"] and f["citation"] and f["text_en"] and f["text_zh"], f
            assert "{" not in f["text_en"] and "{" not in f["text_zh"], f  # every placeholder filled


def test_bad_values_name_the_field():
    with pytest.raises(InputError, match="utilisation"):
        weights({**DEEPSEEK, "utilisation": 1.5})
    with pytest.raises(InputError, match="accelerator"):
        weights({**DEEPSEEK, "accelerator": "NoSuchChip"})
    with pytest.raises(InputError, match="precision"):
        weights({**DEEPSEEK, "accelerator": "H800", "precision": "int4"})
    with pytest.raises(InputError, match="destination_country"):
        weights({**CLOSED, "destination_country": "UK"})
