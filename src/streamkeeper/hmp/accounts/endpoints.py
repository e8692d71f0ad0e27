"""`/apis/authentication/login`, `/apis/users/enabled` and `/apis/groups/enabled`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, StrictStr
from sqlalchemy.ext.asyncio import AsyncSession

from ...client_address import client_address
from ..collections import ListParams, list_params, page
from ..deps import COOKIE, Db, User, current_login, get_clock, set_session_cookie
from ..errors import AUTH_SESSION_NOT_FOUND, HmpError
from ..permissions.rights import Principal
from . import service

router = APIRouter(tags=["Authentication"])


class Credentials(BaseModel):
    username: StrictStr = Field(min_length=1, max_length=128)
    password: StrictStr = Field(min_length=1, max_length=1024)


@router.post("/authentication/login", status_code=201)
async def log_in(body: Credentials, request: Request, response: Response, db: AsyncSession = Db):
    now = get_clock(request)()
    address = client_address(request)
    login = await service.login(db, body.username, body.password, address, now)
    set_session_cookie(request, response, login.token, login.expires, now)
    return {"data": service.session_info(login.identity, login.token, login.expires)}


@router.get("/authentication/login")
async def session_info(login: service.Login = Depends(current_login)):
    return {"data": service.session_info(login.identity, login.token, login.expires)}


@router.delete("/authentication/login")
async def log_out(request: Request, db: AsyncSession = Db):
    if not await service.logout(db, request.cookies.get(COOKIE), get_clock(request)()):
        raise HmpError(AUTH_SESSION_NOT_FOUND)
    response = Response(status_code=200)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/users/enabled", tags=["Users"])
async def users(request: Request, _: Principal = User, db: AsyncSession = Db,
                params: ListParams = Depends(list_params)):
    return page(request, await service.enabled_users(db), params)


@router.get("/groups/enabled", tags=["Groups"])
async def groups(request: Request, _: Principal = User, db: AsyncSession = Db,
                 params: ListParams = Depends(list_params)):
    return page(request, await service.enabled_groups(db), params)
