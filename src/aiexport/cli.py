"""The `aiexport` command line. Thin: parse, call the engine, format.

Exit status: 0 when it ran (indeterminate answers included), 2 on bad input (one line naming the
file, row and field), 3 when the packaged rulebook itself is broken. Never a traceback.
"""

from __future__ import annotations

import json
import signal
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from aiexport import catalog, render
from aiexport.chips import classify_frame
from aiexport.errors import AiexportError, InputError
from aiexport.ledger.options import RecordOpt, ResumeOpt, UserOpt
from aiexport.rulebook import load_rulebook, parse_date
from aiexport.specs import read_spec_file, specs_from_python, validate_specs
from aiexport.timeline import change_dates, timeline

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="US export controls on AI chips as versioned, cited data (aiexport).")
catalog_app = typer.Typer(no_args_is_help=True, help="The built-in catalog of real accelerators, HBM stacks and systems.")
app.add_typer(catalog_app, name="catalog")
lists_app = typer.Typer(no_args_is_help=True, help="Restricted-party lists: snapshots and what changed between two.")
app.add_typer(lists_app, name="lists")

PROGRESS_BYTES = 2_000_000  # show a progress bar on stderr for spec files larger than this


class Lang(StrEnum):
    en = "en"
    zh = "zh"


AsOf = Annotated[str | None, typer.Option("--as-of", help="Date to answer for, YYYY-MM-DD (default: today).")]
ScenarioOpt = Annotated[Path | None, typer.Option("--scenario", help="Scenario overlay YAML applied on top of the baseline rules.")]
SpecOpt = Annotated[Path | None, typer.Option("--spec", help="Spec file: CSV (header row), JSON or YAML.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per input row, per line, in input order.")]
LangOpt = Annotated[Lang, typer.Option("--lang", help="Language of human output: en or zh.")]
OutputOpt = Annotated[Path | None, typer.Option("--output", help="Write results to .jsonl, .csv or .parquet.")]


def _specs(name: str | None, spec: Path | None) -> tuple[pl.DataFrame, str]:
    if (name is None) == (spec is None):
        raise InputError("give either a catalog NAME or --spec FILE (not both, not neither); see `aiexport catalog list`",
                         field="NAME/--spec")
    if spec is not None:
        source = str(spec)
        return validate_specs(read_spec_file(spec), source), source
    assert name is not None
    found = catalog.find(name)
    if found is None:
        raise InputError(f"NAME: {name!r} is not in the catalog ({catalog.suggest(name)}); give a catalog name or --spec FILE",
                         field="NAME")
    return specs_from_python(catalog.spec_of(found), "catalog"), "catalog"


def _as_of(text: str | None) -> date:
    return parse_date(text) if text else date.today()


def _write_output(df: pl.DataFrame, path: Path) -> None:
    """Write answers as .parquet, .csv (nested columns as JSON text, lists joined by '; ') or .jsonl."""
    _sink(df.lazy(), path)


def _print_jsonl(df: pl.DataFrame) -> None:
    sys.stdout.flush()
    df.write_ndjson(sys.stdout.buffer)
    sys.stdout.buffer.flush()


@app.command()
def classify(
    name: Annotated[str | None, typer.Argument(help="Catalog name, e.g. 'H100' (see `aiexport catalog list`).")] = None,
    spec: SpecOpt = None,
    as_of: AsOf = None,
    scenario: ScenarioOpt = None,
    json_out: JsonOpt = False,
    lang: LangOpt = Lang.en,
    output: OutputOpt = None,
    brief: Annotated[bool, typer.Option("--brief", help="One reason per row (the deciding paragraph and its citation): for whole order books.")] = False,
    record: RecordOpt = False,
    user: UserOpt = None,
) -> None:
    """Classify an accelerator, HBM stack or system under 3A090 / 4A090 / .z on a date."""
    day = _as_of(as_of)
    rb = load_rulebook(scenario)
    if spec is not None and spec.is_file() and spec.stat().st_size > PROGRESS_BYTES:
        result = _classify_with_progress(spec, rb, day, not brief)
    else:
        frame, source = _specs(name, spec)
        result = classify_frame(frame, rb, day, source, explain=not brief)
    if record:
        from aiexport.cli_ledger import record_classify

        record_classify(name, spec, result, day, scenario, user)
    if output is not None:
        _write_output(result, output)
    if json_out:
        _print_jsonl(result)
        return
    out = render.console()
    rows = result.to_dicts() if result.height <= 200 else result.head(200).to_dicts()
    if output is not None or len(rows) > 10:
        out.print(render.summary_table(rows, lang.value))
    else:
        for r in rows:
            out.print(render.classification_panel(r, lang.value))
    counts = result.group_by("control").len().sort("control")
    out.print(" · ".join(f"{c}: {n}" for c, n in counts.iter_rows()), style="bold")


def _classify_with_progress(spec: Path, rb: Any, day: date, explain: bool) -> pl.DataFrame:
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=render.console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading", total=3)
        raw = read_spec_file(spec)
        bar.update(task, advance=1, description=f"validating {raw.height:,} rows")
        frame = validate_specs(raw, str(spec))
        bar.update(task, advance=1, description=f"classifying {frame.height:,} rows")
        result = classify_frame(frame, rb, day, str(spec), explain=explain)
        bar.update(task, advance=1)
    return result


