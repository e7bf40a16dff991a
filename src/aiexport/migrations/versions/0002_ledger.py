"""The ledger: licences and their draws, TPP budgets and their draws, the audit record (hash chain).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

audit_records is append-only: triggers refuse UPDATE and DELETE. audit_head holds the chain's head
(seq 0 and the genesis hash before the first record).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = "audit_records is append-only: the audit record is never changed or deleted"
GENESIS = "0" * 64


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _big(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=100), nullable=False),
        _big("authorised_quantity"),
        _big("authorised_value_cents", nullable=True),
        _big("reserved_quantity"),
        _big("consumed_quantity"),
        _big("reserved_value_cents"),
        _big("consumed_value_cents"),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("eccns", sa.JSON(), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("conditions", sa.Text(), nullable=True),
        _ts("created_at"),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint("reserved_quantity >= 0 AND consumed_quantity >= 0 AND "
                           "reserved_quantity + consumed_quantity <= authorised_quantity", name=op.f("ck_licences_quantity_within")),
        sa.CheckConstraint("authorised_value_cents IS NULL OR reserved_value_cents + consumed_value_cents <= authorised_value_cents",
                           name=op.f("ck_licences_value_within")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licences")),
        sa.UniqueConstraint("number", name=op.f("uq_licences_number")),
    )
    op.create_table(
        "licence_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("txn", sa.String(length=200), nullable=False),
        sa.Column("licence_id", sa.Integer(), nullable=False),
        _big("quantity"),
        _big("value_cents", nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ship_date", sa.Date(), nullable=False),
        sa.Column("item", sa.Text(), nullable=True),
        sa.Column("eccn", sa.String(length=32), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("party", sa.Text(), nullable=True),
        sa.Column("user", sa.String(length=200), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.CheckConstraint("state IN ('reserved', 'consumed', 'released')", name=op.f("ck_licence_draws_state")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_licence_draws_quantity_positive")),
        sa.ForeignKeyConstraint(["licence_id"], ["licences.id"], name=op.f("fk_licence_draws_licence_id_licences")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_draws")),
        sa.UniqueConstraint("txn", name=op.f("uq_licence_draws_txn")),
    )
    op.create_index(op.f("ix_licence_draws_licence_id"), "licence_draws", ["licence_id"])
    op.create_table(
        "tpp_budgets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        _big("drawn_mtpp"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tpp_budgets")),
        sa.UniqueConstraint("kind", "key", "period", name=op.f("uq_tpp_budgets_kind_key_period")),
    )
    op.create_table(
        "tpp_draws",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("txn", sa.String(length=200), nullable=False),
        sa.Column("budget_id", sa.Integer(), nullable=False),
        _big("mtpp"),
        sa.Column("ship_date", sa.Date(), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        _ts("created_at"),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["budget_id"], ["tpp_budgets.id"], name=op.f("fk_tpp_draws_budget_id_tpp_budgets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tpp_draws")),
        sa.UniqueConstraint("txn", name=op.f("uq_tpp_draws_txn")),
    )
    op.create_index(op.f("ix_tpp_draws_budget_id"), "tpp_draws", ["budget_id"])
    op.create_table(
        "audit_records",
        _big("seq"),
        sa.Column("kind", sa.String(length=32), nullable=False),
        _ts("recorded_at"),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("rulebook_hash", sa.String(length=64), nullable=True),
        sa.Column("list_snapshot_hash", sa.String(length=64), nullable=True),
        sa.Column("batch_id", sa.String(length=64), nullable=True),
        _big("line", nullable=True),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_records")),
        sa.UniqueConstraint("batch_id", "line", name=op.f("uq_audit_records_batch_id_line")),
    )
    op.create_index("ix_audit_records_recorded_at", "audit_records", ["recorded_at"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        _big("seq"),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END; $$")
        op.execute("CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records "
                   "FOR EACH ROW EXECUTE FUNCTION audit_records_append_only()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_records_no_{what.lower()} BEFORE {what} ON audit_records "
                       f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_records_append_only ON audit_records")
        op.execute("DROP FUNCTION IF EXISTS audit_records_append_only()")
    else:
        for what in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_records_no_{what}")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_records_recorded_at", table_name="audit_records")
    op.drop_table("audit_records")
    op.drop_index(op.f("ix_tpp_draws_budget_id"), table_name="tpp_draws")
    op.drop_table("tpp_draws")
    op.drop_table("tpp_budgets")
    op.drop_index(op.f("ix_licence_draws_licence_id"), table_name="licence_draws")
    op.drop_table("licence_draws")
    op.drop_table("licences")
