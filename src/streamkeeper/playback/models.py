"""Catalog tables of enforced playback: what may be played under whom, and per-application options."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..orm import Base


class GrantRow(Base):
    """`owner_kind` "application" (`/v2`) or "tenant" (OXM); `asset_kind` "source" or "video"."""

    __tablename__ = "playback_grants"

    owner_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    asset_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class AppOptionsRow(Base):
    """An application's playback options; an application without a row has the defaults."""

    __tablename__ = "playback_applications"

    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"),
                                                primary_key=True)
    fetch_heartbeat: Mapped[bool] = mapped_column(Boolean, default=True)
