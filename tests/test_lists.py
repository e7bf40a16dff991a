"""Restricted-party list loaders, snapshots and diff (aiexport.parties.lists) on the real list files in
shared/data/lists (see PROVENANCE.md there for what each file is and the counts checked here)."""

from __future__ import annotations

import contextlib
import gzip
import json
import time
from pathlib import Path

import polars as pl
import pytest

from aiexport.errors import InputError
from aiexport.parties import lists as L

LISTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lists"
CSL_2022 = "moov-io-watchman/csl_us/consolidated.csv.gz"
CSL_2026 = "export-controls-agent-mcp/consolidated-2026-07-31.csv"
PROJECTION = "export-controls-agent-mcp/screening-list.json"
SDN_2024 = "jackdwyer-sdn/sdn.csv"
SDN_2021 = "moov-io-watchman/bench/sdn.csv"
DPL = "moov-io-watchman/bench/dpl.txt"
FTM = "opensanctions-yente/entities.ftm.json"


def data(rel: str) -> Path:
    p = LISTS / rel
    if not p.is_file():
        pytest.skip(f"{p} is absent")
    return p


_cache: dict[str, L.Snapshot] = {}


def snap(rel: str) -> L.Snapshot:
    if rel not in _cache:
        _cache[rel] = L.load_snapshot(data(rel))
    return _cache[rel]


def row(frame: pl.DataFrame, **eq: str) -> dict:
    hit = frame.filter(*[pl.col(k) == v for k, v in eq.items()])
    assert hit.height == 1, f"{eq}: {hit.height} rows"
    return hit.row(0, named=True)


def total_alt(frame: pl.DataFrame) -> int:
    return int(frame["alt_names"].list.len().sum())


# ------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize(("rel", "fmt"), [
    (CSL_2022, "csl_csv"), (CSL_2026, "csl_csv"), (PROJECTION, "csl_json_projection"), (SDN_2024, "ofac_sdn_csv"),
    (SDN_2021, "ofac_sdn_csv"), (DPL, "dpl_txt"), (FTM, "ftm_json"),
])
def test_detect_format(rel, fmt):
    assert L.detect_format(data(rel)) == fmt


@pytest.mark.parametrize("rel", [CSL_2022, CSL_2026, PROJECTION, SDN_2024, SDN_2021, DPL, FTM])
def test_every_format_gives_the_one_entries_shape(rel):
    e = snap(rel).entries
    assert dict(e.schema) == L.ENTRY_SCHEMA
    assert e["list_id"].null_count() == 0
    repeated = e.filter(pl.col("list_id").is_duplicated())
    if rel == CSL_2022:  # trade.gov's _id of a Treasury entry is its ent_num: VTB Bank is 17013 on SDN, SSI
        # and CAP alike, and CAP lists Bank of Kunlun (15268) twice
        assert repeated.height == 183 and repeated["list_id"].str.contains(r"^\d+$").all()
    else:
        assert repeated.height == 0
    assert e["name"].null_count() == 0 and e["key"].null_count() == 0
    assert set(e["list_code"].unique()) <= set(L.LIST_CODES)
    assert e["content"].str.len_chars().min() == 32
    countries = e["countries"].explode().drop_nulls()
    assert countries.str.contains(r"^[A-Z]{2}$").all()


# ------------------------------------------------------------------------------------------ CSL


def test_csl_2022_counts():
    s = snap(CSL_2022)
    e = s.entries
    assert s.format == "csl_csv" and e.height == 14160
    # PROVENANCE counts 20,011 alt names: trade.gov separates them with "; ", and two rows lack the
    # space ("NPO Izhmash OAO;OJSC Concern Kalashnikov"), so alt names split on ";"
    assert total_alt(e) == 20011
    assert s.counts == {"SDN": 10026, "EL": 2001, "DTC": 727, "DPL": 462, "SSI": 290, "UVL": 201, "ISN": 163, "PLC": 78,
                        "MEU": 71, "CMIC": 68, "CAP": 53, "NS-MBS": 17, "FSE": 3}
    assert set(e["source"]) >= {L.SOURCES["EL"], L.SOURCES["SDN"], L.SOURCES["DPL"]}
    # newest Entity List start_date 2022-04-07 (PROVENANCE); a DPL order of 2022-04-21 is newer still
    assert e.filter(pl.col("list_code") == "EL")["start_date"].max() == "2022-04-07"
    assert s.data_date == "2022-04-21"
    assert int(e.filter(pl.col("list_code") == "SDN")["entity_number"].cast(pl.Int64).max()) == 37070


