"""The rulebook: the regulations as dated, cited data.

Load the rule files in ``aiexport/rules/``, validate them, apply scenario overlays, resolve them
"as of" a date and hash the result.

Date convention: a version or a parameter value holds from its ``from`` date, inclusive, until the
day before the next one's ``from`` date. A parameter value of ``null`` means "removed from that
date". Nothing is in force before the first ``from`` date. Dates are calendar days (no time zone).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from aiexport.errors import InputError, RulebookError

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: the same safe subset, faster

Status = Literal["in_force", "superseded", "codified_not_enforced", "proposed"]
Fact = Literal["P", "S", "D", "UNCONFIRMED"]
Kind = Literal["ic", "hbm_stack", "system"]
Op = Literal[">=", ">", "<", "<="]
Policy = Literal["presumption_of_denial", "case_by_case", "presumption_of_approval"]

#: Metrics a condition may compare. Defined in chips.py; listed here so rule files are validated.
METRICS = (
    "tpp",
    "performance_density",
    "memory_bandwidth_density",
    "io_bidir_gbps",
    "memory_bw_gbps",
    "die_area_mm2",
    "transistors_billion",
    "process_nm",
)
FLAGS = ("datacenter", "hbm")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Citation(_Strict):
    fr: str | None = None
    cfr: str | None = None
    other: str | None = None
    url: str | None = None

    def text(self) -> str:
        return "; ".join(p for p in (self.fr, self.cfr, self.other) if p)


# --- conditions: the control tests written as data -------------------------------------------


class Compare(_Strict):
    metric: str
    op: Op
    param: str | None = None
    value: float | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> Compare:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; known: {', '.join(METRICS)}")
        if (self.param is None) == (self.value is None):
            raise ValueError("a comparison needs exactly one of 'param' or 'value'")
        return self


class Flag(_Strict):
    flag: str
    is_: bool = Field(alias="is")

    @model_validator(mode="after")
    def _known(self) -> Flag:
        if self.flag not in FLAGS:
            raise ValueError(f"unknown flag {self.flag!r}; known: {', '.join(FLAGS)}")
        return self


class KindIs(_Strict):
    kind: Kind


class Contains(_Strict):
    contains: str


class All(_Strict):
    all: list[Condition]


class AnyOf(_Strict):
    any: list[Condition]


def _condition_tag(v: Any) -> str | None:
    if isinstance(v, dict):
        for key in ("all", "any", "metric", "flag", "kind", "contains"):
            if key in v:
                return key
        return None
    return {All: "all", AnyOf: "any", Compare: "metric", Flag: "flag", KindIs: "kind", Contains: "contains"}.get(type(v))


Condition = Annotated[
    Union[Annotated[All, Tag("all")], Annotated[AnyOf, Tag("any")], Annotated[Compare, Tag("metric")],
          Annotated[Flag, Tag("flag")], Annotated[KindIs, Tag("kind")], Annotated[Contains, Tag("contains")]],
    Discriminator(_condition_tag, custom_error_type="condition",
                  custom_error_message="a condition is one of all/any/metric/flag/kind/contains"),
]
All.model_rebuild()
AnyOf.model_rebuild()


def condition_leaves(cond: Any) -> list[Any]:
    if isinstance(cond, All):
        return [leaf for c in cond.all for leaf in condition_leaves(c)]
    if isinstance(cond, AnyOf):
        return [leaf for c in cond.any for leaf in condition_leaves(c)]
    return [cond]


# --- parameters --------------------------------------------------------------------------------


class ParamValue(_Strict):
    from_: date = Field(alias="from")
    value: float | None
    status: Status
    fact: Fact
    citation: Citation
    note: str | None = None


class Parameter(_Strict):
    label_en: str
    label_zh: str
    unit: str
    values: list[ParamValue]

    @model_validator(mode="after")
    def _ordered(self) -> Parameter:
        dates = [v.from_ for v in self.values]
        if len(set(dates)) != len(dates):
            raise ValueError("two values of one parameter share a 'from' date")
        object.__setattr__(self, "values", sorted(self.values, key=lambda v: v.from_))
        return self

    def at(self, day: date) -> ParamValue | None:
        current = None
        for v in self.values:
            if v.from_ <= day:
                current = v
            else:
                break
        return current


# --- versions of an instrument -----------------------------------------------------------------


class Paragraph(_Strict):
    id: str
    control: str
    applies_to: list[Kind]
    fact: Fact
    citation: Citation
    text_en: str
    text_zh: str
    when: Condition


class Note(_Strict):
    id: str
    excludes: list[str]
    fact: Fact
    citation: Citation
    text_en: str
    text_zh: str
    when: Condition


class ExceptionRule(_Strict):
    code: str
    name_en: str
    name_zh: str
    controls: list[str]
    fact: Fact
    citation: Citation
    text_en: str
    text_zh: str
    when: Condition


class ZParagraph(_Strict):
    base: str
    a_tier: str
    b_tier: str
    fact: Fact
    citation: Citation


class Scope(_Strict):
    """A set of destinations: the members of `union` groups, less those of `minus` groups, plus `countries`."""

    union: list[str] = []
    minus: list[str] = []
    countries: list[str] = []


class AnswerCondition(_Strict):
    """A condition an answer under a provision carries (a certification the exporter must make)."""

    code: str
    text_en: str
    text_zh: str


class Provision(_Strict):
    """One operative provision of a licensing instrument: its text beside its data (where it applies,
    to which controls, which review policy it gives, which conditions an answer under it carries).
    The steps of licensing.py read it by id."""

    text_en: str
    text_zh: str
    fact: Fact
    citation: Citation
    scope: Scope | None = None
    policy: Policy | None = None
    controls: list[str] = []
    codes: list[str] = []
    conditions: list[AnswerCondition] = []
    note: str | None = None


class Record(_Strict):
    """A dated act addressed to named vendors or products ("is informed" letters, BIS guidance)."""

    id: str
    from_: date = Field(alias="from")
    until: date | None = None
    status: Status
    fact: Fact
    citation: Citation
    addressee: str | None = None
    vendors: list[str] = []
    products: list[str] = []
    destinations: Scope | None = None
    headquarters: Scope | None = None
    effect: Literal["license_required", "prohibited", "flag"]
    policy: Policy | None = None
    text_en: str
    text_zh: str
    note: str | None = None

    def holds_on(self, day: date) -> bool:
        return self.from_ <= day and (self.until is None or day <= self.until)


class Version(_Strict):
    id: str
    from_: date = Field(alias="from")
    extends: str | None = None
    status: Status
    fact: Fact
    title_en: str
    title_zh: str
    citation: Citation
    paragraphs: list[Paragraph] = []
    remove_paragraphs: list[str] = []
    notes: list[Note] = []
    remove_notes: list[str] = []
    exceptions: list[ExceptionRule] = []
    remove_exceptions: list[str] = []
    inherit_exceptions: bool | None = None
    z_paragraphs: list[ZParagraph] = []
    scopes: dict[str, Scope] = {}
    provisions: dict[str, Provision] = {}
    remove_provisions: list[str] = []

    def flattened(self, parent: Version | None) -> Version:
        """This version with what it `extends` merged in (added or replaced by id)."""
        if parent is None:
            return self
        paras = {p.id: p for p in parent.paragraphs if p.id not in self.remove_paragraphs}
        paras.update({p.id: p for p in self.paragraphs})
        notes = {n.id: n for n in parent.notes if n.id not in self.remove_notes}
        notes.update({n.id: n for n in self.notes})
        excs = [e for e in parent.exceptions if e.code not in self.remove_exceptions]
        excs += list(self.exceptions)
        zs = {z.base: z for z in parent.z_paragraphs}
        zs.update({z.base: z for z in self.z_paragraphs})
        inherit = self.inherit_exceptions if self.inherit_exceptions is not None else parent.inherit_exceptions
        scopes = {**parent.scopes, **self.scopes}
        provisions = {k: v for k, v in parent.provisions.items() if k not in self.remove_provisions}
        provisions.update(self.provisions)
        return self.model_copy(
            update={
                "extends": None,
                "paragraphs": list(paras.values()),
                "notes": list(notes.values()),
                "exceptions": excs,
                "z_paragraphs": list(zs.values()),
                "inherit_exceptions": inherit,
                "scopes": scopes,
                "provisions": provisions,
                "remove_provisions": [],
                "remove_paragraphs": [],
                "remove_notes": [],
                "remove_exceptions": [],
            }
        )


class Definition(_Strict):
    id: str
    fact: Fact
    citation: Citation
    text_en: str
    text_zh: str


class Membership(_Strict):
    """Countries in a group from `from` (None: before the rulebook's horizon) through `until` (inclusive)."""

    countries: list[str]
    from_: date | None = Field(default=None, alias="from")
    until: date | None = None
    fact: Fact
    citation: Citation | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _codes(self) -> Membership:
        bad = [c for c in self.countries if not (isinstance(c, str) and len(c) == 2 and c.isalpha() and c.isupper())]
        if bad:
            raise ValueError(f"not ISO 3166 alpha-2 codes: {bad} (quote NO, ON, YES in YAML)")
        if self.from_ and self.until and self.until < self.from_:
            raise ValueError("until is before from")
        return self

    def holds_on(self, day: date) -> bool:
        return (self.from_ is None or self.from_ <= day) and (self.until is None or day <= self.until)


class Group(_Strict):
    label_en: str
    label_zh: str
    citation: Citation
    fact: Fact
    members: list[Membership]


class Alias(_Strict):
    """A destination the EAR treats as another (Hong Kong as China) from a date."""

    country: str
    as_: str = Field(alias="as")
    from_: date = Field(alias="from")
    fact: Fact
    citation: Citation


class InstrumentHead(_Strict):
    id: str
    role: Literal["ic_classification", "system_classification", "z_paragraphs", "metric", "country_groups", "destination_scope",
                  "jurisdiction", "licensing", "end_use_controls", "diffusion", "letters", "guidance",
                  "ownership", "weights", "foundry", "outbound_investment"]
    title_en: str
    title_zh: str
    citation: Citation


class Instrument(_Strict):
    instrument: InstrumentHead
    parameters: dict[str, Parameter] = {}
    versions: list[Version] = []
    definitions: list[Definition] = []
    groups: dict[str, Group] = {}
    aliases: list[Alias] = []
    records: list[Record] = []

    @property
    def id(self) -> str:
        return self.instrument.id


class InstrumentOverlay(_Strict):
    parameters: dict[str, Parameter] = {}
    versions: list[Version] = []
    records: list[Record] = []


class ScenarioHead(_Strict):
    id: str
    title_en: str
    title_zh: str
    status: Status
    hypothetical: bool
    inspiration: list[dict[str, Any]] = []


class Scenario(_Strict):
    scenario: ScenarioHead
    instruments: dict[str, InstrumentOverlay]


# --- resolved view -----------------------------------------------------------------------------


class ResolvedParam(_Strict):
    name: str
    value: float | None
    label_en: str
    label_zh: str
    unit: str
    since: date
    status: Status
    fact: Fact
    citation: Citation


class ResolvedInstrument(_Strict):
    id: str
    title_en: str
    title_zh: str
    citation: Citation
    version: Version | None
    params: dict[str, ResolvedParam]
    definitions: list[Definition]
    groups: dict[str, list[Membership]] = {}  # the memberships in force, per group
    aliases: dict[str, Alias] = {}
    records: list[Record] = []  # the records in force on the date

    @cached_property
    def content_hash(self) -> str:
        blob = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def param(self, name: str) -> ResolvedParam:
        try:
            return self.params[name]
        except KeyError:
            raise RulebookError(f"{self.id}: parameter {name!r} has no value on this date") from None


class Resolved(_Strict):
    as_of: date
    scenario: str | None
    instruments: dict[str, ResolvedInstrument]

    @cached_property
    def rulebook_hash(self) -> str:
        payload = self.model_dump(mode="json", by_alias=True, exclude={"as_of"})  # the rules, not the date
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def __getitem__(self, instrument_id: str) -> ResolvedInstrument:
        return self.instruments[instrument_id]


# --- the rulebook ------------------------------------------------------------------------------


def _read_yaml(path: Path | Any, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read {what} ({exc.__class__.__name__})", field=None) from None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise InputError(f"{path}:{where} is not valid YAML; fix the syntax") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}"


class Rulebook:
    """All instruments, each with its versions and dated parameters, plus any scenario applied."""

    def __init__(self, instruments: dict[str, Instrument], scenario: Scenario | None = None):
        self.instruments = instruments
        self.scenario = scenario
        self._flat: dict[str, list[Version]] = {}
        for iid, inst in instruments.items():
            self._flat[iid] = self._flatten(inst)
        self._check_params()
        self._resolved: dict[date, Resolved] = {}
        self.memo: dict[str, dict[Any, Any]] = {}  # what the engine derives from these rules alone, kept by its modules

    def memo_of(self, name: str, limit: int = 4096) -> dict[Any, Any]:
        """A cache of values derived from this rulebook only (none from the input), emptied when it grows past `limit`."""
        table = self.memo.setdefault(name, {})
        if len(table) > limit:
            table.clear()
        return table

    # loading ----------------------------------------------------------------------------------
    @classmethod
    def load(cls, rules_dir: Path | None = None) -> Rulebook:
        base = Path(rules_dir) if rules_dir else Path(str(resources.files("aiexport") / "rules"))
        instruments: dict[str, Instrument] = {}
        for path in sorted(base.glob("*.yaml")):
            data = _read_yaml(path, "rule file")
            try:
                inst = Instrument.model_validate(data)
            except ValidationError as exc:
                raise RulebookError(f"{path.name}: {_first_error(exc)}") from None
            if inst.id in instruments:
                raise RulebookError(f"{path.name}: instrument {inst.id!r} defined twice")
            instruments[inst.id] = inst
        if not instruments:
            raise RulebookError(f"{base}: no rule files found")
        return cls(instruments)

    def with_scenario(self, path: str | Path) -> Rulebook:
        """The baseline with a scenario overlay applied; the baseline itself is never edited."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"{p}: scenario file not found; give the path of a scenario YAML file", field="--scenario")
        data = _read_yaml(p, "scenario")
        try:
            scen = Scenario.model_validate(data)
        except ValidationError as exc:
            raise InputError(f"{p}: {_first_error(exc)}", field="--scenario") from None
        merged: dict[str, Instrument] = dict(self.instruments)
        for iid, overlay in scen.instruments.items():
            if iid not in merged:
                raise InputError(f"{p}: instruments.{iid}: no such instrument in the rulebook", field="--scenario")
            base = merged[iid]
            params = dict(base.parameters)
            for name, par in overlay.parameters.items():
                if name in params:
                    vals = {v.from_: v for v in params[name].values}
                    vals.update({v.from_: v for v in par.values})
                    params[name] = params[name].model_copy(update={"values": sorted(vals.values(), key=lambda v: v.from_)})
                else:
                    params[name] = par
            versions = {v.id: v for v in base.versions}
            versions.update({v.id: v for v in overlay.versions})
            records = {r.id: r for r in base.records}
            records.update({r.id: r for r in overlay.records})
            merged[iid] = base.model_copy(update={"parameters": params, "versions": list(versions.values()),
                                                  "records": list(records.values())})
        try:
            return Rulebook(merged, scenario=scen)
        except RulebookError as exc:
            raise InputError(f"{p}: {exc}", field="--scenario") from None

    # validation -------------------------------------------------------------------------------
    @staticmethod
    def _flatten(inst: Instrument) -> list[Version]:
        by_id = {v.id: v for v in inst.versions}
        if len(by_id) != len(inst.versions):
            raise RulebookError(f"{inst.id}: two versions share an id")
        dates = [v.from_ for v in inst.versions]
        if len(set(dates)) != len(dates):
            raise RulebookError(f"{inst.id}: two versions share a 'from' date")
        flat: dict[str, Version] = {}

        def get(vid: str, seen: tuple[str, ...] = ()) -> Version:
            if vid in flat:
                return flat[vid]
            if vid not in by_id:
                raise RulebookError(f"{inst.id}: version extends unknown version {vid!r}")
            if vid in seen:
                raise RulebookError(f"{inst.id}: versions extend each other in a cycle ({vid})")
            v = by_id[vid]
            parent = get(v.extends, seen + (vid,)) if v.extends else None
            flat[vid] = v.flattened(parent)
            return flat[vid]

        return sorted((get(v.id) for v in inst.versions), key=lambda v: v.from_)

    def _check_params(self) -> None:
        for iid, versions in self._flat.items():
            params = self.instruments[iid].parameters
            for v in versions:
                conds = [p.when for p in v.paragraphs] + [n.when for n in v.notes] + [e.when for e in v.exceptions]
                for cond in conds:
                    for leaf in condition_leaves(cond):
                        name = getattr(leaf, "param", None)
                        if name is None:
                            continue
                        if name not in params:
                            raise RulebookError(f"{iid}: version {v.id} uses unknown parameter {name!r}")
                        pv = params[name].at(v.from_)
                        if pv is None or pv.value is None:
                            raise RulebookError(
                                f"{iid}: parameter {name!r} has no value on {v.from_}, when version {v.id} starts"
                            )

    # resolution -------------------------------------------------------------------------------
    def change_dates(self) -> list[date]:
        """Every date on which some version or parameter value starts."""
        days: set[date] = set()
        for iid, inst in self.instruments.items():
            days.update(v.from_ for v in self._flat[iid])
            for par in inst.parameters.values():
                days.update(v.from_ for v in par.values)
        return sorted(days)

    def epoch_dates(self) -> list[date]:
        """Every date on which anything in the rulebook may change: versions, parameter values,
        group memberships (a member from `from`, no longer the day after `until`), aliases and
        records. Between two of them, `resolve` gives the same rules."""
        days: set[date] = set(self.change_dates())
        for inst in self.instruments.values():
            for grp in inst.groups.values():
                for m in grp.members:
                    days.update(d for d in (m.from_, m.until and m.until + timedelta(days=1)) if d)
            days.update(a.from_ for a in inst.aliases)
            for r in inst.records:
                days.update(d for d in (r.from_, r.until and r.until + timedelta(days=1)) if d)
        return sorted(days)

    def resolve(self, as_of: date) -> Resolved:
        if as_of in self._resolved:
            return self._resolved[as_of]
        out: dict[str, ResolvedInstrument] = {}
        for iid, inst in self.instruments.items():
            version = None
            for v in self._flat[iid]:
                if v.from_ <= as_of:
                    version = v
            params: dict[str, ResolvedParam] = {}
            for name, par in inst.parameters.items():
                pv = par.at(as_of)
                if pv is None or pv.value is None:
                    continue
                params[name] = ResolvedParam(
                    name=name,
                    value=pv.value,
                    label_en=par.label_en,
                    label_zh=par.label_zh,
                    unit=par.unit,
                    since=pv.from_,
                    status=pv.status,
                    fact=pv.fact,
                    citation=pv.citation,
                )
            out[iid] = ResolvedInstrument(
                id=iid,
                title_en=inst.instrument.title_en,
                title_zh=inst.instrument.title_zh,
                citation=inst.instrument.citation,
                version=version,
                params=params,
                definitions=inst.definitions,
                groups={g: [m for m in grp.members if m.holds_on(as_of)] for g, grp in inst.groups.items()},
                aliases={a.country: a for a in inst.aliases if a.from_ <= as_of},
                records=[r for r in inst.records if r.holds_on(as_of)],
            )
        resolved = Resolved(as_of=as_of, scenario=self.scenario.scenario.id if self.scenario else None, instruments=out)
        self._resolved[as_of] = resolved
        return resolved

    def version_until(self, instrument_id: str, version: Version) -> date | None:
        """The last day a version is in force (the day before the next one starts), None if open-ended."""
        later = [v.from_ for v in self._flat[instrument_id] if v.from_ > version.from_]
        return min(later) - timedelta(days=1) if later else None

    def param_until(self, instrument_id: str, name: str, since: date) -> date | None:
        """The last day a parameter value holds, None if open-ended."""
        later = [v.from_ for v in self.instruments[instrument_id].parameters[name].values if v.from_ > since]
        return min(later) - timedelta(days=1) if later else None

    def version_status_on(self, version: Version, as_of: date) -> Status:
        """The legal status of a version on a date inside its period."""
        if version.status in ("codified_not_enforced", "proposed"):
            return version.status
        return "in_force"


_BASELINE: Rulebook | None = None


def baseline() -> Rulebook:
    """The packaged rulebook, loaded once per process."""
    global _BASELINE
    if _BASELINE is None:
        _BASELINE = Rulebook.load()
    return _BASELINE


#: scenario rulebooks already built, by the file's path and content hash (an edited file is read anew)
_SCENARIOS: dict[tuple[str, str], Rulebook] = {}
SCENARIOS_KEPT = 16


def load_rulebook(scenario: str | Path | None = None) -> Rulebook:
    """The baseline, or the baseline with a scenario overlay: built once per scenario file content,
    so that asking many questions under one scenario (the Python API's `check(..., scenario=...)`)
    keeps the rulebook's memo of resolved dates and plans."""
    rb = baseline()
    if not scenario:
        return rb
    p = Path(scenario)
    try:
        key = (str(p.resolve()), hashlib.sha256(p.read_bytes()).hexdigest())
    except OSError:
        return rb.with_scenario(p)  # its own clear error
    if key not in _SCENARIOS:
        if len(_SCENARIOS) >= SCENARIOS_KEPT:
            _SCENARIOS.pop(next(iter(_SCENARIOS)))
        _SCENARIOS[key] = rb.with_scenario(p)
    return _SCENARIOS[key]


def parse_date(text: str | date, field: str = "--as-of") -> date:
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(f"{field}: {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-01-01", field=field) from None
