"""Ownership: the BIS Affiliates rule (90 FR 47201) and OFAC's 50 Percent Rule over an ownership graph.

Sources: 90 FR 47201 (2025-09-30, FR Doc 2025-19001, RIN 0694-AK11; effective 2025-09-29);
the one-year suspension from 2025-11-10 (fact sheet §5.1); OFAC's revised guidance on entities
owned by blocked persons (2014-08-13) and OFAC FAQ 401 (indirect ownership, worked examples).
"""

from __future__ import annotations

import time
from datetime import date

import polars as pl
import pytest

from aiexport.errors import InputError
from aiexport.parties import ownership as own
from aiexport.parties.ownership import (
    FLAG_LISTED,
    FLAG_LOWER_BOUND,
    FLAG_NOT_APPLIED,
    FLAG_NOT_IN_FORCE,
    FLAG_OVER_100,
    FLAG_SUSPENDED,
    FLAG_TRUNCATED,
    FLAG_UNCONFIRMED,
    Coverage,
    coverage,
    coverage_all,
    edges_frame,
    listed_from_parties,
    read_edges,
    read_parties,
)
from aiexport.rulebook import Rulebook, baseline

IN_FORCE = date(2025, 9, 29)  # 90 FR 47201 effective date


def bis(party: str, edges, listed, day: date = IN_FORCE, **kw) -> Coverage:
    return next(c for c in coverage(party, edges, listed, day, **kw) if c.rule == "bis_affiliates")


def ofac(party: str, edges, listed, day: date = IN_FORCE, **kw) -> Coverage:
    return next(c for c in coverage(party, edges, listed, day, **kw) if c.rule == "ofac_50")


# --- the rule file -----------------------------------------------------------------------------


def test_rule_file_validates_and_dates():
    """90 FR 47201 effective 2025-09-29; suspended 2025-11-10 through 2026-11-09; reinstatement on
    2026-11-10 UNCONFIRMED; OFAC aggregation guidance of 2014-08-13 in every version."""
    rb = Rulebook.load()  # loads and validates every rule file
    inst = rb.instruments["affiliates_rule"]
    assert inst.instrument.role == "ownership"
    expected = {
        date(2014, 8, 13): ("affiliates/2014-08-13", "in_force", "S", 50.0, None),
        date(2025, 9, 28): ("affiliates/2014-08-13", "in_force", "S", 50.0, None),
        date(2025, 9, 29): ("affiliates/2025-09-29", "in_force", "P", 50.0, 50.0),
        date(2025, 11, 9): ("affiliates/2025-09-29", "in_force", "P", 50.0, 50.0),
        date(2025, 11, 10): ("affiliates/2025-11-10", "codified_not_enforced", "S", 50.0, 50.0),
        date(2026, 11, 9): ("affiliates/2025-11-10", "codified_not_enforced", "S", 50.0, 50.0),
        date(2026, 11, 10): ("affiliates/2026-11-10", "in_force", "UNCONFIRMED", 50.0, 50.0),
    }
    for day, (vid, status, fact, ofac_t, bis_t) in expected.items():
        r = rb.resolve(day)["affiliates_rule"]
        assert (r.version.id, r.version.status, r.version.fact) == (vid, status, fact), day
        assert "ofac_50" in r.version.provisions, day  # the OFAC rule is in every version
        assert r.params["ofac_threshold_pct"].value == ofac_t
        assert (r.params["threshold_pct"].value if "threshold_pct" in r.params else None) == bis_t
        for p in r.version.provisions.values():
            assert p.text_en and p.text_zh and p.citation.text()
    assert rb.resolve(date(2014, 8, 12))["affiliates_rule"].version is None
    assert "suspended" in rb.resolve(date(2025, 11, 10))["affiliates_rule"].version.provisions
    reinstated = rb.resolve(date(2026, 11, 10))["affiliates_rule"].version.provisions["reinstated"]
    assert reinstated.fact == "UNCONFIRMED" and "assumed" in reinstated.text_en


# --- aggregation and thresholds ----------------------------------------------------------------


