"""Country Groups over time (15 CFR 740 Supp. No. 1); sources in docs/research/country-groups.md."""

from __future__ import annotations

from datetime import date

from aiexport.countries import canonical, group_fact, groups_of
from aiexport.rulebook import baseline


def at(day: str):
    return baseline().resolve(date.fromisoformat(day))


def test_uae_moves_from_d4_to_a5_on_2026_07_10():
    """91 FR 43034 (FR Doc 2026-14132), effective 2026-07-10."""
    assert "D:4" in groups_of("AE", at("2026-07-09")) and "A:5" not in groups_of("AE", at("2026-07-09"))
    assert "D:4" not in groups_of("AE", at("2026-07-10")) and "A:5" in groups_of("AE", at("2026-07-10"))


def test_nicaragua_into_d5_and_cyprus_out():
    """89 FR 18780 (Nicaragua into D:5, 2024-03-15, P); 89 FR 40369 (Cyprus out of D:5 from 2024-05-30, P)."""
    assert not group_fact("NI", "D:5", at("2024-03-14")).member
    ni = group_fact("NI", "D:5", at("2024-03-15"))
    assert ni.member and ni.membership.fact == "P" and "89 FR 18780" in ni.membership.citation.text()
    assert group_fact("CY", "D:5", at("2024-05-29")).member
    assert not group_fact("CY", "D:5", at("2024-05-30")).member
    assert group_fact("CY", "A:6", at("2024-05-30")).member


def test_hong_kong_is_china_and_china_everywhere_it_should_be():
    """85 FR 83765: Hong Kong treated as China from 2020-12-23; China is in D:1, D:4 and D:5."""
    day = at("2024-06-01")
    assert canonical("hk", day) == "CN"
    assert set(groups_of("HK", day)) == {"D:1", "D:4", "D:5"}
    assert set(groups_of("MO", day)) == {"D:1", "D:4"}  # Macau: not D:5; the AI rules name it beside D:5


def test_yaml_traps_and_unconfirmed_members():
    """Norway ('NO' is false in YAML 1.1) is in A:5; Iran's D:1 membership is UNCONFIRMED."""
    assert "A:5" in groups_of("NO", at("2025-01-01"))
    assert group_fact("IR", "D:1", at("2025-01-01")).membership.fact == "UNCONFIRMED"
    assert groups_of("DE", at("2025-01-01")) == ["A:5"]


def test_advanced_computing_destination_scope_over_time():
    """15 CFR 742.6(a)(6): China (87 FR 62186); + Macau from 2023-01-17 (88 FR 2821); from 2023-11-17
    D:1 ∪ D:4 ∪ D:5 minus A:5/A:6 plus Macau (88 FR 73458). Counts derived in
    docs/research/country-groups.md §6.2: 44 + Macau, 45 + Macau after Nicaragua (2024-03-15),
    44 + Macau after the UAE left D:4 (2026-07-10)."""
    from aiexport.countries import in_scope, scope_members

    assert scope_members("destination", at("2022-10-06")) == set()
    assert scope_members("destination", at("2022-12-01")) == {"CN"}
    assert scope_members("destination", at("2023-01-17")) == {"CN", "MO"}
    assert len(scope_members("destination", at("2024-01-01"))) == 45
    assert len(scope_members("destination", at("2024-06-01"))) == 46
    assert len(scope_members("destination", at("2026-07-10"))) == 45
    assert in_scope("AE", "destination", at("2026-07-09")) and not in_scope("AE", "destination", at("2026-07-10"))
    assert not in_scope("IL", "destination", at("2024-01-01"))  # D:4 but A:6
    assert in_scope("HK", "destination", at("2024-01-01"))  # as China
    assert in_scope("KH", "destination", at("2026-06-01"))  # left D:5, still D:1


def test_headquarters_scope_is_macau_and_d5():
    """15 CFR 744.23(a)(3)(i) (88 FR 73458): entities headquartered in Macau or D:5. 23 countries
    + Macau until 2024-03-14 (Cyprus and Cambodia included); 22 + Macau from 2026-02-03."""
    from aiexport.countries import in_scope, scope_members

    assert len(scope_members("headquarters", at("2024-01-01"))) == 24
    assert in_scope("CY", "headquarters", at("2024-05-29")) and not in_scope("CY", "headquarters", at("2024-05-30"))
    assert len(scope_members("headquarters", at("2026-06-01"))) == 23
    assert in_scope("MO", "headquarters", at("2026-06-01")) and in_scope("HK", "headquarters", at("2026-06-01"))
