"""The CLI contract of issue #2: `aiexport classify --spec FILE --as-of DATE --json` and friends."""

from __future__ import annotations

import json

import polars as pl

from tests.conftest import SCENARIO_H20, run_cli

REQUIRED = {"id", "as_of", "control", "tpp", "performance_density", "rule_version", "rulebook_hash", "reasons"}
CSV = """id,name,vendor,datacenter,fp8,int8,fp16,die_area_mm2,io_bidir_gbps,memory_bw_gbps,hbm,contains,count,base_eccn
h100,H100 SXM,NVIDIA,yes,1979,1979,989.4,814,1028,3350,yes,,,
mystery,no data,ACME,yes,,,,,,,,,,
rtx,RTX 4090,NVIDIA,no,660.6,660.6,330,608.44,64,1008,no,,,
srv,server,ACME,,,,,,,,,h100,8,
z,5A992 box,ACME,yes,1979,,,814,1028,,,,,5A992.c
"""


def test_classify_spec_json_contract(tmp_path):
    spec = tmp_path / "chips.csv"
    spec.write_text(CSV, encoding="utf-8")
    proc = run_cli("classify", "--spec", str(spec), "--as-of", "2024-06-01", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ["h100", "mystery", "rtx", "srv", "z"]  # input order
    for r in rows:
        assert set(r) >= REQUIRED, set(REQUIRED) - set(r)
        assert r["as_of"] == "2024-06-01"
        for reason in r["reasons"]:
            assert {"rule", "citation", "text_en", "text_zh"} <= set(reason)
    by = {r["id"]: r for r in rows}
    assert by["h100"]["control"] == "3A090.a" and by["h100"]["tpp"] == 15832
    assert by["mystery"]["control"] == "indeterminate" and by["mystery"]["tpp"] is None
    assert by["rtx"]["control"] == "3A090.a" and by["rtx"]["license_exceptions"] == ["NAC/ACA"]
    assert by["srv"]["control"] == "4A090.a"
    assert by["z"]["control"] == "5A992.z.1"
    assert len({r["rulebook_hash"] for r in rows}) == 1


def test_json_and_yaml_specs(tmp_path):
    js = tmp_path / "one.json"
    js.write_text(json.dumps({"id": "a", "int8": 600, "datacenter": True}), encoding="utf-8")
    ym = tmp_path / "many.yaml"
    ym.write_text("- {id: a, int8: 600, datacenter: yes}\n- {id: b, fp16: 100, die_area_mm2: 100, datacenter: no}\n", encoding="utf-8")
    for path, ids in ((js, ["a"]), (ym, ["a", "b"])):
        proc = run_cli("classify", "--spec", str(path), "--as-of", "2024-06-01", "--json")
        assert proc.returncode == 0, proc.stderr
        got = [json.loads(x) for x in proc.stdout.splitlines()]
        assert [g["id"] for g in got] == ids
        assert got[0]["control"] == "3A090.a"


def test_output_files(tmp_path):
    spec = tmp_path / "chips.csv"
    spec.write_text(CSV, encoding="utf-8")
    for ext in ("parquet", "csv", "jsonl"):
        out = tmp_path / f"out.{ext}"
        proc = run_cli("classify", "--spec", str(spec), "--as-of", "2024-06-01", "--output", str(out))
        assert proc.returncode == 0, proc.stderr
        df = {"parquet": pl.read_parquet, "csv": pl.read_csv, "jsonl": pl.read_ndjson}[ext](out)
        assert df.height == 5 and df["control"][0] == "3A090.a"
    bad = run_cli("classify", "--spec", str(spec), "--output", str(tmp_path / "out.xlsx"))
    assert bad.returncode == 2 and "--output" in bad.stderr


def test_human_output_english_and_chinese():
    en = run_cli("classify", "H20", "--as-of", "2026-01-01")
    assert en.returncode == 0, en.stderr
    assert "NONE" in en.stdout and "2432 below" in en.stdout and "88 FR 73458" in en.stdout
    zh = run_cli("classify", "H20", "--as-of", "2026-01-01", "--lang", "zh")
    assert zh.returncode == 0 and "总处理性能" in zh.stdout and "低2432" in zh.stdout


def test_scenario_flag_and_rules_command():
    proc = run_cli("classify", "H20", "--as-of", "2026-01-01", "--scenario", str(SCENARIO_H20), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["control"] == "3A090.b"
    rules = run_cli("rules", "--as-of", "2024-01-01")
    assert rules.returncode == 0 and "a1_tpp" in rules.stdout and "88 FR 73458" in rules.stdout
    rj = json.loads(run_cli("rules", "--as-of", "2024-01-01", "--json").stdout)
    assert len(rj["rulebook_hash"]) == 64


def test_catalog_commands():
    lst = run_cli("catalog", "list", "--json")
    items = [json.loads(x) for x in lst.stdout.splitlines()]
    assert sum(1 for i in items if i["item_type"] == "ic") >= 30
    show = run_cli("catalog", "show", "H100")
    assert show.returncode == 0 and "nvidia.com" in show.stdout.lower()
    miss = run_cli("catalog", "show", "H1OO")
    assert miss.returncode == 2 and miss.stderr.count("\n") == 1


def test_demo_runs():
    proc = run_cli("demo")
    assert proc.returncode == 0, proc.stderr
    assert "A800" in proc.stdout and "2023-11-17" in proc.stdout and "Traceback" not in proc.stderr
