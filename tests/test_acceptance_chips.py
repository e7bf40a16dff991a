"""Acceptance checks of issue #2 (rulebook and AI-chip classification), each with its source."""

from __future__ import annotations

import json

import pytest

import aiexport
import aiexport.catalog
import aiexport.errors
from aiexport.specs import FIELDS
from tests.conftest import SCENARIO_H20, run_cli


def texts(result: aiexport.Classification) -> str:
    return "\n".join(r.text_en for r in result.reasons)


# --- the official TPP example -------------------------------------------------------------------


def test_official_tpp_example_88fr73458():
    """88 FR 73458, Technical Notes to 3A090: '600 tera integer operations (or 2 x 300 MacTOPS) at
    8 bits or 300 tera FLOPS (or 2 x 150 MacTOPS) at 16 bits' each reach the 4800 TPP threshold."""
    int8, fp16 = aiexport.classify([{"id": "i8", "int8": 600}, {"id": "f16", "fp16": 300}], as_of="2024-01-01")
    assert int8.tpp == 4800
    assert fp16.tpp == 4800
    # 3A090.a.1 is "4800 or more": exactly 4800 is caught, whatever the die area.
    assert int8.control == "3A090.a" and int8.paragraph == "3A090.a.1"
    just_below = aiexport.classify({"id": "x", "int8": 599.99, "datacenter": "yes", "die_area_mm2": 5000}, as_of="2024-01-01")
    assert just_below.control != "3A090.a"


def test_sparse_figures_are_not_dense():
    """88 FR 73458 Technical Notes: dense-matrix rates only. The spec carries dense rates; a chip
    whose only rate is given is judged on that rate, and no field takes a sparse value."""
    r = aiexport.classify({"id": "x", "fp8": 1979, "die_area_mm2": 814, "datacenter": "yes"}, as_of="2024-01-01")
    assert r.tpp == 1979 * 8
    assert not [f for f in FIELDS if "sparse" in f]


# --- the A800/H800 story -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["A800 SXM4 80GB", "H800 SXM5 80GB"])
def test_china_editions_free_in_2022_caught_in_2023(name):
    """87 FR 62186 (I/O >= 600 GB/s AND TPP >= 4800) vs 88 FR 73458 (I/O dropped): the A800 and H800
    had NVLink cut to 400 GB/s (NVIDIA 8-K of 2023-10-17; chips_dev.csv sources)."""
    before = aiexport.classify(name, as_of="2023-06-01")
    after = aiexport.classify(name, as_of="2024-01-01")
    assert before.control == "none"
    assert "aggregate bidirectional I/O" in texts(before) and "< 600" in texts(before)
    assert after.control == "3A090.a"


@pytest.mark.parametrize("name", ["A100 SXM4 80GB", "H100 SXM5 80GB"])
def test_a100_h100_controlled_under_both_rules(name):
    """87 FR 62186 and 88 FR 73458: A100/H100 meet both the 2022 and the 2023 tests."""
    assert aiexport.classify(name, as_of="2023-06-01").control == "3A090.a"
    assert aiexport.classify(name, as_of="2024-01-01").control == "3A090.a"


def test_timeline_shows_a800_change_on_2023_11_17():
    """Issue #2: `aiexport timeline` shows the A800 change on 2023-11-17 (88 FR 73458 effective date)."""
    proc = run_cli("timeline", "A800", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.splitlines()[0])
    assert data["changes"] == ["2023-11-17"]
    spans = {s["from"]: s["control"] for s in data["spans"]}
    assert spans["2022-10-07"] == "none" and spans["2023-11-17"] == "3A090.a"
    human = run_cli("timeline", "A800")
    assert human.returncode == 0 and "2023-11-17" in human.stdout


# --- H20 ----------------------------------------------------------------------------------------


def test_h20_outside_3a090_with_distances():
    """H20: TPP 2368, PD ~2.91 on 814 mm² (fact sheet W6; chips_dev.csv), so not 3A090 under
    88 FR 73458; the reasons say how far below each line it is."""
    r = aiexport.classify("H20", as_of="2026-11-29")
    assert r.control == "none"
    assert r.tpp == 2368
    assert r.performance_density == pytest.approx(2.909, abs=0.001)
    t = texts(r)
    assert "TPP 2368 < 4800 (2432 below)" in t          # 3A090.a.1
    assert "performance density 2.91 < 5.92 (3.01 below)" in t  # 3A090.a.2
    assert "TPP 2368 < 2400 (32 below)" in t            # 3A090.b.1
    assert "performance density 2.91 < 3.2 (0.29 below)" in t   # 3A090.b.2
    assert {"3A090.a.1", "3A090.a.2", "3A090.b.1", "3A090.b.2"} <= {x.rule for x in r.reasons}
    assert all(x.text_zh for x in r.reasons)


