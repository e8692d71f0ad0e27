"""`/v2` as a bare ASGI application in front of the FastAPI app.

These are the hot paths (players call them many times a minute). The path, the Basic header,
the query string and the form body are parsed here by hand, and answers go out as pre-built
header lists in canonical case (some players read `Location`/`Expires` case-sensitively): no
Starlette request/response objects, no routing table walk, no framework middleware. `hot()`
claims a request before FastAPI's stack runs (app.py), behind the operations middleware only,
so request ids, metrics and access logs work as for every other route. The OpenAPI
description is written by hand in `openapi.py`.
"""

from __future__ import annotations

from functools import partial
from sys import intern
from urllib.parse import unquote_plus
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.routing import Route

from ..concurrency.policy import Application
from ..concurrency.service import (
    ConcurrencyError,
    ConcurrencyService,
    InvalidRequest,
    UnknownApplication,
    parse_terminate,
)
from ..concurrency.session import StreamSession
from ..ops.asgi import BadLength, BodyTooLarge
from ..ops.hot import Answer, Claim, HotRequest, HotRoutes, StepsInline, Template, answer_over_asgi
from ..ops.middleware import basic_user
from .openapi import paths as openapi_paths  # noqa: F401 - mounted by app.py
from .rendering import (
    CACHE_CONTROL,
    CONTENT_LENGTH,
    DATE,
    EXPIRES,
    LOCATION,
    NO_STORE_B,
    Headers,
    error_answer,
    http_date_bytes,
    json_answer,
)

FORM_TYPE = b"application/x-www-form-urlencoded"  # as players send it (other spellings are parsed)
MAX_METADATA = 64
MAX_KEY = 128
MAX_VALUE = 2048

# The application id comes as the user of HTTP Basic credentials (the password is empty by convention).
application_id = basic_user


def _bad_attribute(key: str) -> InvalidRequest:
    return InvalidRequest(f"metadata attribute {key[:MAX_KEY]!r} has an invalid name or a value too long")


TOO_MANY = f"at most {MAX_METADATA} metadata attributes are accepted"


def _pairs_to_metadata(pairs: list[tuple[str, str]], into: dict[str, str]) -> None:
    for key, value in pairs:
        if not key or len(key) > MAX_KEY or len(value) > MAX_VALUE:
            raise _bad_attribute(key)
        into[intern(key)] = value
    if len(into) > MAX_METADATA:
        raise InvalidRequest(TOO_MANY)


def _form_to_metadata(text: str, into: dict[str, str]) -> None:
    """``_pairs_to_metadata(form_pairs(text), into)`` in one pass, for the form of every init.
    Names are interned (a few dozen ever occur); values are not: most requests are refusals
    whose metadata is dropped at once (the store shares the values of the sessions it keeps).

    What can be told of the whole text is asked once, not per field: a text without ``%`` or
    ``+`` has nothing to decode, and one no longer than MAX_KEY holds no name or value too long
    (decoding never lengthens a field). A player's form is both."""
    encoded = "%" in text or "+" in text
    long = len(text) > MAX_KEY
    for piece in text.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        if encoded and ("%" in piece or "+" in piece):
            key, value = unquote_plus(key), unquote_plus(value)
        if not key or long and (len(key) > MAX_KEY or len(value) > MAX_VALUE):
            raise _bad_attribute(key)
        into[intern(key)] = value
    if len(into) > MAX_METADATA:
        raise InvalidRequest(TOO_MANY)


