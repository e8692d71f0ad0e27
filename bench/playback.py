"""Enforced playback bench (issue 23): how fast a terminated viewer is cut off, what the
enforcement costs, how our segment serving compares with nginx's, and the check at 10,000 viewers.

Run: ``python -m bench.playback [--seconds 8] [--trials 50] [--viewers 10000] [--no-redis]``
(also run by ``python -m bench``). Needs `wrk` and nginx (installed with apt-get when missing and
running as root). Every figure is a ratio or a delay measured in this run, printed next to its
target; nothing here is asserted by the tests. Exits non-zero when a run fails.

1. **Enforcement delay**: 50 viewers (each its own subscriber) play through a token, fetching at a
   player's natural rate (one request per segment duration, random phase); each is ended at a
   random moment, by an `X-Terminate` from a fourth device or by a DELETE. Delay: from the answer
   of that call to the viewer's first refused request; median and maximum, per path: straight to
   the server (`/play`), through nginx `auth_request`, through nginx `secure_link` (its first refusal
   is the playlist reload; the signed URLs it still holds die later, also shown).
2. **Cost**, over HTTP with wrk, one server process: `GET /play/verify` (the auth_request check)
   against the `/v2` heartbeat of the same sessions, embedded store and Redis. And a segment
   through enforcement against the same segment without it: the `/play` handler with its check
   against the same handler's media read alone, in process (the server's own per-request work is
   the same for both, so this ratio is a lower bound of the one over HTTP).
3. **Delivery**: our enforced segment serving (`/play/<token>/...`, one server process) against nginx
   serving the same segment files (one worker), and nginx enforcing with auth_request for context.
4. **Scale**: 10,000 enforced viewers on one process, each fetching a segment per segment duration
   and reloading its playlist as often, in process (no HTTP), embedded store and Redis: p50/p99 of
   the check itself (the target), and of the time from the moment each fetch was due to its
   answer (waiting behind the other fetches and the store's own work included).

wrk figures are noisy when other work shares the machine: the load average is printed with them,
and `cpu µs` (server CPU per request, all its processes) is the steadier figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .cm import Proc, RunFailed, ensure_wrk, free_port, tree_cpu, verdict, wait_ready, wrk

APP = "play-app"
AUTH = ("play-app", "")
ADMIN_KEY = "bench-admin-key-0123456789"
ADMIN_PASSWORD = "bench-admin-password-1"
EDGE_SECRET = "bench-edge-secret-0123456789abcdef"
CONFIG = f"""
[[tenants]]
id = "benchplay"
name = "Bench playback"

[[policies]]
id = "three"
tenant = "benchplay"
name = "3 streams"
  [[policies.rules]]
  name = "3 streams"
  threshold = 3

[[applications]]
id = "{APP}"
tenant = "benchplay"
name = "Playback bench"
heartbeatInterval = 60
policies = ["three"]
"""
TARGETS = {"delay_extra": 1.0, "verify": 0.8, "segment": 0.8, "delivery": 0.5, "p99_ms": 5.0}
LUA = {
    "heartbeat": """
