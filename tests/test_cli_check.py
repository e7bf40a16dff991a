"""`aiexport check` and `aiexport impact` through the installed command (issue #3 contract).

Contract: `--json` prints one object per transaction, per line, in input order, with at least id,
verdict, license_exception, review_policy, earliest_ship_date, control, findings (rule, citation,
text_en, text_zh) and rulebook_hash; CSV, JSON, YAML and Parquet in; JSONL, CSV and Parquet out;
exit 0 when it ran, 2 on bad input with one line naming file, row and field; never a traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "examples" / "order_book.csv"
SCENARIO = ROOT / "src" / "aiexport" / "rules" / "scenarios" / "h20_class.yaml"
_LOCAL = ROOT / ".venv" / "bin" / "aiexport"
AIEXPORT = str(_LOCAL) if _LOCAL.exists() else shutil.which("aiexport")

pytestmark = pytest.mark.skipif(AIEXPORT is None, reason="the aiexport console script is not installed")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AIEXPORT, *args], cwd=cwd, capture_output=True, text=True, errors="replace", timeout=180)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def answers() -> list[dict]:
    proc = run("check", str(BOOK), "--json")
    assert proc.returncode == 0, proc.stderr
    return jsonl(proc.stdout)


def test_json_contract_one_object_per_line_in_input_order(answers):
    ids = pl.read_csv(BOOK)["id"].to_list()
    assert [a["id"] for a in answers] == ids
    for a in answers:
        for key in ("id", "verdict", "license_exception", "review_policy", "earliest_ship_date", "control", "findings", "rulebook_hash"):
            assert key in a, key
        assert a["verdict"] in ("not_subject_to_ear", "no_license_required", "license_exception", "notification_required",
                                "indeterminate", "license_required", "prohibited")
        assert a["review_policy"] in (None, "presumption_of_denial", "case_by_case", "presumption_of_approval")
        for f in a["findings"]:
            assert {"rule", "citation", "text_en", "text_zh"} <= set(f)


def test_example_book_verdicts(answers):
    # the sample book's lines mirror the acceptance cases (see tests/test_acceptance_licensing.py)
    by_id = {a["id"]: a for a in answers}
    expect = {"SO-1001": "license_required", "SO-1002": "no_license_required", "SO-1004": "notification_required",
              "SO-1005": "no_license_required", "SO-1006": "license_required", "SO-1007": "license_required",
              "SO-1008": "not_subject_to_ear", "SO-1011": "license_required", "SO-1012": "prohibited", "SO-1013": "license_required",
              "SO-1020": "indeterminate", "SO-1021": "indeterminate", "SO-1023": "no_license_required", "SO-1024": "license_required"}
    assert {k: by_id[k]["verdict"] for k in expect} == expect
    assert by_id["SO-1004"]["earliest_ship_date"] == "2024-06-26"
    assert by_id["SO-1009"]["review_policy"] == "case_by_case"
    assert by_id["SO-1010"]["review_policy"] == "presumption_of_denial"


@pytest.mark.parametrize("fmt", ["json", "yaml", "parquet"])
def test_other_input_formats_give_the_same_answers(fmt, tmp_path, answers):
    rows = pl.read_csv(BOOK, infer_schema=False).to_dicts()
    path = tmp_path / f"book.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif fmt == "yaml":
        path.write_text(yaml.safe_dump(rows, allow_unicode=True), encoding="utf-8")
    else:
        pl.read_csv(BOOK).write_parquet(path)
    proc = run("check", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert [(a["id"], a["verdict"], a["review_policy"]) for a in jsonl(proc.stdout)] == \
        [(a["id"], a["verdict"], a["review_policy"]) for a in answers]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_output_files(suffix, tmp_path, answers):
    out = tmp_path / f"out{suffix}"
    proc = run("check", str(BOOK), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "license_required" in proc.stdout  # the summary by verdict
    df = pl.read_parquet(out) if suffix == ".parquet" else pl.read_csv(out) if suffix == ".csv" else pl.read_ndjson(out)
    assert df["id"].to_list() == [a["id"] for a in answers]
    assert df["verdict"].to_list() == [a["verdict"] for a in answers]


def test_enforce_codified_and_lang_zh():
    proc = run("check", str(BOOK), "--json", "--enforce-codified")
    by_id = {a["id"]: a for a in jsonl(proc.stdout)}
    assert (by_id["SO-1002"]["verdict"], by_id["SO-1002"]["license_exception"]) == ("license_exception", "AIA")
    assert by_id["SO-1003"]["license_exception"] == "LPP"
    one = ROOT / "examples" / "order_book.csv"
    zh = run("check", str(one), "--lang", "zh")
    assert zh.returncode == 0 and "须获许可" in zh.stdout


def test_items_from_a_spec_file(tmp_path):
    specs = tmp_path / "specs.csv"
    specs.write_text("id,name,datacenter,fp8,die_area_mm2\nmychip,My accelerator,yes,2000,800\n", encoding="utf-8")
    book = tmp_path / "book.csv"
    book.write_text("id,date,kind,item,from_country,destination_country,consignee_country,consignee_hq_country,"
                    "ultimate_parent_hq_country,end_use,party_list_status,item_origin\n"
                    "x1,2025-06-01,export,mychip,US,CN,CN,CN,CN,datacenter,none,us_origin\n", encoding="utf-8")
    proc = run("check", str(book), "--specs", str(specs), "--json")
    assert proc.returncode == 0, proc.stderr
    [a] = jsonl(proc.stdout)
    assert (a["control"], a["verdict"]) == ("3A090.a", "license_required")  # TPP 16,000


def test_impact_lists_exactly_the_h20_lines():
    # issue #3: "aiexport impact on a sample book with the H20-class scenario lists exactly the H20 lines"
    proc = run("impact", str(BOOK), "--scenario", str(SCENARIO), "--json")
    assert proc.returncode == 0, proc.stderr
    changed = jsonl(proc.stdout)
    book = pl.read_csv(BOOK)
    h20 = set(book.filter(pl.col("item") == "H20")["id"].to_list())
    assert {c["id"] for c in changed} == h20
    # the H20 to China already needs a licence under the April 2025 letter: same verdict, new basis
    assert {c["id"] for c in changed if c["verdict_changed"]} == h20 - {"SO-1011"}
    text = run("impact", str(BOOK), "--scenario", str(SCENARIO))
    assert "3 of 24 lines change verdict" in text.stdout


BAD = [
    ("unknown column", "id,colour\nx,red\n", ["colour"]),
    ("bad country", "id,destination_country\nx,China\n", ["row 1", "destination_country"]),
    ("bad date", "id,date\nx,2024-13-45\n", ["row 1", "date"]),
    ("unknown item", "id,item\nx,Quantum 9000\n", ["row 1", "item"]),
    ("bad kind", "id,kind\nx,smuggle\n", ["row 1", "kind"]),
    ("negative quantity", "id,quantity\nx,-4\n", ["row 1", "quantity"]),
    ("empty file", "", ["empty"]),
]


@pytest.mark.parametrize("label,content,must", BAD, ids=[b[0] for b in BAD])
def test_bad_books_give_one_line_and_exit_2(label, content, must, tmp_path):
    book = tmp_path / "book.csv"
    book.write_text(content, encoding="utf-8")
    proc = run("check", str(book))
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for m in must:
        assert m in lines[0], (m, lines[0])


def test_binary_garbage_and_missing_file(tmp_path):
    junk = tmp_path / "book.csv"
    junk.write_bytes(bytes(range(256)) * 8)
    for args in (["check", str(junk)], ["check", str(tmp_path / "nope.csv")], ["impact", str(junk), "--scenario", str(SCENARIO)]):
        proc = run(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.startswith("error:"), proc.stderr
