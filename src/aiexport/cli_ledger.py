"""`aiexport licences`, `aiexport budgets` and `aiexport audit` (issue #6), and the helpers that put
answers of other commands on the audit record (`--record`). Engine: `aiexport.ledger`.

Registered in cli.py by `register(app)`; uses cli.py's shared options (JsonOpt, ScenarioOpt,
EnforceOpt, OutputOpt) and its error handling (InputError → one line, exit 2).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from aiexport import render
from aiexport.cli import EnforceOpt, JsonOpt, ScenarioOpt
from aiexport.errors import InputError
from aiexport.ledger.options import RecordOpt, UserOpt
from aiexport.rulebook import parse_date

licences_app = typer.Typer(no_args_is_help=True, help="Licences and their draws: quantity and value authorised, reserved, "
                                                      "consumed; idempotent on the transaction id.")
budgets_app = typer.Typer(no_args_is_help=True, help="TPP budgets of the 2025 AI Diffusion rule (LPP consignee-year, Tier 2 "
                                                     "country allocations): the codified-but-not-enforced what-if.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit record: every answer given with --record, hash-chained.")

DateOpt = Annotated[str | None, typer.Option("--date", help="Shipment date, YYYY-MM-DD (default: today).")]
TxnOpt = Annotated[str, typer.Option("--txn", help="Transaction id of the draw (the same id draws once).")]


def register(app: typer.Typer) -> None:
    app.add_typer(licences_app, name="licences")
    app.add_typer(budgets_app, name="budgets")
    app.add_typer(audit_app, name="audit")


def _day(text: str | None, field: str) -> date | None:
    return parse_date(text, field) if text else None


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


# ---------------------------------------------------------------------------------------------- recording answers


def record_answers(kind: str, inputs: list[Any], outputs: list[Any], *, user: str | None = None) -> int:
    """Put answers on the audit record (one entry per answer, batched transactions); says so on stderr."""
    from aiexport.ledger import audit

    if len(inputs) != len(outputs):
        raise InputError(f"--record: {len(inputs)} inputs but {len(outputs)} answers; cannot pair them", field="--record")
    entries = [audit.Entry(kind, i, o, o.get("rulebook_hash") if isinstance(o, dict) else None,
                           o.get("list_snapshot_hash") if isinstance(o, dict) else None) for i, o in zip(inputs, outputs, strict=True)]
    n = audit.record_many(entries, user)
    print(f"recorded {n:,} {kind} answer{'s' if n != 1 else ''} on the audit record", file=sys.stderr)
    return n


def record_book(kind: str, book: Path, inputs: pl.DataFrame, answers: pl.LazyFrame, height: int, options: dict[str, Any], *,
                resume: bool, user: str | None, window: int = 20_000) -> dict[str, Any]:
    """Put the answers of a whole input file on record as a batch (see `audit.record_batch`): the
    batch id is the hash of the kind, the file and `options`; with `resume`, only the lines not on
    record yet are recorded. `answers` is collected `window` lines at a time."""
    from aiexport.ledger import audit

    if inputs.height != height:
        raise InputError(f"--record: {book} has {inputs.height:,} lines but {height:,} answers; cannot pair them", field="--record")
    bid = audit.batch_id(kind, audit.file_sha256(book), options)
    cache: dict[str, Any] = {"start": -1, "rows": []}

    def fetch(start: int, n: int) -> tuple[list[Any], list[Any], list[str | None], list[str | None]]:
        w0 = (start // window) * window
        if cache["start"] != w0:
            cache.update(start=w0, rows=answers.slice(w0, window).collect().to_dicts())
        outs = cache["rows"][start - w0:start - w0 + n]
        ins = inputs.slice(start, n).to_dicts()
        return ins, outs, [o.get("rulebook_hash") for o in outs], [o.get("list_snapshot_hash") for o in outs]

    res = audit.record_batch(kind, bid, height, fetch, resume=resume, user=user)
    print(f"audit record: batch {bid[:16]}: {res['recorded']:,} lines recorded"
          + (f", {res['already_recorded']:,} already on record" if res["already_recorded"] else "")
          + f" ({height:,} lines)", file=sys.stderr)
    return res


# ---------------------------------------------------------------------------------------------- licences


@licences_app.command("add")
def licences_add(
    number: Annotated[str, typer.Option("--number", help="Licence number, as BIS issued it (unique).")],
    quantity: Annotated[int, typer.Option("--quantity", help="Authorised quantity (units).")],
    value: Annotated[float | None, typer.Option("--value", help="Authorised value in USD (default: not limited by value).")] = None,
    eccn: Annotated[list[str] | None, typer.Option("--eccn", help="An ECCN the licence covers (repeat; default: any).")] = None,
    item: Annotated[list[str] | None, typer.Option("--item", help="An item the licence covers (repeat; default: any).")] = None,
    party: Annotated[list[str] | None, typer.Option("--party", help="A party the licence names (repeat; default: any).")] = None,
    country: Annotated[list[str] | None, typer.Option("--country", help="A destination country, ISO alpha-2 (repeat; default: any).")] = None,
    valid_from: Annotated[str | None, typer.Option("--valid-from", help="First day of validity, YYYY-MM-DD.")] = None,
    valid_until: Annotated[str | None, typer.Option("--valid-until", help="Last day of validity, YYYY-MM-DD (inclusive).")] = None,
    conditions: Annotated[str | None, typer.Option("--conditions", help="The licence's conditions (text, kept with it).")] = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Store a licence: number, authorised quantity and value, items, ECCNs, parties, countries, validity."""
    from aiexport.ledger.licences import add_licence

    res = add_licence(number, quantity, value_usd=value, items=item, eccns=eccn, parties=party, countries=country,
                      valid_from=_day(valid_from, "--valid-from"), valid_until=_day(valid_until, "--valid-until"),
                      conditions=conditions, user=user)
    if json_out:
        _print(res)
        return
    render.console().print(f"licence {res['number']}: {res['authorised_quantity']:,} units"
                           + (f", USD {res['authorised_value_usd']:,.2f}" if res["authorised_value_usd"] is not None else "")
                           + f", valid {res['valid_from'] or '…'} to {res['valid_until'] or '…'}")


