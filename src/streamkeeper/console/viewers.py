"""Viewer experience: a tenant's stream policy, a viewer's progress, history and watchlist.

The console's Administrator acts as each tenant's administrator of the experience API; the
reads and writes go through `OxmService`, the same code `/oxm/v1` runs.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..oxm.errors import OxmError
from ..oxm.tokens import Principal
from .web import Admin, render

router = APIRouter(include_in_schema=False)


def _as_tenant_admin(login, tenant: str) -> Principal:
    return Principal(tenant=tenant, user=login.identity.principal.username, admin=True, expires=math.inf,
                     not_before=None)


@router.get("/console/viewers")
async def page(request: Request, login=Admin) -> Response:
    tenants = sorted(request.app.state.ctx.concurrency.catalog.tenants)
    return render(request, "viewers.html", login, tenants=tenants)


async def _answer(call) -> Response:
    try:
        return JSONResponse(await call, headers={"Cache-Control": "no-store"})
    except OxmError as exc:
        return exc.response()


@router.get("/console/api/oxm/{tenant}/policy")
async def get_policy(tenant: str, request: Request, login=Admin) -> Response:
    async def go():
        limits = await request.app.state.oxm.stream_policy(_as_tenant_admin(login, tenant), tenant)
        return limits.to_wire()
    return await _answer(go())


@router.put("/console/api/oxm/{tenant}/policy")
async def put_policy(tenant: str, request: Request, login=Admin) -> Response:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > request.app.state.settings.max_body_bytes:
            return JSONResponse({"message": "body too large"}, status_code=413)

    async def go():
        limits = await request.app.state.oxm.set_stream_policy(_as_tenant_admin(login, tenant), tenant, body)
        return limits.to_wire()
    return await _answer(go())


@router.get("/console/api/oxm/{tenant}/users/{user}")
async def viewer(tenant: str, user: str, request: Request, login=Admin) -> Response:
    async def go():
        oxm = request.app.state.oxm
        who = _as_tenant_admin(login, tenant)
        return {"history": await oxm.history(who, user), "watchlist": await oxm.watchlist(who, False, user)}
    return await _answer(go())
