"""Several server processes sharing one Redis (and one catalog) answer as one server would."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys

import httpx
import orjson
import pytest

from streamkeeper.cli import _prepare_for_workers
from streamkeeper.settings import Settings
from tests.conftest import REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test

from .servers import Server

AUTH = ("demo-app", "")


@pytest.fixture(scope="module")
def redis_env(tmp_path_factory):
    """Settings shared by every process of one test module: Redis under a private prefix and
    one data dir (SQLite catalog, generated session secret and admin key)."""
    redis_available()
    prefix = redis_prefix_for_test()
    data = tmp_path_factory.mktemp("fleet") / "data"
    yield data, {"STREAMKEEPER_REDIS_URL": REDIS_URL, "STREAMKEEPER_REDIS_PREFIX": prefix}
    asyncio.run(drop_redis_keys(REDIS_URL, prefix))


@pytest.fixture(scope="module")
def fleet(redis_env):
    """Four `streamkeeper serve` processes started together on one data dir, the last one
    with two uvicorn workers. The preparation step of `serve --workers` (run here in process)
    filled the data dir first: catalog, session secret and admin key are created once."""
    data, env = redis_env
    _prepare_for_workers(Settings(data_dir=data, redis_url=REDIS_URL))
    servers = [Server(data, env).spawn() for _ in range(3)] + [Server(data, env, workers=2).spawn()]
    try:
        for s in servers:
            s.wait_ready()
        yield servers
    finally:
        for s in servers:
            s.stop()


def client(server: Server) -> httpx.AsyncClient:
    # Idle connections are dropped by the client before the server closes them (uvicorn: 5 s,
    # httpx's default expiry: 5 s as well): otherwise a request sent on a connection the server
    # is closing at that instant gets "Server disconnected" (seen after a long race on a busy machine).
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=2.0)
    return httpx.AsyncClient(base_url=server.url, auth=AUTH, limits=limits, timeout=30)


def clients(servers: list[Server]) -> list[httpx.AsyncClient]:
    return [client(s) for s in servers if s.alive]


async def test_500_racing_inits_through_four_processes_admit_exactly_three(fleet):
    pool = clients(fleet)
    assert len(pool) == 4
    try:
        rr = itertools.cycle(pool)
        answers = await asyncio.gather(*(next(rr).post("/v2/sessions/adobe/racer",
                                                       headers={"X-Request-ID": f"race-{n}"}) for n in range(500)),
                                       return_exceptions=True)
        failed = [(n, repr(a)) for n, a in enumerate(answers) if isinstance(a, BaseException)]
        assert not failed, (failed[:5], [s.log.read_text()[-2000:] for s in fleet])
        assert [r.headers["x-request-id"] for r in answers] == [f"race-{n}" for n in range(500)]
        codes = [r.status_code for r in answers]
        admitted = {r.headers["location"] for r in answers if r.status_code == 202}
        assert len(admitted) == 3
        assert codes.count(409) + codes.count(429) == 497
        # 200 inits a minute per subject, counted across processes (the race may span two windows).
        assert codes.count(429) >= 100
        for c in pool:  # every process sees the same three streams
            running = (await c.get("/v2/runningStreams/adobe/racer")).json()["runningStreams"]
            assert {s["sessionId"] for s in running} == admitted
    finally:
        for c in pool:
            await c.aclose()


async def test_sigterm_lets_the_request_in_flight_finish(fleet):
    """uvicorn stops accepting on SIGTERM but finishes what it is serving: here an init whose
    body is still arriving when the signal comes."""
    server = fleet[2]
    sent_first = asyncio.Event()

    async def slow_body():
        yield b"channel="
        sent_first.set()
        await asyncio.sleep(1.0)
        yield b"news"

    async def terminate():
        await sent_first.wait()
        await asyncio.sleep(0.3)
        server.signal(signal.SIGTERM)

    async with httpx.AsyncClient(base_url=server.url, auth=AUTH, timeout=30) as c:
        r, _ = await asyncio.gather(
            c.post("/v2/sessions/adobe/leaving", content=slow_body(),
                   headers={"Content-Type": "application/x-www-form-urlencoded"}),
            terminate(),
        )
    assert r.status_code == 202
    # uvicorn re-raises the signal it handled once it has shut down cleanly.
    assert server.proc.wait(timeout=15) in (0, -signal.SIGTERM)
    survivor = next(s for s in fleet if s.alive)
    running = httpx.get(f"{survivor.url}/v2/runningStreams/adobe/leaving", auth=AUTH).json()["runningStreams"]
    assert [s["sessionId"] for s in running] == [r.headers["location"]]
    assert running[0]["metadata"] == {"channel": "news"}


async def test_process_killed_mid_load_loses_no_acknowledged_session(fleet):
    running = [s for s in fleet if s.alive]
    victim = next(s for s in running if s.workers == 1)
    running.remove(victim)
    running.insert(0, victim)
    pool = [client(s) for s in running]
    done = 0
    partway = asyncio.Event()
    acknowledged: list[tuple[str, str]] = []

    async def init(client: httpx.AsyncClient, n: int) -> None:
        nonlocal done
        subject = f"viewer{n}"
        try:
            r = await client.post(f"/v2/sessions/adobe/{subject}", data={"n": str(n)})
        except httpx.HTTPError:
            return  # never answered: not acknowledged
        finally:
            done += 1
            if done == 60:
                partway.set()
        if r.status_code == 202:
            acknowledged.append((subject, r.headers["location"]))

    async def killer() -> None:
        await partway.wait()
        victim.kill()

    try:
        await asyncio.gather(killer(), *(init(pool[n % len(pool)], n) for n in range(200)))
        assert not victim.alive
        assert len(acknowledged) >= 60
        survivors = pool[1:]
        beats = await asyncio.gather(*(
            survivors[i % len(survivors)].post(f"/v2/sessions/adobe/{subject}/{sid}")
            for i, (subject, sid) in enumerate(acknowledged)
        ))
        lost = [(a, b.status_code) for a, b in zip(acknowledged, beats) if b.status_code != 202]
        assert lost == []
    finally:
        for c in pool:
            await c.aclose()


def test_workers_need_redis_in_embedded_mode(tmp_path):
    r = subprocess.run([sys.executable, "-m", "streamkeeper", "serve", "--workers", "2", "--data-dir",
                        str(tmp_path / "data")], capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2
    assert "STREAMKEEPER_REDIS_URL" in r.stderr


async def test_worker_processes_log_json_lines_with_request_ids(fleet):
    """The fleet's two-worker server: both workers started, every line logged is a JSON object,
    and each request's access line carries its request id."""
    server = fleet[3]
    async with client(server) as c:
        answers = await asyncio.gather(*(c.get("/v2/runningStreams/adobe/logged", headers={"X-Request-ID": f"log-{n}"})
                                         for n in range(20)))
    assert {r.status_code for r in answers} == {200}
    lines = [orjson.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    assert lines and all(set(line) >= {"ts", "level", "logger", "msg"} for line in lines)
    assert len([line for line in lines if line["msg"].startswith("Started server process")]) == 2
    access = {line["request_id"]: line for line in lines if line.get("logger") == "streamkeeper.access"}
    for n in range(20):
        line = access[f"log-{n}"]
        assert (line["method"], line["route"], line["status"]) == ("GET", "/v2/runningStreams/{idp}/{subject}", 200)