def _licence_table(rows: list[dict[str, Any]]) -> Any:
    t = render.Table(show_header=True, header_style="bold")
    for col in ("licence", "status", "authorised", "reserved", "consumed", "remaining", "value left (USD)", "valid", "countries",
                "ECCNs / items"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["number"], r.get("status", ""), f"{r['authorised_quantity']:,}", f"{r['reserved_quantity']:,}",
                  f"{r['consumed_quantity']:,}", f"{r['remaining_quantity']:,}",
                  "" if r["remaining_value_usd"] is None else f"{r['remaining_value_usd']:,.2f}",
                  f"{r['valid_from'] or '…'} – {r['valid_until'] or '…'}", " ".join(r["countries"]) or "any",
                  ", ".join(r["eccns"] + r["items"]) or "any")
    return t


@licences_app.command("list")
def licences_list(as_of: Annotated[str | None, typer.Option("--as-of", help="Date for the status column (default: today).")] = None,
                  json_out: JsonOpt = False) -> None:
    """Every licence with its balance and its status on a date (usable, expired, not yet valid, exhausted)."""
    from aiexport.ledger.licences import list_licences

    rows = list_licences(on=_day(as_of, "--as-of"))
    if json_out:
        for r in rows:
            _print(r)
        return
    if not rows:
        render.console().print("no licence stored; add one with `aiexport licences add --number N --quantity Q`")
        return
    render.console().print(_licence_table(rows))