def test_csl_2022_row_by_hand():
    e = snap(CSL_2022).entries
    r = row(e, list_id="26095")  # 'ABD AL-NASIR, Hajji: programs SDGT, address SY, three aliases
    assert r["source"] == L.SOURCES["SDN"] and r["list_code"] == "SDN" and r["type"] == "Individual"
    assert r["name"] == "'ABD AL-NASIR, Hajji" and r["entity_number"] == "26095" and r["key"] == "SDN|#26095"
    assert r["alt_names"] == ["ABDELNASSER, Hajji", "ABD AL-NASR, Hajji", "AL-KHUWAYT, Taha"]
    assert r["countries"] == ["SY"] and r["programs"] == ["SDGT"]
    # a DPL row: leading space trimmed, country from the address, dates and FR notice kept
    r = row(e, list_id="deb7a1d5743a85c354ca1a2c7f2664e2104b32d7")
    assert r["name"] == "I. ASH" and r["countries"] == ["US"] and r["start_date"] == "2003-06-19"
    assert r["key"] == "DPL|i. ash" and r["remarks"] == "FEDERAL REGISTER NOTICE UPDATED"
    # a US address with no country ("..., ANTHONY, NM, 88201") is in the US
    assert row(e, name="ABDIEL PADRON MADRID")["countries"] == ["US"]
    # an Entity List row with several addresses
    r = row(e, name="Huawei Technologies Switzerland AG, Liebefeld")
    assert r["list_code"] == "EL" and r["countries"] == ["CH"] and r["entity_number"] is None


def test_csl_2026_csv_counts_and_speed():
    path = data(CSL_2026)
    L.load_entries(data(FTM))  # polars warmed up
    times = []
    for _ in range(3):
        t = time.perf_counter()
        e = L.load_entries(path)
        times.append(time.perf_counter() - t)
    assert min(times) < 1.0, times
    assert e.height == 25921
    assert dict(e.group_by("list_code").len().iter_rows()) == {
        "SDN": 19181, "EL": 3420, "DPL": 1596, "DTC": 787, "SSI": 286, "UVL": 222, "ISN": 161, "PLC": 78, "MEU": 70,
        "CMIC": 68, "NS-MBS": 51, "CAP": 1}
    # the JSON holds 31,253 alt-name items; 8 of them pack several names with ";" ("HPSTAR;",
    # "CETC 24;Sichuan Solid Circuit Research Institute;...") and are split into their names
    assert total_alt(e) == 31263
    assert e["start_date"].null_count() == e.height  # the projection dropped dates
    r = row(e, name="Inspur Group Co., Ltd.")
    assert r["list_code"] == "EL" and r["federal_register_notice"] == "88 FR 13675" and r["countries"] == ["CN"]


def test_projection_counts():
    s = snap(PROJECTION)
    raw = json.loads(data(PROJECTION).read_text(encoding="utf-8"))
    assert raw["entryCount"] == 25921 == s.entries.height
    assert sum(len(x.get("a", [])) for x in raw["entries"]) == 31253  # PROVENANCE's count, items as stored
    assert total_alt(s.entries) == 31263  # names, once ";"-packed items are split (as the CSV must be)
    assert s.format == "csl_json_projection" and s.data_date == "2026-07-31T13:15:00.015113+00:00"
    assert s.counts["EL"] == 3420 and s.counts["SDN"] == 19181 and s.counts["DPL"] == 1596
    types = dict(s.entries.group_by("type").len().iter_rows())
    assert types == {"Entity": 10206, "Individual": 7591, None: 6256, "Vessel": 1524, "Aircraft": 344}
    # short keys resolved through the tables: source, programs, licence texts
    r = row(s.entries, name="China Telecom Corporation Limited")
    assert r["source"] == L.SOURCES["CMIC"] and r["programs"] == ["CMIC-EO13959"] and r["entity_number"] == "30882"
    assert r["alt_names"] == ["CHINA TELECOM", "CHINA TELECOM CO., LTD", "CHINA TELECOM CORP LTD"]
    # non-ISO country tokens of the projection (UK, PRC, TURKIYE, REGION: ...) become ISO-2
    assert set(s.entries["countries"].explode().drop_nulls()) <= set(L.COUNTRY_CODES.values())


