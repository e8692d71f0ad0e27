"""Tenants, applications and policies of concurrency monitoring.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_policies_tenant_id_tenants", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_policies"),
    )
    op.create_index("ix_policies_tenant_id", "policies", ["tenant_id"])
    op.create_table(
        "applications",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("heartbeat_interval", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_applications_tenant_id_tenants", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_applications"),
    )
    op.create_index("ix_applications_tenant_id", "applications", ["tenant_id"])
    op.create_table(
        "application_policies",
        sa.Column("application_id", sa.String(128), nullable=False),
        sa.Column("policy_id", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["applications.id"], name="fk_application_policies_application_id_applications", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], name="fk_application_policies_policy_id_policies", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("application_id", "policy_id", name="pk_application_policies"),
    )


def downgrade() -> None:
    op.drop_table("application_policies")
    op.drop_index("ix_applications_tenant_id", "applications")
    op.drop_table("applications")
    op.drop_index("ix_policies_tenant_id", "policies")
    op.drop_table("policies")
    op.drop_table("tenants")
