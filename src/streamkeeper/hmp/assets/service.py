"""Video use cases: the catalog side of recordings (the media engine creates and finishes them),
title/description, deletion rules, HotMarks and related videos."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..collections import Entry
from ..errors import (
    ASSET_NOT_FOUND, BEING_EXPORTED, BEING_IMPORTED, BEING_PROCESSED, BEING_STREAMED, BEING_TRIMMED,
    HOTMARK_EXISTS, HOTMARK_NOT_FOUND, RECORDING_IN_PROGRESS, HmpError, invalid,
)
from ..recordings import MediaBackend
from ..metadata import CATEGORY_PREFIX, category_values
from ..permissions import service as shares
from ..permissions.guard import Kind
from ..permissions.rights import Principal
from .models import AssetRow, HotmarkRow

KIND = Kind("assets", AssetRow, ASSET_NOT_FOUND)
STATES = ("ready", "recording", "trimming", "importing", "exporting", "processing")
_BUSY = {"recording": RECORDING_IN_PROGRESS, "trimming": BEING_TRIMMED, "importing": BEING_IMPORTED,
         "exporting": BEING_EXPORTED, "processing": BEING_PROCESSED}


def out(row: AssetRow, media: MediaBackend | None = None) -> dict:
    data = {"id": row.id, "title": row.title, "description": row.description, "active": False,
            "ctime": row.ctime, "mtime": row.mtime, "duration": row.duration,
            "recording": row.state == "recording", "trimming": row.state == "trimming",
            "importing": row.state == "importing", "movieTrackCount": row.movie_track_count}
    progress = media.import_progress(row.id) if media is not None and row.state == "importing" else None
    if progress is not None:  # our addition: how far the copy into a track is
        data["importProgress"] = {"bytes": progress[0], "totalBytes": progress[1]}
    return data


async def _hotmark_texts(db: AsyncSession, asset_ids: list[str]) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    if asset_ids:
        rows = await db.execute(select(HotmarkRow.asset_id, HotmarkRow.title, HotmarkRow.description)
                                .where(HotmarkRow.asset_id.in_(asset_ids)))
        for asset_id, title, description in rows:
            texts.setdefault(asset_id, []).extend((title, description))
    return texts


async def entries(db: AsyncSession, rows: list[AssetRow], media: MediaBackend | None = None) -> list[Entry]:
    marks = await _hotmark_texts(db, [r.id for r in rows]) if len(rows) <= 5000 else await _hotmark_texts_all(db)
    return [Entry(out(r, media), texts=(r.title, r.description, r.creator, *marks.get(r.id, ())),
                  categories=category_values(r)) for r in rows]


async def _hotmark_texts_all(db: AsyncSession) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    for asset_id, title, description in await db.execute(
            select(HotmarkRow.asset_id, HotmarkRow.title, HotmarkRow.description)):
        texts.setdefault(asset_id, []).extend((title, description))
    return texts


# -- for the media engine ---------------------------------------------------------------------------

async def create(db: AsyncSession, *, title: str, now: float, creator: Principal | None = None,
                 description: str = "", session_id: str | None = None, state: str = "recording",
                 duration: float = 0.0, track_count: int = 0, media_path: str | None = None,
                 metadata: list[dict] | None = None) -> AssetRow:
    """Register a video (a recording starting, or an import); its creator owns it.

    Category metadata of the session it is recorded from is copied onto it."""
    if state not in STATES:
        raise ValueError(f"unknown asset state {state!r}")
    meta = list(metadata or [])
    if session_id is not None and metadata is None:
        from ..sessions.models import SessionRow
        session = await db.get(SessionRow, session_id)
        if session is not None:
            meta = [e for e in session.meta or [] if e["name"].startswith(CATEGORY_PREFIX)]
    row = AssetRow(id=str(uuid.uuid4()), title=title, description=description, ctime=int(now), mtime=int(now),
                   duration=duration, movie_track_count=track_count, state=state, session_id=session_id,
                   media_path=media_path, creator=creator.username if creator else "",
                   creator_display_name=creator.display_name if creator else "", meta=meta)
    db.add(row)
    if creator is not None:
        await shares.grant_owner(db, "assets", row.id, creator)
    await db.commit()
    return row


async def update_media(db: AsyncSession, asset_id: str, now: float, **changes: Any) -> AssetRow:
    """Record what the media engine learnt: `state`, `duration`, `movie_track_count`, `media_path`."""
    row = await db.get(AssetRow, asset_id)
    if row is None:
        raise HmpError(ASSET_NOT_FOUND)
    for key, value in changes.items():
        if key not in ("state", "duration", "movie_track_count", "media_path"):
            raise ValueError(f"{key} is not media-owned")
        if key == "state" and value not in STATES:
            raise ValueError(f"unknown asset state {value!r}")
        setattr(row, key, value)
    row.mtime = int(now)
    await db.commit()
    return row


async def video_info(sessions: async_sessionmaker, asset_id: str) -> dict | None:
    """A video's descriptive metadata for other packages (e.g. watchlists): None if unknown."""
    async with sessions() as db:
        row = await db.get(AssetRow, asset_id) if len(asset_id) <= 64 else None
        if row is None:
            return None
        return {"id": row.id, "title": row.title, "description": row.description, "duration": row.duration,
                "categories": {e["name"][len(CATEGORY_PREFIX):]: [f.get("valueString", "") for f in e["field"]]
                               for e in row.meta or [] if e["name"].startswith(CATEGORY_PREFIX)}}


