"""A small input takes shortcuts a large one does not (distinct values read in Python rather than by
polars, `licensing._distinct`): the answers must be the same byte for byte either way. The book is
the example order book (examples/order_book.csv), answered on dates under each version of the rules,
with the Diffusion rule enforced and not."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from aiexport import licensing
from aiexport.rulebook import load_rulebook
from aiexport.transactions import transactions_from_python

BOOK = Path(__file__).resolve().parents[1] / "examples" / "order_book.csv"


@pytest.fixture(scope="module")
def book() -> pl.DataFrame:
    rows = [{k: v for k, v in r.items() if v not in (None, "")} for r in pl.read_csv(BOOK, infer_schema=False).to_dicts()]
    return transactions_from_python(rows, "book")


@pytest.mark.parametrize("day", [date(2022, 12, 1), date(2024, 6, 1), date(2025, 3, 1), date(2026, 11, 29)])
@pytest.mark.parametrize("enforce", [False, True])
def test_a_small_book_is_answered_as_a_large_one(book: pl.DataFrame, day: date, enforce: bool, monkeypatch) -> None:
    rb = load_rulebook()
    small = licensing.check_frame(book, rb, day, enforce_codified=enforce, source="book").write_ndjson()
    monkeypatch.setattr(licensing, "SMALL", 0)  # every input now takes the large inputs' way
    large = licensing.check_frame(book, rb, day, enforce_codified=enforce, source="book").write_ndjson()
    assert small == large
    assert book.height > 10 and small.count("\n") == book.height


def test_distinct_values_in_order_of_first_appearance(monkeypatch) -> None:
    values = pl.Series(["CN", None, "DE", "CN", "AE", None, "DE"])
    assert licensing._distinct(values) == ["CN", "DE", "AE"]
    monkeypatch.setattr(licensing, "SMALL", 0)
    assert licensing._distinct(values) == ["CN", "DE", "AE"]
