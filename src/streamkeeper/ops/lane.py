"""The fast lane: hot routes answered by uvicorn's protocol itself, without ASGI.

A bare ASGI app on uvicorn still pays, per request, for a scope dict, a request/response cycle
object, an asyncio task, two message dicts and a header block rebuilt and re-validated from
them. For the requests players send all the time that is most of the cost, so
:class:`LaneProtocol` (uvicorn's httptools protocol with canonical header names: every use of
uvicorn's internals is in uvicorn_protocol.py)
claims them when the headers are parsed: it collects the body under the app's limit, calls
the same handler the ASGI front would (ops/hot.py) and writes the answer in one piece.
Handlers whose store is in memory take their first step inline, outside any task; one that
has to wait (a durable write, Redis) continues in a task.

Only plain requests take the lane: no `Expect: 100-continue`, no upgrade, no percent-encoded
path, not pipelined behind an unfinished answer, and only when uvicorn limits nothing
itself. Everything else, and every other path, goes through ASGI as before. What the
operations middleware does for other requests is done here too: the request id (echoed or
made, set for logs while the handler runs, sent back as X-Request-ID), metrics, access log.
"""

from __future__ import annotations

import weakref
from typing import Any, Generator

from .hot import Answer

INTERNAL_ERROR: Answer = (500, [(b"Content-Type", b"text/plain; charset=utf-8"), (b"Connection", b"close")],
                          b"Internal Server Error")


class Resume:
    """Hands a coroutine that was stepped by hand, and is now waiting on `pending`, to the task
    that awaits this object: the task sees the same wait and drives the coroutine to its end."""

    __slots__ = ("coro", "pending")

    def __init__(self, coro, pending) -> None:
        self.coro = coro
        self.pending = pending

    def __await__(self) -> Generator[Any, Any, Answer]:
        coro, value = self.coro, self.pending
        while True:
            try:
                sent = yield value
            except BaseException as exc:  # cancellation or an error thrown in by the task
                try:
                    value = coro.throw(exc)
                except StopIteration as done:
                    return done.value
                continue
            try:
                value = coro.send(sent)
            except StopIteration as done:
                return done.value


class WriteBatch:
    """Answers made during one turn of the event loop, written together at its end.

    Writing each answer the moment it is ready wakes the client's side once per answer (on
    loopback, a wake-up of the other core charged to this one); the answers of one turn,
    written back to back, mostly find it awake. Nothing waits longer than the rest of the
    current turn. Per connection, order is kept: an answer that must go out before a close or
    before a queued request's answer is written at once (and after the batch's earlier ones)."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending: list[tuple[Any, bytes]] = []

    def add(self, loop, transport, data: bytes) -> None:
        if not self.pending:
            loop.call_soon(self.flush)
        self.pending.append((transport, data))

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        for transport, data in pending:
            if not transport.is_closing():
                transport.write(data)


_batches: "weakref.WeakKeyDictionary[Any, WriteBatch]" = weakref.WeakKeyDictionary()


def batch_of(loop) -> WriteBatch:
    """The loop's one batch (a loop that is gone takes its batch with it: the batch does not
    hold the loop)."""
    batch = _batches.get(loop)
    if batch is None:
        batch = _batches[loop] = WriteBatch()
    return batch