def test_h20_controlled_under_shipped_scenario():
    """rules/scenarios/h20_class.yaml (hypothetical, inspired by the 2025-04-09 letter disclosed in
    NVIDIA's 8-K of 2025-04-15) brings the H20 under 3A090 and leaves the baseline untouched."""
    r = aiexport.classify("H20", as_of="2026-11-29", scenario=SCENARIO_H20)
    assert r.control == "3A090.b" and r.paragraph == "3A090.b.3"
    assert r.scenario == "h20-class-3a090-b3"
    assert "HYPOTHETICAL" in " ".join(x.citation for x in r.reasons) or r.rule_status == "proposed"
    assert r.rule_status == "proposed"
    assert aiexport.classify("H20", as_of="2026-11-29").control == "none"
    # the scenario starts on the letter's date, not before
    assert aiexport.classify("H20", as_of="2025-04-08", scenario=SCENARIO_H20).control == "none"
    # and it does not catch low-bandwidth parts such as the L20 (864 GB/s GDDR6, no NVLink)
    assert aiexport.classify("L20", as_of="2026-11-29", scenario=SCENARIO_H20).control == "none"


# --- consumer GPUs and Note 2 --------------------------------------------------------------------


def test_rtx4090_3a090a_nac_eligible():
    """88 FR 73458: non-datacenter items with TPP >= 4800 are 3A090.a, and NAC-eligible ('NAC: Yes,
    for 3A090.a, if the item is not designed or marketed for use in datacenters and has a TPP of
    4800 or more'); NAC/ACA after 89 FR 23876."""
    r = aiexport.classify("RTX 4090", as_of="2024-01-01")
    assert r.control == "3A090.a" and r.license_exceptions == ["NAC"]
    r2 = aiexport.classify("RTX 4090", as_of="2024-06-01")
    assert r2.control == "3A090.a" and r2.license_exceptions == ["NAC/ACA"]
    assert "LE NAC/ACA" in r2.unconfirmed  # the exact post-2024 LE line is UNCONFIRMED in the fact sheet


def test_rtx4090d_none_despite_density():
    """Note 2 to 3A090 (88 FR 73458): not designed for datacenters and TPP < 4800 -> not 3A090,
    although its performance density is above 5.92."""
    r = aiexport.classify("RTX 4090 D", as_of="2024-06-01")
    assert r.control == "none"
    assert r.performance_density > 5.92
    note = [x for x in r.reasons if x.rule == "Note 2 to 3A090"]
    assert note and note[0].outcome == "met"


def test_datacenter_flag_unknown_is_indeterminate_when_it_matters():
    """Never guess: an RTX 4090 D-class part whose datacenter marketing is unknown could be 3A090.a
    (datacenter, PD >= 5.92) or nothing (Note 2)."""
    r = aiexport.classify({"id": "x", "fp8": 588.4, "die_area_mm2": 608.44}, as_of="2024-06-01")
    assert r.control == "indeterminate"
    assert "datacenter" in r.missing
    assert set(r.possible_controls) == {"3A090.a", "none"}


# --- density, .b, systems, HBM ------------------------------------------------------------------


def test_ascend_910_by_density():
    """Ascend 910 (2019): TPP 4096 < 4800 but PD 8.98 >= 5.92 -> 3A090.a.2 (88 FR 73458)."""
    r = aiexport.classify("Ascend 910", as_of="2024-06-01")
    assert r.control == "3A090.a" and r.paragraph == "3A090.a.2" and r.tpp == 4096


def test_a30_is_3a090b():
    """A30: TPP 2640 and PD 3.20 -> 3A090.b.1 (88 FR 73458); NAC-eligible as a datacenter .b item."""
    r = aiexport.classify("A30", as_of="2024-06-01")
    assert r.control == "3A090.b" and r.paragraph == "3A090.b.1"
    assert r.license_exceptions == ["NAC/ACA"]