EnforceOpt = Annotated[bool, typer.Option("--enforce-codified", help="What-if: apply codified-but-not-enforced provisions "
                                                                      "(the 2025 AI Diffusion rule) as if enforced.")]
SpecsOpt = Annotated[Path | None, typer.Option("--specs", help="Spec file (classify format) whose ids the book's `item` may name.")]


def _book(path: Path, specs: Path | None, bar: Progress | None = None) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    from aiexport.transactions import read_transaction_file, validate_transactions

    raw = read_transaction_file(path)
    if bar is not None:
        bar.update(bar.task_ids[0], advance=1, description=f"validating {raw.height:,} lines")
    tx = validate_transactions(raw, str(path))
    spec_frame = validate_specs(read_spec_file(specs), str(specs)) if specs is not None else None
    return tx, spec_frame


def _determine(path: Path, specs: Path | None, rb: Any, day: date, enforce: bool, screen: Any = None) -> pl.LazyFrame:
    """The answers for a book, lazy: the decisions are made, the texts joined as they are written."""
    from aiexport.licensing import check_lazy

    if not (path.is_file() and path.stat().st_size > PROGRESS_BYTES):
        tx, spec_frame = _book(path, specs)
        return check_lazy(tx, rb, day, specs=spec_frame, enforce_codified=enforce, source=str(path), screen=screen)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=render.console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading", total=3)
        tx, spec_frame = _book(path, specs, bar)
        bar.update(task, advance=1, description=f"determining {tx.height:,} lines")
        result = check_lazy(tx, rb, day, specs=spec_frame, enforce_codified=enforce, source=str(path), screen=screen)
        bar.update(task, advance=1)
    return result


