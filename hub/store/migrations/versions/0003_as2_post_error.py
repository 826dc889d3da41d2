"""AS2 messages whose POST failed: ``as2_messages.post_error`` (state ``post-failed`` needs no schema change).

Revision ID: 0003
Revises: 0002
Create Date: 2026-06-08

The pipeline's retry of an outbound transaction posts the message whose POST failed again, under the same
Message-ID; the column says why the last POST failed and marks the message the retry still owes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("as2_messages", sa.Column("post_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("as2_messages") as batch:
        batch.drop_column("post_error")