def test_two_listed_owners_of_30_percent_each_aggregate_to_60():
    """90 FR 47201: 50 % or more owned 'individually or in the aggregate' by listed parties."""
    c = bis("T", [("EL1", "T", 30), ("MEU1", "T", 30)], {"EL1": "entity_list", "MEU1": "meu"})
    assert c.covered and c.applies and c.meets_threshold
    assert c.percent == pytest.approx(60.0)
    assert c.threshold_pct == 50.0 and c.status == "in_force" and c.fact == "P"
    assert c.lists == ("entity_list", "meu")  # the most restrictive of these applies
    assert sorted(ch.links for ch in c.chains) == [(("EL1", "T", 30.0),), (("MEU1", "T", 30.0),)]
    assert "90 FR 47201" in c.citation and c.text_zh


def test_49_percent_is_not_covered_and_50_is():
    """90 FR 47201: 'at least 50 percent' (>= 50)."""
    listed = {"EL1": "entity_list"}
    c = bis("T", [("EL1", "T", 49)], listed)
    assert not c.covered and not c.meets_threshold and c.percent == pytest.approx(49.0)
    assert bis("T", [("EL1", "T", 50)], listed).covered
    assert bis("T", [("EL1", "T", 30), ("EL2", "T", 20)], {**listed, "EL2": "entity_list"}).covered  # 30 + 20 reaches 50 exactly
    assert not bis("T", [("EL1", "T", 30), ("X", "T", 40)], listed).covered  # an unlisted owner's stake does not count


def test_chain_80_times_70_is_covered_with_the_chain_shown():
    """90 FR 47201 (directly or indirectly): EL1 owns 80 % of M, M owns 70 % of T. M is covered
    (80 % >= 50 %), so its 70 % stake counts in full, as under OFAC FAQ 401; the chain's product
    (the look-through interest) is 56 %, and the multiply method gives that figure."""
    edges = [("EL1", "M", 80), ("M", "T", 70)]
    c = bis("T", edges, {"EL1": "entity_list"})
    assert c.covered
    assert [ch.links for ch in c.chains] == [(("EL1", "M", 80.0), ("M", "T", 70.0))]
    assert c.chains[0].product == pytest.approx(56.0) and c.chains[0].root == "EL1"
    assert c.chains[0].text() == "EL1 -> 80% M -> 70% T (= 56%)"
    assert c.percent == pytest.approx(70.0) and c.owners == (("M", 70.0, "covered"),)
    m = bis("T", edges, {"EL1": "entity_list"}, method="multiply")
    assert m.covered and m.percent == pytest.approx(56.0) and m.method == "multiply"


def test_ofac_faq_401_examples():
    """OFAC FAQ 401 (guidance of 2014-08-13): 'indirectly' means through entities themselves 50 %
    or more owned by blocked persons. Example 1: X 50 % of A, A 50 % of B -> B blocked.
    Example 2: X 50 % of A and of B, each 25 % of C -> C blocked. Example 3: X 50 % of A and
    10 % of B, A 40 % of B -> B blocked."""
    sdn = {"X": "sdn"}
    ex1 = [("X", "A", 50), ("A", "B", 50)]
    assert ofac("B", ex1, sdn).covered and ofac("B", ex1, sdn).percent == pytest.approx(50.0)
    ex2 = [("X", "A", 50), ("X", "B", 50), ("A", "C", 25), ("B", "C", 25)]
    c2 = ofac("C", ex2, sdn)
    assert c2.covered and len(c2.chains) == 2
    ex3 = [("X", "A", 50), ("X", "B", 10), ("A", "B", 40)]
    assert ofac("B", ex3, sdn).covered
    # the look-through product would miss Examples 1 and 2 (25 % and 25 %): why it is not the default
    assert not ofac("B", ex1, sdn, method="multiply").covered
    assert not ofac("C", ex2, sdn, method="multiply").covered


