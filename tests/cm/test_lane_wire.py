"""The lane on a real socket: what HTTP/1.1 clients rely on when the server's own protocol answers
the hot routes (keep-alive, pipelining, `Connection: close`, HTTP/1.0, early 413, request ids,
HEAD, chunked bodies, `Expect: 100-continue`, metrics), on the embedded store and on Redis."""

from __future__ import annotations

import asyncio
import re
import socket

import pytest

from tests.conftest import REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test
from tests.process import Server

AUTH = b"Basic ZGVtby1hcHA6"  # demo-app:


@pytest.fixture(params=["embedded", "redis"], scope="module")
def server(request, tmp_path_factory):
    env = {}
    if request.param == "redis":
        redis_available()
        prefix = redis_prefix_for_test()
        env = {"STREAMKEEPER_REDIS_URL": REDIS_URL, "STREAMKEEPER_REDIS_PREFIX": prefix}
        request.addfinalizer(lambda: asyncio.run(drop_redis_keys(REDIS_URL, prefix)))
    srv = Server(tmp_path_factory.mktemp("lane") / "data", **env)
    srv.start()
    yield srv
    srv.stop()


class Conn:
    """One client connection that reads whole answers (Content-Length framed) one at a time."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self, head_only: bool = False) -> tuple[int, dict[bytes, bytes], bytes, bytes]:
        """(status, headers by lower-case name, body, raw head) of the next answer (of a HEAD
        request: `head_only`, no body follows)."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.lower()] = value.strip()
        length = 0 if head_only else int(headers.get(b"content-length", b"0"))
        while len(self.buf) < length:
            self._more()
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(lines[0].split()[1]), headers, body, head

    def closed(self) -> bool:
        """True once the server has closed its side (nothing more to read)."""
        self.sock.settimeout(5)
        return self.sock.recv(1) == b""

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def init(subject: str, extra: bytes = b"", body: bytes = b"channel=news&deviceId=d1") -> bytes:
    return (b"POST /v2/sessions/adobe/%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n%s\r\n%s"
            % (subject.encode(), AUTH, len(body), extra, body))


def beat(subject: str, sid: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /v2/sessions/adobe/%s/%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n%s\r\n"
            % (subject.encode(), sid, AUTH, extra))


def running(subject: str, method: bytes = b"GET") -> bytes:
    return b"%s /v2/runningStreams/adobe/%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n" % (
        method, subject.encode(), AUTH)


def test_one_connection_carries_many_answers_in_order(server):
    with Conn(server.port) as c:
        c.send(init("keep"))
        status, headers, _, head = c.answer()
        assert status == 202
        assert b"\r\nLocation: " in head and b"\r\nX-Request-ID: " in head  # canonical names on the wire
        sid = headers[b"location"]
        for _ in range(5):
            c.send(beat("keep", sid))
            assert c.answer()[0] == 202
        # Pipelined: a heartbeat, the listing, an ASGI route and a DELETE in one write.
        c.send(beat("keep", sid) + running("keep") + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
               + b"DELETE /v2/sessions/adobe/keep/%s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n" % (sid, AUTH)
               + running("keep"))
        assert c.answer()[0] == 202
        status, _, body, _ = c.answer()
        assert status == 200 and sid in body
        status, _, body, _ = c.answer()
        assert status == 200  # the liveness check, answered by the framework
        assert c.answer()[0] == 202
        status, _, body, _ = c.answer()
        assert status == 200 and sid not in body  # after the delete, in order


def test_connection_close_and_http_1_0_end_the_connection(server):
    closing = running("closing").replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    for request in (closing, running("old").replace(b"HTTP/1.1", b"HTTP/1.0")):
        with Conn(server.port) as c:
            c.send(request)
            status, headers, _, _ = c.answer()
            assert status == 200 and headers[b"connection"] == b"close"
            assert c.closed()


