"""Bad input through the installed `aiexport` command.

Issue contract: "Bad inputs give the one-line error and exit 2" — one line on stderr starting
with "error: " that names the file, the row and the field (where there is one) and how to fix it;
exit status 2; never a traceback. Exit status 0 means it ran, indeterminate rows included.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

_LOCAL = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "aiexport"
AIEXPORT = str(_LOCAL) if _LOCAL.exists() else shutil.which("aiexport")

pytestmark = pytest.mark.skipif(AIEXPORT is None, reason="the aiexport console script is not installed")

GOOD_CSV = "id,fp8,die_area_mm2,datacenter\nok1,100,500,yes\n"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AIEXPORT, *args], cwd=cwd, capture_output=True, text=True, errors="replace", timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *must: str) -> str:
    """Exit 2, exactly one non-empty stderr line starting with 'error:', naming each of `must`."""
    err = proc.stderr
    assert "Traceback" not in err, err
    assert proc.returncode == 2, f"exit {proc.returncode}, stderr {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"stderr must be one line, got {len(lines)}: {err!r}"
    line = lines[0]
    assert line.strip() and line.startswith("error:"), line
    for m in must:
        assert m in line, f"{m!r} not named in {line!r}"
    return line


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def classify_file(tmp_path: Path, name: str, content: str | bytes, *extra: str) -> subprocess.CompletedProcess[str]:
    write(tmp_path, name, content)
    return run("classify", "--spec", name, "--as-of", "2024-01-01", "--json", *extra, cwd=tmp_path)


# --- cell-level errors: file, row and field named ---------------------------------------------------

CELL_CASES = {
    # case: (file name, content, strings the message must contain)
    "negative_rate": ("neg.csv", "id,fp8,die_area_mm2\na,10,100\nb,-5,100\n", ["neg.csv", "row 2", "fp8"]),
    "non_numeric_rate": ("abc.csv", "id,fp16\na,abc\n", ["abc.csv", "row 1", "fp16"]),
    "nan_rate": ("nan.csv", "id,bf16\na,1\nb,NaN\n", ["nan.csv", "row 2", "bf16"]),
    "inf_rate": ("inf.csv", "id,int8\na,inf\n", ["inf.csv", "row 1", "int8"]),
    "minus_inf_rate": ("minf.csv", "id,int8\na,-inf\n", ["minf.csv", "row 1", "int8"]),
    "nan_rate_json": ("nan.json", '[{"id": "a", "fp8": NaN}]', ["nan.json", "row 1", "fp8"]),
    "datacenter_maybe": ("dc.csv", "id,fp8,datacenter\na,1,yes\nb,1,maybe\n", ["dc.csv", "row 2", "datacenter"]),
    "nested_object_json": ("nested.json", '[{"id": "a", "fp8": {"dense": 1}}]', ["nested.json", "row 1", "fp8"]),
    "system_contains_unknown": ("sys.csv", "id,contains,count\ns1,NoSuchAcceleratorAnywhere,8\n",
                                ["sys.csv", "row 1", "contains"]),
}


@pytest.mark.parametrize("case", sorted(CELL_CASES))
def test_bad_cell_names_file_row_and_field(tmp_path, case):
    name, content, must = CELL_CASES[case]
    assert_one_line_error(classify_file(tmp_path, name, content), *must)


def test_duplicate_ids(tmp_path):
    line = assert_one_line_error(classify_file(tmp_path, "dup.csv", "id,fp8\na,1\nb,2\na,3\n"), "dup.csv", "id", "duplicate")
    assert "row 1" in line or "row 3" in line, line


# --- column-level errors: file and field named -------------------------------------------------------

def test_unknown_column_csv(tmp_path):
    assert_one_line_error(classify_file(tmp_path, "unk.csv", "id,fp8,bogus_col\na,1,2\n"), "unk.csv", "bogus_col")


def test_unknown_column_json(tmp_path):
    assert_one_line_error(classify_file(tmp_path, "unk.json", '[{"id": "a", "bogus_col": 2}]'), "unk.json", "row 1", "bogus_col")


def test_unknown_column_with_newline_in_name_json(tmp_path):
    assert_one_line_error(classify_file(tmp_path, "nl.json", '[{"id": "a", "bo\\ngus": 2}]'), "nl.json", "row 1")


def test_missing_id_column(tmp_path):
    assert_one_line_error(classify_file(tmp_path, "noid.csv", "name,fp8\nchip,1\n"), "noid.csv", "id")


# --- file-level errors: the file named -------------------------------------------------------------

FILE_CASES = {
    "empty_file": ("empty.csv", b""),
    "whitespace_only": ("blank.csv", b"  \n\t \r\n   \n"),
    "header_only_csv": ("header.csv", b"id,fp8,die_area_mm2\n"),
    "binary_with_nul": ("garbage.csv", bytes(range(256)) * 4),
    "png_header": ("picture.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00"),
    "png_signature_only": ("sig.png", b"\x89PNG\r\n\x1a\n"),
    "latin1_text": ("latin1.csv", "id,name,fp8\na,Caf\u00e9 \u00fcber,1\n".encode("latin-1")),
    "invalid_json": ("broken.json", b'[{"id": "a", "fp8": 1,'),
    "invalid_yaml": ("broken.yaml", b"- id: a\n  fp8: [1, 2\n  die_area_mm2: 3\n"),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_file_names_the_file(tmp_path, case):
    name, content = FILE_CASES[case]
    assert_one_line_error(classify_file(tmp_path, name, content), name)


def test_random_bytes_with_nul(tmp_path):
    import random

    rnd = random.Random(20240101)
    blob = bytes(rnd.randrange(256) for _ in range(4096)) + b"\x00"
    assert_one_line_error(classify_file(tmp_path, "random.bin", blob), "random.bin")


# --- options and names -------------------------------------------------------------------------------

@pytest.mark.parametrize("bad_date", ["2024-13-45", "yesterday"])
def test_malformed_as_of(tmp_path, bad_date):
    write(tmp_path, "ok.csv", GOOD_CSV)
    proc = run("classify", "--spec", "ok.csv", "--as-of", bad_date, "--json", cwd=tmp_path)
    assert_one_line_error(proc, "--as-of", bad_date)


def test_scenario_file_that_does_not_exist(tmp_path):
    write(tmp_path, "ok.csv", GOOD_CSV)
    proc = run("classify", "--spec", "ok.csv", "--as-of", "2024-01-01", "--scenario", "no_such_scenario.yaml", "--json",
               cwd=tmp_path)
    assert_one_line_error(proc, "no_such_scenario.yaml", "scenario")


def test_unknown_catalog_name(tmp_path):
    proc = run("classify", "Definitely Not A Chip 9000", "--as-of", "2024-01-01", "--json", cwd=tmp_path)
    assert_one_line_error(proc, "NAME", "Definitely Not A Chip 9000")


def test_name_and_spec_both_given(tmp_path):
    write(tmp_path, "ok.csv", GOOD_CSV)
    proc = run("classify", "H100", "--spec", "ok.csv", "--as-of", "2024-01-01", "--json", cwd=tmp_path)
    assert_one_line_error(proc, "NAME", "--spec")


# --- the other side of the contract: a valid file with an indeterminate row runs --------------------

def test_indeterminate_row_exits_zero(tmp_path):
    """A valid file whose row cannot be decided (no die area for a 3A090.a.2/.b candidate) exits 0."""
    import json

    content = "id,fp16,datacenter\nknown,400,yes\nunknown,150,yes\n"
    proc = classify_file(tmp_path, "valid.csv", content)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [r["id"] for r in rows] == ["known", "unknown"]
    assert rows[0]["control"] == "3A090.a"
    assert rows[1]["control"] == "indeterminate"
    assert "die_area_mm2" in rows[1]["missing"]