def test_stake_through_an_uncovered_intermediate_does_not_count():
    """OFAC FAQ 401: indirect ownership counts only through entities 50 % or more owned by blocked
    persons (90 FR 47201 follows Treasury practice). X (listed) owns 40 % of A and 20 % of T; A owns
    100 % of T: A is not covered, so T is 20 % owned, not covered (look-through would say 60 %)."""
    edges = [("X", "A", 40), ("X", "T", 20), ("A", "T", 100)]
    c = bis("T", edges, {"X": "entity_list"})
    assert not c.covered and c.percent == pytest.approx(20.0)
    assert [ch.links for ch in c.chains] == [(("X", "T", 20.0),)]
    assert bis("T", edges, {"X": "entity_list"}, method="multiply").percent == pytest.approx(60.0)


# --- dates ---------------------------------------------------------------------------------------


SPLIT = [("EL1", "T", 30), ("EL2", "T", 30)]
SPLIT_LISTED = {"EL1": "entity_list", "EL2": "entity_list"}


def test_bis_rule_does_not_apply_before_2025_09_29():
    """90 FR 47201 is effective 2025-09-29: the day before, nothing is attributed under it."""
    c = bis("T", SPLIT, SPLIT_LISTED, date(2025, 9, 28))
    assert not c.covered and not c.applies and c.status == "not_in_force"
    assert FLAG_NOT_IN_FORCE in c.flags and c.percent == 0.0 and c.chains == ()
    assert bis("T", SPLIT, SPLIT_LISTED, date(2025, 9, 29)).covered


@pytest.mark.parametrize("day", [date(2025, 11, 10), date(2026, 6, 1), date(2026, 11, 9)])
def test_bis_rule_suspended_is_reported_not_applied(day: date):
    """90 FR 47201 suspended for one year from 2025-11-10 (through 2026-11-09; fact sheet §5.1)."""
    c = bis("T", SPLIT, SPLIT_LISTED, day)
    assert not c.covered and not c.applies and c.meets_threshold
    assert c.status == "codified_not_enforced" and c.version == "affiliates/2025-11-10"
    assert FLAG_SUSPENDED in c.flags and FLAG_NOT_APPLIED in c.flags
    assert c.percent == pytest.approx(60.0) and len(c.chains) == 2
    assert "suspended" in c.text_en and "暂停" in c.text_zh


def test_bis_rule_on_2026_11_10_applies_but_is_unconfirmed():
    """90 FR 47201 reimposed on 2026-11-10 'absent a future extension': assumed, UNCONFIRMED."""
    c = bis("T", SPLIT, SPLIT_LISTED, date(2026, 11, 10))
    assert c.covered and c.applies and c.status == "in_force"
    assert c.fact == "UNCONFIRMED" and FLAG_UNCONFIRMED in c.flags and FLAG_SUSPENDED not in c.flags
    assert "UNCONFIRMED" in c.text_en


@pytest.mark.parametrize("day", [date(2015, 1, 1), date(2025, 9, 28), date(2025, 9, 29), date(2025, 11, 10),
                                 date(2026, 6, 1), date(2026, 11, 10)])
def test_ofac_50_percent_rule_applies_on_every_date(day: date):
    """OFAC guidance of 2014-08-13: aggregate SDN ownership of 50 % or more blocks the entity; the
    suspension of 90 FR 47201 does not touch it."""
    edges = [("SDN1", "T", 25), ("SDN2", "T", 25)]
    c = ofac("T", edges, {"SDN1": "sdn", "SDN2": "sdn"}, day)
    assert c.covered and c.applies and c.status == "in_force" and c.flags == ()
    assert c.percent == pytest.approx(50.0) and c.lists == ("sdn",)
    assert "OFAC" in c.citation
    before = ofac("T", edges, {"SDN1": "sdn", "SDN2": "sdn"}, date(2014, 8, 12))
    assert not before.covered and FLAG_NOT_IN_FORCE in before.flags


