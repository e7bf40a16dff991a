"""The tables of the aiexport database: one `metadata`, one Alembic migration chain.

Later work (the ledger, the audit trail) adds its own models on the same `Base` and its own
migration after the last one in `aiexport/migrations/versions`, so that one `aiexport db upgrade`
brings every table to the version the code expects.

* ``list_snapshots``: one row per distinct list release imported (unique on its content hash);
* ``list_entries``: the entries of each snapshot, one row per entry as `parties.lists` reads them
  (enough to rebuild the entries frame exactly: the stored hash is checked on the way back);
* ``screened_parties``: every party screened and recorded, identified by its normalised name and
  country (`party_key`), with the snapshot it was last screened against and the last snapshot its
  hits are known to hold for;
* ``screening_hits``: the list entries a party alerted on. A hit is open until a later screening no
  longer finds it (or its entry leaves the list): it is then *cleared*, with the snapshot and the
  reason, never deleted;
* ``hit_decisions``: a reviewer's verdict on a (party, entry) pair, for the entry's content at the
  time. Append-only (the database refuses UPDATE and DELETE): a new decision supersedes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: constraint names that are the same on every database (Alembic needs names to alter constraints)
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

VERDICTS = ("true_match", "false_match")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back timezone-aware, on SQLite (no time zones) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: sa.JSON(), list[str]: sa.JSON()}


metadata = Base.metadata


class ListSnapshot(Base):
    __tablename__ = "list_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_path: Mapped[str] = mapped_column(sa.Text)
    format: Mapped[str] = mapped_column(sa.String(32))
    data_date: Mapped[str | None] = mapped_column(sa.String(64))
    loaded_at: Mapped[datetime]
    content_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    counts: Mapped[dict[str, Any]]
    entry_count: Mapped[int]


class ListEntry(Base):
    """One entry of one snapshot; `position` is its row in the list as read."""

    __tablename__ = "list_entries"
    __table_args__ = (sa.Index("ix_list_entries_snapshot_id_key", "snapshot_id", "key"),)

    snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("list_snapshots.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(sa.Text)
    content: Mapped[str] = mapped_column(sa.String(64))
    list_id: Mapped[str | None] = mapped_column(sa.Text)
    source: Mapped[str | None] = mapped_column(sa.Text)
    list_code: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.Text)
    alt_names: Mapped[list[str]]
    type: Mapped[str | None] = mapped_column(sa.String(32))
    countries: Mapped[list[str]]
    programs: Mapped[list[str]]
    entity_number: Mapped[str | None] = mapped_column(sa.Text)
    federal_register_notice: Mapped[str | None] = mapped_column(sa.Text)
    start_date: Mapped[str | None] = mapped_column(sa.String(64))
    end_date: Mapped[str | None] = mapped_column(sa.String(64))
    license_requirement: Mapped[str | None] = mapped_column(sa.Text)
    license_policy: Mapped[str | None] = mapped_column(sa.Text)
    source_list_url: Mapped[str | None] = mapped_column(sa.Text)
    remarks: Mapped[str | None] = mapped_column(sa.Text)


class ScreenedParty(Base):
    __tablename__ = "screened_parties"

    party_key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    country: Mapped[str | None] = mapped_column(sa.String(64))
    threshold: Mapped[float]
    first_screened_at: Mapped[datetime]
    last_screened_at: Mapped[datetime]
    #: the snapshot the matcher last screened this party against
    last_snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("list_snapshots.id"))
    #: the last snapshot the party's hits are known to hold for: screened against it, or carried
    #: forward by a re-screen that found the changes of the list could not affect the party
    checked_snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("list_snapshots.id"))


class ScreeningHit(Base):
    __tablename__ = "screening_hits"
    __table_args__ = (sa.Index("ix_screening_hits_party_key_entry_key", "party_key", "entry_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    party_key: Mapped[str] = mapped_column(sa.ForeignKey("screened_parties.party_key"))
    #: the snapshot the hit was last found in (first_snapshot_id: first found in)
    snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("list_snapshots.id"))
    first_snapshot_id: Mapped[int] = mapped_column(sa.ForeignKey("list_snapshots.id"))
    entry_key: Mapped[str] = mapped_column(sa.Text)
    #: the content hash of the entry (of all its rows when the list holds the key more than once)
    entry_content: Mapped[str] = mapped_column(sa.String(64))
    list_id: Mapped[str | None] = mapped_column(sa.Text)
    list_code: Mapped[str | None] = mapped_column(sa.String(16))
    list_name: Mapped[str | None] = mapped_column(sa.Text)
    matched_name: Mapped[str] = mapped_column(sa.Text)
    score: Mapped[float]
    decision: Mapped[str] = mapped_column(sa.String(16), default="alert")
    found_at: Mapped[datetime]
    screened_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    cleared_snapshot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("list_snapshots.id"))
    #: entry_removed, entry_changed or below_threshold
    cleared_reason: Mapped[str | None] = mapped_column(sa.String(32))


class HitDecision(Base):
    __tablename__ = "hit_decisions"
    __table_args__ = (
        sa.CheckConstraint("verdict IN ('true_match', 'false_match')", name="verdict"),
        sa.Index("ix_hit_decisions_party_key_entry_key", "party_key", "entry_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_key: Mapped[str] = mapped_column(sa.ForeignKey("screened_parties.party_key"))
    entry_key: Mapped[str] = mapped_column(sa.Text)
    #: the entry's content hash when the decision was made: a change of the entry reopens the hit
    entry_content: Mapped[str] = mapped_column(sa.String(64))
    verdict: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str] = mapped_column(sa.Text)
    reviewer: Mapped[str] = mapped_column(sa.String(200))
    decided_at: Mapped[datetime]
    #: the hit the reviewer decided on, and the snapshot it was in
    hit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("screening_hits.id"))
    snapshot_id: Mapped[int | None] = mapped_column(sa.ForeignKey("list_snapshots.id"))


# --- the ledger (issue #6): licences, TPP budgets, the audit record. Migration 0002_ledger. --------------------------------

DRAW_STATES = ("reserved", "consumed", "released")


class Licence(Base):
    """A licence from BIS: what it authorises (quantity, value in US cents), for which items, ECCNs,
    parties and countries (empty: not limited), from when until when. `reserved_*` and `consumed_*`
    are the running totals of its draws; the database refuses totals beyond the authorisation."""

    __tablename__ = "licences"
    __table_args__ = (
        sa.CheckConstraint("reserved_quantity >= 0 AND consumed_quantity >= 0 AND "
                           "reserved_quantity + consumed_quantity <= authorised_quantity", name="quantity_within"),
        sa.CheckConstraint("authorised_value_cents IS NULL OR reserved_value_cents + consumed_value_cents <= authorised_value_cents",
                           name="value_within"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(100), unique=True)
    authorised_quantity: Mapped[int] = mapped_column(sa.BigInteger)
    authorised_value_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    reserved_quantity: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    consumed_quantity: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    reserved_value_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    consumed_value_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    items: Mapped[list[str]]
    eccns: Mapped[list[str]]
    parties: Mapped[list[str]]
    countries: Mapped[list[str]]
    valid_from: Mapped[date | None] = mapped_column(sa.Date)
    valid_until: Mapped[date | None] = mapped_column(sa.Date)
    conditions: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(200))


class LicenceDraw(Base):
    """One shipment's draw on a licence, keyed by its transaction id (unique: the same id draws once).
    reserved → consumed (shipped), or reserved → released (cancelled). `result` is the answer given
    when it was drawn, returned again to a replay."""

    __tablename__ = "licence_draws"
    __table_args__ = (sa.CheckConstraint("state IN ('reserved', 'consumed', 'released')", name="state"),
                      sa.CheckConstraint("quantity > 0", name="quantity_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    txn: Mapped[str] = mapped_column(sa.String(200), unique=True)
    licence_id: Mapped[int] = mapped_column(sa.ForeignKey("licences.id"), index=True)
    quantity: Mapped[int] = mapped_column(sa.BigInteger)
    value_cents: Mapped[int | None] = mapped_column(sa.BigInteger)
    state: Mapped[str] = mapped_column(sa.String(16))
    ship_date: Mapped[date] = mapped_column(sa.Date)
    item: Mapped[str | None] = mapped_column(sa.Text)
    eccn: Mapped[str | None] = mapped_column(sa.String(32))
    country: Mapped[str | None] = mapped_column(sa.String(8))
    party: Mapped[str | None] = mapped_column(sa.Text)
    user: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    result: Mapped[dict[str, Any]]


class TppBudget(Base):
    """A running TPP total (in milli-TPP, integers: sums are exact) for one budget: an LPP
    consignee-year (`kind` lpp_consignee_year, `key` the consignee, `period` the year) or a Tier 2
    country allocation (`kind` tier2_country, `key` the country, `period` the allocation's span).
    The limit comes from the rulebook on the day of each draw, never from this table."""

    __tablename__ = "tpp_budgets"
    __table_args__ = (sa.UniqueConstraint("kind", "key", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str] = mapped_column(sa.Text)
    period: Mapped[str] = mapped_column(sa.String(32))
    drawn_mtpp: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class TppDraw(Base):
    """One draw on a TPP budget, keyed by its transaction id (the same id draws once)."""

    __tablename__ = "tpp_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    txn: Mapped[str] = mapped_column(sa.String(200), unique=True)
    budget_id: Mapped[int] = mapped_column(sa.ForeignKey("tpp_budgets.id"), index=True)
    mtpp: Mapped[int] = mapped_column(sa.BigInteger)
    ship_date: Mapped[date] = mapped_column(sa.Date)
    user: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime]
    result: Mapped[dict[str, Any]]


class AuditRecord(Base):
    """One answer on record. `input` and `output` are canonical JSON text (exactly what was hashed);
    `hash` = sha256 of the canonical JSON of every other field, `prev_hash` included, so each record
    seals the one before. Append-only: the database refuses UPDATE and DELETE. `batch_id` and `line`
    identify a line of a recorded batch (unique: a resumed batch never records a line twice)."""

    __tablename__ = "audit_records"
    __table_args__ = (sa.UniqueConstraint("batch_id", "line"), sa.Index("ix_audit_records_recorded_at", "recorded_at"))

    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(sa.String(32))
    recorded_at: Mapped[datetime]
    user: Mapped[str] = mapped_column(sa.String(200))
    rulebook_hash: Mapped[str | None] = mapped_column(sa.String(64))
    list_snapshot_hash: Mapped[str | None] = mapped_column(sa.String(64))
    batch_id: Mapped[str | None] = mapped_column(sa.String(64))
    line: Mapped[int | None] = mapped_column(sa.BigInteger)
    input: Mapped[str] = mapped_column(sa.Text)
    output: Mapped[str] = mapped_column(sa.Text)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class AuditHead(Base):
    """The head of the audit chain (one row, id 1): the last record's number and hash. Appenders lock
    it (SELECT … FOR UPDATE; on SQLite the write lock) so that the chain never forks; `audit verify`
    compares it with the last record, which catches a deleted or appended tail."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    hash: Mapped[str] = mapped_column(sa.String(64))


# --- the service (issue #7): API keys. Migration 0003_api_keys. ----------------------------------------------------------

API_ROLES = ("viewer", "analyst", "admin")


class ApiKey(Base):
    """A key of the REST service and web UI. Only the SHA-256 of the key is stored (the key is shown
    once, when created); `prefix` (its first characters) identifies it in lists and on the audit
    record. A revoked key stays, with the time it was revoked."""

    __tablename__ = "api_keys"
    __table_args__ = (sa.CheckConstraint("role IN ('viewer', 'analyst', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(sa.String(200))
    revoked_at: Mapped[datetime | None]
