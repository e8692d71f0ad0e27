"""Everything the server relies on inside uvicorn's httptools protocol, in one place.

uvicorn's protocol class is not a public interface: its attributes and callbacks change between
versions. The server subclasses it twice: :class:`CanonicalHttpToolsProtocol` writes response
header names in canonical case (wire.py says why), and :class:`LaneProtocol` answers hot routes
from the parser's callbacks (lane.py says why). Both reach into the protocol's state, as listed
in :data:`RELIED_ON`; :func:`changes` compares that list with the installed uvicorn, and a test
fails with what moved (tests/ops/test_uvicorn_protocol.py). On a new uvicorn, read its
`httptools_impl.py` against this module.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from .hot import Answer, Claim, FileBody, HotRequest, HotRoutes
from .lane import INTERNAL_ERROR, batch_of, Resume
from .logs import request_id
from .middleware import RequestRecorder, request_id_for
from .wire import ResponseWriter, canonical

log = logging.getLogger("streamkeeper.lane")

CONTENT_LENGTH = b"content-length"
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")}
# Bodies past this size (media segments) are written apart from their head instead of joined to it.
LARGE_BODY = 64 * 1024

#: What this module uses of uvicorn: methods of the protocol it overrides or calls (with their
#: parameters), attributes of a protocol once connected and a message begun, attributes of a
#: request cycle (a lane cycle stands in for one), of the server state, and module names.
RELIED_ON: dict[str, Any] = {
    "methods": {
        "__init__": ["self", "config", "server_state", "app_state", "_loop"],
        "on_message_begin": ["self"],
        "on_headers_complete": ["self"],
        "on_body": ["self", "body"],
        "on_message_complete": ["self"],
        "on_response_complete": ["self"],
        "_unset_keepalive_if_required": ["self"],
        "_start_asgi_task": ["self", "cycle", "app"],
        "timeout_keep_alive_handler": ["self"],
    },
    "attributes": ["loop", "transport", "flow", "pipeline", "cycle", "parser", "url", "headers", "scope",
                   "expect_100_continue", "server_state", "tasks", "timeout_keep_alive_task",
                   "timeout_keep_alive", "client"],
    "cycle": ["transport", "response_complete", "keep_alive", "disconnected", "message_event"],
    "server_state": ["total_requests", "default_headers"],
    "module": ["STATUS_LINE", "HttpToolsProtocol", "RequestResponseCycle"],
}


class CanonicalHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing response header names in canonical case."""

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not before:
            cycle.transport = ResponseWriter(self.transport)


class _NoEvent:
    """uvicorn wakes a cycle's reader through `message_event.set()`; a lane cycle has none."""

    @staticmethod
    def set() -> None:
        return None


_NO_EVENT = _NoEvent()


class LaneCycle(HotRequest):
    """One lane request on a connection: the request its handler reads, and the state uvicorn's
    protocol expects of a cycle (`response_complete`, `keep_alive`, `disconnected`,
    `message_event`)."""

    __slots__ = ("claim", "keep_alive", "limit", "size", "started", "response_complete", "disconnected",
                 "message_event", "began", "rid", "rid_text")

    def __init__(self, claim: Claim, params: Any, method: str, path: str, query: bytes, headers: list,
                 client: tuple | None, http_version: str, keep_alive: bool, limit: int) -> None:
        super().__init__(method, path, params, query, headers, client, http_version, chunks=[])
        self.claim = claim
        self.keep_alive = keep_alive
        self.limit = limit
        self.size = 0
        self.started = False  # the handler was called (the rest of the body is ignored)
        self.response_complete = False
        self.disconnected = False
        self.message_event = _NO_EVENT
        self.began = time.perf_counter()
        self.rid = b""  # the request id, set when the handler is called
        self.rid_text = ""


