"""Tables of sessions and of the sources each session shows (with their track index)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...orm import Base


class SessionRow(Base):
    __tablename__ = "hmp_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    syncrecord: Mapped[bool] = mapped_column(Boolean, default=False)
    ctime: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[int] = mapped_column(BigInteger)
    creator: Mapped[str] = mapped_column(String(128), default="")
    creator_display_name: Mapped[str] = mapped_column(String(256), default="")
    meta: Mapped[list] = mapped_column("metadata", JSON, default=list)


class SessionSourceRow(Base):
    __tablename__ = "hmp_session_sources"

    session_id: Mapped[str] = mapped_column(ForeignKey("hmp_sessions.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("hmp_sources.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    index: Mapped[int] = mapped_column("position", Integer)
