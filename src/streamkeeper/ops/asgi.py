"""Reading a request body straight from ASGI, counted against a limit while it arrives.

Used by hot requests that arrive over ASGI (ops/hot.py), which skip Starlette's request object:
the limit is checked on the announced Content-Length first, then on every chunk.
"""

from __future__ import annotations

from typing import Awaitable, Callable

Receive = Callable[[], Awaitable[dict]]


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than {limit} bytes")
        self.limit = limit


class BadLength(Exception):
    """A Content-Length that is not a number."""


class ClientGone(Exception):
    """The client disconnected before its body arrived: nobody to answer."""


async def read_body(http_version: str, receive: Receive, length: bytes | None, chunked: bool, limit: int) -> bytes:
    """The whole body (at most `limit` bytes, else :class:`BodyTooLarge`)."""
    if length is not None and not chunked:
        try:
            expected = int(length)
        except ValueError:
            raise BadLength() from None
        if expected > limit:
            raise BodyTooLarge(limit)
        if expected == 0:
            return b""
    elif not chunked and http_version in ("1.1", "1.0"):
        return b""  # HTTP/1 without Content-Length or chunked framing has no body (HTTP/2 may)
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