# -- API use cases ----------------------------------------------------------------------------------

async def update(db: AsyncSession, row: AssetRow, data: dict, now: float) -> dict:
    if data.get("id") not in (None, row.id):
        raise invalid("id is immutable")
    if "title" in data:
        if not data["title"].strip() or len(data["title"]) > 512:
            raise invalid("title must be 1-512 characters")
        row.title = data["title"]
    if data.get("description") is not None:
        if len(data["description"]) > 65536:
            raise invalid("description is longer than 65536 characters")
        row.description = data["description"]
    row.mtime = int(now)
    await db.commit()
    return out(row)


async def delete(db: AsyncSession, row: AssetRow, media: MediaBackend) -> None:
    if row.state in _BUSY:
        raise HmpError(_BUSY[row.state])
    if media.asset_streaming(row.id):
        raise HmpError(BEING_STREAMED)
    await shares.forget(db, "assets", row.id)
    path = row.media_path
    await db.delete(row)
    await db.commit()
    await media.asset_deleted(row.id, path)


def related_score(mine: dict[str, list[str]], theirs: dict[str, list[str]]) -> int:
    """How many category values two videos have in common (case-insensitive)."""
    score = 0
    for label, values in mine.items():
        wanted = {v.casefold() for v in values if v}
        score += len(wanted & {v.casefold() for v in theirs.get(label, ()) if v})
    return score


# -- HotMarks ---------------------------------------------------------------------------------------

def hotmark_out(row: HotmarkRow) -> dict:
    return {"id": row.id, "title": row.title, "description": row.description, "timestamp": row.timestamp,
            "username": row.username, "userDisplayName": row.user_display_name}


async def hotmarks(db: AsyncSession, asset: AssetRow) -> list[dict]:
    rows = (await db.scalars(select(HotmarkRow).where(HotmarkRow.asset_id == asset.id)
                             .order_by(HotmarkRow.timestamp))).all()
    return [hotmark_out(r) for r in rows]


async def get_hotmark(db: AsyncSession, asset: AssetRow, hotmark_id: str) -> HotmarkRow:
    row = await db.get(HotmarkRow, hotmark_id) if len(hotmark_id) <= 64 else None
    if row is None or row.asset_id != asset.id:
        raise HmpError(HOTMARK_NOT_FOUND)
    return row


def _timestamp(asset: AssetRow, value: Any) -> int:
    """Milliseconds, kept at one-second resolution; within the video once it is finished."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise invalid("timestamp must be a number of milliseconds")
    if value < 0 or value > 2**53:
        raise invalid("timestamp must not be negative")
    ms = int(value) // 1000 * 1000
    if asset.state != "recording" and asset.duration > 0 and ms > asset.duration * 1000:
        raise invalid("timestamp is past the end of the video")
    return ms


def _text(data: dict, key: str, required: bool) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return None
    if not isinstance(value, str) or len(value) > 4096 or (required and not value.strip()):
        raise invalid(f"{key} must be a non-empty string" if required else f"{key} must be a string")
    return value


async def _clash(db: AsyncSession, asset: AssetRow, ms: int, own_id: str | None) -> None:
    other = await db.scalar(select(HotmarkRow.id).where(HotmarkRow.asset_id == asset.id, HotmarkRow.timestamp == ms))
    if other is not None and other != own_id:
        raise HmpError(HOTMARK_EXISTS)


async def create_hotmark(db: AsyncSession, user: Principal, asset: AssetRow, data: dict, now: float) -> dict:
    if "timestamp" not in data and asset.state == "recording":
        data = {**data, "timestamp": int(max(0.0, now - asset.ctime)) * 1000}
    if "timestamp" not in data:
        raise invalid("timestamp is required")
    ms = _timestamp(asset, data["timestamp"])
    title = _text(data, "title", True)
    description = _text(data, "description", False) or ""
    await _clash(db, asset, ms, None)
    row = HotmarkRow(id=str(uuid.uuid4()), asset_id=asset.id, timestamp=ms, title=title, description=description,
                     username=user.username, user_display_name=user.display_name)
    db.add(row)
    await db.commit()
    return hotmark_out(row)


async def update_hotmark(db: AsyncSession, asset: AssetRow, row: HotmarkRow, data: dict) -> dict:
    if data.get("id") not in (None, row.id):
        raise invalid("id is immutable")
    if "timestamp" in data:
        ms = _timestamp(asset, data["timestamp"])
        await _clash(db, asset, ms, row.id)
        row.timestamp = ms
    if "title" in data:
        row.title = _text(data, "title", True)  # type: ignore[assignment]
    if "description" in data:
        row.description = _text(data, "description", False) or ""
    await db.commit()
    return hotmark_out(row)
