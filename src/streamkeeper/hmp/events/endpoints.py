"""`/apis/sessions/{id}/events` and `/apis/events`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..collections import ListParams, list_params, listing, page
from ..deps import Db, User
from ..errors import json_object
from ..permissions.guard import load, visible
from ..permissions.rights import Principal
from ..sessions.service import KIND as SESSIONS
from . import service

router = APIRouter(tags=["Events"])


@router.get("/events")
async def all_events(request: Request, user: Principal = User, db: AsyncSession = Db,
                     params: ListParams = Depends(list_params)):
    sessions = [row for row, _ in await visible(db, user, SESSIONS)]
    return listing(request, await service.for_sessions(db, sessions), params)


@router.get("/sessions/{object_id}/events")
async def session_events(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db,
                         params: ListParams = Depends(list_params)):
    session, _ = await load(db, user, SESSIONS, object_id, "VIEW")
    return page(request, await service.for_session(db, session), params)


@router.post("/sessions/{object_id}/events", status_code=201)
async def create_event(object_id: str, body: Any = Body(), user: Principal = User, db: AsyncSession = Db):
    session, _ = await load(db, user, SESSIONS, object_id, "EDIT")
    return {"data": await service.create(db, session, json_object(body), user.user_id)}


@router.get("/sessions/{object_id}/events/{event_id}")
async def get_event(object_id: str, event_id: str, user: Principal = User, db: AsyncSession = Db):
    session, _ = await load(db, user, SESSIONS, object_id, "VIEW")
    return {"data": service.out(await service.get(db, session, event_id))}


@router.put("/sessions/{object_id}/events/{event_id}")
async def update_event(object_id: str, event_id: str, body: Any = Body(), user: Principal = User,
                       db: AsyncSession = Db):
    session, _ = await load(db, user, SESSIONS, object_id, "EDIT")
    row = await service.get(db, session, event_id)
    return {"data": await service.update(db, session, row, json_object(body))}


@router.delete("/sessions/{object_id}/events/{event_id}")
async def delete_event(object_id: str, event_id: str, user: Principal = User, db: AsyncSession = Db):
    session, _ = await load(db, user, SESSIONS, object_id, "EDIT")
    await db.delete(await service.get(db, session, event_id))
    await db.commit()
    return Response(status_code=200)
