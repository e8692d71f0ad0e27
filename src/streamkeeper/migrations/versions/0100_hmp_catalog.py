"""Media-platform catalog: accounts, roles, shares, sources, sessions, videos, HotMarks,
categories and events.

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0100"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hmp_assets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('ctime', sa.BigInteger(), nullable=False),
    sa.Column('mtime', sa.BigInteger(), nullable=False),
    sa.Column('duration', sa.Float(), nullable=False),
    sa.Column('movie_track_count', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=True),
    sa.Column('media_path', sa.String(length=1024), nullable=True),
    sa.Column('creator', sa.String(length=128), nullable=False),
    sa.Column('creator_display_name', sa.String(length=256), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_assets'))
    )
    with op.batch_alter_table('hmp_assets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hmp_assets_session_id'), ['session_id'], unique=False)

    op.create_table('hmp_categories',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('label', sa.String(length=256), nullable=False),
    sa.Column('predefined', sa.JSON(), nullable=False),
    sa.Column('multiple_values', sa.Boolean(), nullable=False),
    sa.Column('allow_custom_values', sa.Boolean(), nullable=False),
    sa.Column('custom_values', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('group_name', sa.String(length=256), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_categories')),
    sa.UniqueConstraint('label', name=op.f('uq_hmp_categories_label'))
    )
    op.create_table('hmp_groups',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('groupname', sa.String(length=128), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_groups')),
    sa.UniqueConstraint('groupname', name=op.f('uq_hmp_groups_groupname'))
    )
    op.create_table('hmp_login_failures',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('since', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_hmp_login_failures'))
    )
    op.create_table('hmp_public_shares',
    sa.Column('resource', sa.String(length=16), nullable=False),
    sa.Column('object_id', sa.String(length=36), nullable=False),
    sa.Column('permission', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('resource', 'object_id', name=op.f('pk_hmp_public_shares'))
    )
    op.create_table('hmp_roles',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('admin', sa.Boolean(), nullable=False),
    sa.Column('builtin', sa.Boolean(), nullable=False),
    sa.Column('permissions', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_roles')),
    sa.UniqueConstraint('name', name=op.f('uq_hmp_roles_name'))
    )
    op.create_table('hmp_sessions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('syncrecord', sa.Boolean(), nullable=False),
    sa.Column('ctime', sa.BigInteger(), nullable=False),
    sa.Column('mtime', sa.BigInteger(), nullable=False),
    sa.Column('creator', sa.String(length=128), nullable=False),
    sa.Column('creator_display_name', sa.String(length=256), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_sessions'))
    )
    op.create_table('hmp_share_permissions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('resource', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_share_permissions')),
    sa.UniqueConstraint('resource', 'name', name='uq_hmp_share_permissions_resource_name')
    )
    op.create_table('hmp_shares',
    sa.Column('resource', sa.String(length=16), nullable=False),
    sa.Column('object_id', sa.String(length=36), nullable=False),
    sa.Column('principal_id', sa.String(length=36), nullable=False),
    sa.Column('principal_type', sa.String(length=8), nullable=False),
    sa.Column('permission', sa.String(length=36), nullable=False),
    sa.PrimaryKeyConstraint('resource', 'object_id', 'principal_id', name=op.f('pk_hmp_shares'))
    )
    with op.batch_alter_table('hmp_shares', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hmp_shares_principal_id'), ['principal_id'], unique=False)

    op.create_table('hmp_sources',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('host', sa.String(length=256), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('multicast', sa.Boolean(), nullable=False),
    sa.Column('continuous', sa.Boolean(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=True),
    sa.Column('latency', sa.Integer(), nullable=True),
    sa.Column('passphrase', sa.String(length=128), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('ctime', sa.BigInteger(), nullable=False),
    sa.Column('mtime', sa.BigInteger(), nullable=False),
    sa.Column('creator', sa.String(length=128), nullable=False),
    sa.Column('creator_display_name', sa.String(length=256), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_sources'))
    )
    op.create_table('hmp_users',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('display_name', sa.String(length=256), nullable=False),
    sa.Column('email', sa.String(length=256), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('ctime', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_users')),
    sa.UniqueConstraint('username', name=op.f('uq_hmp_users_username'))
    )
    op.create_table('hmp_events',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('start_time', sa.BigInteger(), nullable=False),
    sa.Column('duration', sa.BigInteger(), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('type_data', sa.JSON(), nullable=True),
    sa.Column('command', sa.String(length=32), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['hmp_sessions.id'], name=op.f('fk_hmp_events_session_id_hmp_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_events'))
    )
    with op.batch_alter_table('hmp_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hmp_events_session_id'), ['session_id'], unique=False)

    op.create_table('hmp_group_members',
    sa.Column('group_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['hmp_groups.id'], name=op.f('fk_hmp_group_members_group_id_hmp_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['hmp_users.id'], name=op.f('fk_hmp_group_members_user_id_hmp_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id', name=op.f('pk_hmp_group_members'))
    )
    with op.batch_alter_table('hmp_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hmp_group_members_user_id'), ['user_id'], unique=False)

    op.create_table('hmp_group_roles',
    sa.Column('group_id', sa.String(length=36), nullable=False),
    sa.Column('role_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['hmp_groups.id'], name=op.f('fk_hmp_group_roles_group_id_hmp_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['hmp_roles.id'], name=op.f('fk_hmp_group_roles_role_id_hmp_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'role_id', name=op.f('pk_hmp_group_roles'))
    )
    op.create_table('hmp_hotmarks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('asset_id', sa.String(length=36), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('user_display_name', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['hmp_assets.id'], name=op.f('fk_hmp_hotmarks_asset_id_hmp_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hmp_hotmarks')),
    sa.UniqueConstraint('asset_id', 'timestamp', name='uq_hmp_hotmarks_asset_id_timestamp')
    )
    with op.batch_alter_table('hmp_hotmarks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hmp_hotmarks_asset_id'), ['asset_id'], unique=False)

    op.create_table('hmp_login_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.Column('expires', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['hmp_users.id'], name=op.f('fk_hmp_login_sessions_user_id_hmp_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_hmp_login_sessions'))
    )
    with op.batch_alter_table('hmp_login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hmp_login_sessions_expires'), ['expires'], unique=False)
        batch_op.create_index(batch_op.f('ix_hmp_login_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('hmp_session_sources',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('source_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['hmp_sessions.id'], name=op.f('fk_hmp_session_sources_session_id_hmp_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['hmp_sources.id'], name=op.f('fk_hmp_session_sources_source_id_hmp_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'source_id', name=op.f('pk_hmp_session_sources'))
    )
    with op.batch_alter_table('hmp_session_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hmp_session_sources_source_id'), ['source_id'], unique=False)

    op.create_table('hmp_user_roles',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('role_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['hmp_roles.id'], name=op.f('fk_hmp_user_roles_role_id_hmp_roles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['hmp_users.id'], name=op.f('fk_hmp_user_roles_user_id_hmp_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role_id', name=op.f('pk_hmp_user_roles'))
    )


def downgrade() -> None:
    op.drop_table("hmp_user_roles")
    op.drop_table("hmp_session_sources")
    op.drop_table("hmp_login_sessions")
    op.drop_table("hmp_hotmarks")
    op.drop_table("hmp_group_roles")
    op.drop_table("hmp_group_members")
    op.drop_table("hmp_events")
    op.drop_table("hmp_users")
    op.drop_table("hmp_sources")
    op.drop_table("hmp_shares")
    op.drop_table("hmp_share_permissions")
    op.drop_table("hmp_sessions")
    op.drop_table("hmp_roles")
    op.drop_table("hmp_public_shares")
    op.drop_table("hmp_login_failures")
    op.drop_table("hmp_groups")
    op.drop_table("hmp_categories")
    op.drop_table("hmp_assets")
