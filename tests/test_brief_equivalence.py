"""`--brief` answers are the full answers without the sentences (property test, hypothesis).

Random order books of ICs, HBM stacks, servers (some nested, some holding catalog items) and
items described in a .z ECCN, on random dates across every rule version: the brief mode must give
exactly the same decisions, figures, `missing` and `unconfirmed` as the full explanation, and its
one reason must be the deciding paragraph (issue #2: every answer explains itself; the brief mode
is its order-book form)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiexport.chips import classify_frame
from aiexport.rulebook import baseline
from aiexport.specs import specs_from_python

RATES = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4", "fp4")
COLUMNS = ["id", "control", "paragraph", "possible_controls", "tpp", "tpp_precision", "performance_density",
           "memory_bandwidth_density", "item_type", "license_exceptions", "rule_version", "rule_status", "missing",
           "unconfirmed", "rulebook_hash"]


@st.composite
def order_book(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    rows = []
    for i in range(n):
        kind = draw(st.sampled_from(["ic", "ic", "ic", "hbm", "system", "catalog_system"]))
        row = {"id": f"r{i}"}
        if kind == "ic":
            for r in draw(st.lists(st.sampled_from(RATES), max_size=3, unique=True)):
                row[r] = draw(st.floats(min_value=0, max_value=3000, allow_nan=False))
            if draw(st.booleans()):
                row["die_area_mm2"] = draw(st.floats(min_value=50, max_value=2000, allow_nan=False))
            if draw(st.booleans()):
                row["datacenter"] = draw(st.booleans())
            if draw(st.booleans()):
                row["io_bidir_gbps"] = draw(st.floats(min_value=0, max_value=1500, allow_nan=False))
            if draw(st.booleans()):
                row["hbm"] = draw(st.booleans())
        elif kind == "hbm":
            row.update(hbm=True, hbm_package_area_mm2=draw(st.floats(min_value=50, max_value=200, allow_nan=False)))
            if draw(st.booleans()):
                row["memory_bw_gbps"] = draw(st.floats(min_value=100, max_value=1500, allow_nan=False))
        elif kind == "system" and i > 0:
            row.update(contains=f"r{draw(st.integers(min_value=0, max_value=i - 1))}", count=draw(st.integers(1, 16)))
        else:
            row.update(contains=draw(st.sampled_from(["H100", "A30", "TPU v4", "HGX H100 8-GPU", "RTX 4090 D"])), count=2)
        if draw(st.integers(0, 4)) == 0:
            row["base_eccn"] = draw(st.sampled_from(["5A992.c", "5A002", "5A002.a", "4A003", "3A991"]))
        rows.append(row)
    return rows


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(book=order_book(), offset=st.integers(min_value=-30, max_value=1550))
def test_brief_equals_full(book, offset):
    day = date(2022, 10, 7) + timedelta(days=offset)
    frame = specs_from_python(book)
    full = classify_frame(frame, baseline(), day)
    brief = classify_frame(frame, baseline(), day, explain=False)
    assert full.select(COLUMNS).equals(brief.select(COLUMNS))
    for f_reasons, b_reasons, paragraph in zip(full["reasons"].to_list(), brief["reasons"].to_list(), brief["paragraph"], strict=True):
        assert len(b_reasons) == 1
        if paragraph is not None:
            assert b_reasons[0]["rule"] == paragraph
            assert any(r["rule"] == paragraph and r["outcome"] == "met" for r in f_reasons)