def test_server_with_eight_h100_is_4a090a():
    """4A090.a: computers containing 3A090.a ICs (88 FR 73458); HGX H100 8-GPU holds eight H100
    (NVIDIA Technical Blog, 'Introducing NVIDIA HGX H100')."""
    hgx = aiexport.classify("HGX H100 8-GPU", as_of="2024-06-01")
    assert hgx.control == "4A090.a" and hgx.tpp == 8 * 15832
    spec = aiexport.classify({"id": "srv", "name": "8x H100 server", "contains": "H100 SXM5 80GB", "count": 8}, as_of="2024-06-01")
    assert spec.control == "4A090.a" and spec.tpp == 8 * 15832
    assert spec.reasons[0].rule == "4A090.a"
    a30box = aiexport.classify({"id": "b", "contains": "A30", "count": 4}, as_of="2024-06-01")
    assert a30box.control == "4A090.b"


def test_hbm3e_stack_3a090c_from_2024_12_02():
    """89 FR 96790: 3A090.c (memory bandwidth density > 2 GB/s/mm²) effective 2024-12-02. Micron
    HBM3E 8-high: > 1.2 TB/s (Micron) on 11 x 11 mm (Micron product brief) -> ~9.9."""
    before = aiexport.classify("Micron HBM3E 8-high 24GB", as_of="2024-12-01")
    on = aiexport.classify("Micron HBM3E 8-high 24GB", as_of="2024-12-02")
    assert before.control == "none"
    assert on.control == "3A090.c"
    assert on.memory_bandwidth_density == pytest.approx(1200 / 121, abs=1e-3)
    assert "HBM" not in on.license_exceptions  # >= 3.3 GB/s/mm²: no License Exception HBM (15 CFR 740.25)


def test_hbm2_stack_eligible_for_license_exception_hbm():
    """15 CFR 740.25 (89 FR 96790): License Exception HBM only below 3.3 GB/s/mm². Samsung HBM2 at
    256 GB/s on ~92 mm² -> 2.78."""
    r = aiexport.classify("samsung_hbm2_aquabolt_2g", as_of="2025-01-01")
    assert r.control == "3A090.c" and r.license_exceptions == ["HBM"]


def test_co_packaged_hbm_is_not_3a090c():
    """89 FR 96790 note: HBM co-packaged with a logic IC is judged as the logic IC (3A090.a/.b)."""
    r = aiexport.classify({"id": "x", "hbm": "yes", "memory_bw_gbps": 4000, "hbm_package_area_mm2": 100, "fp8": 100,
                           "die_area_mm2": 800, "datacenter": "yes"}, as_of="2025-01-01")
    assert r.item_type == "ic" and r.control == "none"
    assert any(x.rule == "3A090.c co-packaged HBM note" for x in r.reasons)


# --- indeterminate ------------------------------------------------------------------------------


def test_tpu_v4_needs_die_area_and_says_where_it_flips():
    """TPU v4: TPP 4400, die area unpublished -> indeterminate; 3A090.a.2 if area <= 4400/5.92 =
    743.2 mm² (chips_dev.csv: '.a if area <= 743 mm2')."""
    r = aiexport.classify("TPU v4", as_of="2024-06-01")
    assert r.control == "indeterminate"
    assert r.missing == ["die_area_mm2"]
    assert "die area ≤ 743.2 mm²" in texts(r)
    assert r.possible_controls == ["3A090.a", "3A090.b", "none"]


def test_no_figures_is_indeterminate_not_none():
    """Never guess (project standards): an accelerator with no throughput data (MI308X) is
    indeterminate, naming the rates, not 'none'."""
    r = aiexport.classify("MI308X", as_of="2025-06-01")
    assert r.control == "indeterminate"
    assert "dense rates (fp64..fp4)" in r.missing


# --- .z ----------------------------------------------------------------------------------------


def test_z_paragraphs():
    """.z paragraphs (88 FR 73458; eCFR 2026-09-01 text of 5A992.z.1/.z.2 and 5A002.z.N.a/.b)."""
    h100 = {"id": "h", "fp8": 1979, "die_area_mm2": 814, "datacenter": "yes", "base_eccn": "5A992.c"}
    a30 = {"id": "a", "int8": 330, "die_area_mm2": 826, "datacenter": "yes", "base_eccn": "5A992.c"}
    amb = {"id": "m", "fp8": 1979, "die_area_mm2": 814, "datacenter": "yes", "base_eccn": "5A002"}
    other = {"id": "o", "fp8": 1979, "die_area_mm2": 814, "datacenter": "yes", "base_eccn": "3A991"}
    low = {"id": "l", "fp8": 10, "die_area_mm2": 814, "datacenter": "yes", "base_eccn": "5A992.c"}
    a5002 = {"id": "e", "fp8": 1979, "die_area_mm2": 814, "datacenter": "yes", "base_eccn": "5a002.a"}
    r = {x.id: x for x in aiexport.classify([h100, a30, amb, other, low, a5002], as_of="2025-01-01")}
    assert r["h"].control == "5A992.z.1"
    assert r["a"].control == "5A992.z.2"
    assert r["m"].control == "indeterminate" and "base_eccn paragraph" in r["m"].missing
    assert r["o"].control == "3A090.a"
    assert r["l"].control == "none"
    assert r["e"].control == "5A002.z.1.a"
    # before the .z paragraphs existed (added 2023-11-17), the 3A090 classification stands
    assert aiexport.classify({**h100, "io_bidir_gbps": 1028}, as_of="2023-06-01").control == "3A090.a"
    # a server of H100s described in 5A992.c
    srv = aiexport.classify({"id": "s", "contains": "H100", "count": 8, "base_eccn": "5A992.c"}, as_of="2025-01-01")
    assert srv.control == "5A992.z.1"


