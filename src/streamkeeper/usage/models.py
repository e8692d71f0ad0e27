"""The usage table: one row per application and minute, added to by every process."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..orm import Base

#: The application id of the rows that hold the deployment's live sessions in all (their peak),
#: which on Redis is known while the per-application count is not. Never a catalog id (see IDENT).
ALL = "*"
COUNTS = ("admissions", "denials", "evictions", "terminations", "expiries")


class UsageRow(Base):
    __tablename__ = "usage"

    application: Mapped[str] = mapped_column(String(128), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)  # epoch s, a multiple of 60
    admissions: Mapped[int] = mapped_column(BigInteger, default=0)
    denials: Mapped[int] = mapped_column(BigInteger, default=0)
    evictions: Mapped[int] = mapped_column(BigInteger, default=0)
    terminations: Mapped[int] = mapped_column(BigInteger, default=0)
    expiries: Mapped[int] = mapped_column(BigInteger, default=0)
    # Most live sessions seen in the minute; NULL when the store could not count them per
    # application (Redis keeps only a total, recorded under ALL).
    peak: Mapped[int | None] = mapped_column(Integer, nullable=True)
