"""AS2 messages we sent and their MDNs: the durable async-MDN registry and the record of every receipt.

Revision ID: 0002
Revises: 0001
Create Date: 2026-06-01

Written out by hand, like 0001: ``tests/store/test_migrations.py`` checks that head equals the models, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "as2_messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("partner_as2_id", sa.String(128), nullable=False),
        sa.Column("our_as2_id", sa.String(128), nullable=False),
        sa.Column("transaction_id", ID, nullable=True),
        sa.Column("filename", sa.String(1024), nullable=True),
        sa.Column("mdn_mode", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("mics", sa.Text(), nullable=False),
        sa.Column("require_signed", sa.Boolean(), nullable=False),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("compressed", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        _ts("sent_at"),
        _ts("due_at", nullable=True),
        sa.Column("sends", sa.Integer(), nullable=False),
        _ts("last_sent_at"),
        sa.Column("resend_path", sa.String(1024), nullable=True),
        sa.Column("resend_headers", sa.Text(), nullable=True),
        sa.Column("mdn_message_id", sa.String(255), nullable=True),
        _ts("mdn_received_at", nullable=True),
        sa.Column("disposition", sa.String(255), nullable=True),
        sa.Column("mic_matched", sa.Boolean(), nullable=True),
        sa.Column("mdn_signed", sa.Boolean(), nullable=True),
        sa.Column("mdn_sha256", sa.String(64), nullable=True),
        sa.Column("mdn_size", sa.BigInteger(), nullable=True),
        sa.Column("problems", sa.Text(), nullable=True),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"],
                                name="fk_as2_messages_transaction_id_transactions"),
        sa.PrimaryKeyConstraint("id", name="pk_as2_messages"),
    )
    op.create_index("uq_as2_messages_message_id", "as2_messages", ["message_id"], unique=True)
    op.create_index("ix_as2_messages_state_due_at", "as2_messages", ["state", "due_at"])
    op.create_index("ix_as2_messages_partner_id_sent_at", "as2_messages", ["partner_id", "sent_at"])


def downgrade() -> None:
    op.drop_table("as2_messages")