def test_which_lists_count_for_which_rule():
    """90 FR 47201 counts Entity List, MEU List and SDNs under §744.8(a)(1) programs; OFAC counts
    SDNs. A plain SDN does not trigger the BIS rule, an Entity List party not the OFAC rule."""
    edges = [("O", "T", 60)]
    for code, want_bis, want_ofac in [("entity_list", True, False), ("meu", True, False), ("sdn", False, True),
                                      ("sdn_744_8", True, True)]:
        got = {c.rule: c.covered for c in coverage("T", edges, {"O": code}, IN_FORCE)}
        assert got == {"bis_affiliates": want_bis, "ofac_50": want_ofac}, code
    mixed = bis("T", [("A", "T", 30), ("B", "T", 25)], {"A": "entity_list", "B": "sdn_744_8"})
    assert mixed.covered and mixed.lists == ("entity_list", "sdn_744_8")


def test_edges_outside_their_dates_are_ignored():
    """90 FR 47201 and OFAC both look at ownership on the date: a stake sold (until) or not yet
    bought (from) does not count; both bounds are inclusive."""
    rows = [("EL1", "T", 30, None, None), ("EL2", "T", 30, "2025-10-01", "2025-10-31"), ("EL3", "T", 30, "2025-12-01", None)]
    listed = {"EL1": "entity_list", "EL2": "entity_list", "EL3": "entity_list"}
    assert not bis("T", rows, listed, date(2025, 9, 30)).covered  # 30 only
    assert bis("T", rows, listed, date(2025, 10, 1)).covered  # from is inclusive
    assert bis("T", rows, listed, date(2025, 10, 31)).covered  # until is inclusive
    c = bis("T", rows, listed, date(2025, 11, 1))
    assert not c.covered and c.percent == pytest.approx(30.0)
    sdn_rows = [("S", "T", 60, "2026-01-01", None)]
    assert not ofac("T", sdn_rows, {"S": "sdn"}, date(2025, 12, 31)).covered
    assert ofac("T", sdn_rows, {"S": "sdn"}, date(2026, 1, 1)).covered


# --- cycles and limits ---------------------------------------------------------------------------


def test_cycles_do_not_hang_and_do_not_create_coverage():
    """OFAC FAQ 401 / 90 FR 47201: coverage flows only from listed parties; cross-holdings between
    unlisted entities cannot cover them, and a cycle ends every chain that would repeat an entity."""
    listed = {"EL1": "entity_list"}
    ring = [("P", "Q", 60), ("Q", "P", 60), ("Q", "T", 60)]
    assert not bis("T", ring, listed).covered and not bis("P", ring, listed).covered
    looped = [("EL1", "B", 60), ("B", "C", 50), ("C", "B", 40), ("C", "T", 50)]
    b = bis("B", looped, listed)
    assert b.covered and b.percent == pytest.approx(100.0)  # EL1's 60 % plus covered C's 40 %
    assert [ch.links for ch in b.chains] == [(("EL1", "B", 60.0),)]  # EL1 -> B -> C -> B repeats B
    t = bis("T", looped, listed)
    assert t.covered and [ch.links for ch in t.chains] == [(("EL1", "B", 60.0), ("B", "C", 50.0), ("C", "T", 50.0))]
    for c in coverage("T", looped, listed, IN_FORCE, method="multiply"):
        assert c.percent <= 100.0


def test_dense_cyclic_graph_finishes_and_flags_truncated_chains():
    """OFAC FAQ 401 counts every path; in a dense cyclic graph there are factorially many, so the
    chain search is bounded and says so, while the decision (the fixed point) is exact."""
    nodes = [f"N{i}" for i in range(14)]
    edges = [(a, b, 60) for a in nodes for b in nodes if a != b] + [("EL1", "N0", 60)] + [(n, "T", 7) for n in nodes]
    listed = {"EL1": "entity_list"}
    start = time.perf_counter()
    c = bis("T", edges, listed)
    assert c.covered and c.percent == pytest.approx(98.0)  # 14 covered owners x 7 %
    assert FLAG_TRUNCATED in c.flags and len(c.chains) == own.MAX_CHAINS
    assert c.chains[0].links == (("EL1", "N0", 60.0), ("N0", "T", 7.0))  # shortest chains first
    assert [len(ch.links) for ch in c.chains] == sorted(len(ch.links) for ch in c.chains)
    m = bis("T", edges, listed, method="multiply")  # below a cycle the look-through sum is then only a lower bound
    assert FLAG_TRUNCATED in m.flags and FLAG_LOWER_BOUND in m.flags and 0 < m.percent <= 100
    assert FLAG_OVER_100 in bis("N1", edges, listed).flags
    assert time.perf_counter() - start < 20


