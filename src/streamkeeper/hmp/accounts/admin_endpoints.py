"""`/admin/v1/users`, `/admin/v1/groups` and `/admin/v1/roles`: account management behind the admin key."""

from fastapi import APIRouter, Depends, Path, Request, Response
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


def _add_crud(plural: str, singular: str, body_model: type[BaseModel], listing, read, save, delete) -> None:
    """`/admin/v1/<plural>` (list, create) and `/admin/v1/<plural>/{<singular>_id}` (read if
    `read`, replace, delete) over the account service; its refusals in the admin error body."""
    ident = f"{singular}_id"

    async def list_all(db: AsyncSession = Db):
        return await listing(db)

    async def create(body: body_model, request: Request, db: AsyncSession = Db):  # type: ignore[valid-type]
        return await _run(save(db, body.model_dump(exclude_unset=True), get_clock(request)(), None))

    async def get_one(ref: str = Path(alias=ident), db: AsyncSession = Db):
        return await _run(read(db, ref))

    async def update(body: body_model, request: Request, ref: str = Path(alias=ident),  # type: ignore[valid-type]
                     db: AsyncSession = Db):
        return await _run(save(db, body.model_dump(exclude_unset=True), get_clock(request)(), ref))

    async def remove(ref: str = Path(alias=ident), db: AsyncSession = Db):
        await _run(delete(db, ref))
        return Response(status_code=204)

    one = f"/{plural}/{{{ident}}}"
    router.add_api_route(f"/{plural}", list_all, methods=["GET"], name=f"list_{plural}")
    router.add_api_route(f"/{plural}", create, methods=["POST"], status_code=201, name=f"create_{singular}")
    if read is not None:
        router.add_api_route(one, get_one, methods=["GET"], name=f"get_{singular}")
    router.add_api_route(one, update, methods=["PUT"], name=f"update_{singular}")
    router.add_api_route(one, remove, methods=["DELETE"], status_code=204, name=f"delete_{singular}")


async def _user(db, ref):
    return await service.user_out(db, await service.find_user(db, ref))


async def _group(db, ref):
    return await service.group_out(db, await service.find_group(db, ref))


_add_crud("users", "user", UserBody, service.list_users, _user,
          lambda db, data, now, ref: service.save_user(db, data, now, user_id=ref), service.delete_user)


@router.put("/users/{user_id}/password", status_code=204)
async def set_password(user_id: str, body: PasswordBody, request: Request, db: AsyncSession = Db):
    await _run(service.save_user(db, {"password": body.password}, get_clock(request)(), user_id=user_id))
    return Response(status_code=204)


_add_crud("groups", "group", GroupBody, service.list_groups, _group,
          lambda db, data, _now, ref: service.save_group(db, data, group_id=ref), service.delete_group)
_add_crud("roles", "role", RoleBody, service.list_roles, None,
          lambda db, data, _now, ref: service.save_role(db, data, role_id=ref), service.delete_role)
