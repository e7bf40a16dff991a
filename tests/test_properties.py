"""Property tests of the 3A090 classification engine (hypothesis).

Sources: the Technical Notes to ECCN 3A090 as published in 88 FR 73458 (2023-10-25) — TPP is
2 × MacTOPS × bit length at the precision giving the highest value, performance density is TPP
divided by the applicable die area, and the 3A090.a/.b thresholds (4800; 1600 & 5.92; 2400-4800 &
1.6-5.92; 1600 & 3.2-5.92; Note 2) — with 87 FR 62186 (2022-10-13) for the earlier rule, and the
issue's acceptance list (monotone, deterministic, hashed answers; "indeterminate" only when a
figure that would decide is missing).

Many rows are classified in one call per example: the engine is column-wise, so this keeps the
whole file well under a minute.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import aiexport
from aiexport.errors import InputError

RATES = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "int8", "int4", "fp4")
BITS = {"fp64": 64, "fp32": 32, "tf32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4, "fp4": 4}
IC_LEVEL = {"none": 0, "3A090.b": 1, "3A090.a": 2}

# The engine reports tpp and performance_density rounded to 4 decimal places (chips.classify_frame);
# comparisons allow that rounding on top of the 1e-6 relative tolerance.
ROUNDING = 5e-5 + 1e-12

def cfg(max_examples: int) -> settings:
    return settings(deadline=None, max_examples=max_examples, suppress_health_check=[HealthCheck.too_slow])

# rates around the thresholds matter most: TPP 1600..4800 is e.g. FP16 100..300 or FP8 200..600
rate_value = st.one_of(
    st.floats(min_value=0, max_value=2_000, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 600.0, 1200.0]),
)
maybe_rate = st.one_of(st.none(), rate_value)
die_area = st.one_of(st.floats(min_value=1, max_value=2_000, allow_nan=False), st.sampled_from([100.0, 270.4, 405.4, 810.8]))


@st.composite
def base_spec(draw):
    spec = {r: draw(maybe_rate) for r in RATES}
    spec["die_area_mm2"] = draw(st.one_of(st.none(), die_area))
    spec["io_bidir_gbps"] = draw(st.one_of(st.none(), st.floats(min_value=0, max_value=1_500, allow_nan=False)))
    return {k: v for k, v in spec.items() if v is not None}


def _rows(specs):
    return [{"id": f"r{i}", **s} for i, s in enumerate(specs)]


@pytest.mark.parametrize("as_of", ["2023-06-01", "2024-01-01", "2025-06-01"])
@cfg(50)
@given(bases=st.lists(base_spec(), min_size=1, max_size=4),
       delta=st.floats(min_value=0.001, max_value=3_000, allow_nan=False))
def test_raising_a_dense_rate_never_lowers_the_control(as_of, bases, delta):
    """Monotonicity: raising any one dense rate, all else fixed, never lowers the IC control level.

    Source: 88 FR 73458, Technical Notes to 3A090 — TPP is the maximum over precisions of rate ×
    bit length, so it can only grow with a rate; every 3A090.a/.b paragraph and Note 2 test TPP (and
    TPP / die area) against lower bounds, or hand over to a higher level above an upper bound
    (3A090.b.1 < 4800 -> 3A090.a.1 >= 4800). Same for the 2022 rule (87 FR 62186: TPP >= 4800 with
    I/O >= 600). Issue acceptance list: "raising a rate never lowers the control".
    Order none < 3A090.b < 3A090.a; indeterminate answers are skipped (only determinate pairs compared).
    """
    rows, pairs = [], []
    for b in bases:
        for dc in (True, False):
            spec = {**b, "datacenter": dc}
            i0 = len(rows)
            rows.append(spec)
            for r in RATES:
                pairs.append((i0, len(rows), r, dc))
                rows.append({**spec, r: spec.get(r, 0.0) + delta})
    res = aiexport.classify(_rows(rows), as_of=as_of)
    for lo, hi, r, dc in pairs:
        a, b = res[lo].control, res[hi].control
        if "indeterminate" in (a, b):
            continue
        assert a in IC_LEVEL and b in IC_LEVEL, (a, b)
        assert IC_LEVEL[b] >= IC_LEVEL[a], (
            f"as of {as_of}, datacenter={dc}: raising {r} by {delta} lowered {a} -> {b}; spec {rows[lo]} -> {rows[hi]}")


def _answer(c):
    return c.model_dump(mode="json")


@cfg(60)
@given(specs=st.lists(st.fixed_dictionaries({}, optional={
           **{r: rate_value for r in RATES}, "die_area_mm2": die_area, "datacenter": st.booleans(),
           "io_bidir_gbps": st.floats(min_value=0, max_value=1_500, allow_nan=False)}), min_size=1, max_size=6),
       as_of=st.dates(min_value=date(2022, 1, 1), max_value=date(2026, 12, 31)))
def test_same_inputs_same_answer(specs, as_of):
    """Determinism: the same specs and date give the same answer (control, reasons, rulebook_hash)
    twice; and rows that are identical but for their id — in one batch, or alone — get identical
    answers under equal rulebook_hash.

    Source: issue acceptance list ("the same inputs and hash always give the same answer"; README
    "Hash"); 88 FR 73458 Technical Notes to 3A090 (the answer is a function of the figures only).
    """
    first = aiexport.classify(_rows(specs), as_of=as_of)
    again = aiexport.classify(_rows(specs), as_of=as_of)
    for x, y in zip(first, again, strict=True):
        assert (x.control, x.reasons, x.rulebook_hash) == (y.control, y.reasons, y.rulebook_hash)
        assert _answer(x) == _answer(y)
    # each spec twice in one batch (different ids), and the first one alone
    doubled = aiexport.classify([{"id": f"d{i}", **s} for i, s in enumerate(specs + specs)], as_of=as_of)
    alone = aiexport.classify({"id": "d0", **specs[0]}, as_of=as_of)
    n = len(specs)
    for i in range(n):
        p, q = _answer(doubled[i]), _answer(doubled[i + n])
        assert p["rulebook_hash"] == q["rulebook_hash"]
        p.pop("id"), q.pop("id")
        assert p == q, f"identical specs, equal hash, different answers: {specs[i]}"
    assert _answer(alone) == _answer(doubled[0]), "a row's answer depends on the other rows of the batch"


@pytest.mark.parametrize("as_of", ["2022-12-01", "2024-01-01", "2025-06-01"])
@cfg(60)
@given(specs=st.lists(st.fixed_dictionaries(
           {"die_area_mm2": die_area, "datacenter": st.booleans(),
            "io_bidir_gbps": st.floats(min_value=0.01, max_value=1_500, allow_nan=False)},
           optional={r: st.floats(min_value=0.01, max_value=2_000, allow_nan=False) for r in RATES}),
       min_size=1, max_size=10),
       first_rate=st.sampled_from(RATES), first_value=st.floats(min_value=0.01, max_value=2_000, allow_nan=False))
def test_no_indeterminate_when_every_figure_is_given(as_of, specs, first_rate, first_value):
    """With at least one rate, die_area_mm2, datacenter and io_bidir_gbps given (positive numbers),
    an IC's control is never "indeterminate".

    Source: 87 FR 62186 (2022 rule: I/O and bit length × TOPS) and 88 FR 73458 Technical Notes and
    Note 2 to 3A090 (TPP, performance density, datacenter) need nothing else; issue acceptance list:
    "indeterminate only when a figure that would decide is missing".
    """
    specs = [{first_rate: first_value, **s} for s in specs]
    for s, c in zip(specs, aiexport.classify(_rows(specs), as_of=as_of), strict=True):
        assert c.control != "indeterminate", f"{as_of}: {s} -> indeterminate, missing {c.missing}"


@cfg(120)
@given(specs=st.lists(st.fixed_dictionaries({}, optional={
           **{r: st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)) for r in RATES},
           "die_area_mm2": st.floats(min_value=1, max_value=5_000, allow_nan=False)}).filter(
           lambda d: any(r in d for r in RATES)), min_size=1, max_size=8),
       as_of=st.sampled_from(["2022-12-01", "2024-01-01", "2025-06-01"]))
def test_tpp_is_max_of_rate_times_bit_length(specs, as_of):
    """TPP = max over the given precisions of dense rate × bit length (FP64 64, FP32/TF32 32,
    FP16/BF16 16, FP8/INT8 8, INT4/FP4 4), within 1e-6 relative; performance density = TPP / die area.

    Source: 88 FR 73458, Technical Notes to 3A090 (TPP = 2 × MacTOPS × bit length, highest over
    precisions; official examples 300 TFLOPS at 16 bits and 600 TOPS at 8 bits give 4800; performance
    density = TPP / applicable die area); issue acceptance list. The engine reports both to 4 decimal
    places, which the tolerance allows.
    """
    res = aiexport.classify(_rows(specs), as_of=as_of)
    for s, c in zip(specs, res, strict=True):
        want = max(s[r] * BITS[r] for r in RATES if r in s)
        assert c.tpp is not None
        assert math.isclose(c.tpp, want, rel_tol=1e-6, abs_tol=ROUNDING), (s, c.tpp, want)
        if "die_area_mm2" in s:
            assert c.performance_density is not None
            assert math.isclose(c.performance_density, want / s["die_area_mm2"], rel_tol=1e-6, abs_tol=ROUNDING), (
                s, c.performance_density, want / s["die_area_mm2"])
        else:
            assert c.performance_density is None


@cfg(20)
@example(rate="fp8", value=1e11)
@example(rate="fp64", value=9.99e11)
@given(rate=st.sampled_from(RATES), value=st.floats(min_value=1e3, max_value=9.99e11, allow_nan=False))
def test_any_accepted_rate_gives_a_finite_tpp_and_an_answer(rate, value):
    """Every rate the validator accepts (a finite number >= 0 below the plausibility bound
    specs.MAX_VALUE) gives a classification with a finite TPP equal to rate × bit length and
    non-empty reason texts.

    Source: 88 FR 73458 Technical Notes to 3A090 (TPP definition); issue acceptance list (a
    number >= 0 is valid input; every answer is explained).
    """
    c = aiexport.classify({"id": "x", rate: value, "die_area_mm2": 800, "datacenter": True}, as_of="2024-01-01")
    assert c.tpp is not None and math.isfinite(c.tpp)
    assert math.isclose(c.tpp, value * BITS[rate], rel_tol=1e-6)
    assert all(r.text_en and r.text_zh for r in c.reasons)


@cfg(20)
@example(rate="fp8", value=1e20)
@example(rate="fp64", value=1e308)
@given(rate=st.sampled_from(RATES), value=st.floats(min_value=1e12, max_value=1e308, allow_nan=False))
def test_implausibly_large_rates_are_bad_input(rate, value):
    """Values at or above specs.MAX_VALUE (1e12 TFLOPS) are unit mistakes: rejected with an error
    naming the field, never silently overflowed (a TPP above 2**63 once broke the reasons)."""
    with pytest.raises(InputError, match=rate):
        aiexport.classify({"id": "x", rate: value, "die_area_mm2": 800, "datacenter": True}, as_of="2024-01-01")
