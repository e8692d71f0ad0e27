"""Session events: stored and validated here; the media engine's scheduler runs them."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..collections import Entry
from ..errors import NO_RESULTS, HmpError, invalid
from ..sessions.models import SessionRow
from . import validation
from .models import EventRow


def out(row: EventRow) -> dict:
    data = {"id": row.id, "title": row.title, "sessionId": row.session_id, "startTime": row.start_time,
            "duration": row.duration, "type": row.type, "command": row.command, "parameters": row.parameters}
    if row.type_data is not None:
        data["typeData"] = row.type_data
    return data


def _as_input(row: EventRow) -> dict:
    return {"title": row.title, "startTime": row.start_time, "duration": row.duration, "type": row.type,
            "typeData": row.type_data, "command": row.command, "parameters": row.parameters}


def _validate(data: dict) -> dict:
    try:
        return validation.validate(data)
    except ValueError as exc:
        raise invalid(str(exc)) from None


def _check_ids(data: dict, session: SessionRow, event_id: str | None) -> None:
    if data.get("sessionId") not in (None, session.id):
        raise invalid("sessionId must be the session of the URL")
    if data.get("id") not in (None, event_id):
        raise invalid("id is assigned by the server" if event_id is None else "id is immutable")


async def for_session(db: AsyncSession, session: SessionRow) -> list[dict]:
    rows = (await db.scalars(select(EventRow).where(EventRow.session_id == session.id)
                             .order_by(EventRow.start_time, EventRow.id))).all()
    return [out(r) for r in rows]


async def for_sessions(db: AsyncSession, sessions: list[SessionRow]) -> list[Entry]:
    ids = [s.id for s in sessions]
    if not ids:
        return []
    rows = (await db.scalars(select(EventRow).where(EventRow.session_id.in_(ids))
                             .order_by(EventRow.start_time, EventRow.id))).all()
    return [Entry(out(r), texts=(r.title,)) for r in rows]


async def get(db: AsyncSession, session: SessionRow, event_id: str) -> EventRow:
    row = await db.get(EventRow, event_id) if len(event_id) <= 64 else None
    if row is None or row.session_id != session.id:
        raise HmpError(NO_RESULTS)
    return row


async def create(db: AsyncSession, session: SessionRow, data: dict, creator_id: str | None = None) -> dict:
    _check_ids(data, session, None)
    fields = _validate(data)
    if fields["title"] is None:
        fields["title"] = session.title
    row = EventRow(id=str(uuid.uuid4()), session_id=session.id, creator_id=creator_id, **fields)
    db.add(row)
    await db.commit()
    return out(row)


async def update(db: AsyncSession, session: SessionRow, row: EventRow, data: dict) -> dict:
    _check_ids(data, session, row.id)
    merged = {**_as_input(row), **{k: v for k, v in data.items() if k not in ("id", "sessionId")}}
    if merged.get("type") == "one-time" and "typeData" not in data:
        merged["typeData"] = None
    fields = _validate(merged)
    if fields["title"] is None:
        fields["title"] = row.title
    for key, value in fields.items():
        setattr(row, key, value)
    await db.commit()
    return out(row)
