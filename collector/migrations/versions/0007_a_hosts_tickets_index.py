"""a host's tickets by deadline

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 16:10:00

``GET /api/v1/tickets?host=...`` walked the whole deadline index looking for
one host's handful of tickets (70 ms at 50,000 tickets on SQLite).
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("tickets_host_deadline", ["host_id", "first_response_due"])


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("tickets_host_deadline")