def _sink(lf: pl.LazyFrame, path: Path) -> None:
    """Write lazy answers to .parquet, .csv or .jsonl as a stream (a big book never sits in memory whole)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        lf.sink_parquet(path, compression="lz4")
    elif suffix == ".csv":
        flat = []
        for name, dtype in lf.collect_schema().items():
            if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
                enc = pl.col(name).list.eval(pl.element().struct.json_encode()).list.join(",")
                flat.append(pl.concat_str([pl.lit("["), enc, pl.lit("]")]).alias(name))
            elif isinstance(dtype, pl.List):
                flat.append(pl.col(name).list.join("; "))
        lf.with_columns(flat).sink_csv(path)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        lf.sink_ndjson(path)
    else:
        raise InputError(f"--output: {str(path)!r} has no known extension; use .jsonl, .csv or .parquet", field="--output")


def _stream_jsonl(lf: pl.LazyFrame, height: int, chunk: int = 100_000) -> None:
    sys.stdout.flush()
    for start in range(0, max(height, 1), chunk):
        lf.slice(start, chunk).collect().write_ndjson(sys.stdout.buffer)
    sys.stdout.buffer.flush()


@app.command()
def check(
    book: Annotated[Path, typer.Argument(help="Transactions: CSV, JSON, YAML or Parquet (one line per transaction).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date for lines without a date, YYYY-MM-DD (default: today).")] = None,
    scenario: ScenarioOpt = None,
    enforce_codified: EnforceOpt = False,
    specs: SpecsOpt = None,
    json_out: JsonOpt = False,
    lang: LangOpt = Lang.en,
    output: OutputOpt = None,
    list_file: Annotated[Path | None, typer.Option("--list", help="Screen every consignee and end user against this list "
                                                                "(CSL CSV/JSON, OFAC, DPL, FtM).")] = None,
    record: RecordOpt = False,
    resume: ResumeOpt = False,
    user: UserOpt = None,
) -> None:
    """Does this transaction need a licence? For one line or a whole order book."""
    day = _as_of(as_of)
    rb = load_rulebook(scenario)
    screen = None
    if list_file is not None:
        from aiexport.parties.screening import load_index, party_screen

        index, snap = load_index(list_file)
        screen = party_screen(index, snapshot_hash=snap.content_hash)
    result = _determine(book, specs, rb, day, enforce_codified, screen)
    if output is not None:
        _sink(result, output)
    verdicts = result.select("verdict").collect()
    if record or resume:
        from aiexport.cli_ledger import record_check

        record_check(book, result, verdicts.height, day=day, scenario=scenario, enforce=enforce_codified, specs=specs,
                     list_file=list_file, resume=resume, user=user)
    if json_out:
        _stream_jsonl(result, verdicts.height)
        return
    out = render.console()
    if output is None and verdicts.height <= 10:
        for r in result.collect().to_dicts():
            out.print(render.determination_panel(r, lang.value))
    elif output is None:
        out.print(render.determination_table(result.head(200).collect().to_dicts(), lang.value))
    counts = verdicts.group_by("verdict").len().sort("verdict")
    out.print(render.verdict_counts(list(counts.iter_rows()), lang.value))


@app.command()
def impact(
    book: Annotated[Path, typer.Argument(help="Transactions: CSV, JSON, YAML or Parquet.")],
    scenario: Annotated[Path, typer.Option("--scenario", help="The proposal to compare with the baseline (scenario YAML).")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date for lines without a date (default: today).")] = None,
    enforce_codified: EnforceOpt = False,
    specs: SpecsOpt = None,
    json_out: JsonOpt = False,
    lang: LangOpt = Lang.en,
    output: Annotated[Path | None, typer.Option("--output", help="Write the changed lines to .jsonl, .csv or .parquet.")] = None,
) -> None:
    """Which lines of a book would a proposed rule change? Baseline against scenario, line by line."""
    from aiexport.licensing import compare

    day = _as_of(as_of)
    base = _determine(book, specs, load_rulebook(), day, enforce_codified).collect()
    scen = _determine(book, specs, load_rulebook(scenario), day, enforce_codified).collect()
    changed, counts = compare(base, scen)
    if output is not None:
        _write_output(changed, output)
    if json_out:
        _print_jsonl(changed)
        return
    out = render.console()
    name = scen["scenario"][0] if scen.height else str(scenario)
    verdicts = changed.filter(pl.col("verdict_changed"))
    basis = changed.filter(~pl.col("verdict_changed"))
    out.print(f"{verdicts.height:,} of {base.height:,} lines change verdict under {name}")
    if verdicts.height:
        out.print(render.impact_table(verdicts.head(500).to_dicts(), lang.value))
    if basis.height:
        out.print(f"{basis.height:,} more keep their verdict but change control (a new legal basis):")
        out.print(render.impact_table(basis.head(500).to_dicts(), lang.value, control=True))
    out.print(render.impact_counts(counts.to_dicts(), lang.value))


@app.command()
def screen(
    names: Annotated[Path, typer.Argument(help="CSV with columns id,name and optionally country.")],
    list_file: Annotated[Path, typer.Option("--list", help="The list: CSL CSV or JSON, OFAC SDN CSV, BIS DPL text, FtM JSON.")],
    threshold: Annotated[float | None, typer.Option("--threshold", help="Alert at or above this score (0..1); default: the measured one.")] = None,
    json_out: JsonOpt = False,
    output: Annotated[Path | None, typer.Option("--output", help="Write the answers to .jsonl.")] = None,
    record: RecordOpt = False,
    user: UserOpt = None,
) -> None:
    """Screen names (Chinese, pinyin or English) against a restricted-party list; every hit explained."""
    from aiexport.parties.matcher import DEFAULT_THRESHOLD
    from aiexport.parties.screening import load_index, read_names_file, screen_frame

    t = DEFAULT_THRESHOLD if threshold is None else threshold
    if not 0.0 < t <= 1.0:
        raise InputError(f"--threshold: {t} is outside 0..1; give a score such as {DEFAULT_THRESHOLD}", field="--threshold")
    frame = read_names_file(names)
    index, snap = load_index(list_file)
    answers = screen_frame(frame, index, t, snapshot_hash=snap.content_hash)
    if record:
        from aiexport.cli_ledger import record_answers

        record_answers("screen", [{"threshold": t, "list_sha256": snap.content_hash, **r} for r in frame.to_dicts()], answers, user=user)
    if output is not None:
        if output.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
            raise InputError(f"--output: {str(output)!r}: screening answers are written as .jsonl", field="--output")
        output.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers), encoding="utf-8")
    if json_out:
        sys.stdout.write("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers))
        return
    out = render.console()
    t_ = render.Table(show_header=True, header_style="bold")
    for col in ("id", "name", "decision", "best match", "list", "score"):
        t_.add_column(col)
    for a in answers[:500]:
        m = a["matches"][0] if a["matches"] else {}
        t_.add_row(str(a["id"]), a["name"], a["decision"], m.get("matched_name", ""), m.get("list_code") or "", str(m.get("score", "")))
    out.print(t_)
    alerts = sum(a["decision"] == "alert" for a in answers)
    out.print(f"{alerts:,} alerts of {len(answers):,} names · list {snap.format} {snap.content_hash[:16]} · threshold {t}")


@lists_app.command("show")
def lists_show(path: Annotated[Path, typer.Argument(help="A list file: CSL CSV or JSON, OFAC SDN CSV, BIS DPL text, FtM JSON.")],
               json_out: JsonOpt = False) -> None:
    """A list file as a snapshot: format, data date, content hash and entries per list."""
    from aiexport.parties.lists import load_snapshot

    snap = load_snapshot(path)
    info = {"source_path": str(path), "format": snap.format, "data_date": snap.data_date, "loaded_at": snap.loaded_at,
            "content_hash": snap.content_hash, "entries": snap.entries.height, "counts": snap.counts}
    if json_out:
        print(json.dumps(info, ensure_ascii=False))
        return
    out = render.console()
    out.print(f"{path}: {snap.format}, data date {snap.data_date or 'unknown'}, sha256 {snap.content_hash}")
    t = render.Table(show_header=True, header_style="bold")
    t.add_column("list")
    t.add_column("entries", justify="right")
    for code, n in sorted(snap.counts.items(), key=lambda kv: -kv[1]):
        t.add_row(code, f"{n:,}")
    out.print(t)


@lists_app.command("diff")
def lists_diff(old: Annotated[Path, typer.Argument(help="The older list file.")],
               new: Annotated[Path, typer.Argument(help="The newer list file.")],
               json_out: JsonOpt = False,
               output: Annotated[Path | None, typer.Option("--output", help="Write every added, removed and changed entry to .jsonl.")] = None,
               ) -> None:
    """Entries added, removed and changed between two snapshots of a list (by list and in total)."""
    from aiexport.parties.lists import diff, load_snapshot

    d = diff(load_snapshot(old), load_snapshot(new))
    counts = d["counts"]
    if output is not None:
        with open(output, "w", encoding="utf-8") as fh:
            for kind in ("added", "removed", "changed"):
                for row in d[kind].select(pl.exclude(pl.Object)).to_dicts() if d[kind].height else []:
                    fh.write(json.dumps({"change": kind, **row}, ensure_ascii=False, default=str) + "\n")
    if json_out:
        print(json.dumps({"counts": counts, "fields": d.get("fields")}, ensure_ascii=False, default=str))
        return
    out = render.console()
    out.print(f"{old} → {new}")
    out.print(" · ".join(f"{k}: {v:,}" for k, v in counts.items() if isinstance(v, int)))
    by_list = counts.get("by_list") or {}
    if by_list:
        t = render.Table(show_header=True, header_style="bold")
        for col in ("list", "added", "removed", "changed"):
            t.add_column(col, justify="left" if col == "list" else "right")
        for code, v in sorted(by_list.items()):
            t.add_row(code, *[f"{v.get(k, 0):,}" for k in ("added", "removed", "changed")])
        out.print(t)


@app.command()
def owners(
    parties: Annotated[Path, typer.Option("--parties", help="CSV: id, name, country, list_status (entity_list, meu, sdn, sdn_744_8).")],
    edges: Annotated[Path, typer.Option("--edges", help="CSV: owner, owned, percent, from, until (dates optional).")],
    as_of: AsOf = None,
    json_out: JsonOpt = False,
    lang: LangOpt = Lang.en,
) -> None:
    """Which parties are covered through ownership by listed parties (BIS Affiliates rule, OFAC 50 % rule)?"""
    from aiexport.parties.ownership import coverage_all, listed_from_parties, read_edges, read_parties

    day = _as_of(as_of)
    party_frame = read_parties(parties)
    result = coverage_all(read_edges(edges), listed_from_parties(party_frame), day, load_rulebook(),
                          parties=party_frame["id"].to_list())
    if json_out:
        for row in result.to_dicts():
            print(json.dumps(row, ensure_ascii=False, default=str))
        return
    out = render.console()
    t = render.Table(show_header=True, header_style="bold")
    for col in ("party", "rule", "status", "covered", "percent", "owners' lists", "chain", "flags"):
        t.add_column(col)
    for r in result.filter(pl.col("meets_threshold") | pl.col("covered") | (pl.col("listed_as").list.len() > 0)).to_dicts():
        chain = r["chains"][0] if r["chains"] else None
        links = " → ".join(f"{link['owner']} {link['percent']:g} %" for link in chain["links"]) + f" → {r['party']}" if chain else ""
        t.add_row(r["party"], r["rule"], r["status"], "yes" if r["covered"] else "no", f"{r['percent']:g}", ", ".join(r["lists"]),
                  links, "; ".join(r["flags"]))
    out.print(t)
    out.print((r"{0:,} parties · {1} · covered: {2:,}" if lang == Lang.en else r"{0:,} 个当事方 · {1} · 受覆盖：{2:,}").format(
        party_frame.height, day, result.filter(pl.col("covered"))["party"].n_unique()))


@app.command("timeline")
def timeline_cmd(
    name: Annotated[str | None, typer.Argument(help="Catalog name, e.g. 'A800'.")] = None,
    spec: SpecOpt = None,
    scenario: ScenarioOpt = None,
    json_out: JsonOpt = False,
    lang: LangOpt = Lang.en,
) -> None:
    """The item under every rule version, with the dates on which its classification changed."""
    rb = load_rulebook(scenario)
    frame, source = _specs(name, spec)
    spans_by_id = timeline(frame, rb, source)
    names = dict(zip(frame["id"].to_list(), frame["name"].fill_null("").to_list(), strict=True))
    if json_out:
        for row_id, spans in spans_by_id.items():
            print(json.dumps({"id": row_id, "name": names.get(row_id) or None, "changes": change_dates(spans), "spans": spans},
                             ensure_ascii=False))
        return
    out = render.console()
    for row_id, spans in spans_by_id.items():
        out.print(render.timeline_table(names.get(row_id) or row_id, spans, lang.value))
        changed = change_dates(spans)
        word = "Control changed on" if lang == Lang.en else "管制类别变化日期"
        out.print(f"{word}: {', '.join(changed) if changed else '—'}")


@catalog_app.command("list")
def catalog_list(json_out: JsonOpt = False) -> None:
    """List the built-in items."""
    items = catalog.items()
    if json_out:
        for it in items:
            print(json.dumps({"id": it["id"], "name": it["name"], "vendor": it["vendor"], "item_type": it["item_type"]}, ensure_ascii=False))
        return
    t = render.Table(show_header=True, header_style="bold")
    for col in ("id", "name", "vendor", "type", "year", "aliases", "confidence"):
        t.add_column(col)
    for it in items:
        t.add_row(it["id"], it["name"], it["vendor"], it["item_type"], it.get("year", ""), it.get("aliases", ""), it.get("confidence", ""))
    render.console().print(t)


@catalog_app.command("show")
def catalog_show(name: Annotated[str, typer.Argument(help="Catalog id, name or alias.")], json_out: JsonOpt = False) -> None:
    """Show one item's published figures and their sources."""
    it = catalog.find(name)
    if it is None:
        raise InputError(f"NAME: {name!r} is not in the catalog ({catalog.suggest(name)})", field="NAME")
    if json_out:
        print(json.dumps({k: v for k, v in it.items() if v}, ensure_ascii=False))
        return
    t = render.Table(show_header=False, box=None)
    t.add_column(style="dim")
    t.add_column()
    for k, v in it.items():
        if v:
            t.add_row(k, v)
    render.console().print(t)


