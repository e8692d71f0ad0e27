"""The `/apis` feature: mounts every media-platform router and prepares accounts at start."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Depends
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
from ..feature import Feature, Problem
from .deps import json_only
from .recordings.endpoints import MAX_IMPORT_DESCRIPTION, MAX_IMPORT_TITLE
from .errors import ALL, INPUT_VALIDATION, HmpError, error_body, for_status

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


def install(app) -> None:
    """The surface's own refusals, raised anywhere in its code."""

    @app.exception_handler(HmpError)
    async def _hmp_error(_request, exc: HmpError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def render_problem(problem: Problem) -> JSONResponse:
    """The HMP error body of a refusal found outside the handlers (see feature.py): validation
    failures are 400 InputValidation naming the fields, bare statuses their generic kind."""
    if problem.kind == "invalid":
        return JSONResponse(error_body(INPUT_VALIDATION, validation_message(problem.errors)), status_code=400)
    kind = for_status(problem.status)
    detail = problem.message
    body = error_body(kind, kind.message if problem.status in (404, 405) or not detail else detail)
    body["httpStatusCode"] = problem.status
    return JSONResponse(body, status_code=problem.status, headers=problem.headers)


def validation_message(errors) -> str:
    """`field: what is wrong; ...` from Pydantic's error list (the body itself is not named)."""
    problems = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        problems.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(problems) or INPUT_VALIDATION.message


# -- OpenAPI ---------------------------------------------------------------------------------------
# FastAPI describes what endpoints declare; much of `/apis` is read by hand (query parameters of
# the media routes, bodies taken as any JSON and checked in the service) and every failure is an
# HmpError it cannot see. One pass over the finished document says what the server really does.

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "name", "message", "httpStatusCode"],
    "properties": {
        "code": {"type": "string", "pattern": "^[0-9]{6}$",
                 "description": "six digits; the first two follow the HTTP status"},
        "name": {"type": "string"},
        "message": {"type": "string"},
        "httpStatusCode": {"type": "integer"},
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/HmpError"}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_SIZE = [_query(n, {"type": "integer", "minimum": 16, "maximum": 4096}, f"{n} of the JPEG in pixels (16-4096)")
         for n in ("width", "height")]
# Query parameters that endpoints read from the request themselves, by (method, path pattern).
_HAND_READ: list[tuple[str, re.Pattern, list[dict]]] = [
    ("get", re.compile(r"/thumbnail$"), _SIZE),
    ("get", re.compile(r"^/apis/assets/\{object_id\}/download$"),
     [_query("fileType", {"type": "string", "enum": ["ts", "mp4"], "default": "ts"},
             "ts: the tracks as recorded; mp4: remuxed")]),
    ("post", re.compile(r"^/apis/assets/import$"),
     [_query("title", {"type": "string", "maxLength": MAX_IMPORT_TITLE}, "Title of the new video"),
      _query("description", {"type": "string", "maxLength": MAX_IMPORT_DESCRIPTION},
             "Description of the new video")]),
]
_UPLOAD_BODY = {"required": True, "description": "The MPEG-TS or MP4 file", "content": {
    ctype: {"schema": {"type": "string", "format": "binary"}}
    for ctype in ("video/mp2t", "video/mp4", "application/octet-stream")}}
# 200 answers that are not JSON.
_MEDIA_TYPES: list[tuple[str, re.Pattern, str]] = [
    ("get", re.compile(r"/thumbnail$"), "image/jpeg"),
    ("get", re.compile(r"/download$"), "application/zip"),
]
# 200 answers with no body at all: every DELETE, and setting a thumbnail.
_EMPTY: list[tuple[str, re.Pattern]] = [("delete", re.compile("")), ("put", re.compile(r"/thumbnail$"))]
# Errors beyond the ones every operation of its kind has (see `_statuses`).
_EXTRA_ERRORS: dict[tuple[str, str], set[int]] = {
    ("post", "/apis/sessions/{object_id}/recordings"): {500, 503},  # no disk space; the engine refused
    ("post", "/apis/assets/import"): {500},  # no disk space
}
_ANY_LOGGED_IN_USER = {("get", "/apis/authentication/login"), ("get", "/apis/users/enabled"),
                       ("get", "/apis/groups/enabled"), ("get", "/apis/system/version")}


def _statuses(method: str, path: str, op: dict) -> set[int]:
    """The error statuses an operation can answer with."""
    key = (method, path)
    if key == ("post", "/apis/authentication/login"):
        return {400, 401, 413, 415}
    if key == ("delete", "/apis/authentication/login"):
        return {404}
    statuses = {401} | _EXTRA_ERRORS.get(key, set())
    if op.get("parameters") or "requestBody" in op:
        statuses.add(400)
    if any(p["name"] == "page" for p in op.get("parameters", ())):
        statuses.add(404)  # an empty page is 404 NoResults
    if key in _ANY_LOGGED_IN_USER:
        return statuses
    statuses |= {403, 404}  # permissions; unknown ids
    if method in ("post", "put", "delete"):
        statuses.add(409)  # the object is busy (recording, importing, streaming) or already there
    if "requestBody" in op:
        statuses.add(413)
        if path != "/apis/assets/import":
            statuses.add(415)  # bodies are JSON
    return statuses


def _error_response(status: int) -> dict:
    names = ", ".join(f"{k.code} {k.name}" for k in ALL if k.status == status)
    return {"description": f"{HTTPStatus(status).phrase}: {names}",
            "content": {"application/json": {"schema": _ERROR_REF}}}


def _describe(method: str, path: str, op: dict) -> None:
    params = op.setdefault("parameters", [])
    for m, pattern, extra in _HAND_READ:
        if m == method and pattern.search(path):
            params.extend(p for p in extra if p["name"] not in {q["name"] for q in params})
    if not params:
        del op["parameters"]
    if (method, path) == ("post", "/apis/assets/import"):
        op["requestBody"] = _UPLOAD_BODY
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    models = [s for s in body["schema"].get("anyOf", ()) if "$ref" in s] if body is not None else []
    if models:  # an optional body (`Model | None`): described by its model
        body["schema"] = models[0]
    elif body is not None and "type" not in body["schema"] and "$ref" not in body["schema"]:
        body["schema"] = {"type": "object", "description": "a JSON object: the fields of the resource that the media-platform API document lists"}
    responses = op.setdefault("responses", {})
    responses.pop("422", None)  # validation failures are 400 InputValidation here
    for m, pattern, media_type in _MEDIA_TYPES:
        if m == method and pattern.search(path):
            for code in ("200", "201"):
                if code in responses:
                    responses[code]["content"] = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    for m, pattern in _EMPTY:
        if m == method and pattern.search(path) and "200" in responses:
            responses["200"] = {"description": "Done (no body)"}
    for status in sorted(_statuses(method, path, op)):
        responses.setdefault(str(status), _error_response(status))


def describe_openapi(schema: dict) -> None:
    """Complete the `/apis` part of the app's OpenAPI document (called once when it is built)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["HmpError"] = ERROR_SCHEMA
    for path, operations in schema["paths"].items():
        if path.startswith(PREFIX + "/"):
            for method, op in operations.items():
                _describe(method, path, op)


feature = Feature("hmp", router=router, install=install, setup=setup, describe_openapi=describe_openapi,
                  prefix=PREFIX, error_renderer=render_problem)