def test_projection_and_2026_csv_agree():
    j, c = snap(PROJECTION), snap(CSL_2026)
    cols = ["key", "name", "list_code", "alt_names", "countries", "programs", "content"]
    assert j.entries.select(cols).sort("key", "content").equals(c.entries.select(cols).sort("key", "content"))
    assert sorted(j.entries["key"]) == sorted(c.entries["key"])
    assert j.content_hash == c.content_hash
    assert j.entries["list_id"][0] == "entry:1" and c.entries["list_id"][0] == "csl2026-00000"


def test_trade_gov_csl_json(tmp_path):
    records = [
        {"id": "a1", "source": L.SOURCES["EL"], "name": "Example Tech Co., Ltd.", "alt_names": ["Example Tech"],
         "addresses": [{"address": "1 Road", "city": "Shenzhen", "country": "CN"}, {"city": "Kowloon", "country": "HK"}],
         "programs": [], "federal_register_notice": "88 FR 1", "start_date": "2023-01-02",
         "license_requirement": "For all items subject to the EAR.", "license_policy": "Presumption of denial."},
        {"id": "b2", "source": L.SOURCES["SDN"], "name": "DOE, John", "type": "Individual", "entity_number": "123",
         "programs": ["SDGT", "IRGC"], "alt_names": "DOE, J.; DOE, Johnny", "addresses": []},
    ]
    p = tmp_path / "consolidated.json"
    p.write_text(json.dumps({"total": 2, "results": records}), encoding="utf-8")
    assert L.detect_format(p) == "csl_json"
    s = L.load_snapshot(p)
    e = s.entries
    assert e["list_id"].to_list() == ["a1", "b2"] and e["key"].to_list() == ["EL|example tech co., ltd.", "SDN|#123"]
    assert e["countries"].to_list() == [["CN", "HK"], []]
    assert e["alt_names"].to_list() == [["Example Tech"], ["DOE, J.", "DOE, Johnny"]]
    assert e["programs"].to_list() == [[], ["SDGT", "IRGC"]] and s.data_date == "2023-01-02"
    q = tmp_path / "list.json"  # a bare list of entries is read too
    q.write_text(json.dumps(records), encoding="utf-8")
    assert L.load_snapshot(q).content_hash == s.content_hash


def test_country_table():
    assert len(set(L.COUNTRY_CODES.values())) == 250  # ISO 3166-1's 249 and XK (Kosovo)
    names = {"Cuba": "CU", "Bahamas, The": "BS", "Congo, Democratic Republic of the": "CD", "Korea, North": "KP",
             "Burma": "MM", "Region: Crimea": "UA", "TURKIYE": "TR", "PRC": "CN", "UK": "GB", "MAN, ISLE OF": "IM"}
    for name, code in names.items():
        assert L.COUNTRY_CODES[name.upper()] == code
    assert all(L.COUNTRY_CODES[c] == c for c in L.COUNTRY_CODES.values())


# ------------------------------------------------------------------------------------------ OFAC, DPL, FtM


def test_ofac_sdn_2024():
    s = snap(SDN_2024)
    e = s.entries
    assert s.format == "ofac_sdn_csv" and e.height == 14965 and s.counts == {"SDN": 14965}
    assert int(e["entity_number"].cast(pl.Int64).max()) == 48907
    assert total_alt(e) == 0  # no alt.csv beside this copy
    r = row(e, list_id="sdn:36")
    assert r["name"] == "AEROCARIBBEAN AIRLINES" and r["type"] == "Entity" and r["programs"] == ["CUBA"]
    assert r["key"] == "SDN|#36" and r["source"] == L.SOURCES["SDN"] and r["remarks"] is None  # -0- is empty
    multi = e.filter(pl.col("programs").list.len() > 2)["programs"]
    assert multi.len() > 0 and not multi.explode().str.contains(r"[\[\]]").any()  # "SDGT] [IFSR" split