@licences_app.command("show")
def licences_show(number: Annotated[str, typer.Argument(help="Licence number.")],
                  as_of: Annotated[str | None, typer.Option("--as-of", help="Date for the status (default: today).")] = None,
                  draws: Annotated[bool, typer.Option("--draws", help="Also list every draw.")] = False,
                  json_out: JsonOpt = False) -> None:
    """One licence: authorised, drawn (reserved + consumed) and remaining quantity and value; its draws."""
    from aiexport.ledger import licences

    res = licences.show_licence(number, on=_day(as_of, "--as-of"))
    if draws:
        res["draw_list"] = licences.draws(number)
    if json_out:
        _print(res)
        return
    out = render.console()
    out.print(_licence_table([res]))
    out.print(" · ".join(f"{st}: {d['count']:,} draws, {d['quantity']:,} units" for st, d in res["draws"].items()) or "no draws",
              "· ledger " + ("consistent" if res["ledger_consistent"] else "INCONSISTENT"))
    if res.get("conditions"):
        out.print(f"conditions: {res['conditions']}")
    for d in res.get("draw_list", [])[:2000]:
        out.print(f"  {d['txn']}: {d['quantity']:,} units {d['state']} on {d['date']} by {d['user']}")


def _draw_line(res: dict[str, Any]) -> str:
    head = "granted" if res["granted"] else "refused"
    rem = "" if res.get("remaining_quantity") is None else f" · {res['remaining_quantity']:,} units left"
    return f"{head}: {res['reason']}{rem}"


def _record_one(kind: str, inp: dict[str, Any], res: dict[str, Any], user: str | None) -> None:
    from aiexport.ledger import audit

    r = audit.record(kind, inp, res, res.get("rulebook_hash"), None, user)
    print(f"recorded on the audit record as #{r['seq']}", file=sys.stderr)


