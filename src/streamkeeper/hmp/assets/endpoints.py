"""`/apis/assets`: videos, their metadata, shares, public share, HotMarks and related videos."""

from __future__ import annotations


from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ..bodies import AssetFields, HotmarkFields
from ..collections import ListParams, list_params, listing
from ..deps import Db, User, get_clock
from ..recordings import media_of
from ..metadata import add_metadata_routes, category_values
from ..permissions.endpoints import add_share_routes
from ..object_routes import (ChildService, ObjectService, add_child_routes, add_children_route,
                             add_object_routes)
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


add_object_routes(router, KIND, "/assets/{object_id}", "asset", AssetFields,
                  ObjectService(read=lambda _db, row, media: service.out(row, media),
                                update=lambda db, row, data, now, _media: service.update(db, row, data, now),
                                delete=service.delete))


@router.get("/assets/{object_id}/related")
async def related_assets(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db,
                         params: ListParams = Depends(list_params)):
    row, _ = await load(db, user, KIND, object_id, "VIEW")
    mine = category_values(row)
    scored = [(service.related_score(mine, category_values(other)), other)
              for other, _ in await visible(db, user, KIND) if other.id != row.id]
    ranked = [other for score, other in sorted(scored, key=lambda p: -p[0]) if score > 0]
    return listing(request, await service.entries(db, ranked), params)


add_children_route(router, KIND, "/assets/{object_id}/hotmarks", "list_hotmarks", service.hotmarks)


@router.post("/assets/{object_id}/hotmarks", status_code=201)
@router.put("/assets/{object_id}/hotmarks", status_code=201, name="create_hotmark_put",
            description="The same as POST: the document's request line for creating a HotMark uses PUT.")
async def create_hotmark(object_id: str, request: Request, body: HotmarkFields, user: Principal = User,
                         db: AsyncSession = Db):
    row, _ = await load(db, user, KIND, object_id, "EDIT")
    return {"data": await service.create_hotmark(db, user, row, body.fields(), get_clock(request)())}


add_child_routes(router, KIND, "/assets/{object_id}/hotmarks/{hotmark_id}", "hotmark_id", "hotmark", HotmarkFields,
                 ChildService(get=service.get_hotmark, out=service.hotmark_out, update=service.update_hotmark))
add_metadata_routes(router, KIND, "/assets/{object_id}")
add_share_routes(router, KIND, "/assets/{object_id}", public=True)
