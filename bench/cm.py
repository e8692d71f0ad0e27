"""Concurrency-monitoring bench: CM heartbeat, init and runningStreams against a bare ASGI
hello-world on the same server stack, first on the embedded store, then on Redis.

Run: ``python -m bench.cm [--seconds 10] [--connections 50] [--subjects 4000] [--server uvicorn|granian]
[--scale]``. Needs `wrk`: installed with apt-get when missing and running as root, else the command
to run is printed. Exits non-zero when a run fails (a server that does not start, wrk failing).

For each endpoint, after a few unmeasured seconds of the same load (``--warmup``; the baseline's
too): peak req/s (wrk, closed loop), its ratio to the hello-world peak measured in
the same run, and p50/p99 latency at about half of that endpoint's peak (each wrk connection waits
between requests so the offered rate is ~50 % of peak). Many distinct subjects, realistic
metadata (channel, deviceId, contentType), and limits that deny some inits. In Redis mode it also
prints Redis memory per active session (MEMORY USAGE of every bench key over the sessions created). OXM
`streaming` renewals (a JWT per viewer, one stream each) are measured beside the `/v2` heartbeat.
Every ratio and p99 is printed next to its target. ``--scale`` adds Redis with two workers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

# Ratio to the hello-world peak each endpoint must reach, per store (issue 10), and p99 at half load.
TARGETS = {
    "embedded": {"heartbeat": 0.6, "init": 0.4, "runningStreams": 0.6, "oxmStreaming": 0.6},
    "redis": {"heartbeat": 0.3, "init": 0.2, "runningStreams": 0.3, "oxmStreaming": 0.3},
}
P99_TARGET_MS = 5.0
MEMORY_TARGET = 1024
OXM_SECRET = "bench-oxm-secret-of-at-least-32-bytes!"
APP = "bench-app"
AUTH = "Basic " + base64.b64encode(f"{APP}:".encode()).decode()
CONFIG = f"""
[[tenants]]
id = "bench"
name = "Bench"

[[policies]]
id = "bench-policy"
tenant = "bench"
name = "Bench policy"
  [[policies.rules]]
  name = "3 streams"
  threshold = 3
  [[policies.rules]]
  name = "2 per channel"
  threshold = 2
  scope = ["channel"]
  [[policies.rules]]
  name = "2 live devices"
  threshold = 2
  distinct = "deviceId"
  condition = "contentType = live"
  conflict = "FIFO"

[[applications]]
id = "{APP}"
tenant = "bench"
name = "Bench app"
heartbeatInterval = 600
policies = ["bench-policy"]

[[oxm.tokenKeys]]
id = "bench-hs"
tenant = "bench"
algorithm = "HS256"
secret = "{OXM_SECRET}"
issuer = "bench-idp"
audience = "bench-oxm"