@app.command("rules")
def rules_cmd(as_of: AsOf = None, scenario: ScenarioOpt = None, json_out: JsonOpt = False) -> None:
    """The rule versions and parameter values in force on a date, with citations and the rulebook hash."""
    day = _as_of(as_of)
    rb = load_rulebook(scenario)
    res = rb.resolve(day)
    if json_out:
        print(json.dumps({"as_of": day.isoformat(), "rulebook_hash": res.rulebook_hash,
                          **res.model_dump(mode="json", by_alias=True)}, ensure_ascii=False))
        return
    out = render.console()
    out.print(f"Rules as of {day} · scenario: {res.scenario or 'baseline'} · rulebook sha256 {res.rulebook_hash}")
    t = render.Table(show_header=True, header_style="bold")
    for col in ("instrument", "version / parameter", "value", "from", "until", "status", "fact", "citation"):
        t.add_column(col)
    for inst in res.instruments.values():
        v = inst.version
        until = rb.version_until(inst.id, v) if v else None
        label = v.id if v else ("(none in force)" if rb.instruments[inst.id].versions else "(data)")
        t.add_row(inst.id, label, "", v.from_.isoformat() if v else "",
                  until.isoformat() if until else "…", v.status if v else "", v.fact if v else "", v.citation.text() if v else "")
        for p in inst.params.values():
            p_until = rb.param_until(inst.id, p.name, p.since)
            t.add_row("", p.name, f"{p.value:g} {p.unit}", p.since.isoformat(), p_until.isoformat() if p_until else "…",
                      p.status, p.fact, p.citation.text())
        for g, members in inst.groups.items():
            codes = sorted({c for m in members for c in m.countries})
            facts = sorted({m.fact for m in members})
            t.add_row("", g, " ".join(codes), "", "", "", "/".join(facts), rb.instruments[inst.id].groups[g].citation.text())
    out.print(t)


