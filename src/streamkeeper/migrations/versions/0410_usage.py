"""Usage over time: session outcomes and peak live sessions per application and minute.

Revision ID: 0410
Revises: 0300
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0410"
down_revision = "0300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage",
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("application", sa.String(128), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False)
          for name in ("admissions", "denials", "evictions", "terminations", "expiries")),
        sa.Column("peak", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("minute", "application", name="pk_usage"),
        sqlite_with_rowid=False,  # stored in key order: a range of minutes is one run of the file
    )
    op.create_index("ix_usage_application_minute", "usage", ["application", "minute"])


def downgrade() -> None:
    op.drop_index("ix_usage_application_minute", table_name="usage")
    op.drop_table("usage")
