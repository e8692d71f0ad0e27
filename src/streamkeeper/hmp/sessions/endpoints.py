"""`/apis/sessions`: CRUD, sources, metadata, shares, public share and the session's videos."""

from __future__ import annotations


from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..bodies import SessionFields, SessionSource
from ..assets import service as assets
from ..collections import ListParams, list_params, listing
from ..deps import Db, User, get_clock
from ..recordings import media_of
from ..metadata import add_metadata_routes
from ..permissions.endpoints import add_share_routes
from ..object_routes import ObjectService, add_children_route, add_object_routes
from ..permissions.guard import load, require, visible
from ..permissions.rights import Principal
from . import service
from .service import KIND

router = APIRouter(tags=["Sessions"])


@router.get("/sessions")
async def list_sessions(request: Request, user: Principal = User, db: AsyncSession = Db,
                        params: ListParams = Depends(list_params)):
    rows = [row for row, _ in await visible(db, user, KIND)]
    return listing(request, await service.entries(db, rows, media_of(request.app)), params)


@router.post("/sessions", status_code=201)
async def create_session(request: Request, body: SessionFields, user: Principal = User, db: AsyncSession = Db):
    require(user, "Sessions", "CREATE")
    return {"data": await service.create(db, user, body.fields(), get_clock(request)(), media_of(request.app))}


add_object_routes(router, KIND, "/sessions/{object_id}", "session", SessionFields,
                  ObjectService(read=service.render, update=service.update, delete=service.delete))


@router.get("/sessions/{object_id}/assets")
async def session_assets(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db,
                         params: ListParams = Depends(list_params)):
    await load(db, user, KIND, object_id, "VIEW")
    query = select(assets.KIND.row).where(assets.KIND.row.session_id == object_id)
    rows = [row for row, _ in await visible(db, user, assets.KIND, query)]
    return listing(request, await assets.entries(db, rows, media_of(request.app)), params)


add_children_route(router, KIND, "/sessions/{object_id}/sources", "session_sources", service.list_sources)


@router.post("/sessions/{object_id}/sources", status_code=201)
async def add_session_source(object_id: str, request: Request, body: SessionSource, user: Principal = User,
                             db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "CHANGE_SOURCES")
    return {"data": await service.add_source(db, user, row, body.sourceId, get_clock(request)(),
                                             media_of(request.app))}


@router.delete("/sessions/{object_id}/sources/{source_id}")
async def remove_session_source(object_id: str, source_id: str, request: Request, user: Principal = User,
                                db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "CHANGE_SOURCES")
    await service.remove_source(db, row, source_id, get_clock(request)(), media_of(request.app))
    return Response(status_code=200)


add_metadata_routes(router, KIND, "/sessions/{object_id}")
add_share_routes(router, KIND, "/sessions/{object_id}", public=True)
