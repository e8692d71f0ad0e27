"""In-process cost of the hot routes as the server runs them: raw HTTP/1.1 requests fed to the
uvicorn protocol (the lane, ops/lane.py), answers caught by a fake transport. No sockets, no
kernel: what is left is our Python and uvicorn's parser.

Run: ``python -m bench.lane [--n 50000] [--profile]``. Prints microseconds per request for a
hello-world ASGI app through uvicorn's plain protocol (the bench baseline's code path) and for
heartbeat, runningStreams, OXM streaming and init through the lane on the embedded store (init
over 50 connections: a start waits for its journal commit), with each one's ratio to the
hello-world.
"""

from __future__ import annotations

import argparse
import os
import asyncio
import cProfile
import pstats
import random
import tempfile
import time
from pathlib import Path

from .cm import AUTH, CONFIG, oxm_call
from .inproc import lifespan, run_on_uvloop


class FakeTransport:
    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default=None):
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def protocol_for(app, lane: bool):
    from uvicorn.config import Config
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    from streamkeeper.ops.uvicorn_protocol import LaneProtocol

    config = Config(app, http="httptools", date_header=False, server_header=False, proxy_headers=False,
                    access_log=False, log_level="warning")
    config.load()
    cls = LaneProtocol if lane else HttpToolsProtocol
    proto = cls(config, ServerState(), {}, asyncio.get_running_loop())
    transport = FakeTransport()
    proto.connection_made(transport)
    return proto, transport


CHANNELS = ("news", "sport", "movies", "kids", "music")


def init_request(subject: int, rnd) -> bytes:
    """A start as bench.cm's wrk script makes it: a random channel, one of the viewer's four
    devices, live or on demand (`rnd`: the `random` module or a seeded `random.Random`)."""
    body = (f"channel={rnd.choice(CHANNELS)}&deviceId=dev-{subject}-{rnd.randint(1, 4)}"
            f"&contentType={rnd.choice(('live', 'vod'))}&platform=web").encode()
    return (b"POST /v2/sessions/bench/init-%d HTTP/1.1\r\nHost: bench\r\nAuthorization: %s\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
            % (subject, AUTH.encode(), len(body), body))


async def drive(conns: list, requests: list[bytes], n: int, profile: bool) -> float:
    """µs per request over `conns` (protocol, transport) pairs like wrk's connections: a request
    goes to the next connection whose last answer is out; the loop turns every 32 requests
    (tasks, batched writes) or when every connection waits (on the journal)."""
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    sent = k = 0
    while sent < n:
        proto, transport = conns[k % len(conns)]
        k += 1
        cycle = proto.cycle
        if cycle is None or cycle.response_complete:
            proto.data_received(requests[sent % len(requests)])
            sent += 1
            if sent % 32 == 0:
                await asyncio.sleep(0)
                transport.out.clear()
        elif k % len(conns) == 0:
            await asyncio.sleep(0)
    while any(p.cycle is not None and not p.cycle.response_complete for p, _ in conns):
        await asyncio.sleep(0)
    if prof:
        prof.disable()
    dt = time.perf_counter() - t0
    if prof:
        pstats.Stats(prof).sort_stats(os.environ.get("SORT", "tottime")).print_stats(int(os.environ.get("TOP", "25")))
    for _, transport in conns:
        transport.out.clear()
    return dt / n * 1e6


async def answered(transport: FakeTransport) -> None:
    """Wait for the answer to a request that waits on the journal (a start is durable)."""
    for _ in range(2000):
        if transport.out:
            return
        await asyncio.sleep(0.001)
    raise RuntimeError("no answer in 2 s")


async def hello(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


async def main_async(args) -> None:
    from streamkeeper.app import create_app
    from streamkeeper.settings import Settings

    conns = [protocol_for(hello, lane=False) for _ in range(50)]
    raw = [b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"]
    base = await drive(conns, raw, args.n, False)
    print(f"hello-world (ASGI, uvicorn)  {base:6.1f} µs/request")

    work = Path(tempfile.mkdtemp(prefix="sklane-"))
    (work / "bench.toml").write_text(CONFIG)
    settings = Settings(data_dir=work, config=work / "bench.toml", secret="s" * 32, admin_key="k" * 24,
                        log_level="warning")
    from streamkeeper.ops.uvicorn_protocol import LaneProtocol

    laned = [0]
    lane_answer = LaneProtocol._answer

    def counted(self, *a):
        laned[0] += 1
        return lane_answer(self, *a)

    LaneProtocol._answer = counted
    app = create_app(settings)
    stop = await lifespan(app)
    proto, transport = protocol_for(app, lane=True)
    assert proto._routes is not None, "the lane is off"
    heartbeats = []
    for i in range(1, args.subjects + 1):
        body = f"channel=news&deviceId=d{i}&contentType=vod".encode()
        proto.data_received(b"POST /v2/sessions/bench/hb-%d HTTP/1.1\r\nHost: bench\r\nAuthorization: %s\r\n"
                            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                            % (i, AUTH.encode(), len(body), body))
        await answered(transport)
        answer = b"".join(transport.out)
        transport.out.clear()
        assert b"Location: " in answer, answer
        sid = answer.split(b"Location: ", 1)[1].split(b"\r\n", 1)[0]
        heartbeats.append(b"POST /v2/sessions/bench/hb-%d/%s HTTP/1.1\r\nHost: bench\r\nAuthorization: %s\r\n\r\n"
                          % (i, sid, AUTH.encode()))
    random.shuffle(heartbeats)
    running = [b"GET /v2/runningStreams/bench/hb-%d HTTP/1.1\r\nHost: bench\r\nAuthorization: %s\r\n\r\n"
               % (i, AUTH.encode()) for i in range(1, args.subjects + 1)]
    streams = []
    for i in range(1, args.subjects + 1):
        path, token = oxm_call(i)
        streams.append(b"PUT %s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n\r\n"
                       % (path.encode(), token.encode()))
    for request in streams:
        proto.data_received(request)
        await answered(transport)
        transport.out.clear()
    inits = [init_request(random.randint(1, args.subjects), random) for _ in range(20_000)]
    cases = (("heartbeat", heartbeats), ("runningStreams", running), ("oxmStreaming", streams), ("init", inits))
    for name, requests in cases:
        if name not in args.only.split(","):
            continue
        conns = [protocol_for(app, lane=True) for _ in range(50)]
        await drive(conns, requests, 2000, False)
        before = laned[0]
        us = await drive(conns, requests, args.n, args.profile and name == args.profiled)
        print(f"{name:<28} {us:6.1f} µs/request, {base / us:.2f}x hello-world "
              f"({(laned[0] - before) / args.n:.0%} answered by the lane)")
    await stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--subjects", type=int, default=4000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profiled", default="heartbeat")
    parser.add_argument("--only", default="heartbeat,runningStreams,oxmStreaming,init")
    run_on_uvloop(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
