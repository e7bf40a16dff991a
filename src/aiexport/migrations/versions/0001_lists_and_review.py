"""List snapshots and their entries; screened parties, their hits and the reviewers' decisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-29

hit_decisions is append-only: triggers refuse UPDATE and DELETE (a new decision supersedes).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = "hit_decisions is append-only: record a new decision instead"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "list_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("data_date", sa.String(length=64), nullable=True),
        _ts("loaded_at"),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_snapshots")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_list_snapshots_content_hash")),
    )
    op.create_table(
        "list_entries",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("content", sa.String(length=64), nullable=False),
        sa.Column("list_id", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("list_code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("alt_names", sa.JSON(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("programs", sa.JSON(), nullable=False),
        sa.Column("entity_number", sa.Text(), nullable=True),
        sa.Column("federal_register_notice", sa.Text(), nullable=True),
        sa.Column("start_date", sa.String(length=64), nullable=True),
        sa.Column("end_date", sa.String(length=64), nullable=True),
        sa.Column("license_requirement", sa.Text(), nullable=True),
        sa.Column("license_policy", sa.Text(), nullable=True),
        sa.Column("source_list_url", sa.Text(), nullable=True),
        sa.Column("remarks", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["snapshot_id"], ["list_snapshots.id"], name=op.f("fk_list_entries_snapshot_id_list_snapshots"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("snapshot_id", "position", name=op.f("pk_list_entries")),
    )
    op.create_index("ix_list_entries_snapshot_id_key", "list_entries", ["snapshot_id", "key"])
    op.create_table(
        "screened_parties",
        sa.Column("party_key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("country", sa.String(length=64), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=False),
        _ts("first_screened_at"),
        _ts("last_screened_at"),
        sa.Column("last_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("checked_snapshot_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["checked_snapshot_id"], ["list_snapshots.id"],
                                name=op.f("fk_screened_parties_checked_snapshot_id_list_snapshots")),
        sa.ForeignKeyConstraint(["last_snapshot_id"], ["list_snapshots.id"],
                                name=op.f("fk_screened_parties_last_snapshot_id_list_snapshots")),
        sa.PrimaryKeyConstraint("party_key", name=op.f("pk_screened_parties")),
    )
    op.create_table(
        "screening_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_key", sa.Text(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("first_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.Text(), nullable=False),
        sa.Column("entry_content", sa.String(length=64), nullable=False),
        sa.Column("list_id", sa.Text(), nullable=True),
        sa.Column("list_code", sa.String(length=16), nullable=True),
        sa.Column("list_name", sa.Text(), nullable=True),
        sa.Column("matched_name", sa.Text(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        _ts("found_at"),
        _ts("screened_at"),
        _ts("cleared_at", nullable=True),
        sa.Column("cleared_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("cleared_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["cleared_snapshot_id"], ["list_snapshots.id"],
                                name=op.f("fk_screening_hits_cleared_snapshot_id_list_snapshots")),
        sa.ForeignKeyConstraint(["first_snapshot_id"], ["list_snapshots.id"],
                                name=op.f("fk_screening_hits_first_snapshot_id_list_snapshots")),
        sa.ForeignKeyConstraint(["party_key"], ["screened_parties.party_key"],
                                name=op.f("fk_screening_hits_party_key_screened_parties")),
        sa.ForeignKeyConstraint(["snapshot_id"], ["list_snapshots.id"], name=op.f("fk_screening_hits_snapshot_id_list_snapshots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_hits")),
    )
    op.create_index("ix_screening_hits_party_key_entry_key", "screening_hits", ["party_key", "entry_key"])
    op.create_table(
        "hit_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_key", sa.Text(), nullable=False),
        sa.Column("entry_key", sa.Text(), nullable=False),
        sa.Column("entry_content", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        _ts("decided_at"),
        sa.Column("hit_id", sa.Integer(), nullable=True),
        sa.Column("snapshot_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("verdict IN ('true_match', 'false_match')", name=op.f("ck_hit_decisions_verdict")),
        sa.ForeignKeyConstraint(["hit_id"], ["screening_hits.id"], name=op.f("fk_hit_decisions_hit_id_screening_hits")),
        sa.ForeignKeyConstraint(["party_key"], ["screened_parties.party_key"],
                                name=op.f("fk_hit_decisions_party_key_screened_parties")),
        sa.ForeignKeyConstraint(["snapshot_id"], ["list_snapshots.id"], name=op.f("fk_hit_decisions_snapshot_id_list_snapshots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hit_decisions")),
    )
    op.create_index("ix_hit_decisions_party_key_entry_key", "hit_decisions", ["party_key", "entry_key"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION hit_decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END; $$")
        op.execute("CREATE TRIGGER hit_decisions_append_only BEFORE UPDATE OR DELETE ON hit_decisions "
                   "FOR EACH ROW EXECUTE FUNCTION hit_decisions_append_only()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER hit_decisions_no_{what.lower()} BEFORE {what} ON hit_decisions "
                       f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS hit_decisions_append_only ON hit_decisions")
        op.execute("DROP FUNCTION IF EXISTS hit_decisions_append_only()")
    else:
        for what in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS hit_decisions_no_{what}")
    op.drop_index("ix_hit_decisions_party_key_entry_key", table_name="hit_decisions")
    op.drop_table("hit_decisions")
    op.drop_index("ix_screening_hits_party_key_entry_key", table_name="screening_hits")
    op.drop_table("screening_hits")
    op.drop_table("screened_parties")
    op.drop_index("ix_list_entries_snapshot_id_key", table_name="list_entries")
    op.drop_table("list_entries")
    op.drop_table("list_snapshots")