local ids = {}
for line in io.lines(os.getenv("BENCH_LINES")) do ids[#ids + 1] = line end
local auth = os.getenv("BENCH_AUTH")
request = function()
  return wrk.format("POST", ids[math.random(#ids)], {["Authorization"] = auth}, nil)
end
""",
    "verify": """
local uris = {}
for line in io.lines(os.getenv("BENCH_LINES")) do uris[#uris + 1] = line end
request = function()
  return wrk.format("GET", "/play/verify", {["X-Original-URI"] = uris[math.random(#uris)]}, nil)
end
""",
    "get": """
local paths = {}
for line in io.lines(os.getenv("BENCH_LINES")) do paths[#paths + 1] = line end
request = function()
  return wrk.format("GET", paths[math.random(#paths)], nil, nil)
end
""",
}


def ensure_nginx() -> str | None:
    from tests.edge.nginx import nginx_path

    found = nginx_path()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: installing nginx with apt-get", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.call(["apt-get", "install", "-y", "-q", "nginx"], stdout=subprocess.DEVNULL, env=env):
            subprocess.call(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, env=env)
            subprocess.call(["apt-get", "install", "-y", "-q", "nginx"], stdout=subprocess.DEVNULL, env=env)
        found = nginx_path()
    if found is None:
        print("bench needs nginx; install it with: sudo apt-get install -y nginx", file=sys.stderr)
    return found


def serve(port: int, data: Path, redis_url: str | None, prefix: str) -> Proc:
    data.mkdir(parents=True, exist_ok=True)
    config = data / "bench-playback.toml"
    config.write_text(CONFIG)
    env = {"STREAMKEEPER_LOG_LEVEL": "warning", "STREAMKEEPER_ADMIN_KEY": ADMIN_KEY,
           "STREAMKEEPER_ADMIN_PASSWORD": ADMIN_PASSWORD, "STREAMKEEPER_EDGE_SECRET": EDGE_SECRET,
           "STREAMKEEPER_SECRET": "b" * 32}
    if redis_url:
        env |= {"STREAMKEEPER_REDIS_URL": redis_url, "STREAMKEEPER_REDIS_PREFIX": prefix}
    return Proc([sys.executable, "-m", "streamkeeper", "serve", "--port", str(port), "--data-dir", str(data),
                 "--config", str(config)], env)


def drop_redis(url: str, prefix: str) -> None:
    import redis

    r = redis.Redis.from_url(url)
    for key in r.scan_iter(match=prefix + "*", count=1000):
        r.delete(key)
    r.close()


def import_video(url: str, seconds: int) -> str:
    """Import a test clip (segments of about two seconds) and grant it to the bench application."""
    from streamkeeper.media.testsignal import make_clip

    with tempfile.TemporaryDirectory() as tmp, httpx.Client(base_url=url, timeout=120) as c:
        clip = make_clip(Path(tmp) / "clip.ts", seconds=seconds)
        r = c.post("/apis/authentication/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        if r.status_code != 201:
            raise RunFailed(f"login: {r.status_code} {r.text[:200]}")
        r = c.post("/apis/assets/import", content=clip.read_bytes(), headers={"content-type": "video/mp2t"})
        if r.status_code != 201:
            raise RunFailed(f"import: {r.status_code} {r.text[:200]}")
        video = r.json()["data"]["id"]
        deadline = time.monotonic() + 120
        while c.get(f"/apis/assets/{video}").json()["data"]["importing"]:
            if time.monotonic() > deadline:
                raise RunFailed("the import did not finish")
            time.sleep(0.1)
        r = c.post("/admin/v1/playback-grants", json={"application": APP, "video": video},
                   headers={"X-Admin-Key": ADMIN_KEY})
        if r.status_code not in (201, 204):
            raise RunFailed(f"grant: {r.status_code} {r.text[:200]}")
    return video


@dataclass
class Viewer:
    subject: str
    sid: str
    path: str  # /play/<token>/index.m3u8

    @property
    def base(self) -> str:
        return self.path.rsplit("/", 1)[0]


async def start_viewers(url: str, video: str, n: int, prefix: str) -> list[Viewer]:
    """`n` subscribers with one stream each and a playback URL for it."""
    viewers: list[Viewer] = []
    async with httpx.AsyncClient(base_url=url, auth=AUTH, timeout=30,
                                 limits=httpx.Limits(max_connections=16)) as c:
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with sem:
                subject = f"{prefix}-{i}"
                r = await c.post(f"/v2/sessions/bench/{subject}")
                if r.status_code != 202:
                    raise RunFailed(f"init: {r.status_code} {r.text[:200]}")
                sid = r.headers["location"]
                r = await c.post(f"/v2/sessions/bench/{subject}/{sid}/playback", data={"video": video})
                if r.status_code != 201:
                    raise RunFailed(f"playback URL: {r.status_code} {r.text[:200]}")
                viewers.append(Viewer(subject, sid, r.json()["path"]))

        await asyncio.gather(*(one(i) for i in range(n)))
    return viewers


def segments_of(url: str, viewer: Viewer) -> tuple[list[str], float, float]:
    """The segment URIs of the video's playlist, their mean and their longest duration."""
    text = httpx.get(url + viewer.path, timeout=30).text
    uris = [line for line in text.splitlines() if line and not line.startswith("#")]
    durations = [float(line[8:].partition(",")[0]) for line in text.splitlines() if line.startswith("#EXTINF:")]
    return uris, sum(durations) / len(durations), max(durations)


def mirror(url: str, viewer: Viewer, uris: list[str], video: str, root: Path) -> None:
    """The edge's copy of the segment files (docs/edge.md: hls/<kind>/<id>/<file>)."""
    for uri in uris:
        r = httpx.get(f"{url}{viewer.base}/{uri}", timeout=30)
        if r.status_code != 200:
            raise RunFailed(f"segment {uri}: {r.status_code}")
        target = root / "hls" / "video" / video / uri
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(r.content)


def start_nginx(work: Path, name: str, http: str):
    from tests.edge.nginx import Nginx

    server = Nginx(work / name, http)
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - its error log is in the message
        raise RunFailed(f"nginx ({name}): {exc}") from None
    return server


def edge_conf(template: str, origin_port: int, files: Path) -> str:
    from tests.edge.nginx import from_template

    docs = Path(__file__).resolve().parent.parent / "docs" / "nginx"
    return from_template(docs / template, {"listen 8080": "listen 127.0.0.1:{port}",
                                           "127.0.0.1:8000": f"127.0.0.1:{origin_port}",
                                           "/srv/streamkeeper": str(files),
                                           **({"CHANGE-ME-edge-secret-32-chars": EDGE_SECRET}
                                              if "secure" in template else {})})


STATIC_CONF = """
server {
    listen 127.0.0.1:{port};
    location /hls/ {
        types { video/mp2t ts; }
        root FILES;
    }
}
"""


# -- wrk -------------------------------------------------------------------------------------------

@dataclass
class Rate:
    rps: float
    non2xx: int
    cpu_us: float | None


def rate(url: str, script: Path, lines: list[str], seconds: int, connections: int, pid: int | None,
         work: Path, warmup: int, extra_env: dict | None = None) -> Rate:
    listing = work / f"lines-{script.stem}-{random.randrange(1 << 30)}.txt"
    listing.write_text("\n".join(lines) + "\n")
    env = {"BENCH_LINES": str(listing), **(extra_env or {})}
    if warmup:
        wrk(url, script, warmup, connections, env)
    cpu0, t0 = (tree_cpu(pid), time.monotonic()) if pid else (0.0, 0.0)
    rps, non2xx, _ = wrk(url, script, seconds, connections, env)
    cpu_us = None
    if pid:
        cpu_us = (tree_cpu(pid) - cpu0) / max(1.0, rps * (time.monotonic() - t0)) * 1e6
    return Rate(rps, non2xx, cpu_us)


# -- enforcement delay ---------------------------------------------------------------------------

@dataclass
class Delays:
    delays: list[float] = field(default_factory=list)
    dead_after: list[float] = field(default_factory=list)  # secure_link: last signed URL refused
    failures: int = 0


async def delay_trials(origin: str, edge: str, viewers: list[Viewer], mode: str, period: float,
                       uris: list[str]) -> Delays:
    """Each viewer plays (one request per `period`, random phase) and is ended at a random moment;
    the delay from the ending call's answer to its first refused request."""
    out = Delays()
    async with httpx.AsyncClient(base_url=origin, auth=AUTH, timeout=30) as api, \
            httpx.AsyncClient(base_url=edge, timeout=30) as player:

        async def end(v: Viewer, i: int) -> float:
            if i % 2:
                for _ in range(2):
                    await api.post(f"/v2/sessions/bench/{v.subject}")
                refused = await api.post(f"/v2/sessions/bench/{v.subject}")
                code = refused.json()["associatedAdvice"][0]["conflicts"][v.sid][0]["terminationCode"]
                r = await api.post(f"/v2/sessions/bench/{v.subject}", headers={"X-Terminate": code})
            else:
                r = await api.delete(f"/v2/sessions/bench/{v.subject}/{v.sid}")
            if r.status_code != 202:
                raise RunFailed(f"ending a stream: {r.status_code} {r.text[:200]}")
            return time.monotonic()

        async def one(v: Viewer, i: int) -> None:
            ended_at: list[float] = []
            loop_start = time.monotonic() + random.uniform(0, period)
            stop_at = time.monotonic() + random.uniform(1.5 * period, 3.0 * period)
            held: str | None = None

            async def terminator() -> None:
                await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
                ended_at.append(await end(v, i))

            task = asyncio.create_task(terminator())
            k = 0
            refused_at = None
            deadline = time.monotonic() + 10 * period + 10
            await asyncio.sleep(max(0.0, loop_start - time.monotonic()))
            while time.monotonic() < deadline:
                tick = time.monotonic()
                if mode == "secure_link":
                    r = await player.get(v.path)
                    if r.status_code == 200:
                        signed = [line for line in r.text.splitlines() if line and not line.startswith("#")]
                        held = signed[k % len(signed)]
                        await player.get(held)
                else:
                    r = await player.get(f"{v.base}/{uris[k % len(uris)]}")
                if r.status_code == 403:
                    refused_at = time.monotonic()
                    break
                k += 1
                await asyncio.sleep(max(0.0, tick + period - time.monotonic()))
            await task
            if refused_at is None or not ended_at:
                out.failures += 1
                return
            out.delays.append(refused_at - ended_at[0])
            if mode == "secure_link" and held is not None:
                while (await player.get(held)).status_code != 403:
                    if time.monotonic() > deadline + 20:
                        out.failures += 1
                        return
                    await asyncio.sleep(0.1)
                out.dead_after.append(time.monotonic() - ended_at[0])

        await asyncio.gather(*(one(v, i) for i, v in enumerate(viewers)))
    return out


# -- in process: segment cost and scale ----------------------------------------------------------

def _read(body) -> bytes:
    return body.read() if hasattr(body, "read") else body


async def segment_ab(data: Path, video: str, file: str, n: int) -> tuple[float, float]:
    """Microseconds per call of the `/play` segment handler (check + media) and of its media read
    alone, on the same data dir (the server has stopped)."""
    from streamkeeper.app import create_app
    from streamkeeper.ops.hot import HotRequest
    from streamkeeper.playback.endpoints import play
    from streamkeeper.playback.media import play_bytes
    from streamkeeper.settings import Settings

    from .inproc import call, lifespan

    settings = Settings(data_dir=data, config=data / "bench-playback.toml", secret="b" * 32, admin_key=ADMIN_KEY,
                        admin_password=ADMIN_PASSWORD, log_level="warning", edge_secret=EDGE_SECRET)
    app = create_app(settings)
    stop = await lifespan(app)
    try:
        import base64

        basic = [(b"authorization", b"Basic " + base64.b64encode(f"{APP}:".encode()))]
        status, headers, _ = await call(app, "POST", "/v2/sessions/bench/ab-1", basic)
        sid = next(v for k, v in headers if k.lower() == b"location").decode()
        service = app.state.playback
        issued = await service.issue_v2(APP, "bench", "ab-1", sid, f"video:{video}")
        state = app.state
        engine = state.hmp_media
        request = HotRequest("GET", f"/play/{issued.token}/{file}", (issued.token, file), b"", [], None, "1.1")
        for _ in range(50):  # warm: caches of the token, the segment index
            assert (await play(service, state, request))[0] == 200
            await play_bytes(engine, f"video:{video}", file)
        timings = {"enforced": [], "bare": []}
        for _ in range(n):  # interleaved, so that both see the same machine
            # (a segment kept as a file comes as an open file, which the server sends with
            # sendfile: read here, in both, as the media read the handler's answer stands for)
            t0 = time.perf_counter()
            _read((await play(service, state, request))[2])
            t1 = time.perf_counter()
            _read((await play_bytes(engine, f"video:{video}", file))[2])
            t2 = time.perf_counter()
            timings["enforced"].append(t1 - t0)
            timings["bare"].append(t2 - t1)
        return (statistics.median(timings["enforced"]) * 1e6, statistics.median(timings["bare"]) * 1e6)
    finally:
        await stop()


async def scale(viewers: int, seconds: float, period: float, redis_url: str | None, work: Path) -> dict:
    """`viewers` enforced viewers in one process; each fetches a segment every `period` and
    reloads its playlist as often (two checks per period), for `seconds`. Latency of each check
    from the moment it was due; p50/p99/max, and checks refused (must be none)."""
    import base64

    from streamkeeper.app import create_app
    from streamkeeper.settings import Settings

    from .inproc import call, lifespan

    data = work / f"scale-{'redis' if redis_url else 'embedded'}"
    data.mkdir(parents=True, exist_ok=True)
    (data / "bench.toml").write_text(CONFIG + f"""
[[playback.grants]]
application = "{APP}"
video = "bench-video"
""")
    prefix = f"skplaybench:{os.getpid()}:"
    extra = {"redis_url": redis_url, "redis_prefix": prefix} if redis_url else {}
    settings = Settings(data_dir=data, config=data / "bench.toml", secret="b" * 32, admin_key=ADMIN_KEY,
                        admin_password=ADMIN_PASSWORD, log_level="warning", **extra)
    app = create_app(settings)
    stop = await lifespan(app)
    try:
        basic = [(b"authorization", b"Basic " + base64.b64encode(f"{APP}:".encode()))]
        service = app.state.playback
        tokens: list[str] = []
        for i in range(viewers):
            status, headers, body = await call(app, "POST", f"/v2/sessions/bench/s-{i}", basic)
            if status != 202:
                raise RunFailed(f"scale init: {status} {body[:200]!r}")
            sid = next(v for k, v in headers if k.lower() == b"location").decode()
            tokens.append((await service.issue_v2(APP, "bench", f"s-{i}", sid, "video:bench-video")).token)
        # Each viewer: two fetches per period (segment, playlist), at its own phase.
        due = sorted(((random.uniform(0, period) + j * period / 2) % period, i) for i in range(viewers)
                     for j in range(2))
        latencies: list[float] = []
        refused = 0
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.5
        end = start + seconds
        rounds = made = 0
        pending: set[asyncio.Task] = set()
        from streamkeeper.ops.hot import StepsInline

        inline = isinstance(service.store, StepsInline)
        cpu0 = time.process_time()

        own: list[float] = []

        async def check(token: str, at: float) -> None:
            nonlocal refused
            began = time.perf_counter()
            verdict = await service.check(token, None, service.clock())
            own.append(time.perf_counter() - began)
            latencies.append(loop.time() - at)
            if not verdict.ok:
                refused += 1

        while True:
            base = start + rounds * period
            if base >= end:
                break
            for offset, i in due:
                at = base + offset
                if at >= end:
                    break
                wait = at - loop.time()
                if wait > 0:  # (the checks made so far run meanwhile)
                    await asyncio.sleep(wait)
                elif made % 32 == 0:  # behind schedule: still let the checks made so far run
                    await asyncio.sleep(0)
                made += 1
                if inline:  # as the server's lane runs it: no task when the store needs no wait
                    await check(tokens[i], at)
                    continue
                task = asyncio.ensure_future(check(tokens[i], at))
                pending.add(task)
                task.add_done_callback(pending.discard)
            rounds += 1
        if pending:
            await asyncio.gather(*pending)
        cpu = time.process_time() - cpu0
        latencies.sort()
        own.sort()
        pick = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000  # noqa: E731
        import resource

        return {"checks": len(latencies), "rate": len(latencies) / seconds, "p50": pick(latencies, 0.50),
                "p99": pick(latencies, 0.99), "max": latencies[-1] * 1000, "own_p50": pick(own, 0.5),
                "own_p99": pick(own, 0.99), "cpu_us": cpu / max(1, len(latencies)) * 1e6, "refused": refused,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    finally:
        await stop()
        if redis_url:
            drop_redis(redis_url, prefix)


# -- the run -------------------------------------------------------------------------------------

def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="measured seconds of each wrk run")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--sessions", type=int, default=4000,
                        help="viewers behind the wrk runs (enough that no heartbeat meets the 200 a minute limit)")
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--viewers", type=int, default=10_000, help="viewers of the scale run")
    parser.add_argument("--scale-seconds", type=float, default=20.0)
    parser.add_argument("--clip", type=int, default=10, help="seconds of the test video")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--only", default="delay,cost,delivery,scale")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if not ensure_wrk() or not ensure_nginx():
        return 2
    work = Path(tempfile.mkdtemp(prefix="skplaybench-"))
    lines: list[str] = []
    failed: list[str] = []
    say = lines.append
    scripts = {}
    for name, body in LUA.items():
        scripts[name] = work / f"{name}.lua"
        scripts[name].write_text("math.randomseed(os.time())\n" + body)
    data = work / "data"
    files = work / "edge-files"
    video = ""
    period = longest = 2.0  # a player's request period (the mean segment), the longest segment
    uris: list[str] = []
    stores = [("embedded", None)] + ([] if args.no_redis else [("redis", args.redis)])
    try:
        for label, redis_url in stores:
            prefix = f"skplay:{os.getpid()}:"
            port = free_port()
            server = serve(port, data, redis_url, prefix)
            nginxes = []
            try:
                url = f"http://127.0.0.1:{port}"
                wait_ready(url + "/v2/metadata", proc=server)
                if not video:
                    video = import_video(url, args.clip)
                viewers = asyncio.run(start_viewers(url, video, args.sessions, f"{label}-v"))
                if not uris:
                    uris, period, longest = segments_of(url, viewers[0])
                    mirror(url, viewers[0], uris, video, files)
                segs = [f"{v.base}/{uris[i % len(uris)]}" for i, v in enumerate(viewers)]
                pid = server.p.pid
                if "cost" in parts:
                    beats = [f"/v2/sessions/bench/{v.subject}/{v.sid}" for v in viewers]
                    import base64

                    auth = {"BENCH_AUTH": "Basic " + base64.b64encode(f"{APP}:".encode()).decode()}
                    hb = rate(url, scripts["heartbeat"], beats, args.seconds, args.connections, pid, work,
                              args.warmup, auth)
                    ver = rate(url, scripts["verify"], segs, args.seconds, args.connections, pid, work, args.warmup)
                    ratio = ver.rps / hb.rps
                    say(f"cost/{label}: /play/verify {ver.rps:.0f} req/s ({ver.cpu_us:.0f} µs cpu), /v2 heartbeat "
                        f"{hb.rps:.0f} req/s ({hb.cpu_us:.0f} µs cpu): {ratio:.2f}x (cpu {hb.cpu_us / ver.cpu_us:.2f}x), "
                        f"target >= {TARGETS['verify']}: {verdict(ratio >= TARGETS['verify'])}"
                        f"{'' if not (ver.non2xx or hb.non2xx) else f' NON-2XX {ver.non2xx}/{hb.non2xx}'}")
                if "delivery" in parts and label == "embedded":
                    ours = rate(url, scripts["get"], segs, args.seconds, args.connections, pid, work, args.warmup)
                    static = start_nginx(work, "static", STATIC_CONF.replace("FILES", str(files)))
                    nginxes.append(static)
                    paths = [f"/hls/video/{video}/{uri}" for uri in uris]
                    theirs = rate(static.url, scripts["get"], paths, args.seconds, args.connections, static.pid, work,
                                  args.warmup)
                    static.stop()
                    auth_edge = start_nginx(work, "auth", edge_conf("auth_request.conf", port, files))
                    nginxes.append(auth_edge)
                    edge = rate(auth_edge.url, scripts["get"], segs, args.seconds, args.connections, None, work,
                                args.warmup)
                    auth_edge.stop()
                    ratio = ours.rps / theirs.rps
                    size = sum((files / "hls" / "video" / video / u).stat().st_size for u in uris) / len(uris)
                    say(f"delivery: /play segment (one server process) {ours.rps:.0f} req/s ({ours.cpu_us:.0f} µs cpu), "
                        f"nginx static (one worker) {theirs.rps:.0f} req/s ({theirs.cpu_us:.0f} µs cpu): {ratio:.2f}x "
                        f"(cpu {theirs.cpu_us / ours.cpu_us:.2f}x), target >= {TARGETS['delivery']}: "
                        f"{verdict(ratio >= TARGETS['delivery'])}; segments of {size / 1024:.0f} KiB")
                    say(f"delivery: nginx with auth_request (each segment asks the server) {edge.rps:.0f} req/s: "
                        f"{edge.rps / theirs.rps:.2f}x nginx static, {edge.rps / ours.rps:.2f}x /play"
                        f"{'' if not (ours.non2xx or theirs.non2xx or edge.non2xx) else ' NON-2XX'}")
                if "delay" in parts and label == "embedded":
                    auth_edge = start_nginx(work, "auth-delay", edge_conf("auth_request.conf", port, files))
                    signed_edge = start_nginx(work, "signed-delay", edge_conf("secure_link.conf", port, files))
                    nginxes += [auth_edge, signed_edge]
                    for mode, edge_url in (("direct", url), ("auth_request", auth_edge.url),
                                           ("secure_link", signed_edge.url)):
                        trial = asyncio.run(start_viewers(url, video, args.trials, f"delay-{mode}"))
                        got = asyncio.run(delay_trials(url, edge_url, trial, mode, period, uris))
                        worst = max(got.delays) if got.delays else float("inf")
                        bound = longest + TARGETS["delay_extra"]
                        ok = not got.failures and worst <= bound and len(got.delays) == args.trials
                        say(f"delay/{mode}: {len(got.delays)} trials, {summary(got.delays)} from the ending answer "
                            f"to the first 403 (segments of {period:.2f} s, longest {longest:.2f} s, a request each "
                            f"{period:.2f} s; target <= {bound:.2f} s: {verdict(ok)})"
                            f"{f', {got.failures} FAILED' if got.failures else ''}")
                        if mode == "secure_link":
                            limit = 3 * longest
                            ok = bool(got.dead_after) and max(got.dead_after) <= limit
                            say(f"delay/secure_link: signed URLs still held refused after {summary(got.dead_after)} "
                                f"(bound: 3 segments, {limit:.2f} s: {verdict(ok)})")
                    auth_edge.stop()
                    signed_edge.stop()
            except RunFailed as exc:
                print(f"bench: {label}: {exc}", file=sys.stderr)
                failed.append(label)
            finally:
                for n in nginxes:
                    n.stop()
                server.stop()
                if redis_url:
                    drop_redis(redis_url, prefix)
        if "cost" in parts and video:
            enforced, bare = asyncio.run(segment_ab(data, video, uris[0], 2000))
            ratio = bare / enforced
            say(f"cost: /play segment handler {enforced:.0f} µs, its media read alone {bare:.0f} µs: "
                f"{ratio:.2f}x the rate without enforcement (in process, a lower bound over HTTP), "
                f"target >= {TARGETS['segment']}: {verdict(ratio >= TARGETS['segment'])}")
        if "scale" in parts:
            for label, redis_url in stores:
                try:
                    got = asyncio.run(scale(args.viewers, args.scale_seconds, period, redis_url, work))
                except RunFailed as exc:
                    print(f"bench: scale/{label}: {exc}", file=sys.stderr)
                    failed.append(f"scale/{label}")
                    continue
                ok = got["own_p99"] <= TARGETS["p99_ms"] and not got["refused"]
                say(f"scale/{label}: {args.viewers} viewers, {got['rate']:.0f} checks/s for {args.scale_seconds:.0f} s: "
                    f"the check p50 {got['own_p50']:.3f} ms, p99 {got['own_p99']:.3f} ms (target <= "
                    f"{TARGETS['p99_ms']:.0f} ms: {verdict(ok)}); from when each fetch was due (waiting behind the "
                    f"others included) p50 {got['p50']:.2f} ms, p99 {got['p99']:.2f} ms, max {got['max']:.1f} ms; "
                    f"{got['cpu_us']:.0f} µs of process CPU per check, {got['refused']} refused, peak RSS "
                    f"{got['rss_mb']:.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(f"\nstreamkeeper playback bench — {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, load "
          f"average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, wrk -t1 -c{args.connections} -d{args.seconds}s after "
          f"{args.warmup}s of warm-up, {args.sessions} sessions, one server process, one nginx worker")
    for line in lines:
        print(line)
    if failed:
        print(f"bench: failed runs: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