def test_ofac_sdn_2021_with_alt_and_add(tmp_path):
    sdn = data(SDN_2021)
    s = snap(SDN_2021)  # alt.csv and add.csv found beside sdn.csv
    e = s.entries
    assert e.height == 8976 and total_alt(e) == 11910
    r = row(e, list_id="sdn:36")
    assert r["alt_names"] == ["AERO-CARIBBEAN"] and r["countries"] == ["CU"]
    r = row(e, list_id="sdn:10116")  # add.csv: "Congo, Democratic Republic of the" x2, "Rwanda"
    assert r["countries"] == ["CD", "RW"]
    assert row(e, list_id="sdn:173")["countries"] == ["GB"]  # "United Kingdom"
    explicit = L.load_entries(sdn, alt_path=sdn.parent / "alt.csv", add_path=sdn.parent / "add.csv")
    assert explicit.equals(e)
    alone = tmp_path / "sdn.csv"
    alone.write_bytes(sdn.read_bytes())
    bare = L.load_entries(alone)
    assert total_alt(bare) == 0 and bare["countries"].list.len().sum() == 0
    # SDN keys are the ent_num: the same party keys alike in OFAC's file and in the CSL
    csl_sdn = set(snap(CSL_2022).entries.filter(pl.col("list_code") == "SDN")["key"])
    assert len(set(e["key"]) & csl_sdn) > 8000


def test_dpl():
    s = snap(DPL)
    e = s.entries
    assert s.format == "dpl_txt" and e.height == 581 and s.counts == {"DPL": 581}
    assert e["list_id"][0] == "dpl:1" and e["list_id"][-1] == "dpl:581"
    assert s.data_date == "2022-09-02"
    r = row(e, list_id="dpl:2")
    assert r["name"] == "AARON ABRAHAM VILLA" and r["start_date"] == "2022-08-24" and r["end_date"] == "2026-01-14"
    assert r["countries"] == ["US"]  # Country empty, State TX
    assert r["federal_register_notice"] == "87 F.R. 52741 8/29/2022" and r["remarks"] == "F.R. NOTICE ADDED"
    assert row(e, list_id="dpl:1")["name"] == "I. ASH"
    # a party listed once per address: two rows, one key
    assert e.filter(pl.col("key") == "DPL|abdulah al nasser").height == 2


def test_ftm():
    s = snap(FTM)
    e = s.entries
    # 7 entities: 4 Person and 2 Organization are parties; the Address is not an entry (an address
    # entity only lends its country to the parties that point at it)
    assert s.format == "ftm_json" and e.height == 6
    assert dict(e.group_by("type").len().iter_rows()) == {"Individual": 4, "Entity": 2}
    assert s.counts == {"OTHER": 6} and s.data_date == "2024-06-01"
    r = row(e, list_id="NK-2GdmHtZTeNXjNVrBGEXZNj")
    assert r["name"] == "RAB „Inter Tobacco“" and r["countries"] == ["BY"] and r["source"] == "OpenSanctions eu_fsf"
    assert "Общество с ограниченной ответственностью “Интер Тобако”" in r["alt_names"]
    assert r["key"] == "OTHER|#NK-2GdmHtZTeNXjNVrBGEXZNj"  # FtM ids are stable: they key the entry
    assert row(e, list_id="NK-2PacmNpiLUmoz4XD2mSt7A")["name"] == "IRGC"


# ------------------------------------------------------------------------------------------ snapshots


def test_snapshot_fields():
    s = snap(CSL_2026)
    assert s.source_path.endswith("consolidated-2026-07-31.csv") and s.format == "csl_csv"
    assert s.loaded_at.endswith("+00:00") and s.data_date is None  # the 2026 CSV has no dates
    assert len(s.content_hash) == 64 and sum(s.counts.values()) == 25921


def test_snapshot_hash_stable_under_row_shuffling(tmp_path):
    s = snap(CSL_2026)
    shuffled = s.entries.sample(fraction=1.0, shuffle=True, seed=7)
    assert not shuffled["list_id"].equals(s.entries["list_id"])
    assert L.content_hash(shuffled) == s.content_hash
    # the same through a file: the CSV written back in another row order
    raw = pl.read_csv(data(CSL_2026), infer_schema=False)
    p = tmp_path / "shuffled.csv"
    raw.sample(fraction=1.0, shuffle=True, seed=11).write_csv(p)
    assert L.load_snapshot(p).content_hash == s.content_hash
    raw.head(25920).write_csv(p)  # and a different list gives a different hash
    assert L.load_snapshot(p).content_hash != s.content_hash


