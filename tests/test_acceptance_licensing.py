"""Acceptance tests of issue #3 (licence determination), each with its source.

Sources: the project fact sheet (shared/spec/regulations.md, "FS") and the research note
docs/research/licensing-facts.md ("RN"), which cite the Federal Register and BIS texts.
"""

from __future__ import annotations

from datetime import date

import pytest

from aiexport.licensing import check

# a clean export from the US to a Chinese company in China: every decisive fact declared
CN = dict(kind="export", from_country="US", destination_country="CN", consignee_name="Example Co., Ltd.", consignee_country="CN",
          consignee_hq_country="CN", ultimate_parent_hq_country="CN", end_use="datacenter", party_list_status="none",
          item_origin="us_origin", quantity=8)


def one(**fields):
    [r] = check({"id": "t", **fields})
    return r


def rules(r) -> list[str]:
    return [f["rule"] for f in r["findings"]]


@pytest.mark.parametrize("day", ["2022-10-07", "2023-06-01", "2023-11-17", "2024-06-01", "2025-06-01", "2026-02-01", "2026-11-29"])
def test_h100_to_china_needs_a_licence_presumption_of_denial(day):
    # FS §2.1 and W5 (CSET): "NVIDIA H100 (3A090.a) → any entity in China: licence, likely denied";
    # 87 FR 62186 (2022 scope: China) and 88 FR 73458. A reexport from Singapore of the US-origin
    # chip, so the 2026 case-by-case line (exports from the US only, 91 FR 1684) cannot apply.
    r = one(**{**CN, "kind": "reexport", "from_country": "SG"}, item="H100", date=day)
    assert r["verdict"] == "license_required"
    assert r["review_policy"] == "presumption_of_denial"
    assert r["control"] == "3A090.a"
    assert any(x.endswith("dest_scope") for x in rules(r))


def test_h100_exported_from_the_us_to_china_after_2026_01_15_is_case_by_case():
    # FS W6: the H100 (TPP 15,832; 3,350 GB/s) is inside the 2026 line (TPP < 21,000 and DRAM
    # bandwidth < 6,500 GB/s) of 91 FR 1684, which covers exports from the United States only.
    r = one(**CN, item="H100", date="2026-11-29")
    assert (r["verdict"], r["review_policy"]) == ("license_required", "case_by_case")
    before = one(**CN, item="H100", date="2026-01-14")
    assert before["review_policy"] == "presumption_of_denial"


def test_h100_to_germany_baseline_and_enforce_codified():
    # FS §3: AI Diffusion rule (90 FR 4544) effective 2025-01-13, not enforced from 2025-05-13;
    # Germany is Tier 1 (Supp. No. 5 to part 740) so License Exception AIA would apply.
    de = dict(CN, destination_country="DE", consignee_country="DE", consignee_hq_country="DE", ultimate_parent_hq_country="DE")
    base = one(**de, item="H100", date="2025-06-01")
    assert base["verdict"] == "no_license_required"
    assert any("not_enforced" in x for x in rules(base))
    [what_if] = check({"id": "t", **de, "item": "H100", "date": "2025-06-01"}, enforce_codified=True)
    assert (what_if["verdict"], what_if["license_exception"]) == ("license_exception", "AIA")


def test_h100_to_malaysia_tier2_lpp_until_the_consignee_limit():
    # FS §3: LPP = 26,900,000 TPP per ultimate consignee per calendar year (90 FR 4544, 740.29);
    # Malaysia is Tier 2. H100 TPP 15,832 (FS W6): 10 units = 158,320 TPP.
    my = dict(CN, destination_country="MY", consignee_country="MY", consignee_hq_country="MY", ultimate_parent_hq_country="MY",
              quantity=10)
    under = check({"id": "a", **my, "item": "H100", "date": "2025-06-01", "consignee_year_tpp": 26_000_000}, enforce_codified=True)[0]
    assert (under["verdict"], under["license_exception"]) == ("license_exception", "LPP")
    at_limit = check({"id": "b", **my, "item": "H100", "date": "2025-06-01", "consignee_year_tpp": 26_900_000 - 158_320},
                     enforce_codified=True)[0]
    assert at_limit["license_exception"] == "LPP"  # "up to" the limit
    over = check({"id": "c", **my, "item": "H100", "date": "2025-06-01", "consignee_year_tpp": 26_800_000}, enforce_codified=True)[0]
    assert over["verdict"] == "license_required"
    unknown = check({"id": "d", **my, "item": "H100", "date": "2025-06-01"}, enforce_codified=True)[0]
    assert unknown["verdict"] == "indeterminate" and "consignee_year_tpp" in unknown["missing"]
    assert one(**my, item="H100", date="2025-06-01")["verdict"] == "no_license_required"  # baseline: not enforced


