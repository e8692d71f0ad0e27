"""The session events table."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ...orm import Base


class EventRow(Base):
    __tablename__ = "hmp_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("hmp_sessions.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(512), default="")
    start_time: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    type: Mapped[str] = mapped_column(String(32))
    type_data: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    command: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The user who created the event: recordings it starts belong to them (None: created before 0110).
    creator_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
