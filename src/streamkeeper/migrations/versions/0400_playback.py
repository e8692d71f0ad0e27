"""Enforced playback: grants of sources and videos, per-application playback options.

Revision ID: 0400
Revises: 0300
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0400"
down_revision = "0300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "playback_grants",
        sa.Column("owner_kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("asset_kind", sa.String(16), nullable=False),
        sa.Column("asset_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("owner_kind", "owner_id", "asset_kind", "asset_id", name="pk_playback_grants"),
    )
    op.create_table(
        "playback_applications",
        sa.Column("application_id", sa.String(128), nullable=False),
        sa.Column("fetch_heartbeat", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], ondelete="CASCADE",
                                name="fk_playback_applications_application_id_applications"),
        sa.PrimaryKeyConstraint("application_id", name="pk_playback_applications"),
    )


def downgrade() -> None:
    op.drop_table("playback_applications")
    op.drop_table("playback_grants")
