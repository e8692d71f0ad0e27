"""Catalog tables of the experience API. Every row belongs to a tenant and goes with it."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..orm import Base

_TENANT = dict(ondelete="CASCADE")


class TokenKeyRow(Base):
    """A key that signs viewer tokens of one tenant: an HS256 secret or an RS256/ES256 public key."""

    __tablename__ = "oxm_token_keys"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", **_TENANT), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(String(512))
    audience: Mapped[str] = mapped_column(String(512))


class StreamPolicyRow(Base):
    __tablename__ = "oxm_stream_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", **_TENANT), primary_key=True)
    max_per_user: Mapped[int] = mapped_column(Integer)
    max_per_asset: Mapped[int] = mapped_column(Integer)
    max_devices: Mapped[int] = mapped_column(Integer)


class ProgressRow(Base):
    """Where a viewer stopped in an asset; `updated_ns` is nanoseconds since the epoch."""

    __tablename__ = "oxm_progress"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", **_TENANT), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    progress: Mapped[int] = mapped_column(BigInteger)
    updated_ns: Mapped[int] = mapped_column(BigInteger)


class WatchlistRow(Base):
    __tablename__ = "oxm_watchlist"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", **_TENANT), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    added_ns: Mapped[int] = mapped_column(BigInteger)