@app.command()
def demo(lang: LangOpt = Lang.en) -> None:
    """A short tour on built-in data: the thresholds moving under real chips."""
    out = render.console()
    rb = load_rulebook()
    out.rule("aiexport demo: what was this chip on date D, under which paragraph, and why")
    tour = [("A800", "2023-06-01"), ("A800", "2024-01-01"), ("H20", "2026-11-29"), ("RTX 4090", "2024-06-01"),
            ("HGX H100 8-GPU", "2024-06-01"), ("TPU v4", "2024-06-01")]
    for name, day in tour:
        frame, _ = _specs(name, None)
        r = classify_frame(frame, rb, parse_date(day), "catalog").to_dicts()[0]
        out.print(render.classification_panel(r, lang.value))
    frame, _ = _specs("A800", None)
    spans = timeline(frame, rb)["nv_a800_sxm"]
    out.print(render.timeline_table("A800 SXM4 80GB", spans, lang.value))
    scen = Path(str(__file__)).parent / "rules" / "scenarios" / "h20_class.yaml"
    rbs = load_rulebook(scen)
    frame, _ = _specs("H20", None)
    r = classify_frame(frame, rbs, parse_date("2026-11-29"), "catalog").to_dicts()[0]
    out.rule("What if: the hypothetical H20-class scenario (rules/scenarios/h20_class.yaml)")
    out.print(render.classification_panel(r, lang.value))
    whole = classify_frame(specs_from_python([catalog.spec_of(it) for it in catalog.items()], "catalog"), rb, date.today(), "catalog")
    out.rule(f"The whole built-in catalog as of {date.today()}")
    out.print(render.summary_table(whole.to_dicts(), lang.value))

    from aiexport.licensing import check_frame
    from aiexport.transactions import transactions_from_python

    out.rule("May we ship it? Licence determination (aiexport check)")
    cn = {"kind": "export", "from_country": "US", "destination_country": "CN", "consignee_country": "CN", "consignee_hq_country": "CN",
          "ultimate_parent_hq_country": "CN", "end_use": "datacenter", "party_list_status": "none", "item_origin": "us_origin"}
    book = [{"id": "RTX 4090 to China, 2024-06-01", **cn, "item": "RTX 4090", "date": "2024-06-01", "notification_date": "2024-06-01"},
            {"id": "H200 to China, 2026-02-01", **cn, "item": "H200", "date": "2026-02-01"},
            {"id": "H20 to China, 2025-06-01", **cn, "item": "H20", "date": "2025-06-01"},
            {"id": "H100 to a Chinese subsidiary in Germany", **cn, "destination_country": "DE", "consignee_country": "DE",
             "consignee_hq_country": "DE", "item": "H100", "date": "2026-11-29"}]
    answers = check_frame(transactions_from_python(book, "demo"), rb, date.today())
    for r in answers.to_dicts():
        out.print(render.determination_panel(r, lang.value))