@licences_app.command("draw")
def licences_draw(
    quantity: Annotated[int, typer.Option("--quantity", help="Units the shipment draws.")],
    txn: TxnOpt,
    number: Annotated[str | None, typer.Option("--number", help="The licence to draw (default: the first that fits, "
                                                                "earliest expiry first).")] = None,
    value: Annotated[float | None, typer.Option("--value", help="Value of the shipment in USD (needed when the licence limits value).")] = None,
    item: Annotated[str | None, typer.Option("--item", help="The item shipped.")] = None,
    eccn: Annotated[str | None, typer.Option("--eccn", help="The ECCN of the item shipped.")] = None,
    country: Annotated[str | None, typer.Option("--country", help="Destination country, ISO alpha-2.")] = None,
    party: Annotated[str | None, typer.Option("--party", help="The consignee or end user.")] = None,
    ship_date: DateOpt = None,
    reserve: Annotated[bool, typer.Option("--reserve", help="Only reserve the units (then `licences consume` or `release`).")] = False,
    user: UserOpt = None,
    record: RecordOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Draw a shipment on a licence (reserve and consume, or only reserve). Exit 0 whether granted or refused."""
    from aiexport.ledger.licences import draw

    res = draw(quantity, txn, number=number, value_usd=value, item=item, eccn=eccn, country=country, party=party,
               on=_day(ship_date, "--date"), reserve_only=reserve, user=user)
    if record:
        _record_one("licence_draw", {"quantity": quantity, "txn": txn, "number": number, "value_usd": value, "item": item, "eccn": eccn,
                                     "country": country, "party": party, "date": res["date"], "reserve": reserve}, res, user)
    if json_out:
        _print(res)
        return
    render.console().print(_draw_line(res))


@licences_app.command("consume")
def licences_consume(txn: TxnOpt, ship_date: DateOpt = None, user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """Mark a reservation shipped (reserved → consumed); refused if the licence has expired by the shipment date."""
    from aiexport.ledger.licences import consume

    res = consume(txn, on=_day(ship_date, "--date"), user=user)
    if json_out:
        _print(res)
        return
    render.console().print(_draw_line(res))


@licences_app.command("release")
def licences_release(txn: TxnOpt, user: UserOpt = None, json_out: JsonOpt = False) -> None:
    """Cancel a reservation (reserved → released): its units return to the licence."""
    from aiexport.ledger.licences import release

    res = release(txn, user=user)
    if json_out:
        _print(res)
        return
    render.console().print(_draw_line(res))


# ---------------------------------------------------------------------------------------------- budgets


@budgets_app.command("draw")
def budgets_draw(
    txn: TxnOpt,
    country: Annotated[str, typer.Option("--country", help="Destination country of the shipment, ISO alpha-2.")],
    consignee: Annotated[str | None, typer.Option("--consignee", help="The ultimate consignee (LPP budgets are per consignee).")] = None,
    under: Annotated[str, typer.Option("--under", help="lpp: the consignee's calendar-year LPP budget; allocation: the Tier 2 "
                                                       "country allocation (licensed shipments).")] = "lpp",
    item: Annotated[str | None, typer.Option("--item", help="Catalog item shipped (its TPP comes from its classification).")] = None,
    quantity: Annotated[int | None, typer.Option("--quantity", help="Units of --item.")] = None,
    tpp: Annotated[float | None, typer.Option("--tpp", help="Instead of --item: the shipment's total TPP (e.g. receipts "
                                                            "before aiexport kept the books).")] = None,
    ship_date: DateOpt = None,
    enforce_codified: EnforceOpt = False,
    scenario: ScenarioOpt = None,
    user: UserOpt = None,
    record: RecordOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Draw a shipment's TPP on an LPP consignee-year budget or a Tier 2 allocation. The AI Diffusion rule
    is codified but not enforced: without --enforce-codified the answer is the what-if and nothing is drawn."""
    from aiexport.ledger.budgets import draw_tpp

    res = draw_tpp(txn, country=country, under=under, consignee=consignee, item=item, quantity=quantity, tpp=tpp,
                   on=_day(ship_date, "--date"), enforce_codified=enforce_codified, scenario=scenario, user=user)
    if record:
        _record_one("budget_draw", {"txn": txn, "country": country, "consignee": consignee, "under": under, "item": item,
                                    "quantity": quantity, "tpp": tpp, "date": res["date"], "enforce_codified": enforce_codified,
                                    "scenario": str(scenario) if scenario else None}, res, user)
    if json_out:
        _print(res)
        return
    out = render.console()
    verdict = {True: "fits" if not res["drawn"] else "granted", False: "refused", None: "indeterminate"}[res["granted"]]
    out.print(f"{verdict}: {res['reason']}")
    for f in res["findings"]:
        out.print(f"  [{f['fact']}] {f['rule']} ({f['citation']}): {f['text_en']}")
    out.print(f"rulebook sha256 {res['rulebook_hash']}")


@budgets_app.command("list")
def budgets_list(json_out: JsonOpt = False) -> None:
    """The TPP budgets drawn on (LPP consignee-years, Tier 2 allocations): TPP drawn, draws."""
    from aiexport.ledger.budgets import budgets

    rows = budgets()
    if json_out:
        for r in rows:
            _print(r)
        return
    t = render.Table(show_header=True, header_style="bold")
    for col in ("budget", "key", "period", "TPP drawn", "draws", "ledger"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["kind"], r["key"], r["period"], f"{r['drawn_tpp']:,.0f}", f"{r['draws']:,}",
                  "consistent" if r["ledger_consistent"] else "INCONSISTENT")
    render.console().print(t)


# ---------------------------------------------------------------------------------------------- audit


@audit_app.command("verify")
def audit_verify(json_out: JsonOpt = False) -> None:
    """Check the whole chain: exit 0 when intact, 1 naming the first bad record (changed, deleted or inserted)."""
    from aiexport.ledger.audit import verify

    res = verify()
    if json_out:
        _print(res)
    elif res["ok"]:
        render.console().print(f"audit record intact: {res['records']:,} records, head #{res['head']['seq']} {res['head']['hash'][:16]}…")
    else:
        print(f"audit record BROKEN at record #{res['first_bad']['seq']}: {res['first_bad']['problem']} "
              f"({res['records']:,} records verified before it)", file=sys.stderr)
    if not res["ok"]:
        raise typer.Exit(1)


@audit_app.command("export")
def audit_export(
    start: Annotated[str | None, typer.Option("--from", help="From this date or time (UTC, inclusive), YYYY-MM-DD[THH:MM:SS].")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Up to this time (exclusive); a date alone includes that whole day.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl (one record per line) or csv.")] = "jsonl",
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind of answer (check, classify, screen, licence_draw …).")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Write to this file (default: standard output).")] = None,
) -> None:
    """Write the records of a period for a regulator: every field, the hashes, input and output."""
    from aiexport.ledger.audit import export

    if output is None:
        n = export(sys.stdout, fmt, start=start, end=end, kind=kind)
    else:
        try:
            with open(output, "w", encoding="utf-8", newline="") as fh:
                n = export(fh, fmt, start=start, end=end, kind=kind)
        except OSError as exc:
            raise InputError(f"--output: cannot write {output} ({exc.strerror})", field="--output") from None
    print(f"{n:,} records exported", file=sys.stderr)


