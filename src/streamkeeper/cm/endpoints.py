"""`/v2` routes: parse the request, call the concurrency service, render the answer.

These are the hot paths (players call them many times a minute). They are plain Starlette
routes placed first in the app's routing table: FastAPI's per-request parameter solving and a
walk over every other route cost more than the whole decision (see bench/cm.py). Their OpenAPI
description is written by hand in `openapi.py`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from ..concurrency.service import ConcurrencyError, ConcurrencyService, InvalidRequest, parse_terminate
from ..concurrency.session import StreamSession
from .openapi import paths as openapi_paths  # noqa: F401 - mounted by app.py
from .rendering import NO_STORE, error_response, http_date, json_response

MAX_METADATA = 64
MAX_KEY = 128
MAX_VALUE = 2048


_known_credentials: dict[str, str | None] = {}


def application_id(request: Request) -> str | None:
    """The application id from HTTP Basic credentials (the password is empty by convention).

    Players send the same few headers over and over, so decoded ones are remembered."""
    header = request.headers.get("authorization")
    if not header:
        return None
    try:
        return _known_credentials[header]
    except KeyError:
        pass
    app_id = None
    if header[:6].lower() == "basic ":
        try:
            app_id = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")[0] or None
        except (binascii.Error, ValueError):
            app_id = None
    if len(_known_credentials) > 10_000:
        _known_credentials.clear()
    _known_credentials[header] = app_id
    return app_id


def _pairs_to_metadata(pairs: list[tuple[str, str]], into: dict[str, str]) -> None:
    for key, value in pairs:
        if not key or len(key) > MAX_KEY or len(value) > MAX_VALUE:
            raise InvalidRequest(f"metadata attribute {key[:MAX_KEY]!r} has an invalid name or a value too long")
        into[key] = value
    if len(into) > MAX_METADATA:
        raise InvalidRequest(f"at most {MAX_METADATA} metadata attributes are accepted")


async def read_metadata(request: Request) -> dict[str, str]:
    """Metadata from the query string and from an url-encoded or multipart form body."""
    metadata: dict[str, str] = {}
    if request.scope["query_string"]:
        _pairs_to_metadata(list(request.query_params.multi_items()), metadata)
    body = await request.body()
    if not body:
        return metadata
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("", "application/x-www-form-urlencoded"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("the form body is not UTF-8") from None
        _pairs_to_metadata(parse_qsl(text, keep_blank_values=True), metadata)
    elif ctype == "multipart/form-data":
        form = await request.form()
        _pairs_to_metadata([(k, v) for k, v in form.multi_items() if isinstance(v, str)], metadata)
    else:
        raise InvalidRequest(f"metadata must be sent as a form, not {ctype}", status=415)
    return metadata


def _session_path(request: Request) -> tuple[str, str, str]:
    params = request.path_params
    return params["idp"], params["subject"], params["sessionId"]


def _service(request: Request) -> ConcurrencyService:
    return request.app.state.concurrency


def _accepted(session: StreamSession, now: float, location: bool = False) -> Response:
    headers = {"Date": http_date(now), "Expires": http_date(session.expires), "Cache-Control": NO_STORE}
    if location:
        headers["Location"] = session.id
    return Response(status_code=202, headers=headers)


async def get_metadata(request: Request) -> Response:
    service = _service(request)
    try:
        app = service.application(application_id(request))
    except ConcurrencyError as exc:
        return error_response(exc, service.clock())
    headers = {"Date": http_date(service.clock()), "Cache-Control": NO_STORE}
    return json_response(200, list(service.required_metadata(app)), headers)


async def init_session(request: Request) -> Response:
    service = _service(request)
    idp, subject = request.path_params["idp"], request.path_params["subject"]
    try:
        app = service.application(application_id(request))
        metadata = await read_metadata(request)
        codes = parse_terminate(request.headers.getlist("x-terminate"))
        started = await service.start(app, idp, subject, metadata, codes)
    except ConcurrencyError as exc:
        return error_response(exc, service.clock())
    return _accepted(started.session, started.session.started, location=True)


async def heartbeat(request: Request) -> Response:
    service = _service(request)
    idp, subject, session_id = _session_path(request)
    try:
        app = service.application(application_id(request))
        metadata = await read_metadata(request)
        session = await service.heartbeat(app, idp, subject, session_id, metadata)
    except ConcurrencyError as exc:
        return error_response(exc, service.clock())
    return _accepted(session, session.expires - session.interval)


async def delete_session(request: Request) -> Response:
    service = _service(request)
    idp, subject, session_id = _session_path(request)
    try:
        app = service.application(application_id(request))
        session = await service.stop(app, idp, subject, session_id)
    except ConcurrencyError as exc:
        return error_response(exc, service.clock())
    assert session.ended is not None
    return Response(status_code=202, headers={"Date": http_date(session.ended.at), "Cache-Control": NO_STORE})


def _stream(s: StreamSession, app_names: dict) -> dict[str, Any]:
    app = app_names.get(s.app_id)
    return {
        "sessionId": s.id,
        "startTime": int(s.started * 1000),
        "applicationId": s.app_id,
        "applicationName": app.name if app else s.app_id,
        "terminationCode": s.code,
        "metadata": s.metadata,
    }


async def running_streams(request: Request) -> Response:
    service = _service(request)
    idp, subject = request.path_params["idp"], request.path_params["subject"]
    now = service.clock()
    try:
        app = service.application(application_id(request))
        running = await service.running(app, idp, subject)
    except ConcurrencyError as exc:
        return error_response(exc, now)
    apps = service.catalog.applications
    headers = {"Date": http_date(now), "Cache-Control": NO_STORE}
    if running.mine:
        headers["Expires"] = http_date(running.mine[0].expires)
    body = {"runningStreams": [_stream(s, apps) for s in running.mine], "otherStreams": running.others}
    return json_response(200, body, headers)


routes = [
    Route("/v2/metadata", get_metadata, methods=["GET"]),
    Route("/v2/sessions/{idp}/{subject}", init_session, methods=["POST"]),
    Route("/v2/sessions/{idp}/{subject}/{sessionId}", heartbeat, methods=["POST"]),
    Route("/v2/sessions/{idp}/{subject}/{sessionId}", delete_session, methods=["DELETE"]),
    Route("/v2/runningStreams/{idp}/{subject}", running_streams, methods=["GET"]),
]


class HotPaths:
    """ASGI middleware that hands `/v2` requests straight to their route.

    It sits inside the operations middleware (metrics, request ids) and skips the rest of the
    stack: exception middleware, exit stacks and the walk through the router. Anything it does
    not fully match (a wrong method, an unknown path) goes down the normal stack and gets the
    normal 404/405.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v2/"):
            for route in routes:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    scope["route"] = route
                    await route.app(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def install(app) -> None:
    app.add_middleware(HotPaths)
