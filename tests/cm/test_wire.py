"""`/v2` on the wire: header names in canonical case, body limits, unknown routes."""

from __future__ import annotations

import socket

import pytest

from streamkeeper.ops.wire import recase
from tests.conftest import Running, basic, make_settings
from tests.scale.servers import Server

DEMO = basic("demo-app")
AUTH = "Basic ZGVtby1hcHA6"  # demo-app:


def raw_http(port: int, request: bytes) -> bytes:
    """Send one request on a fresh socket and read the answer until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def header_names(answer: bytes) -> list[bytes]:
    head = answer.split(b"\r\n\r\n", 1)[0]
    return [line.split(b":", 1)[0] for line in head.split(b"\r\n")[1:]]


def test_a_real_server_sends_canonical_header_names(tmp_path):
    server = Server(tmp_path / "data", {"STREAMKEEPER_SECRET": "s" * 32, "STREAMKEEPER_ADMIN_KEY": "k" * 24})
    server.spawn()
    try:
        server.wait_ready()
        init = raw_http(server.port, (f"POST /v2/sessions/adobe/wire HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
                                      "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
        assert init.startswith(b"HTTP/1.1 202")
        names = header_names(init)
        for name in (b"Location", b"Expires", b"Date", b"Cache-Control", b"Content-Length"):
            assert name in names, names
        sid = next(line.split(b": ", 1)[1] for line in init.split(b"\r\n") if line.startswith(b"Location:"))
        beat = raw_http(server.port, (f"POST /v2/sessions/adobe/wire/{sid.decode()} HTTP/1.1\r\nHost: x\r\n"
                                      f"Authorization: {AUTH}\r\nConnection: close\r\n\r\n").encode())
        assert beat.startswith(b"HTTP/1.1 202")
        assert {b"Expires", b"Date", b"Cache-Control"} <= set(header_names(beat))
        refused = raw_http(server.port, b"GET /v2/metadata HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert refused.startswith(b"HTTP/1.1 401")
        assert {b"WWW-Authenticate", b"Content-Type", b"Date"} <= set(header_names(refused))
    finally:
        server.stop()


def test_recasing_touches_header_names_only():
    block = (b"HTTP/1.1 202 Accepted\r\nlocation: abc\r\nx-request-id: 1\r\ncache-control: no-store\r\n"
             b"content-length: 12\r\n\r\nlocation: ab")
    assert recase(block) == (b"HTTP/1.1 202 Accepted\r\nLocation: abc\r\nX-Request-ID: 1\r\n"
                             b"Cache-Control: no-store\r\nContent-Length: 12\r\n\r\nlocation: ab")


async def test_asgi_answers_carry_canonical_names(client):
    init = await client.post("/v2/sessions/adobe/case", auth=DEMO)
    assert init.status_code == 202
    names = [name for name, _ in init.headers.raw]
    for name in (b"Location", b"Expires", b"Date", b"Cache-Control"):
        assert name in names
    gone = await client.post("/v2/sessions/adobe/case/AAAAAAAAAAAAAAAAAAAAAAAA", auth=DEMO)
    assert gone.status_code == 404
    assert b"Cache-Control" in [name for name, _ in gone.headers.raw]


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_body_over_the_limit_is_refused_with_413_and_advice(tmp_path, clock, chunked):
    settings = make_settings(tmp_path, max_body_bytes=1000)
    async with Running(settings, clock) as client:
        big = b"channel=" + b"x" * 2000

        def body():
            if not chunked:
                return big

            async def parts():
                for i in range(0, len(big), 100):
                    yield big[i:i + 100]
            return parts()

        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        r = await client.post("/v2/sessions/adobe/big", auth=DEMO, content=body(), headers=headers)
        assert r.status_code == 413
        assert r.json()["associatedAdvice"][0]["type"] == "request-too-large"
        sid = (await client.post("/v2/sessions/adobe/big", auth=DEMO)).headers["location"]
        r = await client.post(f"/v2/sessions/adobe/big/{sid}", auth=DEMO, content=body(), headers=headers)
        assert r.status_code == 413
        small = await client.post(f"/v2/sessions/adobe/big/{sid}", auth=DEMO, content=b"channel=x" + b"y" * 900,
                                  headers=headers)
        assert small.status_code == 202


async def test_wrong_method_and_unknown_paths_keep_their_answers(client):
    r = await client.put("/v2/sessions/adobe/x", auth=DEMO)
    assert r.status_code == 405
    assert "POST" in r.headers["allow"]
    assert (await client.get("/v2/sessions/adobe/x/y/z", auth=DEMO)).status_code == 404
    assert (await client.post("/v2/sessions/adobe/x/", auth=DEMO)).status_code in (307, 404)
    assert (await client.head("/v2/metadata", auth=DEMO)).status_code == 200
