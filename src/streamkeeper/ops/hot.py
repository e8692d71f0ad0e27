"""Hot routes: the requests players send all the time (`/v2` init, heartbeat, delete and
runningStreams; OXM `streaming`), answered in front of the web framework.

A feature offers `hot(method, path, routes)` (`routes.state` is the app's state). For one of
its hot routes it returns a :class:`Claim` (the route template, for metrics, and a function
that takes a :class:`HotRequest` and returns an awaitable of an :data:`Answer`: status, header
list with names in canonical case, body) and the parameters it read from the path.
Nothing here knows HTTP framing, so two transports carry the same handlers:

* the ASGI front of the app (app.py), for any server and for in-process clients;
* uvicorn's own protocol (lane.py), which answers straight from the parser's callbacks and
  skips the ASGI scope, messages and task that a bare ASGI app pays for on every request.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Awaitable, Callable, Literal, NamedTuple, Protocol, runtime_checkable

from .asgi import BadLength, BodyTooLarge, ClientGone, Receive, read_body

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, "bytes | FileBody"]


class FileBody:
    """An answer's body that is a whole file, given as an open descriptor and its size: the uvicorn
    lane hands it to the kernel (sendfile) where it can, every other transport reads it. Whoever
    sends it closes it (:meth:`close`, or :meth:`read` which reads then closes); a body dropped
    unsent is closed when it is collected."""

    __slots__ = ("fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size

    def __len__(self) -> int:
        return self.size

    def read(self, offset: int = 0) -> bytes:
        """The bytes from `offset` to the end, then the descriptor closed."""
        try:
            parts = []
            while offset < self.size:
                chunk = os.pread(self.fd, self.size - offset, offset)
                if not chunk:
                    raise OSError(f"the file ended {self.size - offset} bytes early")
                parts.append(chunk)
                offset += len(chunk)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        finally:
            self.close()

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class Template:
    """What the operations middleware reads from `scope["route"]`: the route template."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


@runtime_checkable
class StepsInline(Protocol):
    """A backend whose calls need no asyncio task until they first wait: they touch no network
    client, no `asyncio.timeout` and no task-scoped state before that (the embedded session
    store, whose sessions are in this process's memory, is one).

    Why it is declared: the uvicorn lane (lane.py) can then take a hot handler's first step
    straight from the parser's callback. Most hot requests over such a backend end in that step
    (a refusal, a heartbeat): no task is made for them, which is a large part of their cost. A
    handler that does wait is handed to a task at its first wait. Asked once per route, when
    its claim is made."""

    steps_inline: Literal[True]


class Claim(NamedTuple):
    template: Template
    respond: Callable[["HotRequest"], Awaitable[Answer]]
    # The handler may take its first step outside an asyncio task (its backend is `StepsInline`):
    # the uvicorn lane then answers without a task.
    inline: bool = False
    # The handler's refusals: exceptions of type `refused` it lets out, answered by `render`.
    # Rendered by the transport instead of inside the handler, so that a refusal (most inits)
    # costs no wrapping coroutine and no extra frame in its traceback.
    refused: "type[Exception] | tuple[type[Exception], ...]" = ()
    render: "Callable[[Exception], Answer] | None" = None


class HotRequest:
    """One request as a hot handler sees it. The body is read on demand, under a limit: from
    ASGI `receive` (front), or from what the protocol already collected (lane)."""

    __slots__ = ("method", "path", "params", "query", "headers", "client", "http_version", "_receive", "_chunks",
                 "_overflow")

    def __init__(self, method: str, path: str, params: Any, query: bytes, headers: Headers, client: tuple | None,
                 http_version: str, receive: Receive | None = None, chunks: list[bytes] | None = None,
                 overflow: bool = False) -> None:
        self.method = method
        self.path = path
        self.params = params  # what the claim took from the path (`/v2`: its parameters)
        self.query = query
        self.headers = headers
        self.client = client
        self.http_version = http_version
        self._receive = receive
        self._chunks = chunks
        self._overflow = overflow

    @classmethod
    def from_scope(cls, scope: dict, receive: Receive, params: Any) -> "HotRequest":
        return cls(scope["method"], scope["path"], params, scope["query_string"], scope["headers"],
                   scope.get("client"), scope.get("http_version", "1.1"), receive=receive)

    @property
    def bodiless(self) -> bool:
        """True when the request is known to carry no body (so reading it can be skipped)."""
        if self._receive is None:
            return not self._chunks and not self._overflow
        for key, _ in self.headers:
            if key == b"content-length" or key == b"transfer-encoding":
                return False
        return self.http_version in ("1.1", "1.0")

    def collected(self, limit: int) -> bytes | None:
        """The whole body when the protocol has read it already (lane), without a coroutine; None
        when it is still to be received. :class:`BodyTooLarge` past `limit` bytes."""
        if self._receive is not None:
            return None
        if self._overflow:
            raise BodyTooLarge(limit)
        chunks = self._chunks or ()
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if len(body) > limit:
            raise BodyTooLarge(limit)
        return body

    async def body(self, limit: int) -> bytes:
        """The whole body; :class:`BodyTooLarge` past `limit` bytes, :class:`BadLength` for a
        Content-Length that is not a number."""
        body = self.collected(limit)
        if body is not None:
            return body
        length = None
        chunked = False
        for key, value in self.headers:
            if key == b"content-length":
                length = value
            elif key == b"transfer-encoding":
                chunked = True
        return await read_body(self.http_version, self._receive, length, chunked, limit)


HotPath = Callable[[str, str, "HotRoutes"], "tuple[Claim, Any] | None"]


class HotRoutes:
    """Every feature's hot paths over one app's state, asked in order. A hot path answers a
    (claim, path parameters) pair; claims are made once per route and kept in `claims`."""

    def __init__(self, paths: list[HotPath], state: Any, limit: int) -> None:
        self.paths = paths
        self.state = state
        self.limit = limit  # body limit of every hot route (the app's max_body_bytes)
        self.claims: dict[Any, Claim] = {}

    def claim(self, method: str, path: str) -> tuple[Claim, Any] | None:
        for hot in self.paths:
            found = hot(method, path, self)
            if found is not None:
                return found
        return None


async def answer_over_asgi(claim: Claim, params: Any, scope: dict, receive: Receive,
                           send: Callable[[dict], Awaitable[None]]) -> None:
    """Run a claim's handler for an ASGI request and send its answer, or its refusal rendered
    (the front, and the router's copy of each route); a client gone before its body arrived gets
    nothing."""
    try:
        status, headers, body = await claim.respond(HotRequest.from_scope(scope, receive, params))
    except ClientGone:
        return
    except claim.refused as exc:
        status, headers, body = claim.render(exc)  # type: ignore[misc]
    if type(body) is FileBody:
        body = body.read()
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def in_task() -> None:
    """Make sure the rest of a handler runs inside an asyncio task: a handler that a lane started
    inline calls this before touching a client that needs one (database drivers, timeouts)."""
    if asyncio.current_task() is None:
        await asyncio.sleep(0)


__all__ = ["Answer", "BadLength", "BodyTooLarge", "Claim", "FileBody", "Headers", "HotRequest", "HotRoutes", "StepsInline",
           "Template",
           "answer_over_asgi", "in_task"]
