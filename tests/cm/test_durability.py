"""A real server process killed with SIGKILL and restarted still knows every acknowledged session."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.process import AUTH, Server


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path / "data")
    yield srv
    if srv.proc and srv.proc.poll() is None:
        srv.kill()


async def test_sessions_survive_kill_and_restart(server):
    server.start()
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH) as c:
        kept = [(await c.post("/v2/sessions/adobe/viewer")).headers["location"] for _ in range(2)]
        stopped = (await c.post("/v2/sessions/adobe/viewer")).headers["location"]
        assert (await c.delete(f"/v2/sessions/adobe/viewer/{stopped}")).status_code == 202
        # A heartbeat that adds metadata is a durable change too.
        beat = await c.post(f"/v2/sessions/adobe/viewer/{kept[0]}", data={"deviceId": "tv-1"})
        assert beat.status_code == 202
    server.kill()
    server.start()
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH) as c:
        running = (await c.get("/v2/runningStreams/adobe/viewer")).json()["runningStreams"]
        assert {s["sessionId"] for s in running} == set(kept)
        assert next(s for s in running if s["sessionId"] == kept[0])["metadata"] == {"deviceId": "tv-1"}
        assert (await c.post(f"/v2/sessions/adobe/viewer/{stopped}")).status_code == 410
        # The policy still counts the restored sessions: two live, so one more fits and then no more.
        assert (await c.post("/v2/sessions/adobe/viewer")).status_code == 202
        assert (await c.post("/v2/sessions/adobe/viewer")).status_code == 409


async def test_kill_during_load_loses_no_acknowledged_init(server):
    server.start()
    acknowledged: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH, timeout=5,
                                 limits=httpx.Limits(max_connections=20)) as c:
        async def init(n: int) -> None:
            subject = f"s{n % 50}"
            try:
                r = await c.post(f"/v2/sessions/adobe/{subject}")
            except httpx.HTTPError:
                return
            if r.status_code == 202:
                acknowledged.append((subject, r.headers["location"]))

        tasks = [asyncio.create_task(init(n)) for n in range(400)]
        while len(acknowledged) < 40:
            await asyncio.sleep(0.005)
        server.kill()
        await asyncio.gather(*tasks)
    assert len(acknowledged) >= 40
    server.start()
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH) as c:
        for subject, sid in acknowledged:
            r = await c.post(f"/v2/sessions/adobe/{subject}/{sid}")
            assert r.status_code == 202, (subject, sid, r.status_code)


@pytest.mark.parametrize("restart", ["stop", "kill"])
async def test_an_ended_stream_stays_ended_after_a_restart(server, restart):
    """A heartbeat journaled lazily must never overwrite the later ending of its session."""
    server.start()
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH) as c:
        started = [await c.post("/v2/sessions/adobe/restarted") for _ in range(3)]
        first = started[0].headers["location"]
        assert (await c.post(f"/v2/sessions/adobe/restarted/{first}")).status_code == 202
        code = next(s["terminationCode"] for s in (await c.get("/v2/runningStreams/adobe/restarted")).json()[
            "runningStreams"] if s["sessionId"] == first)
        fourth = await c.post("/v2/sessions/adobe/restarted", headers={"X-Terminate": code})
        assert fourth.status_code == 202
        assert (await c.post(f"/v2/sessions/adobe/restarted/{first}")).status_code == 410
        # Heartbeat, then delete, another one: the delete must win too.
        second = started[1].headers["location"]
        assert (await c.post(f"/v2/sessions/adobe/restarted/{second}")).status_code == 202
        assert (await c.delete(f"/v2/sessions/adobe/restarted/{second}")).status_code == 202
        await asyncio.sleep(2)  # past the journal's lazy flush
    getattr(server, restart)()
    server.start()
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH) as c:
        running = (await c.get("/v2/runningStreams/adobe/restarted")).json()["runningStreams"]
        assert {s["sessionId"] for s in running} == {started[2].headers["location"], fourth.headers["location"]}
        assert (await c.post(f"/v2/sessions/adobe/restarted/{first}")).status_code == 410
        assert (await c.post(f"/v2/sessions/adobe/restarted/{second}")).status_code == 410