@audit_app.command("show")
def audit_show(seq: Annotated[int, typer.Argument(help="The record's number.")], json_out: JsonOpt = False) -> None:
    """One record, with its input, output and whether its hash still matches."""
    from aiexport.ledger.audit import show

    res = show(seq)
    if json_out:
        _print(res)
        return
    out = render.console()
    for k in ("seq", "kind", "recorded_at", "user", "rulebook_hash", "list_snapshot_hash", "batch_id", "line", "prev_hash", "hash",
              "hash_ok"):
        out.print(f"{k}: {res[k]}")
    out.print("input: " + json.dumps(res["input"], ensure_ascii=False, default=str)[:2000])
    out.print("output: " + json.dumps(res["output"], ensure_ascii=False, default=str)[:4000])


@audit_app.command("status")
def audit_status(json_out: JsonOpt = False) -> None:
    """How many records, of which kinds, and the chain's head."""
    from aiexport.ledger.audit import status

    res = status()
    if json_out:
        _print(res)
        return
    render.console().print(f"{res['records']:,} records · head {res['head_hash'][:16]}… · "
                           + " · ".join(f"{k}: {v:,}" for k, v in sorted(res["by_kind"].items())))


# ---------------------------------------------------------------------------------------------- --record of cli.py's commands


def _file_hash(path: Path | None) -> str | None:
    from aiexport.ledger.audit import file_sha256

    return file_sha256(path) if path is not None and path.is_file() else None


def record_classify(name: str | None, spec: Path | None, result: pl.DataFrame, day: date, scenario: Path | None,
                    user: str | None) -> None:
    """`classify --record`: one record per row; the input is the catalog name or the spec file's row."""
    common = {"as_of": day.isoformat(), "scenario": str(scenario) if scenario else None, "scenario_sha256": _file_hash(scenario)}
    if spec is not None:
        from aiexport.specs import read_spec_file

        rows = read_spec_file(spec).to_dicts()
        if len(rows) != result.height:
            rows = [{"id": i} for i in result["id"].to_list()]
        inputs = [{**common, "spec": str(spec), "spec_sha256": _file_hash(spec), "line": i + 1, "row": r} for i, r in enumerate(rows)]
    else:
        inputs = [{**common, "name": name}]
    record_answers("classify", inputs, result.to_dicts(), user=user)


def record_check(book: Path, result: pl.LazyFrame, height: int, *, day: date, scenario: Path | None, enforce: bool,
                 specs: Path | None, list_file: Path | None, resume: bool, user: str | None) -> None:
    """`check --record [--resume]`: the book's lines as one batch (see `record_book`). The batch is the
    book's content with these options: the same command again resumes it with --resume."""
    from aiexport.transactions import read_transaction_file

    if resume and not book.is_file():
        raise InputError(f"--resume: {book} is not a file", field="--resume")
    options = {"as_of": day.isoformat(), "scenario_sha256": _file_hash(scenario), "enforce_codified": enforce,
               "specs_sha256": _file_hash(specs), "list_sha256": _file_hash(list_file)}
    record_book("check", book, read_transaction_file(book), result, height, options, resume=resume, user=user)