# --- every row of the team's research file ------------------------------------------------------


def test_unconfirmed_tf32_reading_is_flagged():
    """Fact sheet §1.1: bit length wording UNCONFIRMED; TF32 is read as 32 bits (s-w-kelly practice).
    When TF32 alone decides the TPP, the answer says the fact is UNCONFIRMED."""
    r = aiexport.classify({"id": "x", "tf32": 200, "die_area_mm2": 800, "datacenter": "yes"}, as_of="2024-06-01")
    assert r.tpp == 6400 and "TPP" in r.unconfirmed
    tpp_reason = next(x for x in r.reasons if x.rule == "TPP")
    assert tpp_reason.fact == "UNCONFIRMED"
    h100 = aiexport.classify("H100", as_of="2024-06-01")  # FP8/INT8 decide: primary/derived facts only
    assert "TPP" not in h100.unconfirmed


def test_board_inside_server_is_4a090():
    """4A090 covers computers, electronic assemblies and components containing 3A090 ICs
    (88 FR 73458): a server holding four HGX H100 boards is 4A090.a, with TPP 4 x 8 x 15832."""
    r = aiexport.classify({"id": "rack", "contains": "HGX H100 8-GPU", "count": 4}, as_of="2025-01-01")
    assert r.control == "4A090.a" and r.tpp == 4 * 8 * 15832
    loop = [{"id": "a", "contains": "b", "count": 1}, {"id": "b", "contains": "a", "count": 1}]
    with pytest.raises(aiexport.errors.InputError, match="cycle"):
        aiexport.classify(loop, as_of="2025-01-01")


def test_brief_mode_same_decisions():
    """--brief (order-book scale) gives the same decisions as the full explanation, one reason each."""
    from aiexport.chips import classify_frame
    from aiexport.rulebook import baseline, parse_date
    from aiexport.specs import specs_from_python

    items = [aiexport.catalog.spec_of(it) for it in aiexport.catalog.items()]
    items += [{"id": "tf32only", "tf32": 200, "die_area_mm2": 800, "datacenter": "yes"},        # UNCONFIRMED TPP
              {"id": "zbox", "fp8": 1979, "die_area_mm2": 814, "datacenter": "yes", "base_eccn": "4A003"},  # UNCONFIRMED .z
              {"id": "rack", "contains": "tf32only", "count": 2}]
    frame = specs_from_python(items)
    for day in ("2023-06-01", "2024-06-01", "2025-06-01"):
        full = classify_frame(frame, baseline(), parse_date(day))
        brief = classify_frame(frame, baseline(), parse_date(day), explain=False)
        cols = ["id", "control", "paragraph", "possible_controls", "tpp", "license_exceptions", "missing", "unconfirmed",
                "rulebook_hash"]
        assert full.select(cols).equals(brief.select(cols))
        assert (brief["reasons"].list.len() == 1).all()


def test_missing_lists_only_what_would_change_the_answer():
    """Gaudi3: TPP 29,360 decides 3A090.a.1, so its unpublished die area is not asked for
    (chips_dev.csv: die area not published)."""
    r = aiexport.classify("Gaudi3", as_of="2025-01-01")
    assert r.control == "3A090.a" and r.missing == []


def test_undecided_z_item_speaks_in_z_terms():
    """An undecided item described in 5A992.c could be 5A992.z.1, 5A992.z.2 or nothing; an
    informative note (co-packaged HBM) never adds to what would decide."""
    r = aiexport.classify({"id": "z", "fp8": 300, "base_eccn": "5A992.c"}, as_of="2025-06-01")
    assert r.control == "indeterminate"
    assert r.possible_controls == ["5A992.z.1", "5A992.z.2", "none"]
    assert r.missing == ["die_area_mm2", "datacenter"]