# ------------------------------------------------------------------------------------------ diff


def test_diff_of_a_list_with_itself_is_empty():
    s = snap(CSL_2022)
    d = L.diff(s, s.entries.sample(fraction=1.0, shuffle=True, seed=3))
    assert (d["counts"]["added"], d["counts"]["removed"], d["counts"]["changed"]) == (0, 0, 0)
    assert d["counts"]["unchanged"] == 14160


def test_diff_2022_to_2026():
    old, new = snap(CSL_2022), snap(CSL_2026)
    d = L.diff(old, new)
    c = d["counts"]
    assert c["added"] > 10000 and c["removed"] > 1000 and c["changed"] > 1000 and c["renamed"] > 0
    assert c["old"] == c["unchanged"] + c["changed"] + c["removed"] == 14160
    assert c["new"] == c["unchanged"] + c["changed"] + c["added"] == 25921
    # the 2026 file carries no dates or remarks: they cannot tell a change, so they are not compared
    assert d["skipped_fields"] == ["start_date", "end_date", "remarks"]
    assert dict(d["added"].schema) == L.ENTRY_SCHEMA == dict(d["removed"].schema)

    # added: Inspur Group, on the Entity List since 88 FR 13675 (March 2023); in 2022 only on CMIC
    r = row(d["added"], key="EL|inspur group co., ltd.")
    assert r["name"] == "Inspur Group Co., Ltd." and r["federal_register_notice"] == "88 FR 13675"
    assert "CMIC|#30949" not in set(d["added"]["key"])
    # added: Rosneft (ent_num 17022), SSI since 2014, now also on the SDN list
    assert row(d["added"], key="SDN|#17022")["name"] == "OPEN JOINT-STOCK COMPANY ROSNEFT OIL COMPANY"

    # removed: "Shuang Xiang (Fujian) Electronics", on the 2022 Unverified List, in no 2026 list
    r = row(d["removed"], key="UVL|shuang xiang (fujian) electronics")
    assert r["countries"] == ["CN"]
    assert new.entries.filter(pl.col("name").str.contains("(?i)shuang xiang")).height == 0

    # changed: Rosneft's SSI entry gained the RUSSIA-EO14024 programme (and its names lost their capitals)
    r = row(d["changed"], key="SSI|#17022")
    assert r["old_programs"] == ["UKRAINE-EO13662"] and r["programs"] == ["UKRAINE-EO13662", "RUSSIA-EO14024"]
    assert r["changed_fields"] == ["name", "alt_names", "programs"] and r["old_list_id"] == "17022"
    # changed by a rename: the 2022 Entity List wrote the city into the name
    r = row(d["changed"], key="EL|huawei technologies switzerland ag")
    assert r["old_key"] == "EL|huawei technologies switzerland ag, liebefeld" and "name" in r["changed_fields"]
    assert r["old_name"] == "Huawei Technologies Switzerland AG, Liebefeld"
    # a party with a row per address: rows pair by their countries before anything else
    ali = d["changed"].filter(pl.col("key") == "DPL|air freight ltd")
    assert all(set(a) & set(b) for a, b in zip(ali["countries"], ali["old_countries"], strict=True))

    # per list, and the same without rename detection
    assert c["by_list"]["EL"]["added"] > 1000 and c["by_list"]["CAP"]["removed"] == 52
    plain = L.diff(old.entries, new.entries, renames=False)["counts"]
    assert plain["removed"] == c["removed"] + c["renamed"] and plain["renamed"] == 0


def test_diff_compares_the_fields_asked_for():
    old, new = snap(CSL_2022), snap(CSL_2026)
    d = L.diff(old, new, fields=["name"])
    assert d["fields"] == ["name"] and d["counts"]["changed"] < L.diff(old, new)["counts"]["changed"]
    with pytest.raises(InputError, match="not a content field"):
        L.diff(old, new, fields=["colour"])


# ------------------------------------------------------------------------------------------ bad files


