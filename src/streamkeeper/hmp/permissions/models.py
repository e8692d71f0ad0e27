"""Tables of per-object shares, admin-defined share permissions and public shares."""

from __future__ import annotations

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...orm import Base


class SharePermissionRow(Base):
    """An admin-defined share level (besides the built-in OWN, EDIT and WATCH)."""

    __tablename__ = "hmp_share_permissions"
    __table_args__ = (UniqueConstraint("resource", "name", name="uq_hmp_share_permissions_resource_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    actions: Mapped[list] = mapped_column(JSON, default=list)


class ShareRow(Base):
    """`principal_id` is a user or group id; it is also the share's id in the API."""

    __tablename__ = "hmp_shares"

    resource: Mapped[str] = mapped_column(String(16), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)
    principal_type: Mapped[str] = mapped_column(String(8))
    permission: Mapped[str] = mapped_column(String(36))


class PublicShareRow(Base):
    __tablename__ = "hmp_public_shares"

    resource: Mapped[str] = mapped_column(String(16), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    permission: Mapped[str] = mapped_column(String(36), default="WATCH")
