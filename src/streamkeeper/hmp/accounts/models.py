"""Tables of accounts: users, groups, roles, memberships, login sessions and failed-login counters."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ...orm import Base


class RoleRow(Base):
    __tablename__ = "hmp_roles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    # {"Sessions": ["VIEW", ...], ...}: always read and replaced as a whole.
    permissions: Mapped[dict] = mapped_column(JSON, default=dict)


class UserRow(Base):
    __tablename__ = "hmp_users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str] = mapped_column(String(256), default="")
    email: Mapped[str] = mapped_column(String(256), default="")
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    ctime: Mapped[int] = mapped_column(Integer, default=0)


class GroupRow(Base):
    __tablename__ = "hmp_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    groupname: Mapped[str] = mapped_column(String(128), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class UserRoleRow(Base):
    __tablename__ = "hmp_user_roles"

    user_id: Mapped[str] = mapped_column(ForeignKey("hmp_users.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("hmp_roles.id", ondelete="CASCADE"), primary_key=True)


class GroupRoleRow(Base):
    __tablename__ = "hmp_group_roles"

    group_id: Mapped[str] = mapped_column(ForeignKey("hmp_groups.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("hmp_roles.id", ondelete="CASCADE"), primary_key=True)


class GroupMemberRow(Base):
    __tablename__ = "hmp_group_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("hmp_groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("hmp_users.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)


class LoginSessionRow(Base):
    """A logged-in client. Only a hash of the cookie value is stored."""

    __tablename__ = "hmp_login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("hmp_users.id", ondelete="CASCADE"), index=True)
    created: Mapped[float] = mapped_column(Float)
    expires: Mapped[float] = mapped_column(Float, index=True)


class LoginFailureRow(Base):
    """Failed logins per user name or client address, for the throttle."""

    __tablename__ = "hmp_login_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    since: Mapped[float] = mapped_column(Float)