def test_rtx_4090_to_china_needs_nac_notification_25_days():
    # FS W5 (CSET): "RTX 4090 (non-datacenter, TPP >= 4800 → NAC) → entity in China: NAC
    # notification (25 days)"; 15 CFR 740.8 (88 FR 73458, 89 FR 23876).
    r = one(**CN, item="RTX 4090", date="2024-06-01", notification_date="2024-05-20")
    assert (r["verdict"], r["license_exception"]) == ("notification_required", "NAC")
    assert r["earliest_ship_date"] == date(2024, 6, 14)  # 2024-05-20 + 25 days
    assert any(x.endswith("le_nac") for x in rules(r))
    # the conditions of the exception are those its provision lists in the rules of that date
    # (15 CFR 740.8: notification, written purchase order, no Entity List party)
    from aiexport.rulebook import baseline

    le_nac = baseline().resolve(date(2024, 6, 1))["ac_licensing"].version.provisions["le_nac"]
    assert r["conditions"] == [c.text_en for c in le_nac.conditions] and len(r["conditions"]) == 3
    assert r["conditions_zh"] == [c.text_zh for c in le_nac.conditions]  # in Chinese too, from the same rule
    assert any("SNAP-R" in c for c in r["conditions"])


def test_a800_to_china_before_and_after_october_2023():
    # FS §1.2/§1.3: the A800 met neither 2022 test (I/O 400 GB/s < 600) and meets 3A090.a from
    # 2023-11-17 (88 FR 73458).
    assert one(**CN, item="A800", date="2023-06-01")["verdict"] == "no_license_required"
    later = one(**CN, item="A800", date="2024-01-01")
    assert later["verdict"] == "license_required"
    assert later["review_policy"] == "presumption_of_denial"


def test_in_country_transfer_in_china_of_a_us_origin_h100():
    # FS §6 "Transfer (in-country)": a transfer within a foreign country is a controlled event
    # (15 CFR 734.16); US-origin items stay subject to the EAR wherever located (734.3(a)(2)).
    r = one(**{**CN, "kind": "transfer", "from_country": "CN"}, item="H100", date="2025-06-01")
    assert r["verdict"] == "license_required"
    assert any(x.endswith("us_origin") for x in rules(r))


def test_foreign_made_with_5_percent_us_content_is_not_subject_and_fdp_reverses_it():
    # FS §6: de minimis 25 % (15 CFR 734.4); the advanced computing FDP rule (734.9(h)) reaches a
    # foreign-made 3A090 item that is a direct product of US technology when destined to China.
    foreign = dict(CN, from_country="TW", item_origin="foreign_made", us_content_pct=5)
    r = one(**foreign, item="BR100", date="2025-06-01")
    assert r["verdict"] == "not_subject_to_ear"
    assert any(x.endswith("not_subject") for x in rules(r))
    fdp = one(**dict(foreign, item_origin="foreign_direct_product"), item="BR100", date="2025-06-01")
    assert fdp["verdict"] == "license_required"
    assert any(x.endswith("fdp_ac") for x in rules(fdp))
    above = one(**dict(foreign, us_content_pct=30), item="BR100", date="2025-06-01")
    assert above["verdict"] == "license_required" and any(x.endswith("de_minimis") for x in rules(above))


def test_h200_case_by_case_with_certifications_and_b200_denial_on_2026_02_01():
    # FS §9 and W3: 91 FR 1684 (2026-01-15) names the H200 as below the line (TPP < 21,000 and
    # DRAM bandwidth < 6,500 GB/s): case by case for exports from the US to China with
    # certifications; the B200 (TPP ≈ 36,000, 8 TB/s) stays at presumption of denial.
    h200 = one(**CN, item="H200", date="2026-02-01")
    assert (h200["verdict"], h200["review_policy"]) == ("license_required", "case_by_case")
    certs = [c for c in h200["conditions"] if c.startswith("certify")]
    assert len(certs) == 5 and any("third-party testing" in c for c in certs)
    # the certifications are rule data (the provision's `conditions`), not texts in the code
    from aiexport.rulebook import baseline

    provision = baseline().resolve(date(2026, 2, 1))["ac_licensing"].version.provisions["rp_line_2026"]
    assert certs == [c.text_en for c in provision.conditions] and all(c.text_zh for c in provision.conditions)
    b200 = one(**CN, item="B200", date="2026-02-01")
    assert (b200["verdict"], b200["review_policy"]) == ("license_required", "presumption_of_denial")