class Call:
    """What a `/v2` handler needs from one request, read from its headers in one pass."""

    __slots__ = ("request", "auth", "ctype", "terminate")

    def __init__(self, request: HotRequest) -> None:
        self.request = request
        self.auth: bytes | None = None
        self.ctype: bytes | None = None
        self.terminate: list[str] = []
        for name, value in request.headers:
            if name == b"authorization":
                self.auth = value
            elif name == b"content-type":
                self.ctype = value
            elif name == b"x-terminate":
                self.terminate.append(value.decode("latin-1"))

    def _collected(self, limit: int) -> bytes | None:
        """The body if the protocol has read it already (see `HotRequest.collected`)."""
        try:
            return self.request.collected(limit)
        except BodyTooLarge as exc:
            raise InvalidRequest(str(exc), status=413) from None

    async def body(self, limit: int) -> bytes:
        """The whole body, counted while it is read: past `limit` bytes, a 413 refusal."""
        try:
            return await self.request.body(limit)
        except BodyTooLarge as exc:
            raise InvalidRequest(str(exc), status=413) from None
        except BadLength:
            raise InvalidRequest("Content-Length is not a number") from None

    async def metadata(self, limit: int) -> dict[str, str]:
        """Metadata from the query string and from an url-encoded or multipart form body. A body
        the protocol has read already (the lane) is taken without waiting."""
        metadata: dict[str, str] = {}
        query = self.request.query
        if not query and self.request.bodiless:
            return metadata
        if query:
            _form_to_metadata(query.decode("latin-1"), metadata)
        body = self._collected(limit)
        if body is None:
            body = await self.body(limit)
        if not body:
            return metadata
        ctype = self.ctype
        if ctype is not None and ctype != FORM_TYPE and self._media_type() == "multipart/form-data":
            scope = {"type": "http", "method": self.request.method, "headers": self.request.headers}
            form = await Request(scope, _replay(body)).form()
            _pairs_to_metadata([(k, v) for k, v in form.multi_items() if isinstance(v, str)], metadata)
        else:
            self._form_into(body, metadata)
        return metadata

    def _media_type(self) -> str:
        return (self.ctype or b"").split(b";")[0].strip().lower().decode("latin-1")

    def _form_into(self, body: bytes, metadata: dict[str, str]) -> None:
        """An url-encoded body's pairs into `metadata` (415 for any other media type but multipart)."""
        ctype = self.ctype
        if ctype is not None and ctype != FORM_TYPE:
            ctype_text = self._media_type()
            if ctype_text not in ("", "application/x-www-form-urlencoded"):
                raise InvalidRequest(f"metadata must be sent as a form, not {ctype_text}", status=415)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("the form body is not UTF-8") from None
        _form_to_metadata(text, metadata)


def _replay(body: bytes) -> Callable[[], Awaitable[dict]]:
    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


MISSING_CREDENTIALS = "missing credentials: send HTTP Basic credentials whose user name is the application id"
NO_APPLICATION_ID = ("no application id in the Authorization header: expected HTTP Basic credentials whose user "
                     "name is the application id")


def _application(service: ConcurrencyService, call: Call) -> Application:
    """The calling application: the user of the request's Basic credentials (401 when there are
    none, when they cannot be read or name no application, or an unknown one)."""
    app_id = application_id(call.auth)
    if app_id is None:
        raise UnknownApplication(MISSING_CREDENTIALS if not call.auth else NO_APPLICATION_ID)
    return service.application(app_id)


def _accepted(session: StreamSession, now: float, location: bool = False) -> Headers:
    headers = [(DATE, http_date_bytes(now)), (EXPIRES, http_date_bytes(session.expires)),
               (CACHE_CONTROL, NO_STORE_B), (CONTENT_LENGTH, b"0")]
    if location:
        headers.append((LOCATION, session.id.encode("ascii")))
    return headers


async def get_metadata(service: ConcurrencyService, limit: int, request: HotRequest) -> Answer:
    call = Call(request)
    app = _application(service, call)
    headers = [(DATE, http_date_bytes(service.clock())), (CACHE_CONTROL, NO_STORE_B)]
    return json_answer(200, list(service.required_metadata(app)), headers)


async def init_session(service: ConcurrencyService, limit: int, request: HotRequest) -> Answer:
    idp, subject = request.params
    call = Call(request)
    app = _application(service, call)
    metadata = await call.metadata(limit)
    codes = parse_terminate(call.terminate) if call.terminate else ()
    started = await service.start(app, idp, subject, metadata, codes)
    return 202, _accepted(started.session, started.session.started, location=True), b""


async def heartbeat(service: ConcurrencyService, limit: int, request: HotRequest) -> Answer:
    idp, subject, session_id = request.params
    call = Call(request)
    app = _application(service, call)
    metadata = await call.metadata(limit)
    session = await service.heartbeat(app, idp, subject, session_id, metadata)
    return 202, _accepted(session, session.expires - session.interval), b""


async def delete_session(service: ConcurrencyService, limit: int, request: HotRequest) -> Answer:
    idp, subject, session_id = request.params
    call = Call(request)
    app = _application(service, call)
    session = await service.stop(app, idp, subject, session_id)
    assert session.ended is not None
    return 202, [(DATE, http_date_bytes(session.ended.at)), (CACHE_CONTROL, NO_STORE_B), (CONTENT_LENGTH, b"0")], b""


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


