"""The rulebook: dated, cited data; the date convention at its boundaries; scenarios; the hash."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

import aiexport
from aiexport.errors import InputError, RulebookError
from aiexport.rulebook import Rulebook, baseline, parse_date
from tests.conftest import ROOT, SCENARIO_H20

RULES = ROOT / "src" / "aiexport" / "rules"


def test_every_fact_is_dated_cited_and_graded():
    """Issue #2: every instrument and parameter is dated, has a status, citations and a fact code."""
    rb = baseline()
    for inst in rb.instruments.values():
        assert inst.instrument.title_en and inst.instrument.title_zh
        for name, par in inst.parameters.items():
            assert par.label_en and par.label_zh, name
            for v in par.values:
                assert v.citation.text(), (inst.id, name)
                assert v.status in ("in_force", "superseded", "codified_not_enforced", "proposed")
                assert v.fact in ("P", "S", "D", "UNCONFIRMED")
        for ver in inst.versions:
            assert ver.citation.text() and ver.title_zh, ver.id
            for p in ver.paragraphs:
                assert p.citation.text() and p.text_en and p.text_zh, p.id


def test_date_convention_boundaries():
    """A version holds from its `from` date inclusive until the day before the next one.
    87 FR 62186 effective 2022-10-07; 88 FR 73458 effective 2023-11-17."""
    assert aiexport.classify("H100", as_of="2022-10-06").control == "none"      # no 3A090 yet
    assert aiexport.classify("H100", as_of="2022-10-07").control == "3A090.a"
    a800_last = aiexport.classify("A800", as_of="2023-11-16")
    a800_first = aiexport.classify("A800", as_of="2023-11-17")
    assert (a800_last.control, a800_last.rule_version) == ("none", "3A090/2022-10-07")
    assert (a800_first.control, a800_first.rule_version) == ("3A090.a", "3A090/2023-11-17")
    assert aiexport.classify("RTX 4090", as_of="2024-04-03").license_exceptions == ["NAC"]
    assert aiexport.classify("RTX 4090", as_of="2024-04-04").license_exceptions == ["NAC/ACA"]


def test_parameter_at():
    par = baseline().instruments["eccn_3a090"].parameters["io_2022"]
    assert par.at(date(2022, 10, 6)) is None
    assert par.at(date(2022, 10, 7)).value == 600
    assert par.at(date(2023, 11, 16)).value == 600
    assert par.at(date(2023, 11, 17)).value is None  # removed by 88 FR 73458


def test_hash_identifies_the_resolved_rules():
    rb = baseline()
    h1 = rb.resolve(date(2024, 1, 1)).rulebook_hash
    h2 = rb.resolve(date(2024, 2, 1)).rulebook_hash
    h3 = rb.resolve(date(2025, 1, 1)).rulebook_hash
    assert h1 == h2              # same versions and values in force
    assert h1 != h3              # 3A090.c and NAC/ACA came in between
    scen = rb.with_scenario(SCENARIO_H20)
    assert scen.resolve(date(2026, 1, 1)).rulebook_hash != rb.resolve(date(2026, 1, 1)).rulebook_hash
    # the scenario starts 2025-04-09: same rules in force before, but the hash still names the scenario,
    # so an answer given under a what-if is never mistaken for a baseline answer
    before = scen.resolve(date(2024, 1, 1))
    assert before.instruments == rb.resolve(date(2024, 1, 1)).instruments and before.rulebook_hash != h1
    assert rb.resolve(date(2026, 1, 1)).rulebook_hash == baseline().resolve(date(2026, 1, 1)).rulebook_hash  # baseline untouched
    r = aiexport.classify("H100", as_of="2024-01-01")
    assert r.rulebook_hash == h1 and len(h1) == 64


def test_scenario_is_marked_hypothetical_and_cited():
    data = yaml.safe_load(SCENARIO_H20.read_text(encoding="utf-8"))
    assert data["scenario"]["hypothetical"] is True
    assert data["scenario"]["status"] == "proposed"
    assert "8-K" in data["scenario"]["inspiration"][0]["citation"]["other"]