[[oxm.streamPolicies]]
tenant = "bench"
maxPerUser = 3
maxPerAsset = 2
maxDevices = 2
"""

LUA_COMMON = f"""
local auth = "{AUTH}"
math.randomseed(os.time())
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
function delay() return pause end
"""
LUA = {
    "hello": 'wrk.method = "GET"\nwrk.path = "/"\n',
    "heartbeat": """
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
request = function()
  local path = ids[math.random(#ids)]
  return wrk.format("POST", path, {["Authorization"] = auth}, nil)
end
""",
    "init": """
local subjects = tonumber(os.getenv("BENCH_SUBJECTS"))
local channels = {"news", "sport", "movies", "kids", "music"}
request = function()
  local s = math.random(subjects)
  local body = "channel=" .. channels[math.random(#channels)] .. "&deviceId=dev-" .. s .. "-" ..
    math.random(4) .. "&contentType=" .. (math.random(2) == 1 and "live" or "vod") .. "&platform=web"
  return wrk.format("POST", "/v2/sessions/bench/init-" .. s,
    {["Authorization"] = auth, ["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
""",
    "runningStreams": """
local subjects = tonumber(os.getenv("BENCH_SUBJECTS"))
request = function()
  return wrk.format("GET", "/v2/runningStreams/bench/hb-" .. math.random(subjects), {["Authorization"] = auth}, nil)
end
""",
    # Each line: "<path>\t<bearer token>" of a stream started before the run: every call renews.
    "oxmStreaming": """
local calls = {}
for line in io.lines(os.getenv("BENCH_OXM")) do
  local path, token = line:match("([^\t]+)\t(.+)")
  calls[#calls + 1] = {path, "Bearer " .. token}
end
request = function()
  local c = calls[math.random(#calls)]
  return wrk.format("PUT", c[1], {["Authorization"] = c[2]}, nil)
end
""",
}
ENDPOINTS = ("heartbeat", "init", "runningStreams", "oxmStreaming")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunFailed(Exception):
    """A server that did not start or a load generator that failed: the bench cannot conclude."""


def ensure_wrk() -> bool:
    """True when wrk is on PATH, after installing it with apt-get if that is possible here."""
    if shutil.which("wrk"):
        return True
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: installing wrk with apt-get", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        quiet = {"stdout": subprocess.DEVNULL, "env": env}
        if subprocess.call(["apt-get", "install", "-y", "-q", "wrk"], **quiet) != 0:
            subprocess.call(["apt-get", "update", "-q"], **quiet)
            subprocess.call(["apt-get", "install", "-y", "-q", "wrk"], **quiet)
        if shutil.which("wrk"):
            return True
    command = "brew install wrk" if sys.platform == "darwin" else "sudo apt-get install -y wrk"
    print(f"bench needs wrk; install it with: {command}", file=sys.stderr)
    return False


def wait_ready(url: str, timeout: float = 60, proc: "Proc | None" = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.p.poll() is not None:
            raise RunFailed(f"the server exited with status {proc.p.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1, headers={"Authorization": AUTH})
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RunFailed(f"{url} did not come up in {timeout:.0f} s")


@dataclass
class Result:
    rps: float
    non2xx: int
    p50: float | None = None
    p99: float | None = None
    half_rps: float | None = None
    cpu_us: float | None = None  # server CPU (all its processes) per request at peak


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by `pid` and every live descendant (Linux /proc; 0 elsewhere).

    Per-request server CPU is what the ratios come from on a quiet machine, and unlike req/s it
    stays meaningful when other work shares the cores."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, wanted = 0.0, {pid}
    changed = True
    while changed:
        changed = False
        for child, (parent, _) in stats.items():
            if parent in wanted and child not in wanted:
                wanted.add(child)
                changed = True
    for p in wanted:
        total += stats.get(p, (0, 0.0))[1]
    return total


def wrk(url: str, script: Path, seconds: int, connections: int, env: dict) -> tuple[float, int, dict]:
    run = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, env={**os.environ, **env},
    )
    out = run.stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if run.returncode != 0 or found is None:
        raise RunFailed(f"wrk failed on {url} ({script.name}): {run.stderr.strip() or out.strip()}"[:2000])
    if "Socket errors" in out:
        print(f"bench: wrk reported socket errors on {script.stem}: "
              f"{re.search(r'Socket errors:.*', out).group(0)}", file=sys.stderr)
    rps = float(found.group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    lat = {p: _ms(v) for p, v in re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", out, re.M)}
    return rps, non2xx, lat


def measure(url: str, script: Path, seconds: int, connections: int, env: dict, pid: int | None = None,
            warmup: int = 0) -> Result:
    if warmup:  # not measured: the server reaches the steady state of this endpoint first
        wrk(url, script, warmup, connections, env)
    cpu0, t0 = (tree_cpu(pid), time.monotonic()) if pid else (0.0, 0.0)
    rps, non2xx, _ = wrk(url, script, seconds, connections, env)
    cpu_us = None
    if pid:
        requests = rps * (time.monotonic() - t0)  # wrk's rate over its run, close enough to count
        cpu_us = (tree_cpu(pid) - cpu0) / max(1.0, requests) * 1e6
    # Half load: each connection pauses so that together they offer about half the peak rate.
    half_conns = 16
    delay = max(1, round(half_conns * 1000 / (rps / 2)))
    half_rps, _, lat = wrk(url, script, seconds, half_conns, {**env, "BENCH_DELAY_MS": str(delay)})
    return Result(rps, non2xx, lat.get("50"), lat.get("99"), half_rps, cpu_us)


class Proc:
    def __init__(self, args: list[str], env: dict) -> None:
        self.p = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()


def serve_hello(port: int, server: str = "uvicorn") -> Proc:
    env = {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    if server == "granian":
        return Proc([sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port",
                     str(port), "--loop", "uvloop", "--no-ws", "--log-level", "warning", "bench.hello:app"], env)
    return Proc([sys.executable, "-m", "uvicorn", "bench.hello:app", "--port", str(port), "--loop", "uvloop",
                 "--http", "httptools", "--no-access-log", "--log-level", "warning", "--no-date-header",
                 "--no-server-header"], env)


def serve_streamkeeper(port: int, data: Path, redis_url: str | None, server: str = "uvicorn",
                       workers: int = 1) -> Proc:
    config = data / "bench.toml"
    data.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG)
    env = {"STREAMKEEPER_LOG_LEVEL": "warning"}
    if redis_url:
        env["STREAMKEEPER_REDIS_URL"] = redis_url
        env["STREAMKEEPER_REDIS_PREFIX"] = "skbench:"
    args = [sys.executable, "-m", "streamkeeper", "serve", "--port", str(port), "--data-dir", str(data),
            "--config", str(config)]
    if server != "uvicorn":
        args += ["--server", server]
    if workers > 1:
        args += ["--workers", str(workers)]
    return Proc(args, env)


async def create_sessions(url: str, subjects: int) -> list[str]:
    paths: list[str] = []
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": AUTH}, limits=limits) as c:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with sem:
                r = await c.post(f"/v2/sessions/bench/hb-{i}", data={
                    "channel": random.choice(["news", "sport"]), "deviceId": f"d{i}", "contentType": "vod"})
                if r.status_code == 202:
                    paths.append(f"/v2/sessions/bench/hb-{i}/{r.headers['location']}")

        await asyncio.gather(*(one(i) for i in range(1, subjects + 1)))
    return paths


def oxm_call(i: int) -> tuple[str, str]:
    """Path and bearer token of viewer `i`'s OXM stream (one asset, one device each)."""
    from streamkeeper.oxm.tokens import TokenKey, mint

    key = TokenKey("bench-hs", "bench", "HS256", OXM_SECRET, "bench-idp", "bench-oxm")
    return f"/oxm/v1/streams/asset-{i % 50}/streaming?device=dev-{i}", mint(key, f"viewer-{i}", ttl=7 * 24 * 3600)


async def create_streams(url: str, viewers: int) -> list[str]:
    """One OXM stream per viewer (its own JWT): lines "<path>\t<token>" that renew it."""
    lines: list[str] = []
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=32)) as c:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            path, token = oxm_call(i)
            async with sem:
                r = await c.put(path, headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 204:
                lines.append(f"{path}\t{token}")

        await asyncio.gather(*(one(i) for i in range(1, viewers + 1)))
    return lines


def redis_memory(url: str, prefix: str = "skbench:") -> int:
    """Bytes Redis uses for the bench's own keys (MEMORY USAGE of each, every field sampled):
    exact, and unaffected by whatever else shares the server."""
    import redis

    client = redis.Redis.from_url(url)
    total = 0
    for key in client.scan_iter(match=prefix + "*", count=1000):
        total += int(client.memory_usage(key, samples=0) or 0)
    client.close()
    return total


def run_store(label: str, redis_url: str | None, args, work: Path, scripts: dict, workers: int = 1,
              endpoints: tuple[str, ...] = ENDPOINTS) -> tuple[dict, float | None]:
    port = free_port()
    if redis_url:
        import redis

        r = redis.Redis.from_url(redis_url)
        for key in r.scan_iter("skbench:*", count=1000):
            r.delete(key)
    server = serve_streamkeeper(port, work / label, redis_url, args.server, workers)
    url = f"http://127.0.0.1:{port}"
    results: dict[str, Result] = {}
    per_session = None
    try:
        wait_ready(url + "/v2/metadata", proc=server)
        paths = asyncio.run(create_sessions(url, args.subjects))
        if redis_url:
            per_session = redis_memory(redis_url) / max(1, len(paths))
        if not paths:
            raise RunFailed(f"{label}: no session could be started")
        ids = work / f"{label}-ids.txt"
        ids.write_text("\n".join(paths) + "\n")
        env = {"BENCH_IDS": str(ids), "BENCH_SUBJECTS": str(args.subjects)}
        if "oxmStreaming" in endpoints:
            streams = asyncio.run(create_streams(url, args.subjects))
            if not streams:
                raise RunFailed(f"{label}: no OXM stream could be started")
            oxm = work / f"{label}-oxm.txt"
            oxm.write_text("\n".join(streams) + "\n")
            env["BENCH_OXM"] = str(oxm)
        for name in endpoints:
            results[name] = measure(url, scripts[name], args.seconds, args.connections, env, server.p.pid,
                                    args.warmup)
    finally:
        server.stop()
    return results, per_session


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3,
                        help="seconds of load before each measured run, the baseline's too (0: none); the init's "
                             "first seconds otherwise fill 4000 empty viewers, a workload of its own")
    parser.add_argument("--subjects", type=int, default=4000)
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn",
                        help="the HTTP server of both the baseline and streamkeeper")
    parser.add_argument("--scale", action="store_true", help="also bench Redis with two workers (heartbeat)")
    parser.add_argument("--only", default=",".join(ENDPOINTS), help="comma-separated endpoints to bench")
    args = parser.parse_args()
    if not ensure_wrk():
        return 2
    endpoints = tuple(e for e in args.only.split(",") if e in ENDPOINTS)
    work = Path(tempfile.mkdtemp(prefix="skbench-"))
    rows: list[tuple[str, str, Result]] = []
    failures: list[str] = []
    memory = None
    try:
        scripts = {}
        for name, body in LUA.items():
            scripts[name] = work / f"{name}.lua"
            scripts[name].write_text(LUA_COMMON + body)
        port = free_port()
        hello = serve_hello(port, args.server)
        try:
            wait_ready(f"http://127.0.0.1:{port}/", proc=hello)
            base = measure(f"http://127.0.0.1:{port}", scripts["hello"], args.seconds, args.connections, {},
                           hello.p.pid, args.warmup)
        finally:
            hello.stop()
        rows.append(("baseline", "hello-world", base))
        stores = [("embedded", None, 1, endpoints)] + ([] if args.no_redis else [("redis", args.redis, 1, endpoints)])
        if args.scale and not args.no_redis:
            # OXM token keys come from the config file, which multi-worker serve applies without
            # its [oxm] section, so the two-worker run measures the /v2 hot paths.
            stores.append(("redis-2w", args.redis, 2, ("heartbeat", "runningStreams")))
        for label, redis_url, workers, wanted in stores:
            try:
                results, per_session = run_store(label, redis_url, args, work, scripts, workers=workers,
                                                 endpoints=wanted)
            except RunFailed as exc:
                print(f"bench: run failed: {exc}", file=sys.stderr)
                failures.append(label)
                continue
            memory = per_session if per_session is not None and workers == 1 else memory
            rows += [(label, name, res) for name, res in results.items()]
    except RunFailed as exc:
        print(f"bench: run failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(f"\nstreamkeeper CM bench — {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, server {args.server}, wrk -t1 -c{args.connections} "
          f"-d{args.seconds}s after {args.warmup}s of warm-up, {args.subjects} subjects, 1 server process unless noted")
    print(f"{'store':<10}{'endpoint':<16}{'req/s':>10}{'x base':>8}{'target':>8}{'':>8}{'non-2xx':>9}"
          f"{'half rps':>10}{'p50 ms':>8}{'p99 ms':>8}{'':>8}{'cpu µs':>8}{'x cpu':>7}")
    single = {(store, name): r.rps for store, name, r in rows}
    for store, name, r in rows:
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        ratio = r.rps / base.rps
        target = TARGETS.get(store, {}).get(name)
        mark = verdict(ratio >= target) if target is not None else ""
        p99_mark = verdict(r.p99 is not None and r.p99 <= P99_TARGET_MS) if store in TARGETS else ""
        print(f"{store:<10}{name:<16}{r.rps:>10.0f}{ratio:>8.2f}{fmt(target):>8}{mark:>8}{r.non2xx:>9}"
              f"{(r.half_rps or 0):>10.0f}{fmt(r.p50):>8}{fmt(r.p99):>8}{p99_mark:>8}"
              f"{fmt(r.cpu_us):>8}{fmt(base.cpu_us / r.cpu_us if r.cpu_us and base.cpu_us else None):>7}")
    for (store, name), rps in single.items():
        if store == "redis-2w" and ("redis", name) in single:
            print(f"two workers on Redis, {name}: {rps / single[('redis', name)]:.2f}x one worker")
    if memory is not None:
        print(f"Redis memory per active session: {memory:.0f} bytes (target <= {MEMORY_TARGET}: "
              f"{verdict(memory <= MEMORY_TARGET)})")
    print(f"p99 target: <= {P99_TARGET_MS:.0f} ms at about half of each endpoint's peak. cpu µs: server CPU per "
          "request at peak (all its processes); x cpu: the baseline's over it, the ratio a quiet machine "
          "would show for a CPU-bound server (Redis's own CPU not included)")
    if failures:
        print(f"bench: failed runs: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
