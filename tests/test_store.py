"""Stored list snapshots, recorded screenings, decisions and re-screening (issue #4 points 1 and 4):
aiexport.db, aiexport.parties.store and the `aiexport db / lists import|history|update / review`
commands.

Every test runs against SQLite (a file in tmp_path) and, when AIEXPORT_TEST_DATABASE_URL is set
(CI: postgresql://postgres@127.0.0.1:5432/test), against PostgreSQL in a schema of its own that is
dropped afterwards. The lists are small CSL CSVs built in tmp_path from rows of the real 2026 CSL
(shared/data/lists/export-controls-agent-mcp, see PROVENANCE.md there); one test imports it whole.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from aiexport import db
from aiexport.db import migrate
from aiexport.errors import InputError
from aiexport.parties import store
from aiexport.parties.lists import load_snapshot
from aiexport.parties.matcher import DEFAULT_THRESHOLD, Index
from tests.conftest import CSL_2026, csl_2026_rows, run_cli, write_list

pytestmark = pytest.mark.skipif(not CSL_2026.exists(), reason="shared list data not present")


# ---------------------------------------------------------------------------------------------- fixtures


def _col(name: str) -> int:
    return csl_2026_rows()[0].index(name)


def rows_of(code: str) -> list[list[str]]:
    return [r for r in csl_2026_rows()[1] if f"({code})" in r[_col("source")]]


def name(row: list[str]) -> str:
    return row[_col("name")]


def changed(row: list[str], policy: str = "Case-by-case review (changed in this test).") -> list[str]:
    out = list(row)
    out[_col("license_policy")] = policy
    return out


#: 300 rows: every other Entity List row of the first 400, every other SDN row of the first 200
@functools.cache
def base_rows() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(r) for r in rows_of("EL")[0:400:2] + rows_of("SDN")[0:200:2])


def v1_rows() -> list[list[str]]:
    return [list(r) for r in base_rows()]


#: names of companies that are on no list (and on none of these rows)
UNLISTED = ["Nordic Timber Supplies AB", "Maple Leaf Dental Clinic", "Sunshine Coast Surf School", "Bavarian Pretzel Works GmbH",
            "Lakeside Veterinary Practice", "Copper Kettle Tea Rooms", "Quantum Garden Landscaping", "Harbour Lights Ferry Co",
            "Alpine Cheese Cooperative", "Redwood Violin Makers", "Saffron Spice Importers Ltd", "Pacific Kelp Farms Inc",
            "Granite Peak Climbing Gym", "Velvet Lane Bookbinders", "Morning Dew Organic Dairy"]


def names_frame(names: list[str], countries: list[str | None] | None = None) -> pl.DataFrame:
    data: dict[str, list] = {"id": [f"n{i}" for i in range(len(names))], "name": names}
    if countries is not None:
        data["country"] = countries
    return pl.DataFrame(data, schema={c: pl.String for c in data})


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the aiexport command line in this process (its real error handling, `cli._run`)."""
    from aiexport import cli as cli_mod

    monkeypatch.setattr(sys, "argv", ["aiexport", *args])
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    try:
        cli_mod._run()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def count(table: str) -> int:
    with db.get_engine().connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


# ---------------------------------------------------------------------------------------------- migrations


def test_migrations_upgrade_from_empty(database, monkeypatch, capsys):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = db.get_engine()
    assert db.current_revision(engine) is None
    code, out, _ = cli(monkeypatch, capsys, "db", "upgrade", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["revision_before"] is None and info["revision"] == db.head_revision()
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        # the migrations make exactly the tables the models describe
        assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata) == []
    assert {"alembic_version", "list_snapshots", "list_entries", "screened_parties", "screening_hits", "hit_decisions"} <= tables
    code, out, _ = cli(monkeypatch, capsys, "db", "upgrade", "--json")  # again: nothing to do
    assert code == 0 and json.loads(out)["revision_before"] == db.head_revision()
    # down to nothing and up again
    db.downgrade()
    with engine.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
    db.upgrade()
    assert db.current_revision(engine) == db.head_revision()


def test_other_commands_migrate_an_empty_database(database, monkeypatch, capsys):
    code, out, err = cli(monkeypatch, capsys, "lists", "history", "--json")
    assert (code, out, err) == (0, "", "")
    assert db.current_revision(db.get_engine()) == db.head_revision()
    code, out, _ = cli(monkeypatch, capsys, "db", "status", "--json")
    assert code == 0 and json.loads(out)["up_to_date"] is True