def test_multiply_is_exact_on_acyclic_graphs_and_sums_simple_chains_on_cycles():
    """OFAC FAQ 401 Example 2 adds indirect stakes across paths. The look-through (multiply) figure
    is a dynamic programme on an acyclic graph: exact even with more chains than are shown; on a
    cycle it sums the simple chains (a cycle is not walked twice)."""
    listed = {"EL1": "entity_list"}
    edges = [("EL1", "A0", 50), ("EL1", "B0", 50)]
    for k in range(1, 8):  # 2^8 = 256 chains down to A7
        edges += [(f"{x}{k - 1}", f"{y}{k}", 50) for x in "AB" for y in "AB"]
    edges.append(("A7", "T", 100))
    m = bis("T", edges, listed, method="multiply")
    assert m.percent == pytest.approx(50.0) and m.covered
    assert FLAG_TRUNCATED in m.flags and FLAG_LOWER_BOUND not in m.flags and len(m.chains) == own.MAX_CHAINS
    ring = [("EL1", "P", 50), ("P", "Q", 60), ("Q", "P", 60), ("Q", "T", 100)]
    r = bis("T", ring, listed, method="multiply")
    assert r.percent == pytest.approx(30.0) and FLAG_LOWER_BOUND not in r.flags
    assert [ch.links for ch in r.chains] == [(("EL1", "P", 50.0), ("P", "Q", 60.0), ("Q", "T", 100.0))]


def test_max_chains_zero_skips_chains_not_decisions():
    """90 FR 47201 / OFAC: the decision, percent and list codes do not depend on the chains shown."""
    edges = [("EL1", "M", 80), ("M", "T", 70), ("S", "T", 10)]
    listed = {"EL1": "entity_list", "S": "sdn_744_8"}
    for method in ("attribution", "multiply"):
        full = coverage("T", edges, listed, IN_FORCE, method=method)
        bare = coverage("T", edges, listed, IN_FORCE, method=method, max_chains=0)
        for a, b in zip(full, bare, strict=True):
            assert (a.covered, a.percent, a.lists, a.owners) == (b.covered, b.percent, b.lists, b.owners)
            assert b.chains == () and FLAG_TRUNCATED not in b.flags
    assert full[0].lists == ("entity_list", "sdn_744_8")


def test_listed_party_itself_is_flagged():
    """90 FR 47201 covers unlisted affiliates; a listed party is restricted by its own entry."""
    c = bis("EL2", [("EL1", "EL2", 100)], {"EL1": "entity_list", "EL2": "entity_list"})
    assert FLAG_LISTED in c.flags and c.listed_as == ("entity_list",)


# --- files and the vectorised form ---------------------------------------------------------------