class LaneProtocol(CanonicalHttpToolsProtocol):
    """uvicorn's httptools protocol (canonical header names) with the fast lane for hot routes."""

    def __init__(self, config, server_state, app_state, _loop=None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        app_state_obj = getattr(config.loaded_app, "state", None)
        routes = getattr(app_state_obj, "hot_routes", None)
        metrics = getattr(app_state_obj, "metrics", None)
        usable = config.limit_concurrency is None and routes is not None and metrics is not None
        self._routes: HotRoutes | None = routes if usable else None
        self._recorder = RequestRecorder(metrics) if usable else None
        self._writes = batch_of(self.loop)

    # -- keep-alive ------------------------------------------------------------------------
    # uvicorn arms a keep-alive timer after every answer and cancels it when the next request
    # arrives: a timer made and dropped per request. Here one timer per connection stays armed;
    # when it fires it looks at when the connection last went idle and closes it, or re-arms
    # for the time left. Same timeout, a timer per `timeout_keep_alive` instead of per request.

    _idle_from: float | None = None  # loop time of the last answer; None while a request is open

    def _unset_keepalive_if_required(self) -> None:
        self._idle_from = None  # data arrived, or the connection is going: not idle

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_from = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self._keep_alive_check)

    def _keep_alive_check(self) -> None:
        self.timeout_keep_alive_task = None
        idle_from = self._idle_from
        if idle_from is None:
            return  # a request is being read or answered: its answer arms the timer again
        left = idle_from + self.timeout_keep_alive - self.loop.time()
        if left <= 0:
            self.timeout_keep_alive_handler()
        else:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_check)

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        """uvicorn's, less the ASGI scope: a lane request never needs one, so it is made in
        `_make_scope` for the requests that go through ASGI."""
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def _make_scope(self) -> None:
        """The scope uvicorn's `on_message_begin` makes, around the headers read since."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.expect_100_continue = url, expect
        self.headers = self.scope["headers"] = headers

    def on_headers_complete(self) -> None:
        cycle = self._claim()
        if cycle is None:
            self._make_scope()
            super().on_headers_complete()
            return
        self.cycle = cycle  # type: ignore[assignment]
        if cycle.method == "HEAD" or cycle.method == "GET":
            return  # answered when the message is complete (a body, if any, is read and ignored)
        for name, value in cycle.headers:
            if name == CONTENT_LENGTH:
                if value.isdigit() and int(value) > cycle.limit:
                    self._run(cycle, overflow=True)  # refused before its body is read
                break

    def _claim(self) -> LaneCycle | None:
        routes = self._routes
        if routes is None or self.expect_100_continue:
            return None
        if self.cycle is not None and not self.cycle.response_complete:
            return None  # pipelined behind an unfinished answer: uvicorn queues it
        parser = self.parser
        if parser.should_upgrade():
            return None
        url = self.url
        raw_path, _, query = url.partition(b"?")
        # (`find`, not `in`: `bytes in bytes` first tries the operand as an integer, and the
        # TypeError it makes and drops costs more than the search)
        if raw_path[:1] != b"/" or raw_path.find(b"%") >= 0 or url.find(b"#") >= 0:
            return None
        try:
            path = raw_path.decode("ascii")
        except UnicodeDecodeError:
            return None
        method = _METHODS.get(parser.get_method())
        if method is None:
            return None
        found = routes.claim(method, path)
        if found is None:
            return None
        http_version = parser.get_http_version()
        keep_alive = http_version != "1.0" and parser.should_keep_alive()
        return LaneCycle(found[0], found[1], method, path, query, self.headers, self.client, http_version,
                         keep_alive, routes.limit)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if type(cycle) is not LaneCycle:
            super().on_body(body)
            return
        if cycle.started:
            return
        cycle.size += len(body)
        if cycle.size > cycle.limit:
            cycle._chunks = []
            self._run(cycle, overflow=True)
        else:
            cycle._chunks.append(body)

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if type(cycle) is not LaneCycle:
            super().on_message_complete()
            return
        if not cycle.started:
            self._run(cycle)

    # -- answering ----------------------------------------------------------------------------

    def _run(self, cycle: LaneCycle, overflow: bool = False) -> None:
        """Call the handler. Over a `StepsInline` backend (ops/hot.py) its coroutine takes its first
        step right here, outside any task, and most answers are made in that step; a handler
        that then waits, or any other, goes on in a task."""
        cycle.started = True
        cycle._overflow = overflow
        cycle.rid = request_id_for(cycle.headers)
        cycle.rid_text = cycle.rid.decode("ascii")
        token = request_id.set(cycle.rid_text)
        try:
            try:
                coro = cycle.claim.respond(cycle)
            except Exception:  # noqa: BLE001 - a bug
                self._crashed(cycle)
                return
            if not cycle.claim.inline:
                self._later(cycle, coro)
                return
            try:
                pending = coro.send(None)
            except StopIteration as done:
                self._answer(cycle, done.value)
                return
            except Exception as exc:  # noqa: BLE001 - a refusal, or a bug
                self._failed(cycle, exc)
                return
            self._later(cycle, Resume(coro, pending))
        finally:
            request_id.reset(token)

    def _later(self, cycle: LaneCycle, work) -> None:
        """Finish the handler in a task (it waits on I/O); the answer is written when it ends."""

        async def complete() -> None:
            try:
                answer = await work
            except Exception as exc:  # noqa: BLE001 - a refusal, or a bug
                self._failed(cycle, exc)
                return
            self._answer(cycle, answer)

        task = self.loop.create_task(complete())
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _failed(self, cycle: LaneCycle, exc: Exception) -> None:
        """A handler that raised: its claim's refusal rendered, anything else a crash."""
        claim = cycle.claim
        if isinstance(exc, claim.refused):
            try:
                answer = claim.render(exc)  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - a bug
                self._crashed(cycle)
                return
            self._answer(cycle, answer)
            return
        self._crashed(cycle)

    def _crashed(self, cycle: LaneCycle) -> None:
        """A handler that raised (a bug): logged, and answered 500 as uvicorn answers one."""
        log.exception("exception in hot route %s %s", cycle.method, cycle.path)
        self._answer(cycle, INTERNAL_ERROR)

    def _answer(self, cycle: LaneCycle, answer: Answer) -> None:
        status, headers, body = answer
        keep_alive = cycle.keep_alive
        content = [STATUS_LINE[status]]
        has_length = has_connection = False
        for name, value in headers:  # hot handlers name their headers in canonical case
            if name == b"Content-Length":
                has_length = True
            elif name == b"Connection":
                has_connection = True
                if value.lower().find(b"close") >= 0:
                    keep_alive = False
            content += (name, b": ", value, b"\r\n")
        for name, value in self.server_state.default_headers:
            content += (canonical(name.lower()), b": ", value, b"\r\n")
        if not has_length and status != 204 and status != 304:
            content += (b"Content-Length: ", b"%d" % len(body), b"\r\n")
        content += (b"X-Request-ID: ", cycle.rid, b"\r\n")
        if not keep_alive and not has_connection:
            content.append(b"Connection: close\r\n")
        content.append(b"\r\n")
        transport = self.transport
        if type(body) is FileBody:  # a file: its bytes go from the page cache to the socket
            self._writes.flush()  # (the answers before it first)
            send_file(transport, b"".join(content), body, cycle.method == "HEAD")
            body = b""
            content = []
        large = len(body) > LARGE_BODY and cycle.method != "HEAD"
        if body and cycle.method != "HEAD" and not large:
            content.append(body)
        if content and not transport.is_closing():
            if keep_alive and not self.pipeline and not large:
                self._writes.add(self.loop, transport, b"".join(content))
            else:  # goes out before a close or a queued answer: after the earlier ones, now
                self._writes.flush()
                transport.write(b"".join(content))
                if large:  # a media segment: handed to the transport as it is, not copied
                    transport.write(body)
        cycle.response_complete = True
        self._recorder.record(cycle.method, cycle.path, cycle.claim.template.path, status,  # type: ignore[union-attr]
                              time.perf_counter() - cycle.began, cycle.rid_text, cycle.headers)
        if not keep_alive:
            transport.close()
        self.on_response_complete()  # keep-alive timer, or the next pipelined request



