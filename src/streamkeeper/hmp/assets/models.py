"""Tables of videos and HotMarks. The media engine owns `state`, `duration`, tracks and files."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...orm import Base


class AssetRow(Base):
    __tablename__ = "hmp_assets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    title: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    ctime: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    movie_track_count: Mapped[int] = mapped_column(Integer, default=0)
    # ready | recording | trimming | importing | exporting | processing
    state: Mapped[str] = mapped_column(String(16), default="ready")
    session_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    media_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    creator: Mapped[str] = mapped_column(String(128), default="")
    creator_display_name: Mapped[str] = mapped_column(String(256), default="")
    meta: Mapped[list] = mapped_column("metadata", JSON, default=list)

    @property
    def recorded_from(self) -> str | None:
        return self.session_id


class HotmarkRow(Base):
    __tablename__ = "hmp_hotmarks"
    __table_args__ = (UniqueConstraint("asset_id", "timestamp", name="uq_hmp_hotmarks_asset_id_timestamp"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("hmp_assets.id", ondelete="CASCADE"), index=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)  # milliseconds, whole seconds only
    title: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text, default="")
    username: Mapped[str] = mapped_column(String(128), default="")
    user_display_name: Mapped[str] = mapped_column(String(256), default="")
