"""A pure ASGI middleware for every HTTP request: request id, metrics, one access log line.

No Starlette request object and no dependency injection: the per-request cost is a
context-variable set, two clock reads, two cached metric updates and (when enabled) one
log record.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
from typing import Any, Callable

from ..caches import make_room
from .logs import request_id
from .metrics import Metrics

access_log = logging.getLogger("streamkeeper.access")

HEADER = b"x-request-id"
MAX_ID = 128
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
INIT_ROUTE = "/v2/sessions/{idp}/{subject}"


def _acceptable(value: bytes) -> bool:
    """A caller's id is echoed only if it is short printable ASCII (it goes into logs)."""
    return 0 < len(value) <= MAX_ID and all(0x21 <= b <= 0x7E for b in value)


_basic_users: dict[bytes, str | None] = {}


def basic_user(header: bytes | None) -> str | None:
    """The user named by an ``Authorization: Basic`` value, None when there is none or it cannot
    be read. Players send the same few values over and over, so decoded ones are remembered."""
    if not header:
        return None
    try:
        return _basic_users[header]
    except KeyError:
        pass
    user = None
    if header[:6].lower() == b"basic ":
        try:
            user = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")[0] or None
        except (binascii.Error, ValueError):
            user = None
    make_room(_basic_users, 10_000)
    _basic_users[header] = user
    return user


def _basic_user(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            return basic_user(value)
    return None


UNMATCHED = "<unmatched>"


class _RequestIds:
    """Unique request ids without a system call each: a random per-process prefix and a counter
    (ids only need to be unique and greppable, not unpredictable). Re-seeded in a forked child."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self._prefix = os.urandom(6).hex().encode()
        self._next = 0

    def __call__(self) -> bytes:
        self._next += 1
        return b"%s%012x" % (self._prefix, self._next)


new_request_id = _RequestIds()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=new_request_id.reseed)


def request_id_for(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The caller's X-Request-ID when it is acceptable, else a new one."""
    for name, value in headers:
        if name == HEADER:
            if _acceptable(value):
                return value
            break
    return new_request_id()


#: The header of a request another process of the deployment forwarded here (its value is
#: ``Metrics.forward_token``).
FORWARDED_HEADER = b"x-streamkeeper-media"


def _carries(headers: list[tuple[bytes, bytes]], token: bytes) -> bool:
    for name, value in headers:
        if name == FORWARDED_HEADER:
            return value == token
    return False


class RequestRecorder:
    """What every answered request leaves behind: its metrics and one access log line. A request
    forwarded from another process is logged but not counted: the process it reached first
    counts it (the aggregated /metrics would count it twice)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def record(self, method: str, path: str, template: str, status: int, elapsed: float, rid: str,
               headers: list[tuple[bytes, bytes]]) -> None:
        if method not in METHODS:
            method = "OTHER"
        token = self.metrics.forward_token
        if token is None or not _carries(headers, token):
            self.metrics.observe_request(method, template, status, elapsed)
            if status == 409 and template == INIT_ROUTE and method == "POST":
                self.metrics.count("denials", _basic_user(headers) or "<unknown>")
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("%s %s %d", method, path, status, extra={
                "method": method, "path": path, "route": template, "status": status,
                "ms": round(elapsed * 1000, 3), "request_id": rid,
            })


class OpsMiddleware:
    def __init__(self, app, metrics: Metrics, routes: Callable[[], list] = list) -> None:
        self.app = app
        self.recorder = RequestRecorder(metrics)
        self._routes = routes
        self._paths: dict[Any, str] = {}

    def _template(self, scope) -> str:
        """The route template that served the request: FastAPI routes leave themselves in the
        scope, plain Starlette routes only their endpoint (looked up once, then cached)."""
        route = scope.get("route")
        if route is not None:
            return route.path
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED
        path = self._paths.get(endpoint)
        if path is None:
            for r in self._routes():
                target = getattr(r, "endpoint", None) or getattr(r, "app", None)
                if target is not None and hasattr(r, "path"):
                    self._paths.setdefault(target, r.path)
            path = self._paths.setdefault(endpoint, UNMATCHED)
        return path

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]  # as they came: the app below may rewrite them
        rid = request_id_for(headers)
        rid_text = rid.decode("ascii")
        token = request_id.set(rid_text)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, rid)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.recorder.record(scope["method"], scope["path"], self._template(scope), status,
                                 time.perf_counter() - started, rid_text, headers)
            request_id.reset(token)
