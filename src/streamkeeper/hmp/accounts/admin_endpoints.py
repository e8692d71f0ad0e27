"""`/admin/v1/users`, `/admin/v1/groups` and `/admin/v1/roles`: account management behind the admin key."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from sqlalchemy.ext.asyncio import AsyncSession

from ...admin.endpoints import ADMIN_ERRORS, require_admin
from ...admin.service import AdminError
from ..deps import Db, get_clock
from . import service
from .service import AccountError

router = APIRouter(prefix="/admin/v1", tags=["Administration: media-platform accounts"],
                   dependencies=[Depends(require_admin)], responses=ADMIN_ERRORS)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserBody(_Strict):
    username: StrictStr | None = Field(default=None, max_length=128)
    password: StrictStr | None = Field(default=None, max_length=1024)
    displayName: StrictStr | None = Field(default=None, max_length=256)
    email: StrictStr | None = Field(default=None, max_length=256)
    enabled: StrictBool | None = None
    roles: list[StrictStr] | None = None
    groups: list[StrictStr] | None = None


class PasswordBody(_Strict):
    password: StrictStr = Field(max_length=1024)


class GroupBody(_Strict):
    groupname: StrictStr | None = Field(default=None, max_length=128)
    enabled: StrictBool | None = None
    roles: list[StrictStr] | None = None
    members: list[StrictStr] | None = None


class RoleBody(_Strict):
    name: StrictStr | None = Field(default=None, max_length=128)
    permissions: dict[StrictStr, list[StrictStr]] | None = None


def _admin_error(exc: AccountError) -> AdminError:
    err = AdminError(exc.message)
    err.status = exc.status
    err.code = {404: "not-found", 409: "already-exists"}.get(exc.status, "invalid")
    return err


async def _run(coro):
    try:
        return await coro
    except AccountError as exc:
        raise _admin_error(exc) from None


@router.get("/users")
async def list_users(db: AsyncSession = Db):
    return await service.list_users(db)


@router.post("/users", status_code=201)
async def create_user(body: UserBody, request: Request, db: AsyncSession = Db):
    return await _run(service.save_user(db, body.model_dump(exclude_unset=True), get_clock(request)()))


@router.get("/users/{user_id}")
async def get_user(user_id: str, db: AsyncSession = Db):
    return await _run(_user(db, user_id))


async def _user(db, ref):
    return await service.user_out(db, await service.find_user(db, ref))


@router.put("/users/{user_id}")
async def update_user(user_id: str, body: UserBody, request: Request, db: AsyncSession = Db):
    return await _run(service.save_user(db, body.model_dump(exclude_unset=True), get_clock(request)(),
                                        user_id=user_id))


@router.put("/users/{user_id}/password", status_code=204)
async def set_password(user_id: str, body: PasswordBody, request: Request, db: AsyncSession = Db):
    await _run(service.save_user(db, {"password": body.password}, get_clock(request)(), user_id=user_id))
    return Response(status_code=204)


@router.delete("/users/{user_id}", status_code=204)
async def delete_user(user_id: str, db: AsyncSession = Db):
    await _run(service.delete_user(db, user_id))
    return Response(status_code=204)


@router.get("/groups")
async def list_groups(db: AsyncSession = Db):
    return await service.list_groups(db)


@router.post("/groups", status_code=201)
async def create_group(body: GroupBody, db: AsyncSession = Db):
    return await _run(service.save_group(db, body.model_dump(exclude_unset=True)))


@router.get("/groups/{group_id}")
async def get_group(group_id: str, db: AsyncSession = Db):
    async def go():
        return await service.group_out(db, await service.find_group(db, group_id))
    return await _run(go())


@router.put("/groups/{group_id}")
async def update_group(group_id: str, body: GroupBody, db: AsyncSession = Db):
    return await _run(service.save_group(db, body.model_dump(exclude_unset=True), group_id=group_id))


@router.delete("/groups/{group_id}", status_code=204)
async def delete_group(group_id: str, db: AsyncSession = Db):
    await _run(service.delete_group(db, group_id))
    return Response(status_code=204)


@router.get("/roles")
async def list_roles(db: AsyncSession = Db):
    return await service.list_roles(db)


@router.post("/roles", status_code=201)
async def create_role(body: RoleBody, db: AsyncSession = Db):
    return await _run(service.save_role(db, body.model_dump(exclude_unset=True)))


@router.put("/roles/{role_id}")
async def update_role(role_id: str, body: RoleBody, db: AsyncSession = Db):
    return await _run(service.save_role(db, body.model_dump(exclude_unset=True), role_id=role_id))


@router.delete("/roles/{role_id}", status_code=204)
async def delete_role(role_id: str, db: AsyncSession = Db):
    await _run(service.delete_role(db, role_id))
    return Response(status_code=204)