def _error(path: Path, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        L.load_entries(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path)) or msg.startswith("unknown list format")
    return info.value


def test_file_not_found_and_empty(tmp_path):
    assert "file not found" in str(_error(tmp_path / "nope.csv"))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "empty" in str(_error(empty))
    blank = tmp_path / "blank.csv"
    blank.write_bytes(b"\r\n\n  \n")
    assert "empty" in str(_error(blank))
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(L.CSL_COLUMNS) + "\n", encoding="utf-8")
    assert "no rows" in str(_error(header_only))


def test_truncated_files(tmp_path):
    cut = tmp_path / "cut.csv"
    cut.write_bytes(data(CSL_2026).read_bytes()[:100_000])  # mid-row
    assert "truncated" in str(_error(cut))
    text = gzip.decompress(data(CSL_2022).read_bytes())
    inside = text.index(b"Scientific Studies") + 5  # mid quoted field
    cut.write_bytes(text[:inside])
    assert "truncated" in str(_error(cut))
    gz = tmp_path / "cut.csv.gz"
    gz.write_bytes(data(CSL_2022).read_bytes()[:700_000])
    assert "gzip" in str(_error(gz))
    js = tmp_path / "cut.json"
    js.write_bytes(data(PROJECTION).read_bytes()[:1_000_000])
    assert "truncated" in str(_error(js))
    ftm = tmp_path / "cut.ftm.json"
    ftm.write_bytes(data(FTM).read_bytes()[:3000])
    assert "truncated" in str(_error(ftm))
    sdn = tmp_path / "sdn.csv"
    sdn.write_bytes(data(SDN_2024).read_bytes()[:50_000])
    assert "truncated" in str(_error(sdn))


def test_latin1_bytes_in_a_csl_csv(tmp_path):
    text = gzip.decompress(data(CSL_2022).read_bytes()).decode("utf-8")
    p = tmp_path / "latin1.csv"
    p.write_bytes(text.encode("latin-1", errors="replace"))  # "§" becomes byte 0xA7
    msg = str(_error(p))
    assert "not UTF-8" in msg and "line 39" in msg and "0xA7" in msg


def test_missing_and_empty_columns(tmp_path):
    lines = data(CSL_2026).read_text(encoding="utf-8").splitlines()[:20]
    p = tmp_path / "noname.csv"
    p.write_text("\n".join([lines[0].replace(",name,", ",nom,"), *lines[1:]]) + "\n", encoding="utf-8")
    err = _error(p)
    assert "no column 'name'" in str(err) and err.field == "name"
    cols = lines[0].split(",")
    blank = lines[3].split(",")
    blank[cols.index("name")] = ""
    p.write_text("\n".join([*lines[:3], ",".join(blank), *lines[4:]]) + "\n", encoding="utf-8")
    err = _error(p)
    assert "row 3 (csl2026-00002), field name: empty" in str(err) and err.row == 3


def test_wrong_files(tmp_path):
    alt = tmp_path / "alt.csv"
    alt.write_bytes(data(SDN_2021).with_name("alt.csv").read_bytes())
    assert "alt.csv" in str(_error(alt))
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\n", encoding="utf-8")
    assert "unknown list format" in str(_error(junk))
    assert "unknown list format" in str(_error(junk, fmt="xml"))
    proj = json.loads(data(PROJECTION).read_text(encoding="utf-8"))
    proj["entries"] = proj["entries"][:100]
    p = tmp_path / "projection.json"
    p.write_text(json.dumps(proj), encoding="utf-8")
    assert "entryCount" in str(_error(p))
    proj["entryCount"] = 100
    proj["entries"][5]["s"] = 99
    p.write_text(json.dumps(proj), encoding="utf-8")
    assert "entry 6, field s" in str(_error(p))


def test_a_failed_load_leaves_the_previous_snapshot(tmp_path):
    p = tmp_path / "list.csv"
    p.write_bytes(data(CSL_2026).read_bytes())
    current = L.load_snapshot(p)
    p.write_bytes(p.read_bytes()[:-5000])  # the next download is cut short
    with contextlib.suppress(InputError):
        current = L.load_snapshot(p)
    assert current.entries.height == 25921 and current.content_hash == snap(CSL_2026).content_hash
