"""An httpx transport that sends each request as raw HTTP/1.1 bytes through the server's own
uvicorn protocol (ops/lane.py) in this process: hot routes are answered by the lane exactly as
`streamkeeper serve` answers them, everything else by uvicorn's ASGI cycle. Tests that take
the `wire` fixture run once over ASGI (httpx's ASGITransport) and once over this."""

from __future__ import annotations

import asyncio

import h11
import httpx

from bench.lane import FakeTransport


class LaneTransport(httpx.AsyncBaseTransport):
    def __init__(self, app) -> None:
        from uvicorn.config import Config

        self.config = Config(app, http="httptools", date_header=False, server_header=False, proxy_headers=False,
                             access_log=False, log_level="warning")
        self.config.load()
        from uvicorn.server import ServerState

        self.state = ServerState()
        self.answered_by_lane = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        from streamkeeper.ops.uvicorn_protocol import LaneCycle, LaneProtocol

        client = h11.Connection(h11.CLIENT)
        target = request.url.raw_path
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"connection"]
        body = await request.aread()
        raw = client.send(h11.Request(method=request.method, target=target, headers=headers))
        raw += client.send(h11.Data(data=body)) if body else b""
        raw += client.send(h11.EndOfMessage())
        sock = FakeTransport()
        proto = LaneProtocol(self.config, self.state, {}, asyncio.get_running_loop())
        assert proto._routes is not None, "the lane is off"
        proto.connection_made(sock)
        # From a loop callback, as a socket's data arrives in the server: outside any task.
        fed = asyncio.get_running_loop().create_future()

        def feed() -> None:
            proto.data_received(raw)
            fed.set_result(type(proto.cycle) is LaneCycle)

        asyncio.get_running_loop().call_soon(feed)
        if await fed:
            self.answered_by_lane += 1
        status, response_headers, chunks = None, [], []
        for _ in range(20_000):
            if sock.out:
                client.receive_data(b"".join(sock.out))
                sock.out.clear()
            event = client.next_event()
            while event is not h11.NEED_DATA:
                if isinstance(event, h11.Response):
                    status, response_headers = event.status_code, event.headers.raw_items()
                elif isinstance(event, h11.Data):
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    proto.connection_lost(None)
                    return httpx.Response(status, headers=response_headers,
                                          stream=httpx.ByteStream(b"".join(chunks)), request=request)
                event = client.next_event()
            await asyncio.sleep(0 if _ < 1000 else 0.001)
        raise TimeoutError(f"no complete answer to {request.method} {request.url}")