# ==============================================================================================
# Stored lists, screening records and review decisions (issue #4 points 1 and 4): the database
# (`aiexport db`), `aiexport lists import / history / update`, and `aiexport review`.
# Engine: aiexport.parties.store and aiexport.db. Everything below this line up to `def main` is
# this block; it adds commands and changes nothing above.
# ==============================================================================================

db_app = typer.Typer(no_args_is_help=True, help="The aiexport database: AIEXPORT_DATABASE_URL, else <AIEXPORT_HOME or ~/.aiexport>/aiexport.db.")
app.add_typer(db_app, name="db")
review_app = typer.Typer(no_args_is_help=True, help="Screen parties against the stored list, keep their hits, decide on them.")
app.add_typer(review_app, name="review")


@db_app.command("upgrade")
def db_upgrade(json_out: JsonOpt = False) -> None:
    """Create or migrate the database's tables to the version this aiexport needs (Alembic)."""
    from aiexport.db import database_url, masked, upgrade

    before, after = upgrade()
    info = {"database": masked(database_url()), "revision_before": before, "revision": after}
    if json_out:
        print(json.dumps(info))
        return
    what = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    render.console().print(f"{info['database']}: {what} revision {after}")


@db_app.command("status")
def db_status(json_out: JsonOpt = False) -> None:
    """Which database, at which revision, and what it holds."""
    from aiexport.db import current_revision, database_url, get_engine, head_revision, masked

    engine = get_engine()
    rev, head = current_revision(engine), head_revision()
    info: dict[str, Any] = {"database": masked(database_url()), "revision": rev, "head": head, "up_to_date": rev == head}
    if rev == head:
        from aiexport.parties import store

        info["snapshots"] = len(store.snapshots())
        info["parties"] = len(store.parties())
        info["open_hits"] = len(store.hits())
    if json_out:
        print(json.dumps(info))
        return
    out = render.console()
    out.print(f"{info['database']}: revision {rev or '(empty)'}" + (" (up to date)" if rev == head else
                                                                     f", this aiexport needs {head}: run `aiexport db upgrade`"))
    if rev == head:
        out.print(f"{info['snapshots']:,} list snapshots · {info['parties']:,} recorded parties · {info['open_hits']:,} open hits")


def _print_import(result: dict[str, Any], json_out: bool) -> None:
    if json_out:
        print(json.dumps(result, ensure_ascii=False, default=str))
        return
    out = render.console()
    snap = result["snapshot"]
    if not snap["inserted"]:
        prev = result.get("previous") or {}
        current = "it is the current snapshot" if prev.get("id") == snap["id"] else f"the current snapshot is #{prev.get('id')}"
        out.print(f"already stored as snapshot #{snap['id']} (sha256 {snap['content_hash']}): nothing written; {current}")
        return
    out.print(f"stored snapshot #{snap['id']}: {snap['format']}, data date {snap['data_date'] or 'unknown'}, "
              f"{snap['entry_count']:,} entries, sha256 {snap['content_hash']}")
    t = render.Table(show_header=True, header_style="bold")
    t.add_column("list")
    t.add_column("entries", justify="right")
    for code, n in sorted(snap["counts"].items(), key=lambda kv: -kv[1]):
        t.add_row(code, f"{n:,}")
    out.print(t)
    rs = result.get("rescreen")
    if rs is None:
        return
    c = rs["diff"]
    out.print(f"changes since snapshot #{rs['old_snapshot_id']}: " + " · ".join(
        f"{k} {c[k]:,}" for k in ("added", "removed", "changed", "renamed", "unchanged")))
    out.print(f"re-screened {rs['rescreened']:,} of {rs['recorded']:,} recorded parties ({rs['touched_entries']:,} entries added or "
              f"changed) · {rs['cleared_only']:,} more only lost hits on removed entries · {rs['carried_forward']:,} carried forward · "
              f"new hits {rs['new_hits']:,} · cleared hits {rs['cleared_hits']:,}")
    if rs["parties"]:
        t = render.Table(show_header=True, header_style="bold")
        for col in ("party", "action", "before → after", "new hits", "cleared hits", "why"):
            t.add_column(col)
        for p in rs["parties"][:500]:
            t.add_row(p["party_key"], p["action"], f"{p['before']} → {p['after']}",
                      "; ".join(f"{h['entry_key']} ({h['score']})" for h in p["new_hits"]),
                      "; ".join(f"{h['entry_key']} ({h['cleared_reason']})" for h in p["cleared_hits"]), "; ".join(p["reasons"]))
        out.print(t)


