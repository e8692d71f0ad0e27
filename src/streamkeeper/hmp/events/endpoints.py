"""`/apis/sessions/{id}/events` and `/apis/events`."""

from __future__ import annotations


from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ..bodies import EventFields
from ..collections import ListParams, list_params, listing
from ..deps import Db, User
from ..object_routes import ChildService, add_child_routes, add_children_route
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


add_children_route(router, SESSIONS, "/sessions/{object_id}/events", "session_events", service.for_session)


@router.post("/sessions/{object_id}/events", status_code=201)
async def create_event(object_id: str, body: EventFields, user: Principal = User, db: AsyncSession = Db):
    session, _ = await load(db, user, SESSIONS, object_id, "EDIT")
    return {"data": await service.create(db, session, body.fields(), user.user_id)}


add_child_routes(router, SESSIONS, "/sessions/{object_id}/events/{event_id}", "event_id", "event", EventFields,
                 ChildService(get=service.get, out=service.out, update=service.update))
