"""Categories: listing, administration, and the rules that category metadata must follow."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import CATEGORY_NOT_FOUND, HmpError, invalid
from .models import CategoryRow


def out(row: CategoryRow) -> dict:
    return {"id": row.id, "label": row.label, "values": list(row.values), "multipleValues": row.multiple_values,
            "allowCustomValues": row.allow_custom_values, "customValues": list(row.custom_values),
            "index": row.index, "group": row.group}


async def all_categories(db: AsyncSession) -> list[CategoryRow]:
    return list((await db.scalars(select(CategoryRow).order_by(CategoryRow.index, CategoryRow.label))).all())


async def get(db: AsyncSession, category_id: str) -> CategoryRow:
    row = await db.get(CategoryRow, category_id) if len(category_id) <= 64 else None
    if row is None:
        raise HmpError(CATEGORY_NOT_FOUND)
    return row


async def by_label(db: AsyncSession) -> dict[str, CategoryRow]:
    return {row.label.casefold(): row for row in await all_categories(db)}


def check_values(row: CategoryRow, values: list[str]) -> list[str]:
    """Apply the category's rules to the values given for it; learn new custom values."""
    if not row.multiple_values and len(values) > 1:
        raise invalid(f"category {row.label!r} takes a single value")
    known = {v.casefold(): v for v in [*row.values, *row.custom_values]}
    fresh = []
    for value in values:
        if value.casefold() in known:
            continue
        if not row.allow_custom_values:
            raise invalid(f"{value!r} is not a value of category {row.label!r}")
        fresh.append(value)
        known[value.casefold()] = value
    if fresh:
        row.custom_values = [*row.custom_values, *fresh]
    return values


# -- administration ---------------------------------------------------------------------------------

def _strings(value, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 256 for v in value):
        raise invalid(f"{what} must be a list of non-empty strings")
    return list(dict.fromkeys(value))


async def save(db: AsyncSession, data: dict, category_id: str | None = None) -> dict:
    row = CategoryRow(id=str(uuid.uuid4()), label="", values=[], custom_values=[], multiple_values=True,
                      allow_custom_values=True, index=0, group=None) if category_id is None else await get(db, category_id)
    if category_id is None or "label" in data:
        label = data.get("label")
        if not isinstance(label, str) or not label.strip() or len(label) > 256:
            raise invalid("label is required (1-256 characters)")
        clash = await db.scalar(select(CategoryRow.id).where(CategoryRow.label == label.strip()))
        if clash and clash != row.id:
            raise invalid(f"a category labelled {label!r} exists")
        row.label = label.strip()
    for key, attr in (("multipleValues", "multiple_values"), ("allowCustomValues", "allow_custom_values")):
        if key in data:
            if not isinstance(data[key], bool):
                raise invalid(f"{key} must be true or false")
            setattr(row, attr, data[key])
    if "values" in data:
        row.values = _strings(data["values"], "values")
    if "customValues" in data:
        row.custom_values = _strings(data["customValues"], "customValues")
    if "index" in data:
        if not isinstance(data["index"], int) or isinstance(data["index"], bool):
            raise invalid("index must be an integer")
        row.index = data["index"]
    if "group" in data:
        if data["group"] is not None and not isinstance(data["group"], str):
            raise invalid("group must be a string")
        row.group = data["group"]
    if category_id is None:
        db.add(row)
    await db.flush()
    result = out(row)
    await db.commit()
    return result


async def delete(db: AsyncSession, category_id: str) -> None:
    await db.delete(await get(db, category_id))
    await db.commit()
