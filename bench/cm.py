"""Concurrency-monitoring bench: CM heartbeat, init and runningStreams against a bare ASGI
hello-world on the same server stack, first on the embedded store, then on Redis.

Run: ``python -m bench.cm [--seconds 10] [--connections 50] [--subjects 4000]``. Needs `wrk`
(Debian/Ubuntu: ``sudo apt-get install wrk``; macOS: ``brew install wrk``).

For each endpoint: peak req/s (wrk, closed loop), its ratio to the hello-world peak measured in
the same run, and p50/p99 latency at about half of that endpoint's peak (each wrk connection waits
between requests so the offered rate is ~50 % of peak). Many distinct subjects, realistic
metadata (channel, deviceId, contentType), and limits that deny some inits. In Redis mode it also
prints Redis memory per active session (used_memory growth over the sessions created).
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
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1, headers={"Authorization": AUTH})
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Result:
    rps: float
    non2xx: int
    p50: float | None = None
    p99: float | None = None
    half_rps: float | None = None


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, script: Path, seconds: int, connections: int, env: dict) -> tuple[float, int, dict]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, env={**os.environ, **env}, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    lat = {p: _ms(v) for p, v in re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)", out, re.M)}
    return rps, non2xx, lat


def measure(url: str, script: Path, seconds: int, connections: int, env: dict) -> Result:
    rps, non2xx, _ = wrk(url, script, seconds, connections, env)
    # Half load: each connection pauses so that together they offer about half the peak rate.
    half_conns = 16
    delay = max(1, round(half_conns * 1000 / (rps / 2)))
    half_rps, _, lat = wrk(url, script, seconds, half_conns, {**env, "BENCH_DELAY_MS": str(delay)})
    return Result(rps, non2xx, lat.get("50"), lat.get("99"), half_rps)


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


def serve_hello(port: int) -> Proc:
    return Proc([sys.executable, "-m", "uvicorn", "bench.hello:app", "--port", str(port), "--loop", "uvloop",
                 "--http", "httptools", "--no-access-log", "--log-level", "warning", "--no-date-header",
                 "--no-server-header"], {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)})


def serve_streamkeeper(port: int, data: Path, redis_url: str | None) -> Proc:
    config = data / "bench.toml"
    data.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG)
    env = {"STREAMKEEPER_LOG_LEVEL": "warning"}
    if redis_url:
        env["STREAMKEEPER_REDIS_URL"] = redis_url
        env["STREAMKEEPER_REDIS_PREFIX"] = "skbench:"
    return Proc([sys.executable, "-m", "streamkeeper", "serve", "--port", str(port), "--data-dir", str(data),
                 "--config", str(config)], env)


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


def redis_used_memory(url: str) -> int:
    import redis

    return int(redis.Redis.from_url(url).info("memory")["used_memory"])


def run_store(label: str, redis_url: str | None, args, work: Path, scripts: dict) -> tuple[dict, float | None]:
    port = free_port()
    if redis_url:
        import redis

        r = redis.Redis.from_url(redis_url)
        for key in r.scan_iter("skbench:*", count=1000):
            r.delete(key)
    server = serve_streamkeeper(port, work / label, redis_url)
    url = f"http://127.0.0.1:{port}"
    results: dict[str, Result] = {}
    per_session = None
    try:
        wait_ready(url + "/v2/metadata")
        before = redis_used_memory(redis_url) if redis_url else 0
        paths = asyncio.run(create_sessions(url, args.subjects))
        if redis_url:
            per_session = (redis_used_memory(redis_url) - before) / max(1, len(paths))
        ids = work / f"{label}-ids.txt"
        ids.write_text("\n".join(paths) + "\n")
        env = {"BENCH_IDS": str(ids), "BENCH_SUBJECTS": str(args.subjects)}
        for name in ("heartbeat", "init", "runningStreams"):
            results[name] = measure(url, scripts[name], args.seconds, args.connections, env)
    finally:
        server.stop()
    return results, per_session


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--subjects", type=int, default=4000)
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench needs wrk: `sudo apt-get install wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)",
              file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="skbench-"))
    try:
        scripts = {}
        for name, body in LUA.items():
            scripts[name] = work / f"{name}.lua"
            scripts[name].write_text(LUA_COMMON + body)
        port = free_port()
        hello = serve_hello(port)
        try:
            wait_ready(f"http://127.0.0.1:{port}/")
            base = measure(f"http://127.0.0.1:{port}", scripts["hello"], args.seconds, args.connections, {})
        finally:
            hello.stop()
        rows = [("baseline", "hello-world", base)]
        memory = None
        stores = [("embedded", None)] + ([] if args.no_redis else [("redis", args.redis)])
        for label, redis_url in stores:
            results, per_session = run_store(label, redis_url, args, work, scripts)
            memory = per_session if per_session is not None else memory
            rows += [(label, name, res) for name, res in results.items()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nstreamkeeper CM bench — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
          f"wrk -t1 -c{args.connections} -d{args.seconds}s, {args.subjects} subjects, 1 server process")
    print(f"{'store':<10}{'endpoint':<16}{'req/s':>10}{'x base':>8}{'non-2xx':>9}"
          f"{'half rps':>10}{'p50 ms':>8}{'p99 ms':>8}")
    for store, name, r in rows:
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"{store:<10}{name:<16}{r.rps:>10.0f}{r.rps / base.rps:>8.2f}{r.non2xx:>9}"
              f"{(r.half_rps or 0):>10.0f}{fmt(r.p50):>8}{fmt(r.p99):>8}")
    if memory is not None:
        print(f"Redis memory per active session: {memory:.0f} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