def send_file(transport: Any, head: bytes, body: FileBody, head_only: bool = False) -> None:
    """Write an answer's `head`, then the file `body` (closed once sent): with sendfile(2) on the
    transport's socket, so that its bytes go from the page cache to the socket without being
    copied into this process, as long as the socket takes them; what it does not take at once
    (its buffer is full) goes through the transport like any body. Through the transport alone
    when the socket cannot be written directly: TLS, a transport that is no socket's, or bytes
    of the transport still waiting to go out (they go first)."""
    try:
        if transport.is_closing():
            return
        if head_only:
            transport.write(head)
            return
        fd = _socket_fd(transport)
        if fd is None:
            transport.write(head)
            transport.write(body.read())
            return
        # The head with MSG_MORE: it leaves with the file's first bytes instead of in a packet of
        # its own (a wake-up of the client less). A socket object over the same descriptor, let
        # go of (not closed) at once.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, fd)
        try:
            sent = sock.send(head, socket.MSG_MORE if body.size else 0)
        except BlockingIOError:
            sent = 0
        finally:
            sock.detach()
        if sent < len(head):
            transport.write(head[sent:])
            transport.write(body.read())
            return
        offset, size, source = 0, body.size, body.fd
        while offset < size:
            try:
                n = os.sendfile(fd, source, offset, size - offset)
            except BlockingIOError:
                break
            if n <= 0:  # the file is shorter than said: the connection cannot be answered right
                raise OSError("the file ended early")
            offset += n
        if offset < size:
            transport.write(body.read(offset))
    except OSError as exc:  # the peer went away (the transport sees it too), or the file failed
        log.debug("sending a file failed: %s", exc)
        transport.abort()
    finally:
        body.close()


