"""The usage table: one row per application and minute, added to by every process."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..orm import Base

#: The application id of the rows that hold the deployment's live sessions in all (their peak:
#: not the sum of the applications' peaks, which may fall at other moments). Never a catalog id
#: (see IDENT).
ALL = "*"
COUNTS = ("admissions", "denials", "evictions", "terminations", "expiries")


class UsageRow(Base):
    """Keyed by minute first: a report reads a range of minutes, which is then one run of the
    key (on SQLite the table is stored in key order, WITHOUT ROWID); one application's rows are
    found by their own index."""

    __tablename__ = "usage"
    __table_args__ = (Index("ix_usage_application_minute", "application", "minute"), {"sqlite_with_rowid": False})

    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch s, a multiple of 60
    application: Mapped[str] = mapped_column(String(128), primary_key=True)
    admissions: Mapped[int] = mapped_column(BigInteger, default=0)
    denials: Mapped[int] = mapped_column(BigInteger, default=0)
    evictions: Mapped[int] = mapped_column(BigInteger, default=0)
    terminations: Mapped[int] = mapped_column(BigInteger, default=0)
    expiries: Mapped[int] = mapped_column(BigInteger, default=0)
    # Most live sessions seen in the minute; NULL when the store could not count them (Redis
    # Cluster keeps no live index).
    peak: Mapped[int | None] = mapped_column(Integer, nullable=True)
