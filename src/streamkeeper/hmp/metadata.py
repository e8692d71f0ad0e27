"""Metadata of sources, sessions and videos: validation, server-maintained entries, category rules.

A PUT replaces the whole set. Entries the server maintains (creator, display name, the session
a video was recorded from) are derived from the object itself; values a client sends for them
are ignored, so they stay true.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from .categories import service as categories
from .deps import Db, User, get_clock
from .errors import NO_RESULTS, HmpError, invalid
from .permissions.guard import Kind, load
from .permissions.rights import Principal

SERVER_KEYS = frozenset({"calypso:creator", "calypso:creatorDisplayName", "calypso:recorded_from_session"})
CATEGORY_PREFIX = "calypso:category:"
FIELD_KEYS = {"STRING": "valueString", "INT32": "valueInt32", "UINT32": "valueUint32"}
RANGES = {"INT32": (-(2**31), 2**31 - 1), "UINT32": (0, 2**32 - 1)}
MAX_ENTRIES = 500
MAX_FIELDS = 500


def _field(raw: Any, where: str) -> dict:
    if not isinstance(raw, dict):
        raise invalid(f"{where} must be an object")
    ftype = raw.get("fieldType")
    if ftype not in FIELD_KEYS:
        raise invalid(f"{where}.fieldType must be STRING, INT32 or UINT32")
    key = FIELD_KEYS[ftype]
    value = raw.get(key, raw.get("valueUInt32") if ftype == "UINT32" else None)
    if ftype == "STRING":
        if not isinstance(value, str) or len(value) > 65536:
            raise invalid(f"{where}.{key} must be a string")
    else:
        low, high = RANGES[ftype]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise invalid(f"{where}.{key} must be an integer from {low} to {high}")
    return {"fieldType": ftype, key: value}


def parse(body: Any) -> list[dict]:
    """Validate a metadata set (a JSON array of entries); drops the server-maintained entries."""
    if not isinstance(body, list):
        raise invalid("metadata must be an array of entries")
    if len(body) > MAX_ENTRIES:
        raise invalid(f"at most {MAX_ENTRIES} metadata entries")
    seen: set[str] = set()
    out = []
    for i, entry in enumerate(body):
        if not isinstance(entry, dict):
            raise invalid(f"entry {i} must be an object")
        name = entry.get("name")
        if not isinstance(name, str) or not name or len(name) > 512:
            raise invalid(f"entry {i}: name must be a non-empty string")
        fields = entry.get("field")
        if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
            raise invalid(f"entry {i} ({name}): field must be an array")
        if name in seen:
            raise invalid(f"metadata entry {name!r} appears twice")
        seen.add(name)
        parsed = [_field(f, f"entry {i} ({name}) field {j}") for j, f in enumerate(fields)]
        if name in SERVER_KEYS:
            continue
        out.append({"name": name, "field": parsed})
    return out


async def apply_category_rules(db: AsyncSession, entries: list[dict]) -> list[dict]:
    """Category entries must name a defined category and respect its value rules."""
    known = None
    for entry in entries:
        if not entry["name"].startswith(CATEGORY_PREFIX):
            continue
        known = known if known is not None else await categories.by_label(db)
        label = entry["name"][len(CATEGORY_PREFIX):]
        row = known.get(label.casefold())
        if row is None:
            raise invalid(f"no category labelled {label!r}")
        if any(f["fieldType"] != "STRING" for f in entry["field"]):
            raise invalid(f"values of category {row.label!r} must be STRING fields")
        categories.check_values(row, [f["valueString"] for f in entry["field"]])
        entry["name"] = CATEGORY_PREFIX + row.label
    return entries


def server_entries(row: Any) -> list[dict]:
    pairs = [("calypso:creator", getattr(row, "creator", "")),
             ("calypso:creatorDisplayName", getattr(row, "creator_display_name", "")),
             ("calypso:recorded_from_session", getattr(row, "recorded_from", None))]
    return [{"name": n, "field": [{"fieldType": "STRING", "valueString": v}]} for n, v in pairs if v]


def render(row: Any) -> list[dict]:
    return [*server_entries(row), *(row.meta or [])]


def category_values(row: Any) -> dict[str, list[str]]:
    """Casefolded category label -> the object's values, for `filter` and related videos."""
    out: dict[str, list[str]] = {}
    for entry in row.meta or []:
        if entry["name"].startswith(CATEGORY_PREFIX):
            out[entry["name"][len(CATEGORY_PREFIX):].casefold()] = [
                f.get("valueString", "") for f in entry["field"] if f["fieldType"] == "STRING"]
    return out


def add_metadata_routes(router: APIRouter, kind: Kind, base: str, categories_allowed: bool = True) -> None:
    tag = [kind.area]

    @router.get(f"{base}/metadata", tags=tag, name=f"get_{kind.resource}_metadata")
    async def get_metadata(object_id: str, user: Principal = User, db: AsyncSession = Db):
        row, _ = await load(db, user, kind, object_id, "VIEW")
        entries = render(row)
        if not entries:
            raise HmpError(NO_RESULTS)
        return {"data": entries}

    @router.put(f"{base}/metadata", tags=tag, name=f"put_{kind.resource}_metadata")
    async def put_metadata(object_id: str, request: Request, body: list[dict[str, Any]] = Body(), user: Principal = User,
                           db: AsyncSession = Db):
        row, _ = await load(db, user, kind, object_id, "EDIT")
        entries = await apply_category_rules(db, parse(body))
        row.meta = entries
        row.mtime = int(get_clock(request)())
        await db.commit()
        return {"data": render(row)}

    @router.delete(f"{base}/metadata", tags=tag, name=f"delete_{kind.resource}_metadata")
    async def delete_metadata(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
        row, _ = await load(db, user, kind, object_id, "EDIT")
        row.meta = []
        row.mtime = int(get_clock(request)())
        await db.commit()
        return Response(status_code=200)