def test_csv_files_and_coverage_all(tmp_path):
    """90 FR 47201 and OFAC 50 % over a book read from CSV; coverage_all agrees with coverage."""
    parties = tmp_path / "parties.csv"
    parties.write_text("id,name,country,list_status\nEL1,Listed One,cn,entity_list\nS1,Blocked,ru,sdn\n"
                       "M,Mid Holdings,HK,\nT,Target Ltd,SG,\nU,Other,DE,\n", encoding="utf-8")
    edges = tmp_path / "edges.csv"
    edges.write_text("owner,owned,percent,from,until\nEL1,M,80,,\nM,T,70,2025-01-01,\nS1,U,50%,,2025-12-31\n", encoding="utf-8")
    p = read_parties(parties)
    assert p["country"].to_list() == ["CN", "RU", "HK", "SG", "DE"]
    listed = listed_from_parties(p)
    assert listed == {"EL1": ["entity_list"], "S1": ["sdn"]}
    e = read_edges(edges)
    assert e.schema["percent"] == pl.Float64 and e.schema["from"] == pl.Date
    days = [date(2025, 9, 29), date(2025, 11, 10), date(2026, 1, 1)]
    frame = coverage_all(e, listed, days)
    assert frame.height == len(days) * 5 * 2
    row = frame.filter((pl.col("party") == "T") & (pl.col("rule") == "bis_affiliates") & (pl.col("as_of") == days[0])).row(0, named=True)
    assert row["covered"] and row["chains"][0]["product"] == pytest.approx(56.0)
    sus = frame.filter((pl.col("party") == "T") & (pl.col("rule") == "bis_affiliates") & (pl.col("as_of") == days[1])).row(0, named=True)
    assert not sus["covered"] and FLAG_SUSPENDED in sus["flags"]
    u = frame.filter((pl.col("party") == "U") & (pl.col("rule") == "ofac_50"))["covered"].to_list()
    assert u == [True, True, False]  # the SDN's stake ends 2025-12-31
    for d in days:
        for pid in ("EL1", "S1", "M", "T", "U"):
            for c in coverage(pid, e, listed, d):
                r = frame.filter((pl.col("party") == pid) & (pl.col("rule") == c.rule) & (pl.col("as_of") == d)).row(0, named=True)
                assert (r["covered"], r["percent"], r["flags"], r["status"]) == (c.covered, c.percent, list(c.flags), c.status)
    only = coverage_all(e, listed, date(2025, 9, 29), rulebook=baseline(), parties=["T"])
    assert only["party"].unique().to_list() == ["T"] and only.height == 2


@pytest.mark.parametrize("text, field, row", [
    ("owner,owned,percent\nA,B,120\n", "percent", 1),
    ("owner,owned,percent\nA,B,30\nA,C,abc\n", "percent", 2),
    ("owner,owned,percent\nA,,30\n", "owned", 1),
    ("owner,owned,percent\nA,A,30\n", "owned", 1),
    ("owner,owned,percent,from\nA,B,30,2025-13-01\n", "from", 1),
    ("owner,owned,percent,from,until\nA,B,30,2025-02-01,2025-01-01\n", "until", 1),
    ("owner,owned,percent,from,until\nA,B,30,2025-01-01,2025-06-30\nA,B,40,2025-06-30,\n", "from", 2),
    ("owner,owned,percent,from,until\nA,B,30,,\nA,B,40,2025-06-30,2025-07-30\n", "from", 2),
    ("owner,owned,percent,from,until\nA,B,30,2025-01-01,2025-12-31\nA,B,5,2025-02-01,2025-02-28\nA,B,9,2025-03-01,\n", "from", 2),
    ("owner,owned,pct\nA,B,30\n", "pct", None),
])
def test_bad_edges_name_the_row_and_field(tmp_path, text: str, field: str, row: int | None):
    """Input to the 90 FR 47201 / OFAC computation is checked: each error names the row and field."""
    path = tmp_path / "edges.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_edges(path)
    assert exc.value.field == field and exc.value.row == row
    assert "edges.csv" in str(exc.value)


def test_bad_list_codes_and_successive_periods(tmp_path):
    """90 FR 47201 names the Entity List, MEU List and §744.8(a)(1) SDNs; other codes are refused.
    Successive periods of one stake are fine."""
    path = tmp_path / "parties.csv"
    path.write_text("id,list_status\nA,entity_list;unverified\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown list code"):
        read_parties(path)
    with pytest.raises(InputError, match="unknown list code"):
        coverage("T", [("A", "T", 60)], {"A": "denied"}, IN_FORCE)
    ok = edges_frame([("A", "B", 30, "2025-01-01", "2025-06-29"), ("A", "B", 40, "2025-06-30", None)])
    assert ok.height == 2
    assert bis("B", ok, {"A": ["entity_list"]}, date(2025, 9, 29)).percent == pytest.approx(40.0)
