"""In-process cost of the hot paths: the ASGI app driven directly (no sockets, no HTTP parser).

Run: ``python -m bench.inproc [--store embedded|redis] [--n 20000] [--profile cprofile|none]``.
Prints microseconds per request for heartbeat, init, runningStreams and OXM streaming; with
``--profile cprofile`` also the top functions of the heartbeat loop. The numbers are what our
code costs on top of the server (compare with a hello-world's ~0 µs here), and are stable on a
loaded machine where wrk figures are not.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import os
import pstats
import random
import tempfile
import time
from pathlib import Path

from .cm import AUTH, CONFIG, oxm_call

AUTH_B = AUTH.encode()


async def call(app, method: str, path: str, headers: list | None = None, body: bytes = b"") -> tuple[int, list, bytes]:
    path_part, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path_part, "raw_path": path_part.encode(), "query_string": query.encode(),
        "root_path": "", "headers": [(b"host", b"bench"), *(headers or []),
                                     *([(b"content-length", str(len(body)).encode())] if body else [])],
        "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8080),
    }
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    out: dict = {}
    chunks: list[bytes] = []

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = message.get("headers", [])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return out["status"], out["headers"], b"".join(chunks)


async def lifespan(app):
    queue: asyncio.Queue = asyncio.Queue()
    started: asyncio.Queue = asyncio.Queue()
    await queue.put({"type": "lifespan.startup"})

    async def send(message):
        await started.put(message)

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, queue.get, send))
    message = await started.get()
    if message["type"] != "lifespan.startup.complete":
        raise RuntimeError(message)

    async def stop():
        await queue.put({"type": "lifespan.shutdown"})
        await started.get()
        await task

    return stop


async def main_async(args) -> None:
    from streamkeeper.app import create_app
    from streamkeeper.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="skinproc-"))
    (work / "bench.toml").write_text(CONFIG)
    extra = {}
    if args.store == "redis":
        extra = {"redis_url": args.redis, "redis_prefix": f"skinproc:{os.getpid()}:"}
    settings = Settings(data_dir=work, config=work / "bench.toml", secret="s" * 32, admin_key="k" * 24,
                        log_level="warning", **extra)
    flushes: list[tuple[float, float]] = []
    if args.store == "embedded":
        # How long the journal thread works per flush (it holds the GIL for most of it).
        from streamkeeper.concurrency import journal

        original = journal.SqliteJournal._commit

        def timed(self, pending, deferred):
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return original(self, pending, deferred)
            finally:
                flushes.append((time.perf_counter() - t0, time.thread_time() - c0))

        journal.SqliteJournal._commit = timed
    if args.no_pipe:
        from streamkeeper.concurrency.redis_store import RedisStore

        RedisStore.pipelined = False
    app = create_app(settings)
    stop = await lifespan(app)
    auth = [(b"authorization", AUTH_B)]
    form = [(b"authorization", AUTH_B), (b"content-type", b"application/x-www-form-urlencoded")]
    paths = []
    for i in range(1, args.subjects + 1):
        status, headers, _ = await call(app, "POST", f"/v2/sessions/bench/hb-{i}", form,
                                        f"channel=news&deviceId=d{i}&contentType=vod".encode())
        assert status == 202, status
        loc = next(v for k, v in headers if k.lower() == b"location").decode()
        paths.append(f"/v2/sessions/bench/hb-{i}/{loc}")
    channels = ["news", "sport", "movies", "kids", "music"]

    def heartbeat():
        return call(app, "POST", random.choice(paths), auth)

    def init():
        s = random.randint(1, args.subjects)
        body = (f"channel={random.choice(channels)}&deviceId=dev-{s}-{random.randint(1, 4)}&contentType="
                f"{random.choice(['live', 'vod'])}&platform=web").encode()
        return call(app, "POST", f"/v2/sessions/bench/init-{s}", form, body)

    def running():
        return call(app, "GET", f"/v2/runningStreams/bench/hb-{random.randint(1, args.subjects)}", auth)

    cases = {"heartbeat": heartbeat, "init": init, "runningStreams": running}
    streams = []
    for i in range(1, args.subjects + 1):
        path, token = oxm_call(i)
        headers = [(b"authorization", f"Bearer {token}".encode())]
        status, _, body = await call(app, "PUT", path, headers)
        assert status == 204, (status, body)
        streams.append((path, headers))

    def oxm_streaming():
        path, headers = random.choice(streams)
        return call(app, "PUT", path, headers)

    cases["oxmStreaming"] = oxm_streaming
    import gc

    pauses: list[tuple[int, float]] = []
    started_at = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started_at[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started_at[0]))

    gc.callbacks.append(on_gc)
    only = args.only.split(",") if args.only else list(cases)
    for name in only:
        fn = cases[name]
        for _ in range(200):
            await fn()
        prof = cProfile.Profile() if args.profile == "cprofile" and name == args.profiled else None
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        statuses: dict[int, int] = {}

        async def worker(count: int) -> None:
            for _ in range(count):
                status, _, _ = await fn()
                statuses[status] = statuses.get(status, 0) + 1

        cpu0 = time.process_time()
        await asyncio.gather(*(worker(args.n // args.concurrency) for _ in range(args.concurrency)))
        cpu = time.process_time() - cpu0
        if prof:
            prof.disable()
        dt = time.perf_counter() - t0
        print(f"{args.store:<9}{name:<16}{dt / args.n * 1e6:8.1f} µs/request (wall), {cpu / args.n * 1e6:6.1f} µs CPU"
              f"  statuses {statuses}  "
              + "  ".join(f"gen{g}: {sum(1 for x, _ in pauses if x == g)} collections, max "
                          f"{max((d for x, d in pauses if x == g), default=0) * 1000:.2f} ms" for g in (0, 1, 2)))
        pauses.clear()
        if flushes:
            print(f"{'':<25}journal: {len(flushes)} flushes, thread CPU {sum(c for _, c in flushes) * 1000:.0f} ms "
                  f"({sum(c for _, c in flushes) / args.n * 1e6:.1f} µs per request), longest "
                  f"{max(w for w, _ in flushes) * 1000:.1f} ms")
            flushes.clear()
        if prof:
            pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)
    await stop()
    if args.store == "redis":
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(args.redis)
        async for key in client.scan_iter(match=extra["redis_prefix"] + "*", count=1000):
            await client.unlink(key)
        await client.aclose()


def run_on_uvloop(main_coro) -> None:
    """Run a bench on uvloop, the loop the server uses (the default loop when it is missing)."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main_coro)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="embedded", choices=["embedded", "redis"])
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--only", default="")
    parser.add_argument("--no-pipe", action="store_true", help="Redis through redis-py's pool only")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at once")
    parser.add_argument("--profile", default="none", choices=["none", "cprofile"])
    parser.add_argument("--profiled", default="heartbeat")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=30)
    run_on_uvloop(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
