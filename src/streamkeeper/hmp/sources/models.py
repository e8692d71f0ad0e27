"""The sources table."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...orm import Base


class SourceRow(Base):
    __tablename__ = "hmp_sources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    type: Mapped[str] = mapped_column(String(8))
    host: Mapped[str] = mapped_column(String(256), default="")
    port: Mapped[int] = mapped_column(Integer)
    multicast: Mapped[bool] = mapped_column(Boolean, default=False)
    continuous: Mapped[bool] = mapped_column(Boolean, default=False)
    mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    latency: Mapped[int | None] = mapped_column(Integer, nullable=True)
    passphrase: Mapped[str | None] = mapped_column(String(128), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    ctime: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[int] = mapped_column(BigInteger)
    creator: Mapped[str] = mapped_column(String(128), default="")
    creator_display_name: Mapped[str] = mapped_column(String(256), default="")
    # Client metadata entries ([{"name", "field": [...]}]); server-maintained ones derive from columns.
    meta: Mapped[list] = mapped_column("metadata", JSON, default=list)
