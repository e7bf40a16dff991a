"""`aiexport weights`, `aiexport foundry`, `aiexport invest`: model weights (4E091), foundry due
diligence (90 FR 5298) and outbound investment (31 CFR 850). Thin: read the cases, call the engine
(weights.py, foundry.py, investment.py), print JSON lines or a Rich table.

Registered in cli.py; the option types and the error handling (one line, exit 2 on bad input) are
cli.py's. Answers are plain dicts, one per case, in input order.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aiexport.cases import Field, read_case_file, sci, validate_cases
from aiexport.cli import AsOf, EnforceOpt, JsonOpt, Lang, LangOpt, ScenarioOpt, _as_of
from aiexport.errors import InputError
from aiexport.ledger.options import RecordOpt, UserOpt
from aiexport.rulebook import load_rulebook

CaseOpt = Annotated[list[str] | None, typer.Option("--field", "-f", help="One case from the command line: FIELD=VALUE, repeated "
                                                                         "(instead of FILE).")]
STYLE = {"not_controlled": "green", "no_license_required": "green", "license_exception": "cyan", "license_required": "red",
         "not_applicable": "green", "presumption_rebutted": "cyan", "presumption_applies": "red", "not_covered": "green",
         "excepted": "cyan", "notifiable": "yellow", "prohibited": "bold red", "indeterminate": "yellow"}
VERDICT_ZH = {"not_controlled": "不受管制", "no_license_required": "无须许可", "license_exception": "适用许可例外", "license_required": "须获许可",
              "not_applicable": "不适用", "presumption_rebutted": "推定可被反驳", "presumption_applies": "推定成立", "not_covered": "不受规管",
              "excepted": "例外交易", "notifiable": "须通报", "prohibited": "禁止", "indeterminate": "无法确定"}


def _cases(file: Path | None, fields_given: list[str] | None, fields: Mapping[str, Field], what: str) -> list[dict[str, Any]]:
    if (file is None) == (not fields_given):
        raise InputError(f"give either FILE ({what}) or --field FIELD=VALUE options for one case (not both, not neither)", field="FILE")
    if file is not None:
        return read_case_file(file, fields, f"{what} (CSV, JSON or YAML)")
    row: dict[str, str] = {}
    for item in fields_given or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--field: {item!r} is not FIELD=VALUE; e.g. --field training_ops=3e26", field="--field")
        row[key.strip()] = value
    return validate_cases([row], fields, "--field")


def _label(v: str, lang: str) -> Text:
    return Text(f"{VERDICT_ZH.get(v, v)} ({v})" if lang == "zh" else v, style=STYLE.get(v, "red"))


def _emit(answers: list[dict[str, Any]], json_out: bool, lang: str, columns: list[tuple[str, Any]], title: str) -> None:
    if json_out:
        sys.stdout.write("".join(json.dumps(a, ensure_ascii=False, default=str) + "\n" for a in answers))
        return
    out = Console(soft_wrap=False)
    t = Table(title=title, show_header=True, header_style="bold", title_justify="left")
    for name, _ in columns:
        t.add_column(name)
    t.add_column("verdict" if lang == "en" else "结论")
    shown = answers[:1000]
    any_missing = any(a.get("missing") for a in shown)
    if any_missing:
        t.add_column("missing" if lang == "en" else "可据以判定的信息")
    for a in shown:
        missing = [", ".join(m.split(":")[0] for m in a.get("missing") or [])] if any_missing else []
        t.add_row(*[str(get(a)) for _, get in columns], _label(a["verdict"], lang), *missing)
    out.print(t)
    if len(answers) <= 10:
        text = "text_zh" if lang == "zh" else "text_en"
        for a in answers:
            out.print(Text(f"{a['id']}", style="bold"))
            for f in a["findings"]:
                mark = "?" if f["fact"] == "UNCONFIRMED" else "·"
                out.print(Text(f"  {mark} {f[text]}", style="yellow" if mark == "?" else ""), Text(f"  [{f['citation']}]", style="dim"))
            if a.get("unconfirmed"):
                word = "UNCONFIRMED facts used" if lang == "en" else "所用未经证实（UNCONFIRMED）的事实"
                out.print(Text(f"  {word}: {', '.join(a['unconfirmed'])}", style="yellow"))
    counts: dict[str, int] = {}
    for a in answers:
        counts[a["verdict"]] = counts.get(a["verdict"], 0) + 1
    h = answers[0]["rulebook_hash"][:16] if answers else ""
    out.print(" · ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())) + f" · rulebook {h}", style="bold")


def _record(kind: str, cases: list[dict[str, Any]], answers: list[dict[str, Any]], record: bool, user: str | None) -> None:
    """With --record, every case and its answer go on the audit record (issue #6)."""
    if record:
        from aiexport.cli_ledger import record_answers

        record_answers(kind, cases, answers, user=user)


def _ops(x: Any) -> str:
    return sci(x) if isinstance(x, (int, float)) else "—"


def weights_cmd(
    file: Annotated[Path | None, typer.Argument(help="Models: CSV, JSON or YAML, one row per model and export. Fields: id, name, "
                                                     "training_ops (operations), later_training_ops (operations), parameters_billion, "
                                                     "active_parameters_billion, tokens_trillion, accelerator (catalog name), "
                                                     "accelerator_hours (device-hours), precision (bf16, fp8 ...), utilisation (0-1), "
                                                     "published (yes/no), destination_country, recipient_hq_country (ISO alpha-2), "
                                                     "date (YYYY-MM-DD), cluster_ops_per_s (OP/s), cluster_network_gbps (Gbit/s).")] = None,
    field: CaseOpt = None,
    as_of: AsOf = None,
    scenario: ScenarioOpt = None,
    enforce_codified: EnforceOpt = False,
    json_out: JsonOpt = False,
    lang: LangOpt = Lang.en,
    record: RecordOpt = False,
    user: UserOpt = None,
) -> None:
    """Model weights under ECCN 4E091: training compute (given or estimated, method shown), published
    exclusions, licence for the destination and recipient (codified, not enforced since 2025-05-13)."""
    from aiexport.weights import FIELDS, assess_cases

    cases = _cases(file, field, FIELDS, "a models file")
    answers = assess_cases(cases, load_rulebook(scenario), _as_of(as_of), enforce_codified)
    _record("weights", cases, answers, record, user)
    _emit(answers, json_out, lang.value, [("id", lambda a: a["id"]), ("date", lambda a: a["date"]),
                                           ("training ops", lambda a: _ops(a["training_ops"])), ("control", lambda a: a["control"] or "—"),
                                           ("if enforced", lambda a: a["verdict_if_enforced"] or "—"),
                                           ("exception", lambda a: a["license_exception"] or a.get("license_exception_if_enforced") or "—")],
          "ECCN 4E091 model weights")


def foundry_cmd(
    file: Annotated[Path | None, typer.Argument(help="Foundry orders: CSV, JSON or YAML. Fields: id, name, process_nm (nm), "
                                                     "non_planar (yes/no), logic (yes/no), designer, designer_status (approved, "
                                                     "authorized, none), osat, osat_status (approved, none), packaging_country "
                                                     "(ISO alpha-2), transistors_billion (packaged count, billions), hbm (yes/no), "
                                                     "date (completion, YYYY-MM-DD).")] = None,
    field: CaseOpt = None,
    approved_designers: Annotated[Path | None, typer.Option("--approved-designers", help="Your list of approved / authorised IC "
                                                                                         "designers: CSV with a `name` column.")] = None,
    approved_osats: Annotated[Path | None, typer.Option("--approved-osats", help="Your list of approved OSATs: CSV with a `name` column.")] = None,
    as_of: AsOf = None,
    scenario: ScenarioOpt = None,
    json_out: JsonOpt = False,
    lang: LangOpt = Lang.en,
    record: RecordOpt = False,
    user: UserOpt = None,
) -> None:
    """Foundry due diligence (90 FR 5298): does the 3A090.a presumption apply to an order, which rebuttal
    is available, what must be attested, which red flags show."""
    from aiexport.foundry import FIELDS, assess_cases, read_names

    cases = _cases(file, field, FIELDS, "a foundry orders file")
    designers = read_names(approved_designers) if approved_designers is not None else None
    osats = read_names(approved_osats) if approved_osats is not None else None
    answers = assess_cases(cases, load_rulebook(scenario), _as_of(as_of), designers, osats)
    _record("foundry", cases, answers, record, user)
    _emit(answers, json_out, lang.value, [("id", lambda a: a["id"]), ("date", lambda a: a["date"]),
                                           ("threshold", lambda a: f"{a['transistor_threshold'] / 1e9:g} B ({a['transistor_threshold_basis']})"
                                            if a["transistor_threshold"] else "—"),
                                           ("rebuttals", lambda a: ", ".join(a["rebuttals"]) or "—"),
                                           ("red flags", lambda a: "; ".join(a["red_flags"]) or "—")],
          "Foundry due diligence (90 FR 5298)")


def invest_cmd(
    file: Annotated[Path | None, typer.Argument(help="Investments: CSV, JSON or YAML. Fields: id, name, investor_us_person (yes/no), "
                                                     "transaction (equity, contingent_equity, convertible_debt, greenfield, brownfield, "
                                                     "joint_venture, lp_interest, debt, other), target_country, target_owner_country "
                                                     "(ISO alpha-2), activities (';'-separated), process_nm, non_planar, ic_kind, "
                                                     "nand_layers, dram_half_pitch_nm, ic_meets_3a090, ai_training_ops (operations), "
                                                     "ai_bio_data, end_uses (';'-separated), end_use_exclusive, exceptions "
                                                     "(';'-separated), lp_amount_usd (USD), commitment_date, date (completion).")] = None,
    field: CaseOpt = None,
    as_of: AsOf = None,
    scenario: ScenarioOpt = None,
    json_out: JsonOpt = False,
    lang: LangOpt = Lang.en,
    record: RecordOpt = False,
    user: UserOpt = None,
) -> None:
    """Outbound investment (31 CFR 850): prohibited, notifiable (with the filing deadline), excepted or not covered."""
    from aiexport.investment import FIELDS, assess_cases

    cases = _cases(file, field, FIELDS, "an investments file")
    answers = assess_cases(cases, load_rulebook(scenario), _as_of(as_of))
    _record("invest", cases, answers, record, user)
    _emit(answers, json_out, lang.value, [("id", lambda a: a["id"]), ("date", lambda a: a["date"]),
                                           ("category", lambda a: a["category"] or "—"),
                                           ("exception", lambda a: ", ".join(a["exception"] or []) or "—"),
                                           ("file by", lambda a: a["filing_deadline"] or "—")],
          "Outbound investment (31 CFR 850)")


def register(app: typer.Typer) -> None:
    app.command("weights")(weights_cmd)
    app.command("foundry")(foundry_cmd)
    app.command("invest")(invest_cmd)
