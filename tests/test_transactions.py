"""Transaction files (the input of `check`): reading CSV, JSON, YAML and Parquet, and validation.

Contract: every malformed cell gives one InputError line naming the file, the row and the field and
saying how to fix it; the earliest bad row wins; missing facts are nulls, never errors (except id).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

from aiexport.errors import InputError
from aiexport.transactions import (
    COUNTRY_CODES,
    ISO_ALPHA2,
    TX_COLUMNS,
    TX_FIELDS,
    read_transaction_file,
    transactions_from_python,
    validate_transactions,
)

ROWS = [
    {"id": "t1", "date": "2025-01-15", "kind": "export", "item": "H100", "quantity": "8", "unit_value_usd": "25000",
     "from_country": "US", "destination_country": "CN", "consignee_name": "ACME Corp", "consignee_country": "CN",
     "end_use": "ai_training: LLM pretraining", "party_list_status": "entity_list", "party_list_policy": "presumption_of_denial",
     "item_origin": "us_origin", "us_content_pct": "100", "eccn": "3A090.a", "consignee_year_tpp": "1500.5",
     "notification_date": "2025-01-02"},
    {"id": "t2", "date": "", "kind": "reexport", "item": "MI300X", "quantity": "1", "unit_value_usd": "0",
     "destination_country": "NL", "end_use": "datacenter;research", "party_list_status": "none", "item_origin": "foreign_made",
     "eccn": "EAR99"},
]

EXPECTED_SCHEMA = {"__row": pl.Int64, **{c: pl.String for c in TX_COLUMNS},
                   "date": pl.Date, "notification_date": pl.Date, "quantity": pl.Int64,
                   "unit_value_usd": pl.Float64, "us_content_pct": pl.Float64, "consignee_year_tpp": pl.Float64}


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def load(path: Path) -> pl.DataFrame:
    return validate_transactions(read_transaction_file(path), str(path))


def load_text(tmp_path: Path, name: str, content: str | bytes) -> pl.DataFrame:
    return load(write(tmp_path, name, content))


def csv_text(rows: list[dict[str, str]]) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    lines = [",".join(cols)] + [",".join(f'"{r.get(c, "")}"' for c in cols) for r in rows]
    return "\n".join(lines) + "\n"


def error_of(tmp_path: Path, name: str, content: str | bytes) -> InputError:
    with pytest.raises(InputError) as info:
        load_text(tmp_path, name, content)
    message = str(info.value)
    assert "\n" not in message, message
    return info.value


# --- the typed frame -----------------------------------------------------------------------------


def test_columns_and_types(tmp_path):
    out = load_text(tmp_path, "tx.csv", csv_text(ROWS))
    assert out.columns == ["__row", *TX_COLUMNS]
    assert dict(out.schema) == EXPECTED_SCHEMA
    assert out["__row"].to_list() == [1, 2]
    first = out.row(0, named=True)
    assert first["date"] == dt.date(2025, 1, 15)
    assert first["notification_date"] == dt.date(2025, 1, 2)
    assert first["quantity"] == 8 and first["unit_value_usd"] == 25000.0 and first["consignee_year_tpp"] == 1500.5
    assert first["end_use"] == "ai_training" and first["end_use_text"] == "LLM pretraining"
    second = out.row(1, named=True)
    assert second["date"] is None  # empty cell = unknown, not an error
    assert second["eccn"] == "EAR99" and second["end_use"] == "datacenter;research"


def test_same_frame_from_csv_json_yaml_parquet(tmp_path):
    from_csv = load_text(tmp_path, "tx.csv", csv_text(ROWS))
    from_json = load_text(tmp_path, "tx.json", json.dumps(ROWS))
    from_yaml = load_text(tmp_path, "tx.yaml", yaml.safe_dump(ROWS))
    parquet = tmp_path / "tx.parquet"
    pl.DataFrame(ROWS, schema={c: pl.String for c in dict.fromkeys(k for r in ROWS for k in r)}).write_parquet(parquet)
    from_parquet = load(parquet)
    assert_frame_equal(from_json, from_csv)
    assert_frame_equal(from_yaml, from_csv)
    assert_frame_equal(from_parquet, from_csv)


def test_typed_parquet_columns(tmp_path):
    """Parquet keeps its types: integer quantities, real dates and timestamps read like their text."""
    parquet = tmp_path / "typed.parquet"
    pl.DataFrame({
        "id": [1, 2],
        "date": [dt.date(2025, 1, 15), None],
        "notification_date": [dt.datetime(2025, 1, 2, 0, 0), None],
        "quantity": pl.Series([8, None], dtype=pl.Int32),
        "unit_value_usd": [25000, 3],
        "destination_country": pl.Series(["cn", "NL"], dtype=pl.Categorical),
    }).write_parquet(parquet)
    out = load(parquet)
    assert dict(out.schema) == EXPECTED_SCHEMA
    assert out["id"].to_list() == ["1", "2"]
    assert out["date"].to_list() == [dt.date(2025, 1, 15), None]
    assert out["notification_date"].to_list() == [dt.date(2025, 1, 2), None]
    assert out["quantity"].to_list() == [8, None]
    assert out["destination_country"].to_list() == ["CN", "NL"]


def test_typed_parquet_bad_value_is_named(tmp_path):
    parquet = tmp_path / "bad.parquet"
    pl.DataFrame({"id": ["a", "b"], "quantity": [3.0, 2.5]}).write_parquet(parquet)
    err = pytest.raises(InputError, load, parquet).value
    assert "bad.parquet: row 2, field quantity" in str(err)


def test_absent_columns_are_typed_nulls(tmp_path):
    out = load_text(tmp_path, "few.csv", "id,quantity\na,3\n")
    assert dict(out.schema) == EXPECTED_SCHEMA
    for c in TX_COLUMNS:
        if c not in ("id", "quantity"):
            assert out[c].null_count() == 1, c


def test_one_row_with_only_id(tmp_path):
    out = load_text(tmp_path, "only_id.csv", "id\nonly\n")
    assert out.height == 1
    assert out["id"].to_list() == ["only"]
    assert dict(out.schema) == EXPECTED_SCHEMA
    assert out.drop("__row", "id").null_count().row(0) == (1,) * (len(TX_COLUMNS) - 1)


def test_empty_and_blank_cells_are_unknown_not_errors(tmp_path):
    header = ",".join(TX_COLUMNS)
    blank = ",".join(["x"] + ["  "] * (len(TX_COLUMNS) - 1))
    out = load_text(tmp_path, "blank.csv", f"{header}\n{blank}\n")
    assert out.drop("__row", "id").null_count().row(0) == (1,) * (len(TX_COLUMNS) - 1)


def test_text_is_stripped_names_keep_their_case(tmp_path):
    out = load_text(tmp_path, "t.csv", 'id,item,consignee_name,end_use_text\n" a ", H100 ,"  ACME Corp. GmbH ",  Fine-Tuning \n')
    row = out.row(0, named=True)
    assert (row["id"], row["item"], row["consignee_name"], row["end_use_text"]) == ("a", "H100", "ACME Corp. GmbH", "Fine-Tuning")


def test_trailing_blank_lines_and_crlf(tmp_path):
    out = load_text(tmp_path, "crlf.csv", "id,quantity\r\na,1\r\nb,2\r\n\r\n\r\n")
    assert out["id"].to_list() == ["a", "b"]
    assert out["quantity"].to_list() == [1, 2]


def test_numbers_with_spaces_and_exponents(tmp_path):
    out = load_text(tmp_path, "n.csv", 'id,quantity,unit_value_usd,us_content_pct\na, 8 ,2.5e4,12.5\nb,1e3,"",0\n')
    assert out["quantity"].to_list() == [8, 1000]
    assert out["unit_value_usd"].to_list() == [25000.0, None]
    assert out["us_content_pct"].to_list() == [12.5, 0.0]


# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "expected"), [
    ("Export", "export"), ("REEXPORT", "reexport"), ("re-export", "reexport"), ("transfer", "transfer"),
    ("in-country transfer", "transfer"), ("transfer_in_country", "transfer"), ("In_Country_Transfer", "transfer"),
])
def test_kind_aliases(tmp_path, given, expected):
    assert load_text(tmp_path, "k.csv", f"id,kind\na,{given}\n")["kind"].item() == expected


@pytest.mark.parametrize(("given", "expected"), [
    ("us", "us_origin"), ("US-Origin", "us_origin"), ("us_origin", "us_origin"), ("foreign", "foreign_made"),
    ("Foreign-Made", "foreign_made"), ("fdp", "foreign_direct_product"), ("foreign direct product", "foreign_direct_product"),
])
def test_item_origin_aliases(tmp_path, given, expected):
    assert load_text(tmp_path, "o.csv", f"id,item_origin\na,{given}\n")["item_origin"].item() == expected


def test_codes_normalised(tmp_path):
    out = load_text(tmp_path, "n.csv", "id,destination_country,end_user_hq_country,eccn,party_list_status,party_list_policy\n"
                                       'a,cn, xk ,3a090.A,"Entity_List, entity_list;MEU",Case-By-Case\n'
                                       "b,Nl,US,ear99,NONE,presumption_of_approval\n")
    assert out["destination_country"].to_list() == ["CN", "NL"]
    assert out["end_user_hq_country"].to_list() == ["XK", "US"]
    assert out["eccn"].to_list() == ["3A090.a", "EAR99"]
    assert out["party_list_status"].to_list() == ["entity_list;meu", "none"]
    assert out["party_list_policy"].to_list() == ["case_by_case", "presumption_of_approval"]


def test_end_use_codes_keep_order_and_drop_repeats(tmp_path):
    out = load_text(tmp_path, "e.csv", 'id,end_use\na,"Research, datacenter;research"\nb,AI-Training\n')
    assert out["end_use"].to_list() == ["research;datacenter", "ai_training"]
    assert out["end_use_text"].to_list() == [None, None]


def test_end_use_free_text(tmp_path):
    out = load_text(tmp_path, "e.csv", 'id,end_use,end_use_text\n'
                                       'a,"ai_training: LLM pretraining, for ACME; phase 2",\n'
                                       'b,"datacenter; ai_inference:  chat service ",\n'
                                       'c,"military: drones",explicit text wins\n'
                                       'd,"commercial:",\n')
    assert out["end_use"].to_list() == ["ai_training", "datacenter;ai_inference", "military", "commercial"]
    assert out["end_use_text"].to_list() == ["LLM pretraining, for ACME; phase 2", "chat service", "explicit text wins", None]


def test_end_use_free_text_without_end_use_text_column_in_json(tmp_path):
    out = load_text(tmp_path, "e.json", '[{"id": "a", "end_use": "research: university lab"}]')
    assert (out["end_use"].item(), out["end_use_text"].item()) == ("research", "university lab")


@pytest.mark.parametrize("distinct", [2, 20])
def test_normalised_alike_for_few_and_many_distinct_values(tmp_path, distinct):
    """Few values to rewrite and many take different routes through the validator; the result is the same."""
    codes = sorted(ISO_ALPHA2)[:distinct]
    rows = [(f"t{i}", codes[i % distinct].lower(), f" 2025-01-{i % distinct + 1:02d}", f"research: lab {i % distinct}")
            for i in range(3 * distinct)]
    text = "id,destination_country,date,end_use\n" + "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in rows)
    out = load_text(tmp_path, "many.csv", text)
    assert out["destination_country"].to_list() == [b.upper() for _, b, _, _ in rows]
    assert out["date"].to_list() == [dt.date.fromisoformat(c.strip()) for _, _, c, _ in rows]
    assert out["end_use"].to_list() == ["research"] * len(rows)
    assert out["end_use_text"].to_list() == [d.split(": ")[1] for *_, d in rows]


def test_yaml_keeps_codes_and_ids_as_written(tmp_path):
    """YAML 1.1 would read NO (Norway) as false and 0123 as the octal 83."""
    out = load_text(tmp_path, "y.yaml", "- id: 0123\n  destination_country: NO\n  quantity: 4\n  date: 2025-03-01\n")
    row = out.row(0, named=True)
    assert (row["id"], row["destination_country"], row["quantity"], row["date"]) == ("0123", "NO", 4, dt.date(2025, 3, 1))


def test_yaml_and_json_single_object(tmp_path):
    assert load_text(tmp_path, "one.yaml", "id: a\nkind: export\n")["kind"].to_list() == ["export"]
    assert load_text(tmp_path, "one.json", '{"id": "a", "quantity": 2}')["quantity"].to_list() == [2]


def test_iso_list():
    assert len(ISO_ALPHA2) == 249
    assert {"US", "CN", "NL", "TW", "HK", "MO", "SS", "BQ", "SX", "CW", "AX"} <= ISO_ALPHA2
    assert not {"UK", "EU", "EL", "AN", "XK"} & ISO_ALPHA2
    assert ISO_ALPHA2 | {"XK"} == COUNTRY_CODES


def test_fields_table():
    assert tuple(TX_FIELDS) == TX_COLUMNS
    assert set(TX_COLUMNS) == {
        "id", "date", "kind", "item", "quantity", "unit_value_usd", "from_country", "destination_country", "consignee_country",
        "consignee_hq_country", "end_user_country", "end_user_hq_country", "ultimate_parent_hq_country", "consignee_name",
        "end_user_name", "end_use", "end_use_text", "party_list_status", "party_list_policy", "item_origin", "us_content_pct",
        "eccn", "consignee_year_tpp", "notification_date"}
    assert all(isinstance(kind, str) and help_text for kind, help_text in TX_FIELDS.values())


# --- the Python API ------------------------------------------------------------------------------


def test_from_python_single_and_list():
    one = transactions_from_python({"kind": "Export", "destination_country": "cn", "quantity": 2, "date": dt.date(2025, 1, 1)})
    assert one["id"].to_list() == ["tx1"]
    assert (one["kind"].item(), one["destination_country"].item(), one["quantity"].item()) == ("export", "CN", 2)
    assert one["date"].item() == dt.date(2025, 1, 1)
    many = transactions_from_python([{"id": "mine"}, {"quantity": 3}, {"id": None}])
    assert many["id"].to_list() == ["mine", "tx2", "tx3"]


def test_from_python_bad_value_names_source_row_and_field():
    with pytest.raises(InputError) as info:
        transactions_from_python([{"quantity": 1}, {"quantity": -1}], source="api")
    assert str(info.value).startswith("api: row 2, field quantity:")
    assert info.value.row == 2 and info.value.field == "quantity"


def test_validate_rejects_unknown_column_and_missing_id():
    with pytest.raises(InputError, match="field colour: unknown column"):
        validate_transactions(pl.DataFrame({"id": ["a"], "colour": ["red"]}), "frame")
    with pytest.raises(InputError, match="field id: the id column is missing"):
        validate_transactions(pl.DataFrame({"kind": ["export"]}), "frame")
    with pytest.raises(InputError, match="frame: no rows"):
        validate_transactions(pl.DataFrame({"id": []}, schema={"id": pl.String}), "frame")
    with pytest.raises(InputError, match="frame: row 2, field end_use: a list"):
        validate_transactions(pl.DataFrame({"id": ["a", "b"], "end_use": [None, ["datacenter"]]}), "frame")


# --- bad cells: file, row and field named -------------------------------------------------------

BAD_CELLS = {
    # case: (header, bad cell, field, words the message must also hold)
    "date_malformed": ("date", "2025-1-5", "date", ["'2025-1-5'", "YYYY-MM-DD"]),
    "date_impossible": ("date", "2025-02-30", "date", ["2025-02-30"]),
    "date_words": ("date", "yesterday", "date", ["yesterday"]),
    "notification_date": ("notification_date", "01/02/2025", "notification_date", ["01/02/2025"]),
    "kind": ("kind", "shipment", "kind", ["'shipment'", "export, reexport or transfer"]),
    "quantity_zero": ("quantity", "0", "quantity", ["whole number >= 1"]),
    "quantity_fraction": ("quantity", "1.5", "quantity", ["whole number >= 1"]),
    "quantity_negative": ("quantity", "-3", "quantity", ["negative"]),
    "quantity_text": ("quantity", "eight", "quantity", ["'eight' is not a number"]),
    "quantity_nan": ("quantity", "NaN", "quantity", ["not a number"]),
    "value_inf": ("unit_value_usd", "inf", "unit_value_usd", ["not a number", "US dollars"]),
    "value_huge": ("unit_value_usd", "1e15", "unit_value_usd", ["implausibly large", "check the unit"]),
    "value_negative": ("unit_value_usd", "-1", "unit_value_usd", ["negative"]),
    "tpp_negative": ("consignee_year_tpp", "-0.5", "consignee_year_tpp", ["negative", "TPP"]),
    "pct_over_100": ("us_content_pct", "101", "us_content_pct", ["more than 100", "from 0 to 100"]),
    "country_uk": ("destination_country", "UK", "destination_country", ["'UK'", "use GB"]),
    "country_alpha3": ("consignee_hq_country", "CHN", "consignee_hq_country", ["alpha-3", "use the 2-letter code CN"]),
    "country_unassigned": ("end_user_country", "ZZ", "end_user_country", ["'ZZ'", "ISO 3166-1 alpha-2"]),
    "country_name": ("from_country", "China", "from_country", ["'China'"]),
    "end_use_unknown": ("end_use", "datacenter;gaming", "end_use", ["unknown end-use code 'gaming'", "ai_training"]),
    "end_use_no_code": ("end_use", ": just text", "end_use", ["no end-use code"]),
    "party_unknown": ("party_list_status", "entity list fn9", "party_list_status", ["unknown party list code", "entity_list_fn4"]),
    "party_none_plus": ("party_list_status", "none;entity_list", "party_list_status", ["combines none", "none alone"]),
    "policy": ("party_list_policy", "deny", "party_list_policy", ["'deny'", "presumption_of_denial"]),
    "origin": ("item_origin", "martian", "item_origin", ["'martian'", "us_origin"]),
    "eccn": ("eccn", "3A09", "eccn", ["'3A09' is not an ECCN", "EAR99"]),
    "eccn_letter": ("eccn", "3F090", "eccn", ["'3F090'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CELLS))
def test_bad_cell_names_file_row_and_field(tmp_path, case):
    header, cell, field, words = BAD_CELLS[case]
    name = f"{case}.csv"
    err = error_of(tmp_path, name, f'id,{header}\nok,\nbad,"{cell}"\n')
    message = str(err)
    assert message.startswith(f"{tmp_path / name}: row 2, field {field}: "), message
    for w in words:
        assert w in message, (w, message)
    assert (err.row, err.field) == (2, field)


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_bad_cell_in_json_and_yaml(tmp_path, suffix):
    rows = [{"id": "a", "quantity": 2}, {"id": "b", "quantity": 2}, {"id": "c", "destination_country": "UK"}]
    text = json.dumps(rows) if suffix == "json" else yaml.safe_dump(rows)
    message = str(error_of(tmp_path, f"tx.{suffix}", text))
    assert "row 3, field destination_country" in message and "use GB" in message


def test_duplicate_id(tmp_path):
    message = str(error_of(tmp_path, "dup.csv", "id,quantity\na,1\nb,1\n a ,1\n"))
    assert "dup.csv: row 3, field id: duplicate id 'a' (also in row 1)" in message


def test_empty_id(tmp_path):
    message = str(error_of(tmp_path, "noid.csv", "id,quantity\na,1\n  ,2\n"))
    assert "noid.csv: row 2, field id: empty id" in message


def test_earliest_bad_row_wins(tmp_path):
    # row 3 is bad in an early field, row 2 in a late one: row 2 is reported
    message = str(error_of(tmp_path, "order.csv", "id,date,eccn\na,2025-01-01,3A090\nb,2025-01-01,nonsense\nc,bad-date,3A090\n"))
    assert "row 2, field eccn" in message
    # two bad fields in one row: the first field of TX_COLUMNS is reported
    message = str(error_of(tmp_path, "same.csv", "id,eccn,quantity\na,nonsense,0\n"))
    assert "row 1, field quantity" in message


def test_earliest_bad_row_wins_in_a_large_file(tmp_path):
    n = 20_000
    lines = ["id,quantity,destination_country"] + [f"t{i},{i % 7 + 1},{'CN' if i % 2 else 'nl'}" for i in range(1, n + 1)]
    lines[15_000] = "t15000,5,UK"
    lines[18_000] = "t18000,abc,CN"
    message = str(error_of(tmp_path, "big.csv", "\n".join(lines) + "\n"))
    assert "big.csv: row 15000, field destination_country" in message
    lines[12_345] = "t12345,-4,CN"
    message = str(error_of(tmp_path, "big2.csv", "\n".join(lines) + "\n"))
    assert "big2.csv: row 12345, field quantity: -4 is negative" in message
    lines[18_000] = "t18000,2.5,CN"  # every cell a number: the fast CSV path; its checks find the same rows
    message = str(error_of(tmp_path, "big3.csv", "\n".join(lines) + "\n"))
    assert "big3.csv: row 12345, field quantity: -4 is negative" in message
    lines[12_345] = "t12345,4,CN"
    lines[15_000] = "t15000,5,CN"
    message = str(error_of(tmp_path, "big4.csv", "\n".join(lines) + "\n"))
    assert "big4.csv: row 18000, field quantity: 2.5 is not a whole number >= 1" in message


# --- bad files ----------------------------------------------------------------------------------

BAD_FILES = {
    # case: (file name, content, words the message must hold)
    "empty": ("empty.csv", "", ["empty.csv", "empty"]),
    "blank": ("blank.json", "  \n\n", ["blank.json", "empty"]),
    "binary": ("bin.csv", b"id\x00\x01\x02\xff", ["bin.csv", "binary"]),
    "not_utf8": ("latin1.csv", "id,consignee_name\na,Société Générale\n".encode("latin-1"), ["latin1.csv", "line 2", "UTF-8"]),
    "bad_json": ("bad.json", '[{"id": "a"},\n {"id": }]', ["bad.json", "line 2", "not valid JSON"]),
    "bad_yaml": ("bad.yaml", "- id: a\n  kind: [export\n", ["bad.yaml", "not valid YAML", "line"]),
    "header_only": ("header.csv", "id,kind\n", ["header.csv", "no data rows"]),
    "empty_json_list": ("none.json", "[]", ["none.json", "no rows"]),
    "empty_yaml": ("none.yaml", "# nothing\n", ["none.yaml", "empty"]),
    "unknown_column_csv": ("unk.csv", "id,colour\na,red\n", ["unk.csv", "field colour: unknown column", "use only id, date, kind"]),
    "unknown_column_json": ("unk.json", '[{"id": "a"}, {"id": "b", "qty": 3}]', ["unk.json", "row 2, field qty: unknown column", "quantity"]),
    "unknown_column_yaml": ("unk.yaml", "- id: a\n  dest: CN\n", ["unk.yaml", "row 1, field dest: unknown column"]),
    "duplicate_column_csv": ("dupcol.csv", "id,kind,kind\na,export,export\n", ["dupcol.csv", "field kind: duplicate column"]),
    "duplicate_column_json": ("dupcol.json", '[{"id": "a", "kind": "export", "kind": "transfer"}]',
                              ["dupcol.json", "row 1, field kind: duplicate column"]),
    "duplicate_column_yaml": ("dupcol.yaml", "- id: a\n- id: b\n  quantity: 1\n  quantity: 2\n", ["dupcol.yaml", "row 2, field quantity: duplicate column"]),
    "missing_id_column": ("noid.csv", "kind\nexport\n", ["noid.csv", "field id: the id column is missing"]),
    "row_not_object": ("list.json", '[{"id": "a"}, "b"]', ["list.json", "row 2 is not an object"]),
    "nested_value": ("nested.json", '[{"id": "a", "end_use": ["datacenter"]}]', ["nested.json", "row 1, field end_use", "a list or object"]),
    "parquet_suffix_not_parquet": ("fake.parquet", "id\na\n", ["fake.parquet", "not a Parquet file"]),
    "broken_parquet": ("broken.parquet", b"PAR1" + b"\x00" * 40 + b"PAR1", ["broken.parquet", "not a readable Parquet file"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file(tmp_path, case):
    name, content, words = BAD_FILES[case]
    message = str(error_of(tmp_path, name, content))
    for w in words:
        assert w in message, (w, message)


def test_file_not_found(tmp_path):
    with pytest.raises(InputError, match="nowhere.csv: file not found"):
        read_transaction_file(tmp_path / "nowhere.csv")


def test_unknown_column_in_parquet(tmp_path):
    parquet = tmp_path / "unk.parquet"
    pl.DataFrame({"id": ["a"], "colour": ["red"]}).write_parquet(parquet)
    with pytest.raises(InputError, match=r"unk\.parquet: field colour: unknown column; use only id, date"):
        read_transaction_file(parquet)


def test_empty_parquet(tmp_path):
    parquet = tmp_path / "empty.parquet"
    pl.DataFrame({"id": []}, schema={"id": pl.String}).write_parquet(parquet)
    with pytest.raises(InputError, match="no rows"):
        read_transaction_file(parquet)


def test_parquet_sniffed_without_suffix(tmp_path):
    target = tmp_path / "tx.data"
    pl.DataFrame({"id": ["a"], "quantity": [2]}).write_parquet(target)
    assert load(target)["quantity"].to_list() == [2]


def test_bom_csv(tmp_path):
    out = load_text(tmp_path, "bom.csv", "\ufeffid,kind\na,export\n".encode())
    assert out["kind"].to_list() == ["export"]


def test_a_new_mix_of_values_already_seen_reads_as_each_value_did_alone():
    # each coded value's normal form is kept on its own (the service validates batch after batch of
    # other mixes of the same few countries and codes): a new mix must read exactly as before, and a
    # bad value among known ones must still be reported with its row
    def frame(dests: list[str]) -> pl.DataFrame:
        return transactions_from_python([{"id": f"t{i}", "kind": "export", "destination_country": d, "end_use": "ai_training: a model"}
                                         for i, d in enumerate(dests)])

    alone = {d: frame([d]).item(0, "destination_country") for d in ("cn", " DE", "jp ", "Mo")}
    mixed = frame(["Mo", "jp ", "cn", " DE", "cn"])
    assert mixed["destination_country"].to_list() == [alone[d] for d in ("Mo", "jp ", "cn", " DE", "cn")] == ["MO", "JP", "CN", "DE", "CN"]
    assert mixed["end_use_text"].to_list() == ["a model"] * 5
    with pytest.raises(InputError) as bad:
        frame(["cn", "jp ", "XX"])
    assert "row 3" in str(bad.value) and "destination_country" in str(bad.value)