async def running_streams(service: ConcurrencyService, limit: int, request: HotRequest) -> Answer:
    idp, subject = request.params
    call = Call(request)
    now = service.clock()
    app = _application(service, call)
    running = await service.running(app, idp, subject)
    apps = service.catalog.applications
    headers = [(DATE, http_date_bytes(now)), (CACHE_CONTROL, NO_STORE_B)]
    if running.mine:
        headers.append((EXPIRES, http_date_bytes(running.mine[0].expires)))
    body = {"runningStreams": [_stream(s, apps) for s in running.mine], "otherStreams": running.others}
    return json_answer(200, body, headers)


# An operation lets its refusals (ConcurrencyError) out: the transport renders them with the
# claim's `render` (a refusal then costs no coroutine of its own).
Operation = Callable[[ConcurrencyService, int, HotRequest], Awaitable[Answer]]

METADATA = Template("/v2/metadata")
SESSIONS = Template("/v2/sessions/{idp}/{subject}")
SESSION = Template("/v2/sessions/{idp}/{subject}/{sessionId}")
RUNNING = Template("/v2/runningStreams/{idp}/{subject}")

# (first segment after /v2, number of parameters, method) -> (operation, template)
TABLE: dict[tuple[str, int, str], tuple[Operation, Template]] = {
    ("metadata", 0, "GET"): (get_metadata, METADATA),
    ("metadata", 0, "HEAD"): (get_metadata, METADATA),
    ("sessions", 2, "POST"): (init_session, SESSIONS),
    ("sessions", 3, "POST"): (heartbeat, SESSION),
    ("sessions", 3, "DELETE"): (delete_session, SESSION),
    ("runningStreams", 2, "GET"): (running_streams, RUNNING),
    ("runningStreams", 2, "HEAD"): (running_streams, RUNNING),
}


def _claim(operation: Operation, template: Template, service: ConcurrencyService, limit: int) -> Claim:
    """The claim of one operation: its refusals are rendered as `/v2` errors."""
    return Claim(template, partial(operation, service, limit), isinstance(service.store, StepsInline),
                 ConcurrencyError, partial(_refusal, service))


def _refusal(service: ConcurrencyService, exc: ConcurrencyError) -> Answer:
    return error_answer(exc, service.clock())


def hot(method: str, path: str, routes: HotRoutes) -> tuple[Claim, list[str]] | None:
    """The handler of a `/v2` request, answered in front of the framework (see ops/hot.py), and
    the path's parameters; None for anything not fully matched (a wrong method, an unknown path:
    the normal stack then answers 404/405)."""
    if not path.startswith("/v2/"):
        return None
    parts = path[4:].split("/")
    if "" in parts:
        return None
    found = TABLE.get((parts[0], len(parts) - 1, method))
    if found is None:
        return None
    claim = routes.claims.get(found)
    if claim is None:
        operation, template = found
        service: ConcurrencyService = routes.state.concurrency
        claim = routes.claims[found] = _claim(operation, template, service, routes.limit)
    return claim, parts[1:]


class _Routed:
    """The same operation as a router endpoint (an ASGI app; reached only if the front is
    bypassed)."""

    def __init__(self, operation: Operation, template: Template) -> None:
        self.operation = operation
        self.template = template

    async def __call__(self, scope, receive, send) -> None:
        state = scope["app"].state
        claim = _claim(self.operation, self.template, state.concurrency, state.settings.max_body_bytes)
        await answer_over_asgi(claim, list(scope["path_params"].values()), scope, receive, send)


# In the routing table too, so that a wrong method gets 405 with the right `Allow` header.
routes = [
    Route("/v2/metadata", _Routed(get_metadata, METADATA), methods=["GET"]),
    Route("/v2/sessions/{idp}/{subject}", _Routed(init_session, SESSIONS), methods=["POST"]),
    Route("/v2/sessions/{idp}/{subject}/{sessionId}", _Routed(heartbeat, SESSION), methods=["POST"]),
    Route("/v2/sessions/{idp}/{subject}/{sessionId}", _Routed(delete_session, SESSION), methods=["DELETE"]),
    Route("/v2/runningStreams/{idp}/{subject}", _Routed(running_streams, RUNNING), methods=["GET"]),
]


from ..feature import Feature  # noqa: E402 - the declaration closes the module
from .problems import render_problem  # noqa: E402

feature = Feature("cm", routes=routes, hot=hot, openapi_paths=openapi_paths, prefix="/v2",
                  error_renderer=render_problem)
