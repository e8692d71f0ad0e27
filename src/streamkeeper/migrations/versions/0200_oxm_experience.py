"""Experience API: token keys, tenant stream policies, progress and watchlists.

Revision ID: 0200
Revises: 0001
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = "0200"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants",
                                   ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "oxm_token_keys",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("audience", sa.String(512), nullable=False),
        _tenant_fk("oxm_token_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_oxm_token_keys"),
    )
    op.create_index("ix_oxm_token_keys_tenant_id", "oxm_token_keys", ["tenant_id"])
    op.create_table(
        "oxm_stream_policies",
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("max_per_user", sa.Integer(), nullable=False),
        sa.Column("max_per_asset", sa.Integer(), nullable=False),
        sa.Column("max_devices", sa.Integer(), nullable=False),
        _tenant_fk("oxm_stream_policies"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_oxm_stream_policies"),
    )
    for table, stamp in (("oxm_progress", "updated_ns"), ("oxm_watchlist", "added_ns")):
        columns = [
            sa.Column("tenant_id", sa.String(128), nullable=False),
            sa.Column("user_id", sa.String(256), nullable=False),
            sa.Column("asset_id", sa.String(256), nullable=False),
        ]
        if table == "oxm_progress":
            columns.append(sa.Column("progress", sa.BigInteger(), nullable=False))
        columns.append(sa.Column(stamp, sa.BigInteger(), nullable=False))
        op.create_table(
            table,
            *columns,
            _tenant_fk(table),
            sa.PrimaryKeyConstraint("tenant_id", "user_id", "asset_id", name=f"pk_{table}"),
        )


def downgrade() -> None:
    op.drop_table("oxm_watchlist")
    op.drop_table("oxm_progress")
    op.drop_table("oxm_stream_policies")
    op.drop_index("ix_oxm_token_keys_tenant_id", "oxm_token_keys")
    op.drop_table("oxm_token_keys")