def test_an_announced_body_over_the_limit_is_refused_before_it_is_sent(server):
    with Conn(server.port) as c:
        c.send(b"POST /v2/sessions/adobe/big HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 999999999\r\n\r\nchannel=" % AUTH)
        status, headers, body, _ = c.answer()
        assert status == 413 and headers[b"connection"] == b"close"
        assert b"request-too-large" in body
        assert c.closed()


def test_request_ids_are_echoed_or_made(server):
    with Conn(server.port) as c:
        c.send(running("ids").replace(b"\r\n\r\n", b"\r\nX-Request-ID: trace-42\r\n\r\n"))
        assert c.answer()[1][b"x-request-id"] == b"trace-42"
        c.send(running("ids").replace(b"\r\n\r\n", b"\r\nX-Request-ID: bad id\r\n\r\n"))
        made = c.answer()[1][b"x-request-id"]
        c.send(running("ids"))
        other = c.answer()[1][b"x-request-id"]
        assert re.fullmatch(rb"[0-9a-f]{24}", made) and re.fullmatch(rb"[0-9a-f]{24}", other) and made != other


def test_head_chunked_and_expect_continue(server):
    with Conn(server.port) as c:
        c.send(init("heady"))
        assert c.answer()[0] == 202
        c.send(running("heady"))
        _, get_headers, get_body, _ = c.answer()
        c.send(running("heady", b"HEAD"))
        status, headers, _, _ = c.answer(head_only=True)  # no body, yet the GET's Content-Length
        assert status == 200 and headers[b"content-length"] == str(len(get_body)).encode()
        c.send(beat("heady", b"AAAAAAAAAAAAAAAAAAAAAAAA"))  # never issued: 404 on the same connection
        assert c.answer()[0] == 404
        body = b"channel=sport&deviceId=d2"
        c.send(b"POST /v2/sessions/adobe/chunky HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"%x\r\n%s\r\n0\r\n\r\n" % (AUTH, len(body), body))
        assert c.answer()[0] == 202
        c.send(running("chunky"))
        assert b'"channel":"sport"' in c.answer()[2]
        c.send(init("expect", extra=b"Expect: 100-continue\r\n"))
        status, _, _, _ = c.answer()
        if status == 100:
            status = c.answer()[0]
        assert status == 202


def test_lane_answers_are_counted_in_metrics(server):
    import httpx

    def count() -> float:
        page = httpx.get(f"{server.url}/metrics", timeout=10).text
        pattern = (r'streamkeeper_http_requests_total\{method="GET",route="/v2/runningStreams/\{idp\}/\{subject\}",'
                   r'status="200"\} ([0-9.e+]+)')
        found = re.search(pattern, page)
        return float(found.group(1)) if found else 0.0

    before = count()
    with Conn(server.port) as c:
        for _ in range(3):
            c.send(running("counted"))
            assert c.answer()[0] == 200
    assert count() == before + 3


async def test_the_lane_transport_of_the_test_suite_really_takes_the_lane(tmp_path):
    """The `lane` runs of the `/v2` and OXM tests are answered by the lane, not by ASGI."""
    from tests.conftest import FakeClock, Running, make_settings

    async with Running(make_settings(tmp_path), FakeClock(), wire="lane") as client:
        transport = client._transport
        r = await client.post("/v2/sessions/adobe/lane", auth=("demo-app", ""), data={"channel": "news"})
        assert r.status_code == 202 and transport.answered_by_lane == 1
        assert (await client.get("/healthz")).status_code == 200
        assert transport.answered_by_lane == 1  # not a hot route: uvicorn's ASGI cycle answered
        r = await client.get("/v2/runningStreams/adobe/lane", auth=("demo-app", ""))
        assert r.status_code == 200 and transport.answered_by_lane == 2


async def test_a_handler_that_fails_gets_a_500_and_the_connection_closed(tmp_path, monkeypatch):
    """A bug in a hot handler is answered like uvicorn answers one, whether it fails at once or
    after it had to wait (then it finishes in a task)."""
    from streamkeeper.concurrency.service import ConcurrencyService
    from tests.conftest import FakeClock, Running, make_settings

    async with Running(make_settings(tmp_path), FakeClock(), wire="lane") as client:
        r = await client.post("/v2/sessions/adobe/boom", auth=("demo-app", ""), data={"channel": "news"})
        sid = r.headers["location"]

        async def fails_at_once(self, *args):
            raise RuntimeError("a bug")

        async def fails_after_a_wait(self, *args):
            await asyncio.sleep(0)
            raise RuntimeError("a bug")

        for broken in (fails_at_once, fails_after_a_wait):
            monkeypatch.setattr(ConcurrencyService, "heartbeat", broken)
            r = await client.post(f"/v2/sessions/adobe/boom/{sid}", auth=("demo-app", ""))
            assert r.status_code == 500 and r.text == "Internal Server Error"
            assert r.headers["connection"] == "close" and r.headers["x-request-id"]
        def fails_before_any_wait(self, *args):  # (`start` is a plain function: an init may answer at once)
            raise RuntimeError("a bug")

        monkeypatch.setattr(ConcurrencyService, "start", fails_before_any_wait)
        r = await client.post("/v2/sessions/adobe/boom", auth=("demo-app", ""), data={"channel": "news"})
        assert r.status_code == 500 and r.text == "Internal Server Error"
        assert r.headers["connection"] == "close" and r.headers["x-request-id"]
        monkeypatch.undo()
        assert (await client.post(f"/v2/sessions/adobe/boom/{sid}", auth=("demo-app", ""))).status_code == 202


async def test_a_chunked_body_that_grows_past_the_limit_is_refused_with_413(tmp_path):
    """No Content-Length to refuse early: the lane counts the chunks as they arrive."""
    from tests.conftest import FakeClock, Running, make_settings

    async def chunks():
        for _ in range(10):
            yield b"channel=" + b"x" * 50 + b"&"

    async with Running(make_settings(tmp_path, max_body_bytes=200), FakeClock(), wire="lane") as client:
        r = await client.post("/v2/sessions/adobe/chunky", auth=("demo-app", ""), content=chunks(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 413 and "request-too-large" in r.text and r.headers["connection"] == "close"
        assert client._transport.answered_by_lane == 1


async def test_an_idle_keep_alive_connection_is_closed_after_the_timeout_and_a_busy_one_is_not(tmp_path):
    """The lane keeps one keep-alive timer per connection instead of one per request; the
    timeout is the same: counted from the last answer, never while requests keep coming."""
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from bench.lane import FakeTransport
    from streamkeeper.ops.uvicorn_protocol import LaneProtocol
    from tests.conftest import FakeClock, Running, make_settings

    async with Running(make_settings(tmp_path), FakeClock(), wire="lane") as client:
        app = client._transport.config.app
        config = Config(app, http="httptools", timeout_keep_alive=0.5, log_level="warning")
        config.load()
        loop = asyncio.get_running_loop()
        proto = LaneProtocol(config, ServerState(), {}, loop)
        sock = FakeTransport()
        proto.connection_made(sock)
        metadata = b"GET /v2/metadata HTTP/1.1\r\nHost: t\r\nAuthorization: Basic ZGVtby1hcHA6\r\n\r\n"
        health = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
        for n in range(12):  # a request every 0.1 s for 1.2 s (the lane's and ASGI): busy, kept open
            loop.call_soon(proto.data_received, metadata if n % 2 else health)
            await asyncio.sleep(0.1)
            assert b"200 OK" in b"".join(sock.out) and not sock.closed
            sock.out.clear()
        await asyncio.sleep(0.15)
        assert not sock.closed  # idle for about 0.25 s since the last answer: within the timeout
        await asyncio.sleep(0.5)
        assert sock.closed  # idle for about 0.75 s: closed
