"""Share and public-share routes, identical for sources, sessions and videos."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy.ext.asyncio import AsyncSession

from ..collections import page
from ..deps import Db, User
from ..errors import CANNOT_SHARE, HmpError
from ..permissions.rights import Principal
from . import service
from .guard import Kind, load


class ShareBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: StrictStr | None = Field(default=None, max_length=64)
    shareType: StrictStr = Field(max_length=16)
    permission: StrictStr = Field(max_length=64)
    name: StrictStr | None = Field(default=None, max_length=128)


class ShareUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: StrictStr | None = Field(default=None, max_length=64)
    shareType: StrictStr | None = Field(default=None, max_length=16)
    permission: StrictStr = Field(max_length=64)
    name: StrictStr | None = Field(default=None, max_length=128)


class PublicShareBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    permission: StrictStr = Field(max_length=64)
    id: StrictStr | None = None
    resource: StrictStr | None = None


async def _sharer(db: AsyncSession, user: Principal, kind: Kind, object_id: str):
    """The object and the caller's access, for changing its shares.

    Someone who sees the object but may not share it (a WATCH or EDIT holder, a viewer) is told
    CannotShare, as the document answers a WATCH holder sharing at OWN; an object they cannot see
    stays not found."""
    row, acc = await load(db, user, kind, object_id, "VIEW")
    if not (user.can(kind.area, "SHARE") and acc.allows("SHARE")):
        raise HmpError(CANNOT_SHARE)
    return row, acc


def add_share_routes(router: APIRouter, kind: Kind, base: str, public: bool = False) -> None:
    """`{base}/shares[/{shareId}]` and, when `public`, `{base}/publicshare`; `base` ends in `{object_id}`."""
    tag = [kind.area]

    @router.get(f"{base}/shares", tags=tag, name=f"list_{kind.resource}_shares")
    async def list_shares(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
        await load(db, user, kind, object_id, "VIEW")
        return page(request, await service.list_shares(db, kind.resource, object_id))

    @router.post(f"{base}/shares", status_code=201, tags=tag, name=f"create_{kind.resource}_share")
    async def create_share(object_id: str, body: ShareBody, user: Principal = User, db: AsyncSession = Db):
        _, acc = await _sharer(db, user, kind, object_id)
        return {"data": await service.create_share(db, user, acc, kind.resource, object_id, body.model_dump())}

    @router.get(f"{base}/shares/{{share_id}}", tags=tag, name=f"get_{kind.resource}_share")
    async def get_share(object_id: str, share_id: str, user: Principal = User, db: AsyncSession = Db):
        await load(db, user, kind, object_id, "VIEW")
        return {"data": await service.get_share(db, kind.resource, object_id, share_id)}

    @router.put(f"{base}/shares/{{share_id}}", tags=tag, name=f"update_{kind.resource}_share")
    async def update_share(object_id: str, share_id: str, body: ShareUpdate, user: Principal = User,
                           db: AsyncSession = Db):
        _, acc = await _sharer(db, user, kind, object_id)
        return {"data": await service.update_share(db, user, acc, kind.resource, object_id, share_id,
                                                   body.model_dump())}

    @router.delete(f"{base}/shares/{{share_id}}", tags=tag, name=f"delete_{kind.resource}_share")
    async def delete_share(object_id: str, share_id: str, user: Principal = User, db: AsyncSession = Db):
        _, acc = await _sharer(db, user, kind, object_id)
        await service.delete_share(db, user, acc, kind.resource, object_id, share_id)
        return Response(status_code=200)

    if not public:
        return

    @router.get(f"{base}/publicshare", tags=tag, name=f"get_{kind.resource}_publicshare")
    async def get_public(object_id: str, user: Principal = User, db: AsyncSession = Db):
        await load(db, user, kind, object_id, "SHARE")
        return {"data": await service.get_public(db, kind.resource, object_id)}

    @router.post(f"{base}/publicshare", status_code=201, tags=tag, name=f"create_{kind.resource}_publicshare")
    async def create_public(object_id: str, body: PublicShareBody, user: Principal = User, db: AsyncSession = Db):
        await load(db, user, kind, object_id, "WATCH")
        return {"data": await service.create_public(db, kind.resource, object_id, body.permission)}

    @router.delete(f"{base}/publicshare", tags=tag, name=f"delete_{kind.resource}_publicshare")
    async def delete_public(object_id: str, user: Principal = User, db: AsyncSession = Db):
        await load(db, user, kind, object_id, "SHARE")
        await service.delete_public(db, kind.resource, object_id)
        return Response(status_code=200)
