"""Source use cases over the catalog; the media engine is told about every change."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..collections import Entry
from ..errors import ADDRESS_PORT_IN_USE, SOURCE_NOT_FOUND, HmpError, invalid
from ..recordings import MediaBackend, PortConflict
from ..permissions import service as shares
from ..permissions.guard import Kind
from ..permissions.rights import Principal
from . import validation
from .models import SourceRow

KIND = Kind("sources", SourceRow, SOURCE_NOT_FOUND)
FIELDS = ("name", "type", "host", "port", "multicast", "continuous", "mode", "latency", "passphrase", "description")


def fields_of(row: SourceRow) -> dict:
    return {f: getattr(row, f) for f in FIELDS}


def out(row: SourceRow, media: MediaBackend) -> dict:
    active, bitrate = media.source_status(row.id)
    data = {"id": row.id, "name": row.name, "type": row.type, "host": row.host, "port": row.port,
            "description": row.description, "continuous": row.continuous, "active": active, "bitrate": bitrate,
            "ctime": row.ctime, "mtime": row.mtime}
    error = media.source_error(row.id)
    if error:  # not received: e.g. the port is held by another program (binding is retried)
        data["error"] = error
    if row.type == "UDP":
        data["multicast"] = row.multicast
    else:
        data.update(mode=row.mode, passphrase=row.passphrase or "")
        if row.latency is not None:
            data["latency"] = row.latency
    return data


def entry(row: SourceRow, media: MediaBackend) -> Entry:
    return Entry(out(row, media), texts=(row.name, row.description, row.creator))


def _validate(data: dict) -> dict:
    try:
        return validation.validate(data)
    except ValueError as exc:
        raise invalid(str(exc)) from None


async def _check_port(db: AsyncSession, fields: dict, own_id: str | None) -> None:
    for other in (await db.scalars(select(SourceRow).where(SourceRow.port == fields["port"]))).all():
        if other.id != own_id and validation.clashes(fields, fields_of(other)):
            raise HmpError(ADDRESS_PORT_IN_USE, f"Address or port already in use by source {other.name!r}")


async def create(db: AsyncSession, user: Principal, data: dict, now: float, media: MediaBackend) -> dict:
    if data.get("id") is not None:
        raise invalid("id is assigned by the server")
    fields = _validate(data)
    await _check_port(db, fields, None)
    row = SourceRow(id=str(uuid.uuid4()), ctime=int(now), mtime=int(now), creator=user.username,
                    creator_display_name=user.display_name, meta=[], **fields)
    db.add(row)
    await shares.grant_owner(db, "sources", row.id, user)
    await db.flush()
    await _receive(db, media, out(row, media))
    await db.commit()
    return out(row, media)


async def _receive(db: AsyncSession, media: MediaBackend, source: dict, previous: dict | None = None) -> None:
    """Have the engine receive the source; a port another program holds undoes the change."""
    try:
        await media.source_saved(source, strict=True)
    except PortConflict as exc:
        await db.rollback()
        if previous is not None:
            await media.source_saved(previous)
        raise HmpError(ADDRESS_PORT_IN_USE, str(exc)) from None


async def update(db: AsyncSession, row: SourceRow, data: dict, now: float, media: MediaBackend) -> dict:
    if data.get("id") not in (None, row.id):
        raise invalid("id is immutable")
    merged = {**fields_of(row), **{k: v for k, v in data.items() if k in FIELDS}}
    if merged.get("type") != row.type and "mode" not in data and merged.get("type") == "SRT":
        merged["mode"] = None
    fields = _validate(merged)
    await _check_port(db, fields, row.id)
    previous = out(row, media)
    for key, value in fields.items():
        setattr(row, key, value)
    row.mtime = int(now)
    await db.flush()
    await _receive(db, media, out(row, media), previous)
    await db.commit()
    return out(row, media)


async def delete(db: AsyncSession, row: SourceRow, media: MediaBackend) -> None:
    await shares.forget(db, "sources", row.id)
    await db.delete(row)
    await db.commit()
    await media.source_deleted(row.id)