def _socket_fd(transport: Any) -> int | None:
    """The descriptor of the transport's socket when bytes may be written to it directly: a plain
    socket (no TLS) with nothing of the transport still to go out."""
    if transport.get_extra_info("sslcontext") is not None or transport.get_extra_info("ssl_object") is not None:
        return None
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    try:
        if transport.get_write_buffer_size():
            return None
        return sock.fileno()
    except (AttributeError, OSError, NotImplementedError):
        return None


def changes() -> list[str]:
    """What of :data:`RELIED_ON` the installed uvicorn no longer has, or has in another shape
    (empty: nothing changed)."""
    from uvicorn.config import Config
    from uvicorn.protocols.http import httptools_impl
    from uvicorn.server import ServerState

    found: list[str] = []
    for name in RELIED_ON["module"]:
        if not hasattr(httptools_impl, name):
            found.append(f"httptools_impl.{name} is gone")
    for name, params in RELIED_ON["methods"].items():
        method = getattr(HttpToolsProtocol, name, None)
        if method is None:
            found.append(f"HttpToolsProtocol.{name} is gone")
        elif list(inspect.signature(method).parameters) != params:
            found.append(f"HttpToolsProtocol.{name} now takes {list(inspect.signature(method).parameters)}, "
                         f"not {params}")
    for name in RELIED_ON["cycle"]:
        if name not in inspect.signature(RequestResponseCycle.__init__).parameters and \
                name not in inspect.getsource(RequestResponseCycle.__init__):
            found.append(f"RequestResponseCycle.{name} is gone")
    state = ServerState()
    for name in RELIED_ON["server_state"]:
        if not hasattr(state, name):
            found.append(f"ServerState.{name} is gone")

    async def _app(scope, receive, send) -> None:  # pragma: no cover - never called
        return None

    config = Config(_app, http="httptools", log_level="warning")
    config.load()
    loop = asyncio.new_event_loop()
    try:
        protocol = HttpToolsProtocol(config, state, {}, loop)
        protocol.connection_made(_Transport())  # type: ignore[arg-type]
        protocol.on_message_begin()
        for name in RELIED_ON["attributes"]:
            if not hasattr(protocol, name):
                found.append(f"HttpToolsProtocol has no attribute {name!r} once a message began")
    finally:
        loop.close()
    return found


class _Transport:
    """Just enough of a socket transport for a protocol to connect to (`changes`)."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def is_closing(self) -> bool:
        return False

    def set_write_buffer_limits(self, *args: Any, **kwargs: Any) -> None:
        return None


__all__ = ["CanonicalHttpToolsProtocol", "LaneCycle", "LaneProtocol", "RELIED_ON", "changes", "send_file"]