def test_unknown_revision_is_one_line_error(database, monkeypatch, capsys):
    db.upgrade()
    with db.get_engine().begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    migrate.reset_checks()
    code, out, err = cli(monkeypatch, capsys, "lists", "history")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "unknown to this aiexport" in err


def test_bad_database_url_is_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIEXPORT_DATABASE_URL", "mysql://nobody@localhost/x")
    db.dispose_engines()
    code, _, err = cli(monkeypatch, capsys, "lists", "history")
    assert code == 2 and err.count("\n") == 1 and "AIEXPORT_DATABASE_URL" in err
    monkeypatch.setenv("AIEXPORT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, _, err = cli(monkeypatch, capsys, "lists", "history")
    assert code == 2 and err.count("\n") == 1 and "AIEXPORT_DATABASE_URL" in err
    db.dispose_engines()


def test_default_database_is_sqlite_under_aiexport_home(tmp_path, monkeypatch):
    monkeypatch.delenv("AIEXPORT_DATABASE_URL", raising=False)
    monkeypatch.setenv("AIEXPORT_HOME", str(tmp_path / "h"))
    assert db.database_url() == f"sqlite:///{tmp_path / 'h' / 'aiexport.db'}"
    monkeypatch.setenv("AIEXPORT_DATABASE_URL", "postgresql://u@h:5432/d")
    assert db.database_url() == "postgresql+psycopg://u@h:5432/d"


# ---------------------------------------------------------------------------------------------- snapshots


def test_import_is_idempotent_by_content_hash(database, tmp_path):
    v1 = write_list(tmp_path / "v1.csv", v1_rows())
    first = store.import_snapshot(v1)
    assert first.inserted and first.entry_count == 300 and first.counts == {"EL": 200, "SDN": 100}
    again = store.import_snapshot(v1)
    assert not again.inserted and again.id == first.id and again.content_hash == first.content_hash
    # the same entries in another order (another file) are the same snapshot
    shuffled = write_list(tmp_path / "v1-reversed.csv", v1_rows()[::-1])
    assert store.import_snapshot(shuffled).id == first.id
    assert [s.id for s in store.snapshots()] == [first.id]
    assert count("list_snapshots") == 1 and count("list_entries") == 300
    # what is stored is what was loaded: the entries frame comes back exactly (hash checked on the way)
    stored = store.snapshot_entries(first.id)
    assert stored.equals(load_snapshot(v1).entries)


def test_bad_file_leaves_previous_snapshot_current(database, tmp_path, monkeypatch, capsys):
    v1 = store.import_snapshot(write_list(tmp_path / "v1.csv", v1_rows()))
    text = (tmp_path / "v1.csv").read_text(encoding="utf-8")
    truncated = tmp_path / "truncated.csv"
    truncated.write_text(text[: len(text) // 2], encoding="utf-8")  # cut mid-file, as a broken download
    with pytest.raises(InputError):
        store.import_snapshot(truncated)
    code, out, err = cli(monkeypatch, capsys, "lists", "import", str(truncated))
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ")
    assert store.current_snapshot().id == v1.id
    assert count("list_snapshots") == 1 and count("list_entries") == 300


def test_failure_while_writing_leaves_nothing(database, tmp_path, monkeypatch):
    v1 = store.import_snapshot(write_list(tmp_path / "v1.csv", v1_rows()))
    rows = v1_rows()
    rows[0] = changed(rows[0])
    v2 = write_list(tmp_path / "v2.csv", rows)
    real = store._entry_rows

    def failing(snapshot_id, entries):
        gen = real(snapshot_id, entries)
        yield next(gen)  # one batch written, then the connection "drops"
        raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(store, "_INSERT_BATCH", 50)
    monkeypatch.setattr(store, "_entry_rows", failing)
    with pytest.raises(InputError, match="server closed the connection"):
        store.import_snapshot(v2)
    assert store.current_snapshot().id == v1.id
    assert count("list_snapshots") == 1 and count("list_entries") == 300


def test_history_and_import_cli(database, tmp_path, monkeypatch, capsys):
    v1 = write_list(tmp_path / "v1.csv", v1_rows())
    code, out, _ = cli(monkeypatch, capsys, "lists", "import", str(v1))
    assert code == 0 and "stored snapshot #" in out and "EL" in out
    code, out, _ = cli(monkeypatch, capsys, "lists", "import", str(v1))
    assert code == 0 and "already stored" in out and "nothing written" in out
    rows = v1_rows()
    rows[10] = changed(rows[10])
    code, out, _ = cli(monkeypatch, capsys, "lists", "import", str(write_list(tmp_path / "v2.csv", rows)), "--json")
    res = json.loads(out)
    assert res["rescreen"]["diff"]["changed"] == 1 and res["rescreen"]["recorded"] == 0
    code, out, _ = cli(monkeypatch, capsys, "lists", "history", "--json")
    hist = [json.loads(line) for line in out.splitlines()]
    assert [h["current"] for h in hist] == [False, True]
    assert hist[0]["source_path"].endswith("v1.csv") and hist[1]["entry_count"] == 300
    code, out, _ = cli(monkeypatch, capsys, "lists", "history")
    assert code == 0 and "current" in out


def test_full_2026_list_imports_whole_and_once(database):
    # the whole 2026 CSL goes in, and importing it again finds the same snapshot (its time is a
    # benchmark's business, not a test's: the printed figure is for the reader)
    t0 = time.perf_counter()
    snap = store.import_snapshot(CSL_2026)
    print(f"full 2026 CSL ({snap.entry_count:,} entries) imported in {time.perf_counter() - t0:.2f} s")
    assert snap.inserted and snap.entry_count == 25_921
    assert count("list_entries") == 25_921
    again = store.import_snapshot(CSL_2026)
    assert again.id == snap.id and not again.inserted
    assert count("list_entries") == 25_921


# ---------------------------------------------------------------------------------------------- screening and decisions


def test_record_without_a_snapshot_is_an_error(database, tmp_path, monkeypatch, capsys):
    names = tmp_path / "names.csv"
    names.write_text("id,name\n1,Acme\n", encoding="utf-8")
    code, out, err = cli(monkeypatch, capsys, "review", "record", str(names))
    assert code == 2 and "no list snapshot" in err and err.count("\n") == 1


def test_party_key_normalises_name_and_country():
    assert store.party_key("  Huawei  Technologies Co., Ltd. ", "china") == "huawei technologies co ltd|CN"
    assert store.party_key("HUAWEI TECHNOLOGIES CO LTD", "CN") == "huawei technologies co ltd|CN"
    assert store.party_key("华为技术有限公司") == "华为技术有限公司|"
    with pytest.raises(InputError):
        store.party_key("...")


def test_false_match_suppresses_until_the_entry_changes(database, tmp_path):
    el = [list(r) for r in base_rows() if "(EL)" in r[_col("source")]]
    target, other = el[20], el[40]
    names = names_frame([name(target), UNLISTED[0]], ["AF", None])
    store.import_snapshot(write_list(tmp_path / "v1.csv", v1_rows()))
    first = store.screen_and_record(names)
    [hit] = first["results"][0]["matches"]
    pk, entry = first["results"][0]["party_key"], hit["entry_key"]
    assert first["results"][0]["decision"] == "alert" and hit["status"] == "open" and hit["score"] >= DEFAULT_THRESHOLD
    assert first["results"][1]["decision"] == "clear"

    d = store.decide(pk, entry, "false_match", "a different company (other registration number)", "alice")
    assert d["hit"]["status"] == "suppressed" and d["decision"]["entry_content"] == hit["entry_content"]
    second = store.screen_and_record(names)
    r = second["results"][0]
    assert r["decision"] == "clear" and r["suppressed"] == 1
    assert r["matches"][0]["status"] == "suppressed" and r["matches"][0]["decision"]["reviewer"] == "alice"
    assert second["counts"]["new_hits"] == 0 and second["counts"]["suppressed_hits"] == 1

    # another entry changes: this one did not, the hit stays suppressed
    rows = [changed(r) if r == other else r for r in v1_rows()]
    res = store.import_and_rescreen(write_list(tmp_path / "v2.csv", rows))
    assert res["rescreen"]["diff"]["changed"] == 1
    assert pk not in {p["party_key"] for p in res["rescreen"]["parties"]}
    assert [h["status"] for h in store.hits(pk)] == ["suppressed"]

    # the entry itself changes: the hit reopens, its decision marked outdated
    rows = [changed(r) if r in (other, target) else r for r in v1_rows()]
    res = store.import_and_rescreen(write_list(tmp_path / "v3.csv", rows))
    [p] = [p for p in res["rescreen"]["parties"] if p["party_key"] == pk]
    assert p["action"] == "rescreened" and (p["before"], p["after"]) == ("clear", "alert")
    assert [h["cleared_reason"] for h in p["cleared_hits"]] == ["entry_changed"]
    [now] = store.hits(pk)
    assert now["status"] == "open" and now["decision_outdated"] and now["entry_content"] != hit["entry_content"]
    third = store.screen_and_record(names)
    assert third["results"][0]["decision"] == "alert" and third["results"][0]["suppressed"] == 0

    # decisions are appended; the latest counts
    store.decide(pk, entry, "true_match", "confirmed by compliance", "bob")
    [now] = store.hits(pk)
    assert now["status"] == "confirmed" and now["decision"]["reviewer"] == "bob"
    assert store.screen_and_record(names)["results"][0]["decision"] == "alert"
    assert count("hit_decisions") == 2
    history = store.hits(pk, include_cleared=True)
    assert sorted(h["status"] for h in history) == ["cleared", "confirmed"]


def test_decisions_are_append_only_in_the_database(database, tmp_path):
    el = [list(r) for r in base_rows() if "(EL)" in r[_col("source")]]
    store.import_snapshot(write_list(tmp_path / "v1.csv", v1_rows()))
    res = store.screen_and_record(names_frame([name(el[30])]))
    r = res["results"][0]
    store.decide(r["party_key"], r["matches"][0]["entry_key"], "false_match", "not them", "carol")
    engine = db.get_engine()
    for stmt in ("UPDATE hit_decisions SET verdict = 'true_match'", "DELETE FROM hit_decisions"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(stmt))
    assert count("hit_decisions") == 1


def test_decide_checks_its_input(database, tmp_path):
    el = [list(r) for r in base_rows() if "(EL)" in r[_col("source")]]
    store.import_snapshot(write_list(tmp_path / "v1.csv", v1_rows()))
    r = store.screen_and_record(names_frame([name(el[30])]))["results"][0]
    pk, entry = r["party_key"], r["matches"][0]["entry_key"]
    for args, field in [(("nobody|", entry, "false_match", "x"), "PARTY_KEY"), ((pk, "EL|no such entry", "false_match", "x"), "ENTRY_KEY"),
                        ((pk, entry, "maybe", "x"), "verdict"), ((pk, entry, "false_match", "  "), "--reason")]:
        with pytest.raises(InputError) as exc:
            store.decide(*args)
        assert exc.value.field == field
    with pytest.raises(InputError):
        store.screen_and_record(names_frame(["x"]), threshold=1.5)
    with pytest.raises(InputError, match="row 2, field name"):
        store.screen_and_record(names_frame(["Acme", "..."]))
    assert count("hit_decisions") == 0


def test_review_cli(database, tmp_path, monkeypatch, capsys):
    el = [list(r) for r in base_rows() if "(EL)" in r[_col("source")]]
    write_list(tmp_path / "v1.csv", v1_rows())
    names = tmp_path / "names.csv"
    names.write_text(f"id,name,country\n1,{name(el[20])},AF\n2,{UNLISTED[1]},CA\n", encoding="utf-8")
    assert cli(monkeypatch, capsys, "lists", "import", str(tmp_path / "v1.csv"))[0] == 0
    code, out, _ = cli(monkeypatch, capsys, "review", "record", str(names), "--json")
    assert code == 0
    a, b = (json.loads(line) for line in out.splitlines())
    assert a["decision"] == "alert" and b["decision"] == "clear"
    pk, entry = a["party_key"], a["matches"][0]["entry_key"]
    code, out, err = cli(monkeypatch, capsys, "review", "decide", pk, entry, "--false-match", "--reason", "different party", "--reviewer", "dana")
    assert code == 0 and "suppressed" in out, err
    code, out, _ = cli(monkeypatch, capsys, "review", "hits", "--party", pk, "--json")
    [h] = [json.loads(line) for line in out.splitlines()]
    assert h["status"] == "suppressed" and h["decision"]["reason"] == "different party"
    code, out, _ = cli(monkeypatch, capsys, "review", "record", str(names))
    assert code == 0 and "suppressed" in out and "0 alerts of 2 names" in out
    code, out, _ = cli(monkeypatch, capsys, "review", "hits")
    assert code == 0 and "suppressed" in out
    # bad input: one line, exit 2
    for args in (["review", "decide", pk, entry, "--reason", "x"],
                 ["review", "decide", pk, entry, "--true-match", "--false-match", "--reason", "x"],
                 ["review", "decide", pk, entry, "--true-match"],
                 ["review", "decide", "nobody|", entry, "--true-match", "--reason", "x"],
                 ["review", "hits", "--party", "nobody|"],
                 ["review", "record", str(names), "--threshold", "0"],
                 ["review", "record", str(tmp_path / "missing.csv")]):
        code, out, err = cli(monkeypatch, capsys, *args)
        assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), (args, err)


# ---------------------------------------------------------------------------------------------- re-screening


def test_rescreen_touches_only_affected_parties(database, tmp_path):
    el = [list(r) for r in base_rows() if "(EL)" in r[_col("source")]]
    sdn = [list(r) for r in base_rows() if "(SDN)" in r[_col("source")]]
    outside = rows_of("EL")[1:400:2]  # Entity List rows not in v1
    kept = [el[i] for i in (12, 60, 110, 150)] + [sdn[i] for i in (5, 40, 80)]
    b_changed, c_removed, d_added = el[90], el[130], outside[150]
    listed_names = [name(r) for r in kept] + [name(b_changed), name(c_removed), name(d_added)]
    all_names = listed_names + UNLISTED
    store.import_snapshot(write_list(tmp_path / "v1.csv", v1_rows()))
    first = store.screen_and_record(names_frame(all_names))
    decision = {r["name"]: r["decision"] for r in first["results"]}
    assert all(decision[name(r)] == "alert" for r in [*kept, b_changed, c_removed])
    assert decision[name(d_added)] == "clear" and all(decision[n] == "clear" for n in UNLISTED)

    rows = [changed(r) if r == b_changed else r for r in v1_rows() if r != c_removed] + [d_added]
    v2 = write_list(tmp_path / "v2.csv", rows)
    res = store.import_and_rescreen(v2)["rescreen"]
    assert (res["diff"]["added"], res["diff"]["removed"], res["diff"]["changed"]) == (1, 1, 1)
    # only the party of the changed entry and the party of the added one are re-screened; the party of
    # the removed entry only loses its hit; the other 20 are carried forward untouched
    assert res["recorded"] == len(all_names) == 25
    assert res["rescreened"] == 2, res["parties"]
    assert res["cleared_only"] == 1 and res["carried_forward"] == 22
    by_party = {p["name"]: p for p in res["parties"]}
    assert by_party[name(d_added)]["action"] == "rescreened" and by_party[name(d_added)]["after"] == "alert"
    assert by_party[name(b_changed)]["action"] == "rescreened" and len(by_party[name(b_changed)]["new_hits"]) == 1
    assert by_party[name(c_removed)]["action"] == "cleared" and by_party[name(c_removed)]["after"] == "clear"
    assert res["new_hits"] == 2 and res["cleared_hits"] == 2

    # the result is the one a full re-screen of every party would give
    full = Index.build(load_snapshot(v2).entries)
    ident = store._Identity.of(full.entries)
    expected = {(store.party_key(n), f.entry_key, f.entry_content)
                for n, ans in zip(all_names, full.search(all_names, threshold=DEFAULT_THRESHOLD, limit=50, explain=False), strict=True)
                for f in ident.found(ans)}
    assert {(h["party_key"], h["entry_key"], h["entry_content"]) for h in store.hits()} == expected
    # every party is now known to hold for the new snapshot
    current = store.current_snapshot().id
    assert {p["checked_snapshot_id"] for p in store.parties()} == {current}
    # importing the same list again re-screens nobody
    again = store.import_and_rescreen(v2)
    assert again["rescreen"] is None and not again["snapshot"]["inserted"]


def test_rescreen_of_parties_checked_against_an_older_snapshot(database, tmp_path):
    el = [list(r) for r in base_rows() if "(EL)" in r[_col("source")]]
    s1 = store.import_snapshot(write_list(tmp_path / "v1.csv", v1_rows()))
    store.screen_and_record(names_frame([name(el[12]), UNLISTED[2]]))
    rows = v1_rows()
    rows[0] = changed(rows[0])
    s2 = store.import_snapshot(write_list(tmp_path / "v2.csv", rows))  # stored without the re-screen step
    rows[1] = changed(rows[1])
    s3 = store.import_snapshot(write_list(tmp_path / "v3.csv", rows))
    res = store.rescreen_after_import(s2.id, s3.id)  # the parties were checked against #1, not #2: screened in full
    assert res["rescreened"] == 2 and all(f"snapshot #{s1.id}" in p["reasons"][0] for p in res["parties"])
    res = store.rescreen_after_import(s2.id, s3.id)
    assert res["rescreened"] == 0 and res["already_current"] == 2
    for a, b in ((s1.id, 999), (s3.id, s3.id)):
        with pytest.raises(InputError):
            store.rescreen_after_import(a, b)


# ---------------------------------------------------------------------------------------------- lists update


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def http_dir(tmp_path) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_lists_update_downloads_and_imports(database, tmp_path, http_dir, monkeypatch, capsys):
    base, served = http_dir
    write_list(served / "consolidated.csv", v1_rows())
    dl = tmp_path / "downloads"
    code, out, err = cli(monkeypatch, capsys, "lists", "update", "--url", f"{base}/consolidated.csv", "--output-dir", str(dl), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["snapshot"]["inserted"] and res["snapshot"]["entry_count"] == 300
    path = Path(res["downloaded"]["path"])
    assert path.parent == dl and path.name.startswith("consolidated-") and path.suffix == ".csv"
    assert path.read_bytes() == (served / "consolidated.csv").read_bytes()
    assert not list(dl.glob("*.part"))
    # a new release on the server: downloaded, stored, diffed
    rows = v1_rows()
    rows[3] = changed(rows[3])
    write_list(served / "consolidated.csv", rows)
    code, out, _ = cli(monkeypatch, capsys, "lists", "update", "--url", f"{base}/consolidated.csv", "--output-dir", str(dl))
    assert code == 0 and "downloaded" in out and "changes since snapshot" in out
    assert len(store.snapshots()) == 2
    # a missing file, a server that is not there: one line, exit 2, nothing stored
    for url in (f"{base}/nothing-here.csv", "http://127.0.0.1:9/consolidated.csv", "ftp://example.org/x.csv"):
        code, out, err = cli(monkeypatch, capsys, "lists", "update", "--url", url, "--output-dir", str(dl))
        assert code == 2 and err.count("\n") == 1 and err.startswith("error: --url"), err
    assert len(store.snapshots()) == 2
    # the default folder is under AIEXPORT_HOME
    code, out, _ = cli(monkeypatch, capsys, "lists", "update", "--url", f"{base}/consolidated.csv", "--json")
    assert code == 0 and Path(json.loads(out)["downloaded"]["path"]).parent == Path(os.environ["AIEXPORT_HOME"]) / "lists"


def test_cli_entry_point_runs_the_new_commands(database, tmp_path):
    # the installed `aiexport` executable (not only the in-process runner) reaches the database
    write_list(tmp_path / "v1.csv", v1_rows())
    proc = run_cli("lists", "import", str(tmp_path / "v1.csv"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["snapshot"]["entry_count"] == 300
    proc = run_cli("review", "decide", "x|", "EL|y", "--false-match", "--reason", "r")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not a recorded party" in proc.stderr


def test_concurrent_recorders_of_the_same_new_parties(database, tmp_path):
    # two sales offices screening the same new customers at once: both runs end, each party is
    # recorded once, and no run fails on the unique party key (the loser retries its transaction)
    import threading

    el = [list(r) for r in base_rows() if "(EL)" in r[_col("source")]]
    store.import_snapshot(write_list(tmp_path / "v1.csv", v1_rows()))
    names = names_frame([name(el[20]), name(el[40]), *UNLISTED[:3]])
    results: list[dict] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        try:
            barrier.wait()
            results.append(store.screen_and_record(names))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(results) == 3
    assert len(store.parties()) == names.height
    assert all(r["results"][0]["decision"] == "alert" for r in results)


def test_review_rescreen_catches_up_after_an_interrupted_import(database, tmp_path, monkeypatch, capsys):
    # an import whose re-screen did not run (store.import_snapshot alone): `review rescreen` brings the
    # recorded parties up to the current snapshot, screening only those the change can affect
    el = [list(r) for r in base_rows() if "(EL)" in r[_col("source")]]
    outside = rows_of("EL")[1:400:2]
    added = outside[150]
    store.import_snapshot(write_list(tmp_path / "v1.csv", v1_rows()))
    first = store.screen_and_record(names_frame([name(added), name(el[12]), *UNLISTED[:2]]))
    assert first["results"][0]["decision"] == "clear"
    store.import_snapshot(write_list(tmp_path / "v2.csv", [*v1_rows(), added]))  # no re-screen
    code, out, err = cli(monkeypatch, capsys, "review", "rescreen", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["rescreened"] == 1 and res["carried_forward"] == 3 and res["new_hits"] == 1
    code, out, _ = cli(monkeypatch, capsys, "review", "hits", "--json")
    assert any(json.loads(line)["party_key"].startswith(name(added).lower()[:5]) for line in out.splitlines())
