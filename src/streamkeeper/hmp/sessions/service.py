"""Session use cases: the session itself and the ordered sources it shows."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..collections import Entry
from ..errors import (
    NO_RESULTS, RECORDING_IN_PROGRESS, SESSION_NOT_FOUND, SESSION_SOURCE_EXISTS, SOURCE_NOT_FOUND, TRACK_NOT_FOUND,
    HmpError, invalid,
)
from ..recordings import MediaBackend
from ..metadata import category_values
from ..permissions import service as shares
from ..permissions.guard import Kind
from ..permissions.rights import Principal
from ..sources.models import SourceRow
from .models import SessionRow, SessionSourceRow

KIND = Kind("sessions", SessionRow, SESSION_NOT_FOUND, hidden=lambda row: not row.active)


async def source_ids(db: AsyncSession, session_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {sid: [] for sid in session_ids}
    if not session_ids:
        return out
    rows = await db.execute(select(SessionSourceRow.session_id, SessionSourceRow.source_id)
                            .where(SessionSourceRow.session_id.in_(session_ids))
                            .order_by(SessionSourceRow.session_id, SessionSourceRow.index))
    for sid, src in rows:
        out[sid].append(src)
    return out


def out(row: SessionRow, sources: list[str], media: MediaBackend) -> dict:
    return {"id": row.id, "title": row.title, "description": row.description, "ctime": row.ctime,
            "mtime": row.mtime, "duration": 0, "active": row.active, "syncrecord": row.syncrecord,
            "movieTrackCount": len(sources), "sources": sources, "recording": media.session_recording(row.id)}


async def render(db: AsyncSession, row: SessionRow, media: MediaBackend) -> dict:
    return out(row, (await source_ids(db, [row.id]))[row.id], media)


async def entries(db: AsyncSession, rows: list[SessionRow], media: MediaBackend) -> list[Entry]:
    srcs = await source_ids(db, [r.id for r in rows])
    return [Entry(out(r, srcs[r.id], media), texts=(r.title, r.description, r.creator),
                  categories=category_values(r)) for r in rows]


def _fields(data: dict, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "title" in data or creating:
        title = data.get("title")
        if title is None or not title.strip() or len(title) > 512:
            raise invalid("title is required (1-512 characters)")
        fields["title"] = title
    if data.get("description") is not None:
        if len(data["description"]) > 65536:
            raise invalid("description is longer than 65536 characters")
        fields["description"] = data["description"]
    for key in ("active", "syncrecord"):
        if data.get(key) is not None:
            fields[key] = data[key]
    return fields


async def create(db: AsyncSession, user: Principal, data: dict, now: float, media: MediaBackend) -> dict:
    if data.get("id") is not None:
        raise invalid("id is assigned by the server")
    fields = {"description": "", "active": False, "syncrecord": False, **_fields(data, creating=True)}
    row = SessionRow(id=str(uuid.uuid4()), ctime=int(now), mtime=int(now), creator=user.username,
                     creator_display_name=user.display_name, meta=[], **fields)
    db.add(row)
    await shares.grant_owner(db, "sessions", row.id, user)
    await db.commit()
    return out(row, [], media)


async def update(db: AsyncSession, row: SessionRow, data: dict, now: float, media: MediaBackend) -> dict:
    if data.get("id") not in (None, row.id):
        raise invalid("id is immutable")
    for key, value in _fields(data, creating=False).items():
        setattr(row, key, value)
    row.mtime = int(now)
    await db.commit()
    return await render(db, row, media)


async def delete(db: AsyncSession, row: SessionRow, media: MediaBackend) -> None:
    if media.session_recording(row.id):
        raise HmpError(RECORDING_IN_PROGRESS)
    await shares.forget(db, "sessions", row.id)
    await db.execute(sql_delete(SessionSourceRow).where(SessionSourceRow.session_id == row.id))
    await db.delete(row)
    await db.commit()


# -- session sources --------------------------------------------------------------------------------

async def list_sources(db: AsyncSession, row: SessionRow) -> list[dict]:
    rows = (await db.scalars(select(SessionSourceRow).where(SessionSourceRow.session_id == row.id)
                             .order_by(SessionSourceRow.index))).all()
    return [{"index": r.index, "sourceId": r.source_id} for r in rows]


async def add_source(db: AsyncSession, user: Principal, row: SessionRow, source_id: str, now: float,
                     media: MediaBackend) -> dict:
    if not source_id:
        raise invalid("sourceId is required")
    source = await db.get(SourceRow, source_id) if len(source_id) <= 64 else None
    if source is None or not (await shares.access_to(db, user, "sources", source_id)).allows("VIEW"):
        raise HmpError(SOURCE_NOT_FOUND)
    if media.session_recording(row.id):
        raise HmpError(RECORDING_IN_PROGRESS)
    if await db.get(SessionSourceRow, (row.id, source_id)) is not None:
        raise HmpError(SESSION_SOURCE_EXISTS)
    top = await db.scalar(select(func.max(SessionSourceRow.index)).where(SessionSourceRow.session_id == row.id))
    link = SessionSourceRow(session_id=row.id, source_id=source_id, index=0 if top is None else top + 1)
    db.add(link)
    row.mtime = int(now)
    await db.commit()
    return {"sourceId": source_id, "index": link.index}


async def remove_source(db: AsyncSession, row: SessionRow, source_id: str, now: float, media: MediaBackend) -> None:
    if (await db.get(SourceRow, source_id) if len(source_id) <= 64 else None) is None:
        raise HmpError(SOURCE_NOT_FOUND)
    link = await db.get(SessionSourceRow, (row.id, source_id))
    if link is None:
        raise HmpError(TRACK_NOT_FOUND)
    if media.session_recording(row.id):
        raise HmpError(RECORDING_IN_PROGRESS)
    await db.delete(link)
    row.mtime = int(now)
    await db.commit()


def no_results() -> HmpError:
    return HmpError(NO_RESULTS)
