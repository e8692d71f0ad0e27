"""The `/apis` feature: mounts every media-platform router and prepares accounts at start."""

from __future__ import annotations

import logging
import sys

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse

from .accounts import admin_endpoints as account_admin
from .accounts import endpoints as accounts
from .assets import endpoints as assets
from .categories import endpoints as categories
from .events import endpoints as events
from .permissions import admin_endpoints as permission_admin
from .sessions import endpoints as sessions
from .sources import endpoints as sources
from .system import endpoints as system
from .accounts import service as account_service
from .deps import json_only
from .errors import INPUT_VALIDATION, HmpError, error_body, for_status

log = logging.getLogger("streamkeeper.hmp")

PREFIX = "/apis"

apis = APIRouter(prefix=PREFIX, dependencies=[Depends(json_only)])
for _module in (accounts, sources, sessions, events, categories, assets, system):
    apis.include_router(_module.router)

router = APIRouter()
router.include_router(apis)
router.include_router(account_admin.router)
router.include_router(permission_admin.router)
router.include_router(categories.admin_router)


async def setup(settings, sessions, clock) -> None:
    """One-time set-up (under the set-up lock): the default roles and the first administrator."""
    password = getattr(settings, "admin_password", None)
    async with sessions() as db:
        generated = await account_service.ensure_defaults(db, clock(), password)
    if generated:
        message = (f"created the media-platform administrator: user '{account_service.ADMIN_USERNAME}', "
                   f"password '{generated}' (shown once; set STREAMKEEPER_ADMIN_PASSWORD to choose it)")
        log.warning(message)
        print(f"streamkeeper: {message}", file=sys.stderr, flush=True)


def is_hmp(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(PREFIX + "/")


def render_error(exc: HmpError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def render_validation(exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        problems.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return JSONResponse(error_body(INPUT_VALIDATION, "; ".join(problems) or INPUT_VALIDATION.message),
                        status_code=400)


def render_http(status: int, detail: str | None, headers: dict | None) -> JSONResponse:
    kind = for_status(status)
    body = error_body(kind, kind.message if status in (404, 405) or not detail else str(detail))
    body["httpStatusCode"] = status
    return JSONResponse(body, status_code=status, headers=headers)