def test_h20_by_nvidia_to_china_needs_a_licence_from_the_letter_while_its_class_stays_none():
    # RN §5: NVIDIA 8-K of 2025-04-15: on 2025-04-09 the USG informed NVIDIA that H20 exports to
    # China (incl. HK and Macau) and D:5 need a licence. The H20 itself is not 3A090 (FS W6).
    before = one(**CN, item="H20", date="2025-04-08")
    after = one(**CN, item="H20", date="2025-04-09")
    assert before["verdict"] == "no_license_required"
    assert after["verdict"] == "license_required"
    assert before["control"] == after["control"] == "none"
    assert "letter/nvidia-h20/2025-04-09" in rules(after)
    hk = one(**dict(CN, destination_country="HK", consignee_country="HK"), item="H20", date="2026-01-01")
    assert hk["verdict"] == "license_required" and hk["destination"] == "CN"  # Hong Kong is treated as China


@pytest.mark.parametrize("dest", ["CN", "DE", "BR"])
def test_ascend_910b_always_gets_a_gp10_finding(dest):
    # FS §3.1 and W4: BIS GP10 guidance of 2025-05-13 names the Ascend 910B/910C/910D.
    r = one(**dict(CN, destination_country=dest, from_country=dest, kind="transfer", item_origin="foreign_made"),
            item="Ascend 910B", date="2025-07-01")
    assert "guidance/gp10-prc-3a090/2025-05-13" in rules(r)
    assert r["verdict"] == "prohibited"


def test_entity_list_consignee_licence_no_exception_entry_policy():
    # RN §7.1: Entity List parties: licence for all items subject to the EAR, no licence
    # exceptions (15 CFR 744.16(b)), review policy of the entry. The RTX 4090 would otherwise go
    # under NAC (previous test).
    r = one(**dict(CN, party_list_status="entity_list", party_list_policy="presumption_of_denial"), item="RTX 4090", date="2024-06-01")
    assert (r["verdict"], r["license_exception"], r["review_policy"]) == ("license_required", None, "presumption_of_denial")
    assert any(x.endswith("entity_list") for x in rules(r))
    # even for an item outside 3A090 (EAR99 given as the ECCN)
    ear99 = one(**dict(CN, party_list_status="entity_list"), eccn="EAR99", date="2024-06-01")
    assert ear99["verdict"] == "license_required"


def test_dpl_and_sdn_are_prohibited():
    # 15 CFR 764.3(a)(2) (denial orders); OFAC blocking (31 CFR chapter V)
    assert one(**dict(CN, party_list_status="dpl"), item="RTX 4090", date="2024-06-01")["verdict"] == "prohibited"
    assert one(**dict(CN, party_list_status="sdn"), eccn="EAR99", date="2024-06-01")["verdict"] == "prohibited"


def test_missing_decisive_facts_give_indeterminate_never_no_licence():
    # developers' guide: "Never guess". Each fact removed below could turn the answer into a licence.
    de = dict(CN, destination_country="DE", consignee_country="DE", consignee_hq_country="DE", ultimate_parent_hq_country="DE")
    assert one(**de, item="H100", date="2025-06-01")["verdict"] == "no_license_required"
    for field, needed in [("end_use", "end_use"), ("party_list_status", "party_list_status"), ("item_origin", "item_origin"),
                          ("ultimate_parent_hq_country", "ultimate_parent_hq_country")]:
        r = one(**{k: v for k, v in de.items() if k != field} | ({"from_country": "NL"} if field == "item_origin" else {}),
                item="H100", date="2025-06-01")
        assert r["verdict"] == "indeterminate", field
        assert any(needed in m for m in r["missing"]), (field, r["missing"])


