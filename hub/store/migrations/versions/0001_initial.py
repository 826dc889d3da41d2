"""The initial store: files, envelopes, transactions, deliveries, acknowledgments, counters, events.

Revision ID: 0001
Revises:
Create Date: 2026-05-01

Written out by hand rather than importing the models, so this revision keeps
creating exactly this schema whatever the models become later; the test
``tests/store/test_migrations.py`` checks that head still equals the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id() -> sa.Column:
    return sa.Column("id", ID, primary_key=True, autoincrement=True, nullable=False)


def upgrade() -> None:
    op.create_table(
        "files",
        _id(),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("original_name", sa.String(1024), nullable=False),
        _ts("received_at"),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("resume_state", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        _ts("claimed_until", nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
    )
    op.create_index("ix_files_state_next_attempt_at", "files", ["state", "next_attempt_at"])
    op.create_index("ix_files_sha256_partner_id", "files", ["sha256", "partner_id"])

    op.create_table(
        "interchanges",
        _id(),
        sa.Column("file_id", ID, nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=True),
        sa.Column("standard", sa.String(16), nullable=False),
        sa.Column("sender_qualifier", sa.String(8), nullable=True),
        sa.Column("sender_id", sa.String(64), nullable=False),
        sa.Column("receiver_qualifier", sa.String(8), nullable=True),
        sa.Column("receiver_id", sa.String(64), nullable=False),
        sa.Column("control_number", sa.String(35), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_interchanges_file_id_files"),
        sa.PrimaryKeyConstraint("id", name="pk_interchanges"),
    )
    op.create_index("ix_interchanges_partner_id_control_number", "interchanges", ["partner_id", "control_number"])
    op.create_index("ix_interchanges_file_id", "interchanges", ["file_id"])

    op.create_table(
        "groups",
        _id(),
        sa.Column("interchange_id", ID, nullable=False),
        sa.Column("functional_id", sa.String(8), nullable=False),
        sa.Column("control_number", sa.String(35), nullable=False),
        sa.Column("version", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["interchange_id"], ["interchanges.id"], name="fk_groups_interchange_id_interchanges"),
        sa.PrimaryKeyConstraint("id", name="pk_groups"),
    )
    op.create_index("ix_groups_interchange_id", "groups", ["interchange_id"])

    op.create_table(
        "transactions",
        _id(),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=True),
        sa.Column("file_id", ID, nullable=True),
        sa.Column("interchange_id", ID, nullable=True),
        sa.Column("group_id", ID, nullable=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("control_number", sa.String(35), nullable=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("resume_state", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("canonical", sa.Text(), nullable=True),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        _ts("claimed_until", nullable=True),
        sa.Column("document_number", sa.String(64), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_transactions_file_id_files"),
        sa.ForeignKeyConstraint(
            ["interchange_id"], ["interchanges.id"], name="fk_transactions_interchange_id_interchanges"
        ),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name="fk_transactions_group_id_groups"),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
    )
    op.create_index("ix_transactions_state_next_attempt_at", "transactions", ["state", "next_attempt_at"])
    op.create_index("ix_transactions_partner_id_type", "transactions", ["partner_id", "type"])
    op.create_index("ix_transactions_file_id", "transactions", ["file_id"])
    op.create_index("ix_transactions_group_id", "transactions", ["group_id"])
    op.create_index("ix_transactions_document_number", "transactions", ["document_number"])

    op.create_table(
        "deliveries",
        _id(),
        sa.Column("transaction_id", ID, nullable=False),
        sa.Column("adapter", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        _ts("at"),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["transactions.id"], name="fk_deliveries_transaction_id_transactions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )
    op.create_index(
        "uq_deliveries_adapter_idempotency_key_ok",
        "deliveries",
        ["adapter", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text("status = 'ok'"),
        postgresql_where=sa.text("status = 'ok'"),
    )
    op.create_index("ix_deliveries_transaction_id", "deliveries", ["transaction_id"])

    op.create_table(
        "acknowledgments",
        _id(),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("interchange_control_number", sa.String(35), nullable=True),
        sa.Column("group_control_number", sa.String(35), nullable=True),
        sa.Column("transaction_control_number", sa.String(35), nullable=True),
        sa.Column("transaction_id", ID, nullable=True),
        sa.Column("file_id", ID, nullable=True),
        _ts("due_at", nullable=True),
        sa.Column("result", sa.String(32), nullable=False),
        _ts("received_at", nullable=True),
        sa.Column("matched_by_id", ID, nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["transactions.id"], name="fk_acknowledgments_transaction_id_transactions"
        ),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_acknowledgments_file_id_files"),
        sa.ForeignKeyConstraint(
            ["matched_by_id"], ["acknowledgments.id"], name="fk_acknowledgments_matched_by_id_acknowledgments"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_acknowledgments"),
    )
    op.create_index(
        "ix_acknowledgments_partner_id_group_control_number",
        "acknowledgments",
        ["partner_id", "group_control_number"],
    )
    op.create_index(
        "ix_acknowledgments_partner_id_interchange_control_number",
        "acknowledgments",
        ["partner_id", "interchange_control_number"],
    )
    op.create_index("ix_acknowledgments_direction_result_due_at", "acknowledgments", ["direction", "result", "due_at"])
    op.create_index("ix_acknowledgments_transaction_id", "acknowledgments", ["transaction_id"])

    op.create_table(
        "control_counters",
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("partner_id", "kind", name="pk_control_counters"),
    )

    op.create_table(
        "events",
        _id(),
        _ts("at"),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_entity_entity_id", "events", ["entity", "entity_id"])


def downgrade() -> None:
    for table in (
        "events",
        "control_counters",
        "acknowledgments",
        "deliveries",
        "transactions",
        "groups",
        "interchanges",
        "files",
    ):
        op.drop_table(table)
