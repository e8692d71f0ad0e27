"""`/apis/categories` (read) and `/admin/v1/categories` (manage)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ...admin.endpoints import ADMIN_ERRORS, require_admin
from ..collections import ListParams, list_params, page
from ..deps import Db, User
from ..permissions.guard import require
from ..permissions.rights import Principal
from . import service

router = APIRouter(tags=["Categories"])
admin_router = APIRouter(prefix="/admin/v1", tags=["Administration: media-platform catalog"],
                         dependencies=[Depends(require_admin)], responses=ADMIN_ERRORS)


@router.get("/categories")
async def list_categories(request: Request, user: Principal = User, db: AsyncSession = Db,
                          params: ListParams = Depends(list_params)):
    require(user, "Categories", "VIEW")
    return page(request, [service.out(r) for r in await service.all_categories(db)], params)


@router.get("/categories/{category_id}")
async def get_category(category_id: str, user: Principal = User, db: AsyncSession = Db):
    require(user, "Categories", "VIEW")
    return {"data": service.out(await service.get(db, category_id))}


@admin_router.get("/categories")
async def admin_list(db: AsyncSession = Db):
    return [service.out(r) for r in await service.all_categories(db)]


@admin_router.post("/categories", status_code=201)
async def admin_create(body: dict[str, Any] = Body(), db: AsyncSession = Db):
    return await service.save(db, body)


@admin_router.put("/categories/{category_id}")
async def admin_update(category_id: str, body: dict[str, Any] = Body(), db: AsyncSession = Db):
    return await service.save(db, body, category_id)


@admin_router.delete("/categories/{category_id}", status_code=204)
async def admin_delete(category_id: str, db: AsyncSession = Db):
    await service.delete(db, category_id)
    return Response(status_code=204)
