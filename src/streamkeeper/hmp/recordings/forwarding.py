"""Media commands reach the media owner, whichever process the client reached.

Only the owner (see :mod:`streamkeeper.media.ownership`) receives the sources, records and
re-streams, so a request that needs the live engine is sent on to it when it arrives anywhere
else. One mechanism for every such route: :data:`MEDIA_ROUTES` lists them (method and path
template, one line each) and :class:`MediaForwarding`, an ASGI middleware inside the body limit
and the operations middleware, proxies the matching requests over HTTP to the owner's internal
listener, the answer streamed back as it comes. The owner authenticates and authorises the caller
itself, as it would any request; the header :data:`HEADER` (an HMAC of the shared session
secret) only says "already forwarded, answer it here", and is dropped when it is not exactly
that value.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import socket
import contextlib

import httpx
from starlette.routing import compile_path

from ...feature import Problem
from ...ops.middleware import FORWARDED_HEADER

log = logging.getLogger(__name__)

HEADER = FORWARDED_HEADER  # named in ops/middleware.py, which leaves such requests out of the metrics
CLIENT = b"x-streamkeeper-client"  # the original client's address, believed with HEADER only
RETRY_AFTER = "2"
UNREACHABLE = "the media owner cannot be reached (it may be changing); try again"

# (methods, path template): the routes answered by the media owner. Anything that needs the live
# engine (sources received, recordings in progress, re-streams, live HLS) belongs here; finished
# files (downloads, on-demand HLS, video thumbnails, imports) are served by any process.
MEDIA_ROUTES: list[tuple[frozenset[str], str]] = []


def media_route(methods: str, path: str) -> None:
    """Declare a route as answered by the media owner: ``media_route("GET PUT", "/apis/x/{id}")``."""
    MEDIA_ROUTES.append((frozenset(methods.split()), path))


media_route("POST", "/apis/sources")  # receiving starts where the sources are received
media_route("PUT DELETE", "/apis/sources/{object_id}")
media_route("GET POST", "/apis/sessions/{object_id}/recordings")
media_route("GET", "/apis/recordings")
media_route("GET PUT DELETE", "/apis/recordings/{recording_id}")
media_route("POST", "/apis/recordings/{recording_id}/hotmarks")
media_route("GET", "/apis/sources/{object_id}/thumbnail")
media_route("GET", "/apis/sessions/{object_id}/thumbnail")
media_route("GET POST", "/apis/assets/{object_id}/streams")
media_route("GET DELETE", "/apis/assets/{object_id}/streams/{stream_id}")
media_route("GET", "/apis/streams")
media_route("GET PUT DELETE", "/apis/streams/{stream_id}")
media_route("POST", "/apis/streams/{stream_id}/seek")
media_route("GET", "/apis/sources/{object_id}/hls/live.m3u8")
media_route("GET", "/apis/sources/{object_id}/hls/{seq}.ts")


class _Routes:
    def __init__(self, routes: list[tuple[frozenset[str], str]]) -> None:
        self._source = routes
        self._compiled: list[tuple[frozenset[str], re.Pattern, str]] = []
        self._prefixes: tuple[str, ...] = ()
        self._seen = 0

    def match(self, method: str, path: str) -> str | None:
        """The template of the media route a request goes to, if any."""
        if self._seen != len(self._source):  # routes declared after the app was built
            self._compiled = [(m, compile_path(p)[0], p) for m, p in self._source]
            self._prefixes = tuple({"/" + p.split("/")[1] + "/" for _, p in self._source})
            self._seen = len(self._source)
        if not path.startswith(self._prefixes):
            return None
        for methods, pattern, template in self._compiled:
            if method in methods and pattern.match(path):
                return template
        return None


class _Template:
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


def forward_token(secret: bytes) -> bytes:
    """The value of :data:`HEADER`: the same in every process of every server (they share the
    session secret), of no use for anything else."""
    return hmac.new(secret, b"streamkeeper media forwarding", hashlib.sha256).hexdigest().encode()


_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"content-length",
        b"proxy-authorization", b"proxy-connection", b"trailer", HEADER, CLIENT}
MOVED = "x-streamkeeper-moved"  # on a 503 from a process that is no longer the owner: ask again
_HOP_BACK = {"connection", "keep-alive", "transfer-encoding", "x-request-id", "date", "server", MOVED}


class MediaForwarding:
    """Pure ASGI: media routes go to the owner when this process is not it."""

    def __init__(self, app, routes: list | None = None) -> None:
        self.app = app
        self.routes = _Routes(MEDIA_ROUTES if routes is None else routes)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        plane = getattr(scope["app"].state, "media_plane", None)
        if plane is None or not plane.shared:
            await self.app(scope, receive, send)
            return
        template = self.routes.match(scope["method"], scope["path"])
        if template is None:
            await self.app(scope, receive, send)
            return
        forwarded = self._forwarded(scope, plane.token)
        if plane.owner:
            # A command changes what the others read from the owner's status: written before the answer.
            await self.app(scope, receive, send if scope["method"] == "GET" else _publishing(send, plane))
        elif forwarded:
            # Sent here as to the owner, which this process no longer is: the sender asks again.
            await self._unavailable(scope, send, "the media owner is changing; try again", moved=True)
        else:
            scope["route"] = _Template(template)  # what the access log and the metrics name it by
            await self._proxy(scope, receive, send, plane)

    @staticmethod
    def _forwarded(scope, token: bytes) -> bool:
        """Whether the request carries the right header; a wrong one is dropped, not believed."""
        headers = scope["headers"]
        found = [v for k, v in headers if k == HEADER]
        if not found:
            return False
        ok = len(found) == 1 and hmac.compare_digest(found[0], token)
        client = next((v for k, v in headers if k == CLIENT), None)
        scope["headers"] = [(k, v) for k, v in headers if k not in (HEADER, CLIENT)]
        if ok and client:
            host, _, port = client.decode("latin-1").rpartition(":")
            if host and port.isdigit():
                scope["client"] = (host, int(port))
        return ok

    async def _proxy(self, scope, receive, send, plane) -> None:
        body = bytearray()
        while True:  # bounded: the body limit middleware counts it on the way in
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k not in _HOP]
        headers.append((HEADER, plane.token))
        if scope.get("client"):
            headers.append((CLIENT, f"{scope['client'][0]}:{scope['client'][1]}".encode()))
        from ...ops.logs import request_id

        rid = request_id.get()
        if rid:
            headers = [(k, v) for k, v in headers if k != b"x-request-id"] + [(b"x-request-id", rid.encode())]
        target = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
        response = await _ask_owner(plane, scope["method"], target, headers, bytes(body), stream=True)
        if response is None:
            await self._unavailable(scope, send, UNREACHABLE)
            return
        if scope["method"] != "GET":  # the owner wrote its status before answering: read it now
            with contextlib.suppress(Exception):
                await plane.refresh()
        await self._relay(response, send)

    @staticmethod
    async def _relay(response: httpx.Response, send) -> None:
        try:
            raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items()
                   if k.lower() not in _HOP_BACK]
            await send({"type": "http.response.start", "status": response.status_code, "headers": raw})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    @staticmethod
    async def _unavailable(scope, send, message: str, moved: bool = False) -> None:
        answer = scope["app"].state.errors.render(scope["path"], Problem("unavailable", 503, message,
                                                                         {"Retry-After": RETRY_AFTER}))
        headers = [*answer.raw_headers, *([(MOVED.encode(), b"1")] if moved else [])]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


def _publishing(send, plane):
    async def wrapped(message) -> None:
        if message["type"] == "http.response.start":
            with contextlib.suppress(Exception):  # Redis down: the periodic write will tell
                await plane.publish()
        await send(message)

    return wrapped


async def forward_hot(state, request) -> tuple | None:
    """The same forwarding for a hot route (answered in front of the framework, so the middleware
    never sees it, e.g. `/play/...`): the owner's answer when this process is not the owner, None
    to answer here. One line at the top of the hot handler:
    ``if (answer := await forward_hot(state, request)) is not None: return answer``."""
    plane = getattr(state, "media_plane", None)
    if plane is None or not plane.shared or plane.owner:
        return None
    headers = [(k.lower(), v) for k, v in request.headers]
    marked = [v for k, v in headers if k == HEADER]
    if len(marked) == 1 and hmac.compare_digest(marked[0], plane.token):
        return _text(503, b"the media owner is changing; try again", moved=True)
    sent = [(k, v) for k, v in headers if k not in _HOP] + [(HEADER, plane.token)]
    target = request.path + ("?" + request.query.decode("latin-1") if request.query else "")
    response = await _ask_owner(plane, request.method, target, sent, None, stream=False)
    if response is None:
        return _text(503, UNREACHABLE.encode())
    back = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items()
            if k.lower() not in _HOP_BACK and k.lower() not in ("content-length", "content-encoding")]
    body = response.content
    return response.status_code, [*back, (b"Content-Length", b"%d" % len(body))], body


def _text(status: int, body: bytes, *, moved: bool = False) -> tuple:
    headers = [(b"Content-Type", b"text/plain; charset=utf-8"), (b"Retry-After", RETRY_AFTER.encode())]
    if moved:
        headers.append((MOVED.encode(), b"1"))
    return status, [*headers, (b"Content-Length", b"%d" % len(body))], body


async def _ask_owner(plane, method: str, target: str, headers: list, body: bytes | None, *,
                     stream: bool) -> httpx.Response | None:
    """The owner's answer to one forwarded request, None when no owner answers. An owner that is
    gone (no connection), or that says it no longer is the owner, is looked up again, once."""
    for attempt in range(2):
        url = await plane.owner_url(refresh=attempt > 0)
        if url is None:
            return None
        request = plane.client.build_request(method, url + target, headers=headers, content=body)
        try:
            response = await plane.client.send(request, stream=stream)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            continue
        except httpx.HTTPError as exc:
            log.warning("media owner at %s did not answer %s %s: %s", url, method, target, exc)
            return None
        if response.status_code == 503 and attempt == 0 and response.headers.get(MOVED):
            await response.aclose()
            continue
        return response
    return None


def install(app) -> None:
    """Innermost of the app's middleware: inside the operations middleware (one access log line
    and one request id per hop) and the body limit (a body is counted before it is sent on)."""
    from starlette.middleware import Middleware

    app.user_middleware.append(Middleware(MediaForwarding))


# -- the owner's internal listener ------------------------------------------------------------------

def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class InternalListener:
    """The same app served on one more socket by a uvicorn server of its own, without its own
    lifespan, signal handlers or start and stop messages (the main server has all of those)."""

    def __init__(self, app, host: str, port: int) -> None:
        import uvicorn

        self.sock = listening_socket(host, port)
        self.url = url_of(self.sock)
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, proxy_headers=False,
                                server_header=False)
        config.load()
        self.server = uvicorn.Server(config)
        self.server.lifespan = config.lifespan_class(config)  # what serve() would set: nothing to run
        self.task = None

    async def start(self) -> None:
        import asyncio

        await self.server.startup(sockets=[self.sock])  # with a socket given, it logs nothing
        self.task = asyncio.create_task(self.server.main_loop(), name="media-listener")

    async def stop(self) -> None:
        import asyncio

        if self.task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await self.task
        for server in self.server.servers:
            server.close()
        for connection in list(self.server.server_state.connections):
            connection.shutdown()
        for _ in range(50):  # answers in flight finish (5 s at most)
            if not self.server.server_state.connections:
                break
            await asyncio.sleep(0.1)
        self.sock.close()
