"""`/apis/sources`: CRUD, metadata and shares."""

from __future__ import annotations


from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ..bodies import SourceFields
from ..collections import ListParams, list_params, listing
from ..deps import Db, User, get_clock
from ..recordings import media_of
from ..metadata import add_metadata_routes
from ..permissions.endpoints import add_share_routes
from ..object_routes import ObjectService, add_object_routes
from ..permissions.guard import require, visible
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
async def create_source(request: Request, body: SourceFields, user: Principal = User, db: AsyncSession = Db):
    require(user, "Sources", "CREATE")
    return {"data": await service.create(db, user, body.fields(), get_clock(request)(), media_of(request.app))}


add_object_routes(router, KIND, "/sources/{object_id}", "source", SourceFields,
                  ObjectService(read=lambda _db, row, media: service.out(row, media), update=service.update,
                                delete=service.delete))
add_metadata_routes(router, KIND, "/sources/{object_id}")
add_share_routes(router, KIND, "/sources/{object_id}")
