"""Every row of the team's research file (shared/data/chips/chips_dev.csv) against its researcher's
verdict columns `computed_3a090_oct2023_with_note2` and `computed_oct2022`, through the built-in
catalog (which is built from that file by tools/build_catalog.py)."""

from __future__ import annotations

import csv

import pytest

import aiexport
from aiexport import catalog


def expected(text: str) -> str:
    t = text.strip().lower()
    if t.startswith("3a090.a"):
        return "3A090.a"
    if t.startswith("3a090.b"):
        return "3A090.b"
    if t.startswith(("not 3a090", "not controlled")):
        return "none"
    if t.startswith("controlled"):
        return "controlled"
    if t.startswith("indeterminate"):
        return "indeterminate"
    raise AssertionError(f"unexpected verdict text {text!r}")


@pytest.fixture(scope="module")
def rows(shared):
    with open(shared / "data" / "chips" / "chips_dev.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_catalog_has_every_research_row_with_sources(rows):
    """Issue #2: a built-in catalog of at least 30 real accelerators, with their sources."""
    assert len(rows) >= 30
    for r in rows:
        item = catalog.find(r["id"])
        assert item is not None, r["id"]
        assert item["sources"] == r["sources"] and item["sources"]
        assert item["name"] == r["model"]


def test_2023_verdicts_match_research_file(rows):
    """88 FR 73458 (3A090.a/.b with Note 2), judged on 2024-06-01, against computed_3a090_oct2023_with_note2."""
    got = aiexport.classify([r["id"] for r in rows], as_of="2024-06-01")
    for r, g in zip(rows, got, strict=True):
        assert g.control == expected(r["computed_3a090_oct2023_with_note2"]), (r["id"], g.control, g.missing)


def test_2022_verdicts_match_research_file(rows):
    """87 FR 62186 (I/O >= 600 GB/s AND TPP >= 4800), judged on 2023-06-01, against computed_oct2022.

    TPU v6e: the file has only its 448 GB/s chip-to-chip ICI ("host link not sourced"); the catalog
    carries 448 and the researcher's 'not controlled' is reproduced. A host link of 152 GB/s or more
    would flip it; the catalog row's io_basis says so."""
    got = aiexport.classify([r["id"] for r in rows], as_of="2023-06-01")
    for r, g in zip(rows, got, strict=True):
        want = expected(r["computed_oct2022"])
        have = "controlled" if g.control == "3A090.a" else g.control
        assert have == want, (r["id"], g.control, g.missing)


def test_tpp_and_density_match_research_file(rows):
    """TPP = max over precisions of dense rate x bit length; PD = TPP / die area (88 FR 73458).

    One documented difference: the researcher left TF32 out; the rulebook counts it at 32 bits
    (tpp_metric.yaml, UNCONFIRMED, as s-w-kelly/chip-export-controls does). Only the L20 changes:
    TF32 59.8 x 32 = 1913.6 > INT8 239 x 8 = 1912. Its verdict is the same (none)."""
    got = {g.id: g for g in aiexport.classify([r["id"] for r in rows], as_of="2024-06-01")}
    for r in rows:
        g = got[r["id"]]
        if not r["computed_tpp"]:
            assert g.tpp is None, r["id"]
            continue
        want = 1913.6 if r["id"] == "nv_l20" else float(r["computed_tpp"])
        assert g.tpp == pytest.approx(want, abs=0.05), r["id"]
        if r["computed_pd"]:
            pd_want = want / float(r["die_area_mm2"])
            assert g.performance_density == pytest.approx(pd_want, abs=1e-3), r["id"]
    assert "TPP" in got["nv_l20"].unconfirmed


def test_rows_without_enough_data_are_indeterminate(rows):
    """Rows without enough data are `indeterminate`, with what would decide."""
    got = {g.id: g for g in aiexport.classify([r["id"] for r in rows], as_of="2024-06-01")}
    undecided = [r["id"] for r in rows if expected(r["computed_3a090_oct2023_with_note2"]) == "indeterminate"]
    assert set(undecided) == {"amd_mi308x", "google_tpuv4", "cambricon_mlu370x8", "cambricon_mlu290", "mthreads_s4000"}
    for rid in undecided:
        assert got[rid].control == "indeterminate" and got[rid].missing, rid