@lists_app.command("import")
def lists_import(path: Annotated[Path, typer.Argument(help="A list file: CSL CSV or JSON, OFAC SDN CSV, BIS DPL text, FtM JSON.")],
                 json_out: JsonOpt = False) -> None:
    """Store a list file in the database as the current snapshot; re-screen the recorded parties its changes can affect."""
    from aiexport.parties.store import import_and_rescreen

    _print_import(import_and_rescreen(path), json_out)


@lists_app.command("history")
def lists_history(json_out: JsonOpt = False) -> None:
    """The list snapshots stored in the database, oldest first (the last is the current one)."""
    from aiexport.parties.store import snapshots

    rows = snapshots()
    if json_out:
        for i, r in enumerate(rows):
            print(json.dumps({**r.as_dict(), "current": i == len(rows) - 1}, ensure_ascii=False))
        return
    out = render.console()
    if not rows:
        out.print("no list snapshot stored yet; run `aiexport lists import FILE` or `aiexport lists update`")
        return
    t = render.Table(show_header=True, header_style="bold")
    for col in ("#", "loaded at (UTC)", "format", "data date", "entries", "sha256", "file", ""):
        t.add_column(col)
    for i, r in enumerate(rows):
        t.add_row(str(r.id), r.loaded_at.strftime("%Y-%m-%d %H:%M:%S"), r.format, r.data_date or "", f"{r.entry_count:,}",
                  r.content_hash[:16], r.source_path, "current" if i == len(rows) - 1 else "")
    out.print(t)


