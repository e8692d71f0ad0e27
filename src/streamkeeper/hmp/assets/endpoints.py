"""`/apis/assets`: videos, their metadata, shares, public share, HotMarks and related videos."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..collections import ListParams, list_params, listing, page
from ..deps import Db, User, get_clock
from ..errors import json_object
from ..media import media_of
from ..metadata import add_metadata_routes, category_values
from ..permissions.endpoints import add_share_routes
from ..permissions.guard import load, visible
from ..permissions.rights import Principal
from . import service
from .service import KIND

router = APIRouter(tags=["Recordings"])


@router.get("/assets")
async def list_assets(request: Request, user: Principal = User, db: AsyncSession = Db,
                      params: ListParams = Depends(list_params)):
    rows = [row for row, _ in await visible(db, user, KIND)]
    return listing(request, await service.entries(db, rows, media_of(request.app)), params)


@router.get("/assets/{object_id}")
async def get_asset(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "VIEW")
    return {"data": service.out(row, media_of(request.app))}


@router.put("/assets/{object_id}")
async def update_asset(object_id: str, request: Request, body: Any = Body(), user: Principal = User,
                       db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "EDIT")
    return {"data": await service.update(db, row, json_object(body), get_clock(request)())}


@router.delete("/assets/{object_id}")
async def delete_asset(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "DELETE")
    await service.delete(db, row, media_of(request.app))
    return Response(status_code=200)


@router.get("/assets/{object_id}/related")
async def related_assets(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db,
                         params: ListParams = Depends(list_params)):
    row, _ = await load(db, user, KIND, object_id, "VIEW")
    mine = category_values(row)
    scored = [(service.related_score(mine, category_values(other)), other)
              for other, _ in await visible(db, user, KIND) if other.id != row.id]
    ranked = [other for score, other in sorted(scored, key=lambda p: -p[0]) if score > 0]
    return listing(request, await service.entries(db, ranked), params)


@router.get("/assets/{object_id}/hotmarks")
async def list_hotmarks(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db,
                        params: ListParams = Depends(list_params)):
    row, _ = await load(db, user, KIND, object_id, "VIEW")
    return page(request, await service.hotmarks(db, row), params)


@router.post("/assets/{object_id}/hotmarks", status_code=201)
@router.put("/assets/{object_id}/hotmarks", status_code=201, name="create_hotmark_put",
            description="The same as POST: the document's request line for creating a HotMark uses PUT.")
async def create_hotmark(object_id: str, request: Request, body: Any = Body(), user: Principal = User,
                         db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "EDIT")
    return {"data": await service.create_hotmark(db, user, row, json_object(body), get_clock(request)())}


@router.get("/assets/{object_id}/hotmarks/{hotmark_id}")
async def get_hotmark(object_id: str, hotmark_id: str, user: Principal = User, db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "VIEW")
    return {"data": service.hotmark_out(await service.get_hotmark(db, row, hotmark_id))}


@router.put("/assets/{object_id}/hotmarks/{hotmark_id}")
async def update_hotmark(object_id: str, hotmark_id: str, body: Any = Body(), user: Principal = User,
                         db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "EDIT")
    mark = await service.get_hotmark(db, row, hotmark_id)
    return {"data": await service.update_hotmark(db, row, mark, json_object(body))}


@router.delete("/assets/{object_id}/hotmarks/{hotmark_id}")
async def delete_hotmark(object_id: str, hotmark_id: str, user: Principal = User, db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "EDIT")
    await db.delete(await service.get_hotmark(db, row, hotmark_id))
    await db.commit()
    return Response(status_code=200)


add_metadata_routes(router, KIND, "/assets/{object_id}")
add_share_routes(router, KIND, "/assets/{object_id}", public=True)
