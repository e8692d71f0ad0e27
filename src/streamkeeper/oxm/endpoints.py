"""`/oxm/v1` routes: authenticate, parse, call :class:`OxmService`, render.

`PUT /streams/{assetID}/streaming` is the hot path (every player, every two minutes): it
takes the raw request and parses its few parameters itself. The other routes use FastAPI's
parameter handling for their documentation. Every refusal leaves as the one OXM error body.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from starlette.responses import Response

from ..concurrency.service import ServiceUnavailable
from ..feature import Feature
from . import errors
from . import openapi as doc
from .admin import router as admin_router
from .assets import AssetCatalog
from .errors import render_problem
from .hot import hot  # the `streaming` hot path, answered in front of FastAPI
from .hot import stream_params
from .service import ID_PATTERN, MAX_ID, OxmService, check_id
from .tokens import Principal

log = logging.getLogger(__name__)


class OxmRoute(APIRoute):
    """Renders OxmError and parameter validation failures of these routes as OXM error bodies."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.OxmError as exc:
                return exc.response()
            except ServiceUnavailable as exc:
                return errors.unavailable(str(exc)).response()
            except RequestValidationError as exc:
                return errors.from_validation(list(exc.errors())).response()

        return run


api = APIRouter(prefix="/oxm/v1", tags=["Experience"], route_class=OxmRoute)
_bearer = HTTPBearer(auto_error=False, scheme_name="oxmBearer",
                     description="A JWT signed with one of the tenant's token keys")


def _service(request: Request) -> OxmService:
    return request.app.state.oxm


async def caller(request: Request, _doc: Any = Depends(_bearer)) -> Principal:
    """Async on purpose: a plain function would be run in a worker thread."""
    return _service(request).authenticate(request.headers.get("authorization"))


Caller = Depends(caller)


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def asset_path():
    return Path(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN, description="Asset id")


def tenant_path():
    return Path(max_length=MAX_ID, pattern=ID_PATTERN, description="Tenant id")


def user_query():
    return Query(None, alias="userId", min_length=1, max_length=MAX_ID, pattern=ID_PATTERN,
                 description="Another user of your tenant (tenant admins only); yourself by default")


# -- tenant stream policy ---------------------------------------------------------------


@api.get("/streampolicy/{tenant}", **doc.GET_POLICY)
async def get_stream_policy(request: Request, tenant: str = tenant_path(), who: Principal = Caller):
    limits = await _service(request).stream_policy(who, tenant)
    return _json(200, limits.to_wire())


@api.put("/streampolicy/{tenant}", **doc.PUT_POLICY)
async def put_stream_policy(request: Request, tenant: str = tenant_path(), who: Principal = Caller):
    limits = await _service(request).set_stream_policy(who, tenant, await request.body())
    return _json(200, limits.to_wire())


# -- streams ----------------------------------------------------------------------------


@api.get("/streams/counts", **doc.COUNTS)
async def stream_counts(request: Request, who: Principal = Caller,
                        include: Literal["", "device"] = Query("", description="device: counts per device too"),
                        user: str | None = user_query()):
    return _json(200, await _service(request).counts(who, include == "device", user))


@api.get("/streams/history", **doc.HISTORY)
async def stream_history(request: Request, user: str | None = user_query(), who: Principal = Caller):
    return _json(200, await _service(request).history(who, user))


async def _stream_params(request: Request) -> tuple[str, int | None]:
    form = None
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.body()
    peer = request.client.host if request.client else ""
    return stream_params(request.url.query, form, peer, request.headers.getlist("x-forwarded-for"),
                         request.app.state)


def _asset(asset: str) -> str:
    return check_id(asset, "assetID")


@api.put("/streams/{assetID}/streaming", status_code=204, **doc.STREAMING)
async def streaming(request: Request, assetID: str) -> Response:
    service: OxmService = request.app.state.oxm
    try:
        who = service.authenticate(request.headers.get("authorization"))
        device, progress = await _stream_params(request)
        await service.streaming(who, _asset(assetID), device, progress)
    except errors.OxmError as exc:
        return exc.response()
    return Response(status_code=204)


@api.put("/streams/{assetID}/stopped", status_code=204, **doc.STOPPED)
async def stopped(request: Request, assetID: str) -> Response:
    service: OxmService = request.app.state.oxm
    who = service.authenticate(request.headers.get("authorization"))
    device, progress = await _stream_params(request)
    await service.stopped(who, _asset(assetID), device, progress)
    return Response(status_code=204)


@api.get("/streams/{assetID}", **doc.PROGRESS)
async def get_progress(request: Request, assetID: str = asset_path(), user: str | None = user_query(),
                       who: Principal = Caller):
    return _json(200, await _service(request).progress(who, assetID, user))


@api.delete("/streams/{assetID}", status_code=204, **doc.DELETE_PROGRESS)
async def delete_progress(request: Request, assetID: str = asset_path(), user: str | None = user_query(),
                          who: Principal = Caller):
    await _service(request).delete_progress(who, assetID, user)
    return Response(status_code=204)


# -- watchlist --------------------------------------------------------------------------


@api.get("/towatch", **doc.WATCHLIST)
async def get_watchlist(request: Request, full: bool = Query(False), user: str | None = user_query(),
                        who: Principal = Caller):
    return _json(200, await _service(request).watchlist(who, full, user))


@api.put("/towatch/{assetID}", **doc.WATCH)
async def watch(request: Request, assetID: str = asset_path(), user: str | None = user_query(),
                who: Principal = Caller):
    await _service(request).watch(who, assetID, user)
    return Response(status_code=200)


@api.delete("/towatch/{assetID}", **doc.UNWATCH)
async def unwatch(request: Request, assetID: str = asset_path(), user: str | None = user_query(),
                  who: Principal = Caller):
    await _service(request).unwatch(who, assetID, user)
    return Response(status_code=200)


router = APIRouter()
router.include_router(api)
router.include_router(admin_router)


# -- lifecycle --------------------------------------------------------------------------


def asset_catalog(ctx) -> AssetCatalog:
    """Watchlists describe their assets from the `/apis` media library."""
    from .hmp_assets import library_catalog

    return library_catalog(ctx)


async def setup(settings, sessions, _clock) -> None:
    """One-time set-up: the `[oxm]` section of the configuration file."""
    if settings.config is not None:
        from .config import apply_config_file

        await apply_config_file(sessions, settings.config)


async def startup(app, ctx) -> None:
    service = OxmService(
        ctx.concurrency.store, ctx.sessions, lambda: ctx.concurrency.catalog.tenants,
        dialect=ctx.engine.dialect.name, assets=asset_catalog(ctx), clock=ctx.clock,
    )
    # Loaded now, and again within a second of a change by any process (or the CLI).
    await ctx.catalog_watch.subscribe(service.reload)
    service.changed = ctx.catalog_watch.refresh
    app.state.oxm = service


feature = Feature("oxm", router=router, hot=hot, setup=setup, startup=startup, prefix="/oxm",
                  error_renderer=render_problem)
