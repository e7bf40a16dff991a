"""Restricted-party screening (issue #4): names in Chinese, pinyin or English against the real CSL.

Lists: the 2026 Consolidated Screening List copy in shared/data/lists (PROVENANCE.md there).
Names: shared/data/names/zh_en_pairs_dev.csv (real Chinese-English pairs of listed-on-exchange
companies, not chosen for being on any restricted list).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiexport.parties.matcher import DEFAULT_THRESHOLD, Index
from aiexport.parties.names import english_tokens, normalise

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CSL_2026 = SHARED / "lists" / "export-controls-agent-mcp" / "consolidated-2026-07-31.csv"
PAIRS = SHARED / "names" / "zh_en_pairs_dev.csv"
ROOT = Path(__file__).resolve().parents[1]
_LOCAL = ROOT / ".venv" / "bin" / "aiexport"
AIEXPORT = str(_LOCAL) if _LOCAL.exists() else shutil.which("aiexport")

pytestmark = pytest.mark.skipif(not CSL_2026.exists(), reason="shared list data not present")


@pytest.fixture(scope="module")
def csl() -> Index:
    from aiexport.parties.lists import load_snapshot

    return Index.build(load_snapshot(CSL_2026).entries)


def names_of(index: Index, list_id: str) -> list[str]:
    row = index.entries.filter(pl.col("list_id") == list_id).row(0, named=True)
    return [row["name"], *(row["alt_names"] or [])]


@pytest.mark.parametrize("query,expected", [
    ("华为技术有限公司", "huawei technologies"),
    ("華為技術有限公司", "huawei technologies"),  # traditional characters
    ("北方华创科技集团股份有限公司", "naura"),
    ("中芯国际集成电路制造有限公司", "semiconductor manufacturing international"),
    ("杭州海康威视数字技术股份有限公司", "hikvision"),
    # more real listed entities written in Chinese (issue #4: "a larger hidden set of real listed … Chinese companies")
    ("浪潮电子信息产业股份有限公司", "inspur electronic information"),
    ("中科寒武纪科技股份有限公司", "cambricon"),
    ("深圳市大疆创新科技有限公司", "dji"),
    ("海能达通信股份有限公司", "hytera"),
    ("西北工业大学", "northwestern polytechnical"),
    ("江南计算技术研究所", "jiangnan institute of computing"),
    # 研究所 also read "institute", 应用 also "applied" (zh_words.csv `alt`): the list writes "The
    # Institute of Applied Physics and Computational Mathematics, Beijing" (an alternative name of
    # the China Academy of Engineering Physics entry); read only as "application … research
    # institute", it scored 0.70
    ("北京应用物理与计算数学研究所", "institute of applied physics and computational mathematics"),
    # a group's prefix read inside the name (中电科 → CETC, zh_known_names.csv use = prefix), never alone:
    # the unit alerts on itself, not on its parent "China Electronics Technology Group Corporation (CETC)"
    ("中电科芯片技术(集团)有限公司", "cetc chip technology"),
])
def test_chinese_names_alert_on_the_right_entries(csl, query, expected):
    # issue #4 acceptance: these five alert on the right CSL entries
    [ans] = csl.search([query])
    assert ans["decision"] == "alert"
    best = ans["matches"][0]
    assert expected in " ".join(names_of(csl, best["list_id"])).lower(), best
    assert best["explanation"]["how"], "the explanation says how the Chinese name was read"


def test_a_reading_of_a_chinese_name_is_calibrated_and_says_so(csl):
    # the score of a name read from Chinese is 1 - (1 - reading score) x (1 - 0.86) / (1 - READING_ALERT):
    # a reading score of READING_ALERT alerts at the default threshold, and the explanation says so
    from aiexport.parties.matcher import READING_ALERT

    [ans] = csl.search(["北方华创科技集团股份有限公司"], threshold=0.0, limit=3)
    for m in ans["matches"]:
        x = m["explanation"]
        assert "calibration" in x and str(READING_ALERT) in x["calibration"]
        assert m["score"] == pytest.approx(1 - (1 - x["reading_score"]) * (1 - DEFAULT_THRESHOLD) / (1 - READING_ALERT), abs=1e-4)
    [latin] = csl.search(["Naura Technology Group"], limit=1)
    assert "calibration" not in latin["matches"][0]["explanation"]


def test_a_reading_with_other_numbers_than_a_numbered_unit_ranks_below_it(csl):
    # 第五十四研究所 is the 54th institute: CETC's 58th, alike in every other word, must not come first
    # (before NUMBERS_DISAGREE it did, 0.849 against 0.847 for the 54th)
    [ans] = csl.search(["中国电子科技集团公司第五十四研究所"], threshold=0.0, limit=3)
    assert "54th" in ans["matches"][0]["list_name"], ans["matches"][:2]
    assert all("58" not in m["list_name"] or m["score"] < DEFAULT_THRESHOLD for m in ans["matches"])


def test_every_entity_list_name_finds_its_entry(csl):
    # issue #4 acceptance: every name and alternative name of every Entity List entry, as a query,
    # finds its entry first (>= 99.5 %). Where the very same name text is in several entries (e.g.
    # "Research Institute 38"), each of them is a correct first answer: ties at the top score on
    # the same name count as found.
    el = csl.entries.with_row_index("e").filter(pl.col("list_code") == "EL")
    queries, truth = [], []
    for lid, name, alts in el.select("list_id", "name", "alt_names").iter_rows():
        for n in dict.fromkeys([name, *(alts or [])]):
            queries.append(n)
            truth.append(lid)
    answers = csl.search(queries, explain=False, limit=20)
    found = 0
    for lid, ans in zip(truth, answers, strict=True):
        ms = ans["matches"]
        top = ms[0]["score"] if ms else None
        if any(m["list_id"] == lid and m["score"] == top for m in ms):
            found += 1
    assert found / len(queries) >= 0.995, found / len(queries)


def typo(s: str, rng: random.Random) -> str:
    i = rng.randrange(len(s))
    op, c = rng.choice("idsw"), rng.choice("abcdefghijklmnopqrstuvwxyz")
    if op == "i":
        return s[:i] + c + s[i:]
    if op == "d":
        return s[:i] + s[i + 1:]
    if op == "s":
        return s[:i] + c + s[i + 1:]
    return s[:i] + s[i + 1] + s[i] + s[i + 2:] if i + 1 < len(s) else s


def test_names_with_one_typo_still_find_their_entry(csl):
    # issue #4 acceptance: >= 97 % with one random insert, delete, substitute or swap, found first
    # (ties at the top score count) AND alerting at the default threshold. Measured (1,000 Entity
    # List names): 98.8 % with seed 7, 99.4 % with 8, 98.6 % with 9.
    el = csl.entries.filter(pl.col("list_code") == "EL")
    rng = random.Random(7)
    rows = rng.sample(list(el.select("list_id", "name").iter_rows()), 1000)
    queries = [typo(n, rng) for _, n in rows]
    answers = csl.search(queries, threshold=DEFAULT_THRESHOLD, explain=False, limit=20)
    found = sum(any(m["list_id"] == lid and m["score"] == a["matches"][0]["score"] for m in a["matches"])
                for (lid, _), a in zip(rows, answers, strict=True) if a["decision"] == "alert")
    assert found / len(queries) >= 0.97, found / len(queries)


def test_the_same_queries_always_get_the_same_answers(csl):
    # candidate weights are summed as integers: no thread order can change a candidate list, so
    # every run gives the same matches and scores (down to the last one returned)
    rng = random.Random(11)
    el = csl.entries.filter(pl.col("list_code") == "EL")["name"].to_list()
    queries = [typo(n, rng) for n in rng.sample(el, 400)] + ["Velnor Technology Trading LLC", "华为技术有限公司"]
    first = csl.search(queries, threshold=0.0, explain=False, limit=40)
    for _ in range(2):
        assert csl.search(queries, threshold=0.0, explain=False, limit=40) == first


def test_a_batch_split_with_the_twin_process_gets_the_same_answers(csl, monkeypatch):
    # a batch of matcher.PARALLEL_MIN queries or more is matched half in a forked twin process
    # (parties/twin.py): the answers, explanations included, are those of one process
    from aiexport.parties import matcher, twin

    rng = random.Random(5)
    el = csl.entries.filter(pl.col("list_code") == "EL")["name"].to_list()
    queries = [typo(n, rng) for n in rng.sample(el, 300)] + ["Velnor Technology Trading LLC", "华为技术有限公司", "北方华创"]
    monkeypatch.setattr(matcher, "PARALLEL_MIN", 10**9)
    alone = csl.search(queries, threshold=0.5, limit=10)
    monkeypatch.setattr(matcher, "PARALLEL_MIN", 2)
    assert csl.search(queries, threshold=0.5, limit=10) == alone
    assert csl._twin.process is not None or not twin.can_fork()  # the twin took part where fork is used


@pytest.mark.parametrize("longest", [40, 10**7])  # short names: one integer key; absurdly long ones: the plain sort
def test_the_best_candidates_of_each_row_are_those_of_a_plain_sort(longest):
    import numpy as np

    from aiexport.parties.matcher import EXACT_BONUS, _best_in_rows

    rng = np.random.default_rng(3)
    n = 5000
    row = np.sort(rng.integers(0, 60, n))
    name = np.arange(n)  # ascending within each row, as the candidates come
    w = rng.integers(0, 6, n) * 700 + rng.integers(0, 2, n) * EXACT_BONUS  # many equal weights
    lq = rng.integers(1, 12, 60).astype(float)[row]
    ln = rng.choice([1, 2, 3, 4, 6, 8, 9, 12, 16, 18, longest], n).astype(float)  # many equal nearnesses (4/6 = 6/9)
    keep = _best_in_rows(row, w, lq, ln, 7)
    want = np.zeros(n, dtype=bool)
    for r in np.unique(row):
        at = np.flatnonzero(row == r)
        near = [min(lq[i], ln[i]) / max(lq[i], ln[i], 1.0) for i in at]
        ranked = sorted(zip(at, near, strict=True), key=lambda x: (-w[x[0]], -x[1], name[x[0]]))
        want[[i for i, _ in ranked[:7]]] = True
    assert (keep == want).all() and 60 * 5 < keep.sum() < n


def test_one_typo_scores_one_edit_whatever_its_kind():
    # a substitution or a swap of neighbours is one typo, as an insertion or a deletion is
    from aiexport.parties.matcher import edit_similarity

    base = "kvantek"
    typos = ["kvatnek", "kvantak", "kvantekk", "kvntek"]  # swap, substitution, insertion, deletion
    sims = edit_similarity([base] * len(typos), typos)
    assert all(s > 0.92 for s in sims), sims
    assert sims[0] == sims[1] == 1 - 1 / 14  # swap and substitution: one edit over 14 letters
    assert edit_similarity(["kvantek"], ["kvantek"])[0] == 1.0
    assert edit_similarity(["kvantek"], ["ktnavek"])[0] < 0.86  # several edits: the Indel similarity


# letters that share a bin (a, A and !, …) and a few beyond Latin: the bound must hold for any text
_TEXT = st.text(alphabet="abcdeAB!0 \u00e9\u4e2d", max_size=12)


@settings(deadline=None, max_examples=400)
@given(_TEXT, _TEXT)
def test_the_bag_bound_bounds_the_edit_similarity(a, b):
    # the pruning in `Index._possible` is exact only if the bound never falls below the score
    from aiexport.parties.matcher import _bag_bound, _bags, edit_similarity

    bags = _bags([a, b])
    common = int(np.minimum(bags[0], bags[1]).sum())
    bound = float(_bag_bound(np.array([common]), np.array([len(a) + len(b)]))[0])
    assert bound >= edit_similarity([a], [b])[0] - 1e-6


def test_sparing_the_pairs_that_cannot_reach_the_threshold_changes_no_answer(csl, monkeypatch):
    # the same answers, explanations included, as when every candidate pair is scored; at the
    # default threshold and a low one, on list names, typos, made-up and Chinese names
    rng = random.Random(5)
    entries = csl.entries.filter(pl.col("list_code") == "EL")
    names = [n for n in entries["name"].to_list()[:300]]
    typos = [n[:i] + n[i + 1:] for n in names[:150] for i in [rng.randrange(max(len(n), 1))]]
    made_up = ["Zorvalex Trading Shenzhen", "Huakal Logistics Optics Trading LLC", "Oracor Instruments Corporation",
               "Velvexzhong Co., Ltd.", "Terkangzhong (Taipei) Machinery Co., Ltd."]
    queries = names + typos + made_up + ["华为技术有限公司", "北方华创科技集团股份有限公司", "西安天和防务技术股份有限公司"]
    for threshold in (DEFAULT_THRESHOLD, 0.6):
        pruned = csl.search(queries, threshold=threshold)
        with monkeypatch.context() as m:
            m.setattr(Index, "_possible", lambda self, forms, raw, keys, rows, *a, **k: np.ones(len(rows), dtype=bool))
            every = csl.search(queries, threshold=threshold)
        assert pruned == every
        assert sum(a["decision"] == "alert" for a in pruned) >= len(names)


@pytest.mark.parametrize("query,list_id", [
    # the 2026 CSL writes a unit of a listed party inside one name: "Huawei Technologies Co., Ltd. (Huawei).
    # Affiliated Entity: Shenzhen Huawei Anjiexin Electricity Co., Ltd."; the unit's own name scored 0.86
    # against it, and "… Beijing Research Institute" found Huawei's Milan institute first (0.74)
    ("Shenzhen Huawei Anjiexin Electricity Co., Ltd.", "csl2026-05217"),
    ("Huawei Technologies Co., Ltd. Beijing Research Institute", "csl2026-05213"),
    ("Hebei Sinopack Electronics", "csl2026-05267"),  # "… (CETC 13). Subordinate Institution - Hebei Sinopack Electronics"
    ("Baotou Guanghua Chemical Industrial Corporation", "csl2026-05395"),  # "… (Parent Organization: … (CNNC))"
])
def test_a_unit_named_inside_its_parents_entry_is_found_by_its_own_name(csl, query, list_id):
    found = csl.search([query], explain=True)[0]
    assert found["decision"] == "alert" and found["matches"][0]["list_id"] == list_id
    assert found["matches"][0]["score"] >= 0.99
    assert found["matches"][0]["matched_name"] in found["matches"][0]["list_name"]  # a part of the list's own name


def test_a_chinese_company_name_does_not_alert_on_a_person_of_the_same_name(csl, monkeypatch):
    # dev pair 鸿博股份有限公司 (Hongbo Co., Ltd., SZSE 002229, on no list) read "hongbo" alerted on the
    # individual "ZHANG, Hongbo" of the 2026 CSL (csl2026-16421, 0.86): a company is not a person
    from aiexport.parties import matcher

    def alerts() -> set[str]:
        return {m["list_id"] for m in csl.search(["鸿博股份有限公司"], explain=False)[0]["matches"]}

    assert "csl2026-16421" not in alerts()
    monkeypatch.setattr(matcher, "KINDS_DISAGREE", 1.0)
    assert "csl2026-16421" in alerts()


def test_a_brand_one_letter_from_a_word_is_not_read_as_the_word():
    # the CSL's "Piotech (Shanghai) Co., Ltd." was read "biotechnology shanghai" (one typo from "biotech"),
    # and 益方生物科技(上海)股份有限公司 (a biotech company on no list) alerted on it; typos keep their first letter
    assert english_tokens("Piotech (Shanghai) Co., Ltd.") == ("piotech", "shanghai")
    assert english_tokens("Cambrian Tepchnologies Corporatiobn") == ("cambrian", "technology")  # a typo inside is read through
    assert english_tokens("Cambrian Pechnologies") == ("cambrian", "pechnologies")


def test_unit_names():
    from aiexport.parties.names import unit_names

    assert unit_names("A Corp. (A). Affiliated Entity: B Co., Ltd.") == ["B Co., Ltd."]
    assert unit_names("A Institute (A 13). Subordinate Institution - B Electronics") == ["B Electronics"]
    assert unit_names("B Corporation (Parent Organization: A Group (AG))") == ["B Corporation"]
    assert unit_names("Huawei Technologies Co., Ltd.") == [] and unit_names("") == []


def test_typos_inside_legal_forms_and_variants_are_read_through():
    assert normalise("Muhandis Corporatiobn")[0].tokens == ("muhandis",)
    assert normalise("Cambrian Tepchnologies Corporation")[0].tokens == ("cambrian", "technology")
    assert normalise("Stick Company")[0].tokens == ("stick",)  # short words are taken as written
    assert normalise("Compania Limitada")[0].tokens == ("compania", "limitada")  # two edits away: kept


@pytest.fixture(scope="module")
def pairs() -> pl.DataFrame:
    if not PAIRS.exists():
        pytest.skip("shared names data not present")
    return pl.read_csv(PAIRS)


def test_false_alerts_on_unlisted_chinese_companies_at_most_2_percent(csl, pairs):
    # issue #4 acceptance: real names of companies on no list, false alerts <= 2 %. The dev pairs
    # are exchange-listed companies chosen without regard to any restricted list; a few are listed
    # (摩尔线程 = Moore Threads is on the Entity List) and count against us here all the same.
    zh = list(dict.fromkeys(pairs["zh_name"].to_list()))
    answers = csl.search(zh, explain=False)
    rate = sum(a["decision"] == "alert" for a in answers) / len(zh)
    assert rate <= 0.02, rate


def test_a_list_name_of_another_place_ranks_below_one_of_the_place_the_chinese_name_gives():
    # dev pair (shared/data/names/zh_en_pairs_dev.csv, tushare stock_basic): 广西绿城水务集团股份有限公司 is
    # "Guangxi Nanning Waterworks Group Company Limited"; Chongqing Water Group (another dev company)
    # shares its trade words but names another place, and used to come first
    names = ["Guangxi Nanning Waterworks Group Company Limited", "Chongqing Water Group Co., Ltd."]
    index = Index.build(pl.DataFrame({"list_id": ["gx", "cq"], "source": ["dev"] * 2, "list_code": ["DEV"] * 2, "name": names,
                                      "alt_names": [[], []]}))
    found = index.search(["广西绿城水务集团股份有限公司"], threshold=0.0, explain=False, limit=2)[0]["matches"]
    assert [m["list_id"] for m in found] == ["gx", "cq"]


def test_chinese_to_english_recall_at_1_on_the_dev_pairs(pairs):
    # issue #4 target: recall@1 >= 80 % when the list is built from the English names and queried
    # with the Chinese ones. The list holds each English name once: the dev pairs write one company's
    # name several ways ("Konka Group Co.,Ltd" and "KONKA GROUP CO.,LTD"; 2,278 strings, 1,506 names
    # once normalised), which become one entry with its alternative names, as a list carries them (as
    # separate entries they tie, and the tie falls either way). Measured: 77.3 % (71.4 % before the
    # CC-CEDICT reading and the right-to-left cut; 76.2 % with the spellings as separate entries; 76.6 %
    # with one entry per name; then the other renderings, the calibration and the place names; 78.0 %
    # with a name naming only other places scored lower, and a few more standard renderings such as
    # 光伏 → solar; 80.0 % = 1,172 of 1,465 with state groups' prefixes such as 招商 → China Merchants,
    # more trade words (长江 Yangtze River, 试验场 proving ground), each other rendering also on its
    # own, and a common word where the brand stands also in pinyin, 东方电气 → Dongfang Electric; 80.2 % =
    # 1,175 with English variants read as one: metals → metal, northern → north, optronics → optoelectronic).
    # Brand names such as 康泰 → Contec or 日海 → Sunsea are out of reach of pinyin and translation.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from zh_pairs import recall_at_1  # benchmarks/zh_pairs.py prints the same figure

    found, n = recall_at_1(pairs)
    recall = found / n
    assert recall >= 0.80, recall


@pytest.mark.parametrize("name,reading,how", [
    # trade words end a name: 绿发 | 电力 (electric power), not 绿 | 发电 (power generation) | 力
    ("天津绿发电力集团股份有限公司", "tianjin lvfa electric power group", "电力→electric power (translated)"),
    # places lead it: 湖北 | 京山, not 湖 | 北京 | 山
    ("湖北京山轻工机械股份有限公司", "hubei jingshan light industry machinery", "湖北→hubei (place)"),
    # CC-CEDICT glosses of a brand's words (CC-CEDICT 2023-11-07: 白銀 白银 [bai2 yin2] /silver/;
    # 聯想 联想 [Lian2 xiang3] /Lenovo/; 格力 格力 [Ge2 li4] /Gree (brand)/)
    ("湖南白银股份有限公司", "hunan silver", "白银→silver (CC-CEDICT)"),
    ("联想集团有限公司", "lenovo group", "联想→lenovo (CC-CEDICT)"),
    ("珠海格力电器股份有限公司", "zhuhai gree electric appliance", "格力→gree (CC-CEDICT)"),
    # single characters glossed where the gloss is one word (金 [jin1] /gold/…, 马 [ma3] /horse/…)
    ("通化金马药业集团股份有限公司", "tonghua gold horse pharmaceutical group", "马→horse (CC-CEDICT)"),
    # a brand of three syllables or more by its initials, as companies write them (木林森 → MLS)
    ("木林森股份有限公司", "mls", "木林森→mls (initials)"),
    # a brand of one character takes the next one when the rest is a word: 微 | 光电子 also as
    # 微光 | 电子 (Hangzhou Weiguang Electronic Co., Ltd., SZSE 002801)
    ("杭州微光电子股份有限公司", "hangzhou weiguang electronic", "微光→weiguang (pinyin)"),
    # a word's other rendering (zh_words.csv `alt`), and a place's pinyin where its English is not (华中: central china)
    ("北京应用物理与计算数学研究所", "beijing applied physics computing mathematics institute", "研究所→institute (translated)"),
    ("华中科技大学", "huazhong university science technology", "华中→huazhong (place)"),
    # a common word where the brand stands is read in pinyin too (Dongfang Electric Corporation, SSE 600875)
    ("东方电气股份有限公司", "dongfang electric", "东方→dongfang (pinyin)"),
    # each other rendering also on its own: 仪表 "metering" does not hide 研究院 "academy" beside "instrument"
    ("沈阳仪表科学研究院有限公司", "shenyang instrument science academy", "研究院→academy (translated)"),
    # a state group's prefix inside a name (China Merchants Bank, SSE 600036; China Everbright Bank, SSE 601818)
    ("招商银行股份有限公司", "china merchants bank", "招商→china merchants (known English name; China Merchants Group "
     "(招商局集团) short prefix of its units (招商银行 China Merchants Bank; 招商证券 China Merchants Securities); team "
     "knowledge (UNCONFIRMED))"),
    ("中国光大银行股份有限公司", "china everbright bank", "光大→everbright (known English name; China Everbright Group "
     "(中国光大集团) short prefix of its units (光大证券 Everbright Securities; 中国光大银行 China Everbright Bank); team "
     "knowledge (UNCONFIRMED))"),
    # standard renderings of trade words: 长江 Yangtze River, 试验场 proving ground
    ("长发集团长江投资实业股份有限公司", "changfa group yangtze river investment industry", "长江→yangtze river (translated)"),
    ("中汽研汽车试验场股份有限公司", "catarc automotive proving ground", "试验场→proving ground (translated)"),
    # shipping and oil words the lists write in English (FREIGHT, TERMINAL, REFINERY, OCEAN FISHING GROUP)
    ("宁波远东码头经营有限公司", "ningbo far east terminal jingying", "码头→terminal (translated)"),
    ("上海中外运国际货运有限公司", "shanghai sinotrans international freight", "货运→freight (translated)"),
    ("大连远洋渔业金枪鱼钓有限公司", "dalian ocean fishery tuna diao", "远洋→ocean (translated)"),
])
def test_chinese_readings(name, reading, how):
    forms = {f.key: f for f in normalise(name)}
    assert reading in forms, list(forms)
    assert how in forms[reading].how


def test_chinese_ordinals_and_latin_runs():
    from aiexport.parties.names import zh_number

    assert [zh_number(x) for x in ("十三", "二十九", "十", "一百零一", "七一九")] == [13, 29, 10, 101, 719]
    # CETC's institutes are numbered on the CSL as "China Electronics Technology Group Corporation 13th
    # Research Institute", "… 29 (CETC 29) Research Institute", "… No. 11 Research Institute": ordinals
    # are read as numbers on both sides; 集团公司 (group corporation) reads as 集团. (中国电子科技研究 is not
    # a known name, so the translated reading shows.)
    keys = [f.key for f in normalise("中国电子科技研究集团公司第十三研究所")]
    assert "china electronic technology research group 13 research institute" in keys, keys
    assert normalise("China Electronics Technology Group Corporation 13th Research Institute")[0].key.split()[-3] == "13"
    # English ordinals spelled out meet them ("Second Research Academy of CASIC" ~ 第二研究院)
    assert normalise("Second Research Academy of CASIC")[0].key == "2 research academy casic"
    # letters inside a Chinese name are read as one word, not letter by letter
    assert "tcl technology group" in [f.key for f in normalise("TCL科技集团股份有限公司")]


def test_known_name_alone_only_for_the_company_itself():
    # 中芯国际 → SMIC is a known name; the subsidiary in Beijing must not be read as "SMIC" alone
    # (it would meet the parent's entry first); CSL: "Semiconductor Manufacturing International
    # (Beijing) Corporation" is its own Entity List entry (85 FR 83420)
    keys = [f.key for f in normalise("中芯国际集成电路制造(北京)有限公司")]
    assert "semiconductor manufacturing international" not in keys
    assert "semiconductor manufacturing international" in [f.key for f in normalise("中芯国际集成电路制造有限公司")]


def test_cedict_gloss_keeps_only_name_like_senses():
    from aiexport.parties import cedict

    # CC-CEDICT: 腾讯 is only a cross-reference ("see 騰訊控股有限公司 …"), 长城 a place ("the Great Wall"),
    # 冶炼 "to smelt metal" (the "to" is dropped), 比亚迪 "BYD Company (company name)"
    assert cedict.gloss("腾讯") is None
    assert cedict.gloss("长城") is None
    assert cedict.gloss("冶炼") == "smelt metal"
    assert cedict.gloss("比亚迪") == "BYD Company"
    assert cedict.segment("新兴铸管") == ["新兴", "铸", "管"]


def test_normalisation_examples():
    # legal forms in English and Chinese, telegraphic forms, traditional characters, translation
    assert normalise("Hangzhou Hikvision Digital Technology Co., Ltd.")[0].key == "hangzhou hikvision digital technology"
    assert normalise("SHANGHAI MICRO ELEC EQUIP GRP CO LTD")[0].key == "shanghai micro electronic equipment group"
    assert normalise("華為技術有限公司")[0].key == normalise("华为技术有限公司")[0].key == "huawei technology"
    assert normalise("深圳市全新好股份有限公司")[0].key == "shenzhen quanxinhao"
    assert any("NAURA" in h for f in normalise("北方华创科技集团股份有限公司") for h in f.how)


@pytest.mark.skipif(AIEXPORT is None, reason="the aiexport console script is not installed")
def test_screen_cli_contract(tmp_path):
    names = tmp_path / "names.csv"
    names.write_text("id,name,country\nq1,华为技术有限公司,CN\nq2,Acme Widgets of Ohio,US\n", encoding="utf-8")
    proc = subprocess.run([AIEXPORT, "screen", str(names), "--list", str(CSL_2026), "--json"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    a, b = (json.loads(line) for line in proc.stdout.splitlines())
    assert (a["id"], a["decision"], b["decision"]) == ("q1", "alert", "clear")
    m = a["matches"][0]
    assert {"list_id", "list_name", "matched_name", "source", "score", "explanation"} <= set(m)
    assert m["list_id"].startswith("csl2026-") and 0 <= m["score"] <= 1
    assert a["threshold"] == DEFAULT_THRESHOLD
    assert len(a["list_snapshot_hash"]) == 64  # every answer names the list snapshot that produced it


@pytest.mark.skipif(AIEXPORT is None, reason="the aiexport console script is not installed")
@pytest.mark.parametrize("content,must", [("id,nom\n1,x\n", "nom"), ("id\n1\n", "name"), ("id,name\n1,\n", "row 1")])
def test_screen_bad_names_file(tmp_path, content, must):
    names = tmp_path / "names.csv"
    names.write_text(content, encoding="utf-8")
    proc = subprocess.run([AIEXPORT, "screen", str(names), "--list", str(CSL_2026)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and must in proc.stderr, proc.stderr


@pytest.mark.skipif(AIEXPORT is None, reason="the aiexport console script is not installed")
def test_check_screens_parties_when_a_list_is_given(tmp_path):
    # issue #4 point 6: with a list snapshot, `check` screens every party and uses the result
    book = tmp_path / "book.csv"
    book.write_text("id,date,kind,item,from_country,destination_country,consignee_name,consignee_country,consignee_hq_country,"
                    "ultimate_parent_hq_country,end_use,item_origin\n"
                    "a,2024-06-01,export,RTX 4090,US,CN,华为技术有限公司,CN,CN,CN,commercial,us_origin\n"
                    "b,2024-06-01,export,RTX 4090,US,CN,Acme Widgets of Ohio,CN,CN,CN,commercial,us_origin\n", encoding="utf-8")
    proc = subprocess.run([AIEXPORT, "check", str(book), "--list", str(CSL_2026), "--json"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    a, b = (json.loads(line) for line in proc.stdout.splitlines())
    assert (a["verdict"], a["review_policy"]) == ("license_required", "presumption_of_denial")  # Huawei: Entity List entry policy
    assert a["list_snapshot_hash"] == b["list_snapshot_hash"] and len(a["list_snapshot_hash"]) == 64
    assert (b["verdict"], b["license_exception"]) == ("notification_required", "NAC")  # screened clean


CSL_2022 = SHARED / "lists" / "moov-io-watchman" / "csl_us" / "consolidated.csv.gz"


@pytest.mark.skipif(AIEXPORT is None or not CSL_2022.exists(), reason="CLI or 2022 CSL copy not present")
def test_lists_show_and_diff_cli(tmp_path):
    # issue #4: `lists diff` between the 2022 and 2026 CSL reports counts of added, removed and changed entries
    proc = subprocess.run([AIEXPORT, "lists", "diff", str(CSL_2022), str(CSL_2026), "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout)["counts"]
    assert (counts["old"], counts["new"]) == (14160, 25921)
    assert counts["added"] > 0 and counts["removed"] > 0 and counts["changed"] > 0
    assert counts["old"] - counts["removed"] + counts["added"] == counts["new"]
    show = subprocess.run([AIEXPORT, "lists", "show", str(CSL_2026), "--json"], capture_output=True, text=True, timeout=300)
    info = json.loads(show.stdout)
    assert info["counts"]["EL"] == 3420 and len(info["content_hash"]) == 64
    bad = tmp_path / "cut.csv"
    bad.write_bytes(CSL_2026.read_bytes()[:50_000])  # truncated mid-row
    proc = subprocess.run([AIEXPORT, "lists", "show", str(bad)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.startswith("error:"), proc.stderr


@pytest.mark.skipif(AIEXPORT is None, reason="the aiexport console script is not installed")
def test_owners_cli_dated(tmp_path):
    # issue #4 ownership: 30 % + 30 % by two Entity List parties is covered; 49 % is not; a chain
    # through an 80 %-owned company is covered, with the chain; BIS rule suspended from 2025-11-10
    # (90 FR 47201 and the suspension rule), OFAC's 50 % rule unaffected.
    parties = tmp_path / "parties.csv"
    parties.write_text("id,name,country,list_status\nL1,A,CN,entity_list\nL2,B,CN,entity_list\nS1,C,RU,sdn\nT1,D,SG,\n"
                       "T2,E,SG,\nM,F,HK,\nT3,G,SG,\nB,H,AE,\n", encoding="utf-8")
    edges = tmp_path / "edges.csv"
    edges.write_text("owner,owned,percent\nL1,T1,30\nL2,T1,30\nL1,T2,49\nL1,M,80\nM,T3,70\nS1,B,50\n", encoding="utf-8")

    def covered(day: str) -> set[tuple[str, str]]:
        proc = subprocess.run([AIEXPORT, "owners", "--parties", str(parties), "--edges", str(edges), "--as-of", day, "--json"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        t3 = next(r for r in rows if r["party"] == "T3" and r["rule"].startswith("bis"))
        if day == "2025-10-01":
            assert [link["owner"] for link in t3["chains"][0]["links"]] == ["L1", "M"]
        return {(r["party"], r["rule"]) for r in rows if r["covered"]}

    on = covered("2025-10-01")
    assert {p for p, _ in on} == {"T1", "M", "T3", "B"}  # not T2 (49 %)
    assert {p for p, _ in covered("2026-01-01")} == {"B"}  # BIS rule suspended; OFAC still applies
    assert {p for p, _ in covered("2025-09-28")} == {"B"}  # before the Affiliates rule