@lists_app.command("update")
def lists_update(
    url: Annotated[str | None, typer.Option("--url", help="Where to download the list (default: trade.gov's consolidated.csv).")] = None,
    output_dir: Annotated[Path | None, typer.Option("--output-dir", help="Folder to keep the downloaded file "
                                                                         "(default: <AIEXPORT_HOME or ~/.aiexport>/lists).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Download the official Consolidated Screening List and import it (as `aiexport lists import`)."""
    from aiexport.parties.store import CSL_URL, download, import_and_rescreen

    path = download(url or CSL_URL, output_dir)
    result = import_and_rescreen(path)
    result["downloaded"] = {"url": url or CSL_URL, "path": str(path)}
    if not json_out:
        render.console().print(f"downloaded {url or CSL_URL} → {path}")
    _print_import(result, json_out)


@review_app.command("record")
def review_record(
    names: Annotated[Path, typer.Argument(help="CSV with columns id,name and optionally country.")],
    threshold: Annotated[float | None, typer.Option("--threshold", help="Alert at or above this score (0..1); default: the measured one.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Screen names against the current stored snapshot and record the parties and their hits (decisions applied)."""
    from aiexport.parties.matcher import DEFAULT_THRESHOLD
    from aiexport.parties.screening import read_names_file
    from aiexport.parties.store import screen_and_record

    t = DEFAULT_THRESHOLD if threshold is None else threshold
    if not 0.0 < t <= 1.0:
        raise InputError(f"--threshold: {t} is outside 0..1; give a score such as {DEFAULT_THRESHOLD}", field="--threshold")
    res = screen_and_record(read_names_file(names), t)
    if json_out:
        sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in res["results"]))
        return
    out = render.console()
    tbl = render.Table(show_header=True, header_style="bold")
    for col in ("id", "name", "party key", "decision", "best hit", "list", "score", "status"):
        tbl.add_column(col)
    for r in res["results"][:500]:
        m = r["matches"][0] if r["matches"] else {}
        tbl.add_row(str(r["id"]), r["name"], r["party_key"], r["decision"], m.get("entry_key", ""), m.get("list_code") or "",
                    str(m.get("score", "")), m.get("status", ""))
    out.print(tbl)
    c, snap = res["counts"], res["snapshot"]
    out.print(f"{c['alerts']:,} alerts of {c['names']:,} names ({c['parties']:,} parties) · {c['suppressed_hits']:,} hits suppressed by "
              f"false-match decisions · new hits {c['new_hits']:,}, cleared {c['cleared_hits']:,} · snapshot #{snap['id']} "
              f"{snap['content_hash'][:16]} · threshold {res['threshold']}")


@review_app.command("hits")
def review_hits(
    party: Annotated[str | None, typer.Option("--party", help="Only this party (its party key, as `review record` shows it).")] = None,
    include_cleared: Annotated[bool, typer.Option("--all", help="Also the hits that were cleared (entry removed or changed).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The recorded hits with their status: open, suppressed (false match), confirmed (true match) or cleared."""
    from aiexport.parties.store import hits

    rows = hits(party, include_cleared=include_cleared)
    if json_out:
        sys.stdout.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return
    out = render.console()
    tbl = render.Table(show_header=True, header_style="bold")
    for col in ("party key", "entry key", "list", "matched name", "score", "status", "decision", "snapshot"):
        tbl.add_column(col)
    for r in rows[:2000]:
        d = r["decision"]
        note = f"{d['verdict']} by {d['reviewer']}: {d['reason']}" if d else ""
        if r["decision_outdated"]:
            note += " (made on earlier content of the entry)"
        status = r["status"] + (f" ({r['cleared_reason']})" if r["cleared_reason"] else "")
        tbl.add_row(r["party_key"], r["entry_key"], r["list_code"] or "", r["matched_name"], str(r["score"]), status, note,
                    f"#{r['snapshot_id']}")
    out.print(tbl)
    by_status: dict[str, int] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    out.print(f"{len(rows):,} hits · " + " · ".join(f"{k}: {v:,}" for k, v in sorted(by_status.items())))


@review_app.command("decide")
def review_decide(
    party_key: Annotated[str, typer.Argument(help="The party's key, as `review hits` shows it.")],
    entry_key: Annotated[str, typer.Argument(help="The list entry's key, as `review hits` shows it.")],
    true_match: Annotated[bool, typer.Option("--true-match", help="The party is the listed entry.")] = False,
    false_match: Annotated[bool, typer.Option("--false-match", help="The party is not the listed entry: suppress the hit "
                                                                   "while the entry stays unchanged.")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept with the decision).")] = None,
    reviewer: Annotated[str | None, typer.Option("--reviewer", help="Who decides (default: the login name).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Record a decision on a hit (append-only: a later decision supersedes an earlier one)."""
    from aiexport.parties.store import decide

    if true_match == false_match:
        raise InputError("give exactly one of --true-match and --false-match", field="--true-match/--false-match")
    if reason is None or not reason.strip():
        raise InputError("--reason: missing; say why (it is kept with the decision)", field="--reason")
    res = decide(party_key, entry_key, "true_match" if true_match else "false_match", reason, reviewer)
    if json_out:
        print(json.dumps(res, ensure_ascii=False))
        return
    d, h = res["decision"], res["hit"]
    render.console().print(f"decision #{d['id']}: {d['verdict']} on {party_key} / {entry_key} (entry content {d['entry_content'][:12]}) "
                           f"by {d['reviewer']}: {d['reason']} · the hit is now {h['status']}")


@review_app.command("rescreen")
def review_rescreen(
    from_id: Annotated[int | None, typer.Option("--from", help="The snapshot the parties were last brought up to "
                                                             "(default: the one before the current).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Bring the recorded parties up to the current snapshot (e.g. after an import whose re-screen
    was interrupted): only the parties the change can affect are screened again."""
    from aiexport.parties.store import current_snapshot, rescreen_after_import, snapshots

    current = current_snapshot()
    if current is None:
        raise InputError("no list snapshot is stored; run `aiexport lists import FILE` first", field="snapshot")
    stored = snapshots()
    previous = from_id if from_id is not None else (stored[-2].id if len(stored) > 1 else None)
    if previous is None:
        render.console().print("only one snapshot is stored: every recorded party was screened against it")
        return
    res = rescreen_after_import(previous, current.id)
    if json_out:
        print(json.dumps(res, ensure_ascii=False, default=str))
        return
    render.console().print(f"snapshot #{previous} → #{current.id}: {res['recorded']:,} parties recorded, {res['rescreened']:,} "
                           f"re-screened, {res['cleared_only']:,} only cleared, {res['carried_forward']:,} carried forward, "
                           f"{res['already_current']:,} already current · {res['new_hits']:,} new hits, {res['cleared_hits']:,} cleared")


from aiexport.cli_controls import register as _register_controls  # noqa: E402  (weights, foundry, invest: issue #5)

_register_controls(app)
from aiexport.cli_ledger import register as _register_ledger  # noqa: E402  (licences, budgets, audit: issue #6)

_register_ledger(app)
from aiexport.cli_serve import register as _register_serve  # noqa: E402  (serve, keys: issue #7)

_register_serve(app)


def main() -> None:
    """Entry point: run the app and turn every error into one line and an exit status."""
    if hasattr(signal, "SIGPIPE"):  # `aiexport ... | head` ends quietly, like other Unix tools
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        _run()
    except SystemExit:
        raise
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # last resort: one line, never a traceback
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"internal error: {exc.__class__.__name__}: {first} (please report it with the input that caused it)", file=sys.stderr)
        sys.exit(3)


def _run() -> None:
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except AiexportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        name = type(exc).__name__
        if name.startswith("NoArgsIsHelp") and hasattr(exc, "format_message"):
            print(exc.format_message())
            sys.exit(0)
        if hasattr(exc, "format_message") and getattr(exc, "exit_code", None) == 2:  # a usage error from the CLI parser
            ctx = getattr(exc, "ctx", None)
            cmd = f"aiexport {ctx.info_name}" if ctx is not None and ctx.info_name not in (None, "aiexport") else "aiexport"
            print(f"error: {exc.format_message()} (see `{cmd} --help`)", file=sys.stderr)
            sys.exit(2)
        if name == "Abort":
            print("aborted", file=sys.stderr)
            sys.exit(130)
        raise
