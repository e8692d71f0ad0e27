"""The categories table."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ...orm import Base


class CategoryRow(Base):
    __tablename__ = "hmp_categories"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    label: Mapped[str] = mapped_column(String(256), unique=True)
    values: Mapped[list] = mapped_column("predefined", JSON, default=list)
    multiple_values: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_custom_values: Mapped[bool] = mapped_column(Boolean, default=True)
    custom_values: Mapped[list] = mapped_column(JSON, default=list)
    index: Mapped[int] = mapped_column("position", Integer, default=0)
    group: Mapped[str | None] = mapped_column("group_name", String(256), nullable=True)
