"""`/admin/v1/share-permissions`: admin-defined share levels besides OWN, EDIT and WATCH."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ...admin.endpoints import ADMIN_ERRORS, require_admin
from ...admin.service import AlreadyExists, Invalid, NotFound
from ..deps import Db
from .models import SharePermissionRow, ShareRow
from .rights import ACTIONS, RESOURCE_AREA
from .service import permission_out

router = APIRouter(prefix="/admin/v1", tags=["Administration: media-platform catalog"],
                   dependencies=[Depends(require_admin)], responses=ADMIN_ERRORS)


class SharePermissionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: StrictStr
    name: StrictStr = Field(min_length=1, max_length=128)
    actions: list[StrictStr]


@router.get("/share-permissions")
async def list_share_permissions(db: AsyncSession = Db):
    return [permission_out(r) for r in (await db.scalars(select(SharePermissionRow)
                                                         .order_by(SharePermissionRow.resource,
                                                                   SharePermissionRow.name))).all()]


@router.post("/share-permissions", status_code=201)
async def create_share_permission(body: SharePermissionBody, db: AsyncSession = Db):
    if body.resource not in RESOURCE_AREA:
        raise Invalid(f"resource must be one of {', '.join(RESOURCE_AREA)}")
    bad = [a for a in body.actions if a not in ACTIONS]
    if bad or not body.actions:
        raise Invalid(f"actions must be a non-empty subset of {', '.join(ACTIONS)}")
    if body.name.upper() in ("OWN", "EDIT", "WATCH") or await db.scalar(
            select(SharePermissionRow.id).where(SharePermissionRow.resource == body.resource,
                                                SharePermissionRow.name == body.name)):
        raise AlreadyExists(f"a share permission {body.name!r} exists for {body.resource}")
    row = SharePermissionRow(id=str(uuid.uuid4()), resource=body.resource, name=body.name,
                             actions=sorted(set(body.actions) | {"VIEW"}))
    db.add(row)
    await db.commit()
    return permission_out(row)


@router.delete("/share-permissions/{permission_id}", status_code=204)
async def delete_share_permission(permission_id: str, db: AsyncSession = Db):
    row = await db.get(SharePermissionRow, permission_id)
    if row is None:
        raise NotFound(f"no share permission {permission_id!r}")
    await db.execute(delete(ShareRow).where(ShareRow.permission == row.id))
    await db.delete(row)
    await db.commit()
    return Response(status_code=204)