def _copy_rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(RULES, d, ignore=shutil.ignore_patterns("scenarios"))
    return d


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{metric: tpp, op: \">=\", param: a1_tpp}", "{metric: tpp, op: \">=\", param: no_such}", "unknown parameter"),
        ("{metric: tpp, op: \">=\", param: a1_tpp}", "{metric: speed, op: \">=\", param: a1_tpp}", "unknown metric"),
        ('extends: "3A090/2024-04-04"', 'extends: "3A090/1999"', "extends unknown version"),
        ("    from: 2024-04-04\n", "    from: 2023-11-17\n", "share a 'from' date"),
        ("status: in_force, fact: P,\n         citation: {fr: \"88 FR 73458 (2023-10-25), FR Doc 2023-23055\", cfr: \"15 CFR 774 Supp. 1, ECCN 3A090.a.1\"}}",
         "status: maybe, fact: P,\n         citation: {fr: \"88 FR 73458 (2023-10-25), FR Doc 2023-23055\", cfr: \"15 CFR 774 Supp. 1, ECCN 3A090.a.1\"}}",
         "status"),
    ],
)
def test_broken_rule_files_are_rejected(tmp_path, old, new, message):
    d = _copy_rules(tmp_path)
    _edit(d / "eccn_3a090.yaml", old, new)
    with pytest.raises(RulebookError, match=message):
        Rulebook.load(d)


def test_scenario_overlay_replaces_parameters(tmp_path):
    """A scenario adds or replaces versions and parameters; here it lowers 3A090.a.1 to 2000 from 2026-01-01."""
    scen = tmp_path / "lower.yaml"
    scen.write_text(yaml.safe_dump({
        "scenario": {"id": "lower-a1", "title_en": "lower", "title_zh": "降低", "status": "proposed", "hypothetical": True},
        "instruments": {"eccn_3a090": {"parameters": {"a1_tpp": {
            "label_en": "3A090.a.1 TPP", "label_zh": "3A090.a.1 总处理性能", "unit": "TPP",
            "values": [{"from": "2026-01-01", "value": 2000, "status": "proposed", "fact": "D", "citation": {"other": "test"}}]}}}},
    }), encoding="utf-8")
    assert aiexport.classify("H20", as_of="2026-02-01", scenario=scen).control == "3A090.a"
    assert aiexport.classify("H20", as_of="2025-12-31", scenario=scen).control == "none"
    assert aiexport.classify("H20", as_of="2026-02-01").control == "none"


def test_bad_scenario_is_input_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario: {id: x}\ninstruments: {}\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.yaml"):
        baseline().with_scenario(bad)
    with pytest.raises(InputError, match="not found"):
        baseline().with_scenario(tmp_path / "missing.yaml")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(yaml.safe_dump({"scenario": {"id": "u", "title_en": "u", "title_zh": "u", "status": "proposed",
                                                    "hypothetical": True}, "instruments": {"eccn_9z999": {}}}), encoding="utf-8")
    with pytest.raises(InputError, match="no such instrument"):
        baseline().with_scenario(unknown)


def test_parse_date_rejects_bad_dates():
    assert parse_date("2024-01-01") == date(2024, 1, 1)
    for bad in ("2024-13-01", "yesterday", "01/02/2024", ""):
        with pytest.raises(InputError, match="YYYY-MM-DD"):
            parse_date(bad)


def test_change_dates_cover_every_version():
    days = [d.isoformat() for d in baseline().change_dates()]
    for d in ("2022-10-07", "2023-11-17", "2024-04-04", "2024-12-02"):
        assert d in days


def test_end_dates_are_derived_from_the_next_version():
    """The 2022 version of 3A090 ended the day before 88 FR 73458 took effect (2023-11-17)."""
    rb = baseline()
    v2022 = next(v for v in rb.instruments["eccn_3a090"].versions if v.id == "3A090/2022-10-07")
    latest = next(v for v in rb.instruments["eccn_3a090"].versions if v.id == "3A090/2024-12-02")
    assert rb.version_until("eccn_3a090", v2022) == date(2023, 11, 16)
    assert rb.version_until("eccn_3a090", latest) is None
    assert rb.param_until("eccn_3a090", "io_2022", date(2022, 10, 7)) == date(2023, 11, 16)


def test_a_scenario_is_built_once_per_file_content(tmp_path: Path):
    # the Python API's check(..., scenario=FILE) asks load_rulebook for every call: the same file
    # gives the same rulebook (its memo of resolved dates kept); an edited file is read anew
    from aiexport.rulebook import load_rulebook

    f = tmp_path / "s.yaml"
    shutil.copy(SCENARIO_H20, f)
    first = load_rulebook(f)
    assert load_rulebook(str(f)) is first and first is not baseline()
    f.write_text(f.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    again = load_rulebook(f)
    assert again is not first
    f.unlink()
    with pytest.raises(InputError, match="scenario file not found"):
        load_rulebook(f)
