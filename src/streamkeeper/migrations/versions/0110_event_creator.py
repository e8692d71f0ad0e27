"""Media platform: who created an event, so that what it records belongs to them.

Revision ID: 0110
Revises: 0100
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0110"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hmp_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("creator_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hmp_events", schema=None) as batch_op:
        batch_op.drop_column("creator_id")