def test_undecided_classification_matters_only_where_it_could_need_a_licence():
    # The TPU v4 is indeterminate (performance density undetermined); to Germany no 3A090 outcome
    # needs a licence (pre-Diffusion scope, FS §2.1), to China any controlled outcome would.
    de = dict(CN, destination_country="DE", consignee_country="DE", consignee_hq_country="DE", ultimate_parent_hq_country="DE")
    assert one(**de, item="TPU v4", date="2025-06-01")["verdict"] == "no_license_required"
    assert one(**CN, item="TPU v4", date="2025-06-01")["verdict"] == "indeterminate"


def test_headquarters_rule_reaches_a_chinese_subsidiary_in_germany():
    # FS W5 (CSET): "H100 → Tencent subsidiary in Germany: licence, case-by-case"; HQ rule
    # 744.23(a)(3) from 2023-11-17, enforced per BIS guidance of 2026-05-31.
    sub = dict(CN, destination_country="DE", consignee_country="DE", consignee_hq_country="DE", ultimate_parent_hq_country="CN")
    r = one(**sub, item="H100", date="2024-06-01")
    assert (r["verdict"], r["review_policy"]) == ("license_required", "case_by_case")
    assert one(**sub, item="H100", date="2023-06-01")["verdict"] == "no_license_required"  # before the HQ rule


def test_every_answer_carries_citations_in_both_languages_and_the_hash():
    r = one(**CN, item="H100", date="2024-06-01")
    assert len(r["rulebook_hash"]) == 64
    for f in r["findings"]:
        assert f["citation"] and f["text_en"] and f["text_zh"], f


def test_uae_leaves_d4_but_advanced_computing_items_still_need_a_licence():
    # FS §2.1 (91 FR 43034, effective 2026-07-10, S): UAE moved from D:3/D:4 to A:5; advanced
    # computing items still need a licence to the UAE, except named parties (reported in the finding).
    ae = dict(CN, destination_country="AE", consignee_country="AE", consignee_hq_country="AE", ultimate_parent_hq_country="AE")
    before = one(**ae, item="H100", date="2026-07-09")
    after = one(**ae, item="H100", date="2026-07-10")
    assert (before["verdict"], before["review_policy"]) == ("license_required", "presumption_of_approval")  # D:4, not A:5/A:6
    assert after["verdict"] == "license_required"
    assert any(x.endswith("dest_extra") for x in rules(after)) and not any(x.endswith("dest_scope") for x in rules(after))
    assert after["review_policy"] is None  # the rule's review policy for the UAE was not seen: not guessed


def test_screening_plugs_in_without_changing_the_pipeline():
    # issue #3 point 4: "Design the seam so that screening plugs in without changing the pipeline".
    import polars as pl

    def fake_screen(parties: pl.DataFrame) -> pl.DataFrame:  # stands in for issue #4's screener
        hit = pl.col("consignee_name").str.contains("Listed")
        return parties.select("__i", pl.when(hit).then(pl.lit("entity_list")).otherwise(pl.lit("none")).alias("party_list_status"),
                              pl.when(hit).then(pl.lit("presumption_of_denial")).alias("party_list_policy"))

    base = {k: v for k, v in CN.items() if k != "party_list_status"}
    rows = [{"id": "a", **base, "consignee_name": "Listed Example Ltd.", "item": "RTX 4090", "date": "2024-06-01"},
            {"id": "b", **base, "item": "RTX 4090", "date": "2024-06-01"}]
    assert [r["verdict"] for r in check(rows)] == ["indeterminate", "indeterminate"]  # not screened: never guessed
    a, b = check(rows, screen=fake_screen)
    assert (a["verdict"], a["review_policy"]) == ("license_required", "presumption_of_denial")
    assert (b["verdict"], b["license_exception"]) == ("notification_required", "NAC")


def test_nac_or_aca_inside_china_depends_on_the_kind():
    # RN §2 (CBP CSMS #61882672): ACA also authorises in-country transfers within Macau/D:5; exports
    # there go under NAC (notification). Without the kind, the tool asks instead of guessing.
    transfer = one(**dict(CN, kind="transfer", from_country="CN"), item="RTX 4090", date="2024-06-01")
    assert (transfer["verdict"], transfer["license_exception"]) == ("license_exception", "ACA")
    unknown = one(**{k: v for k, v in CN.items() if k != "kind"}, item="RTX 4090", date="2024-06-01")
    assert unknown["verdict"] == "indeterminate" and "kind" in unknown["missing"]
