"""`/apis/sources`: CRUD, metadata and shares."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..collections import ListParams, list_params, listing
from ..deps import Db, User, get_clock
from ..errors import json_object
from ..media import media_of
from ..metadata import add_metadata_routes
from ..permissions.endpoints import add_share_routes
from ..permissions.guard import load, require, visible
from ..permissions.rights import Principal
from . import service
from .service import KIND

router = APIRouter(tags=["Sources"])


@router.get("/sources")
async def list_sources(request: Request, user: Principal = User, db: AsyncSession = Db,
                       params: ListParams = Depends(list_params)):
    media = media_of(request.app)
    return listing(request, [service.entry(row, media) for row, _ in await visible(db, user, KIND)], params)


@router.post("/sources", status_code=201)
async def create_source(request: Request, body: Any = Body(), user: Principal = User, db: AsyncSession = Db):
    require(user, "Sources", "CREATE")
    return {"data": await service.create(db, user, json_object(body), get_clock(request)(), media_of(request.app))}


@router.get("/sources/{object_id}")
async def get_source(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "VIEW")
    return {"data": service.out(row, media_of(request.app))}


@router.put("/sources/{object_id}")
async def update_source(object_id: str, request: Request, body: Any = Body(), user: Principal = User,
                        db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "EDIT")
    return {"data": await service.update(db, row, json_object(body), get_clock(request)(), media_of(request.app))}


@router.delete("/sources/{object_id}")
async def delete_source(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "DELETE")
    await service.delete(db, row, media_of(request.app))
    return Response(status_code=200)


add_metadata_routes(router, KIND, "/sources/{object_id}")
add_share_routes(router, KIND, "/sources/{object_id}")
