"""Chinese legal names of entities on the 2026 CSL alert on the right entry (issue #4: "a larger hidden set
of real listed … Chinese companies, screened against the full 2026 CSL").

Sets: tests/data/zh_listed.csv (403 listed entities, 455 queries with traditional and short forms; the
known names and common words in parties/data were added against it), tests/data/zh_listed_holdout.csv
(72 more, written afterwards and not used to choose data until 2026-11-29, when its misses pointed
to the `alt` renderings of zh_words.csv), tests/data/zh_listed_holdout2.csv (60 more, written
blind on 2026-11-29) and tests/data/zh_listed_holdout3.csv (54 more, written blind after holdout2 was
consulted). Measured by benchmarks/zh_listed.py (found = alert at the default threshold with the right entry first, ties at the top counted):
zh_listed 142/334 = 42.5 % before the data of the first change, 333/334 = 99.7 % after, 454/455 = 99.8 %
with 120 more entities and their data; holdout 40/72 = 55.6 % before, 55/72 = 76.4 % after, 59/72 =
81.9 % later, 63/72 = 87.5 % with the `alt` renderings, 64/72 = 88.9 % with readings calibrated;
holdout2 26/60 = 43.3 % when first scored, 33/60 = 55.0 % with readings calibrated, 42/60 = 70.0 %
after its misses were consulted (group prefixes, words of institute names, numbers); holdout3 (54
entities, written blind after that) 39/54 = 72.2 % when first scored, unchanged by the next session's
work; 44/54 = 81.5 % after its misses were consulted (2026-11-29, fourth session: general shipping and
oil words such as 码头 terminal, 炼化 refinery, 远洋 ocean, 远东 far east, 渔业 fishing; no entity's name
was added). Holdout2 43/60 = 71.7 %, dev pairs unchanged (recall@1 80.2 %, false alerts 0.89 %).
Then a unit the list names inside its parent's entry ("… Affiliated Entity: Shenzhen Huawei Anjiexin
Electricity Co., Ltd.") also read by its own name: zh_listed 455/455, holdout2 44/60 = 73.3 %.
tests/data/zh_listed_holdout4.csv (49 entities in none of the other sets, written blind after all of
this and scored once): 41/49 = 83.7 %, 42/49 = 85.7 % with one label completed (an institute the CSL
carries twice, found by its other entry).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
CSL_2026 = ROOT.parent / "shared" / "data" / "lists" / "export-controls-agent-mcp" / "consolidated-2026-07-31.csv"

pytestmark = pytest.mark.skipif(not CSL_2026.exists(), reason="shared list data not present")


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import zh_listed  # benchmarks/zh_listed.py
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return zh_listed


@pytest.fixture(scope="module")
def csl():
    from aiexport.parties.lists import load_snapshot
    from aiexport.parties.matcher import Index

    return Index.build(load_snapshot(CSL_2026).entries)


@pytest.mark.parametrize("name,floor", [("zh_listed.csv", 0.99), ("zh_listed_holdout.csv", 0.85), ("zh_listed_holdout2.csv", 0.65),
                                       ("zh_listed_holdout3.csv", 0.75), ("zh_listed_holdout4.csv", 0.80)])
def test_listed_chinese_names_alert_on_their_entry(bench, csl, name, floor):
    outcomes = bench.evaluate(csl, bench.read_set(DATA / name))
    misses = [(o.zh_name, o.best and o.best["list_name"]) for o in outcomes if not o.found]
    assert bench.recall(outcomes) >= floor, misses


@pytest.mark.parametrize("query,list_ids", [
    # Chinese names checked against stored public pages (tests/data/zh_listed.csv cites them)
    ("长江存储科技有限责任公司", {"csl2026-05745"}),  # Wikipedia: Yangtze Memory Technologies
    ("海光信息技术股份有限公司", {"csl2026-03362"}),  # SSE prospectus: Hygon Information Technology; the CSL spells Higon
    ("中科寒武纪科技股份有限公司", {"csl2026-05412", "csl2026-05335"}),  # Wikipedia: Cambricon Technologies
    ("天津飛騰信息技術有限公司", {"csl2026-05726"}),  # news page: 天津飞腾 (Phytium), traditional characters
    ("北京旷视科技有限公司", {"csl2026-03412", "csl2026-00060"}),  # news page and patents: Beijing Megvii Technology
    ("沈阳芯源微电子设备股份有限公司", {"csl2026-04930"}),  # prospectus: KINGSEMI
])
def test_verified_names_alert_on_their_entry(csl, query, list_ids):
    [ans] = csl.search([query])
    assert ans["decision"] == "alert", ans
    top = ans["matches"][0]
    assert any(m["list_id"] in list_ids and m["score"] == top["score"] for m in ans["matches"]), ans["matches"][:3]
    assert top["explanation"]["how"], "the explanation says how the Chinese name was read"


def test_a_subsidiary_is_not_read_as_its_parent(csl):
    # the institutes of CETC are listed one by one: the 13th alerts on its own entry, not only on the group
    [ans] = csl.search(["中国电子科技集团公司第十三研究所"])
    assert ans["matches"][0]["list_id"] == "csl2026-05261", ans["matches"][:3]
