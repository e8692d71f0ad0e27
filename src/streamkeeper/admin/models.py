"""Catalog tables for the concurrency configuration."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..orm import Base


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))


class PolicyRow(Base):
    __tablename__ = "policies"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    # Rules are always read and replaced together with their policy.
    rules: Mapped[list] = mapped_column(JSON, default=list)


class ApplicationRow(Base):
    __tablename__ = "applications"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    heartbeat_interval: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    policy_links: Mapped[list["ApplicationPolicyRow"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ApplicationPolicyRow.position"
    )


class ApplicationPolicyRow(Base):
    __tablename__ = "application_policies"

    application_id: Mapped[str] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True
    )
    policy_id: Mapped[str] = mapped_column(ForeignKey("policies.id", ondelete="RESTRICT"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CatalogVersionRow(Base):
    """One row: bumped in the transaction of every catalog change (see `catalog_version.py`)."""

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
