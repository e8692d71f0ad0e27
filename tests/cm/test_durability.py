"""A real server process killed with SIGKILL and restarted still knows every acknowledged session."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.oxm.conftest import es_keys  # noqa: F401 - a fixture used here too
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


async def test_a_journal_that_refuses_writes_gets_503_and_keeps_nothing(tmp_path, wire, es_keys):
    """The embedded journal cannot be written (SQLite refuses: read only): a start, a stop and an
    OXM stream start answer 503 with Retry-After in their own error bodies, and none of them is
    kept; once writes work again, the same calls succeed."""
    from streamkeeper.oxm.tokens import mint
    from tests.conftest import FakeClock, Running, make_settings
    from tests.oxm.conftest import ACME_KEY, write_config
    from tests.scale.conftest import CONFIG as CM_CONFIG

    clock = FakeClock()
    # The OXM tenants and keys, and the scale tests' `/v2` catalog (demo-app: 3 streams).
    settings = make_settings(tmp_path, config=write_config(tmp_path / "conf", es_keys[1], CM_CONFIG))
    running = Running(settings, clock, wire=wire)
    async with running as c:
        journal = running.app.state.concurrency.store._journal
        bearer = {"Authorization": f"Bearer {mint(ACME_KEY, 'ann', now=clock.now)}"}
        kept = (await c.post("/v2/sessions/adobe/ro", auth=("demo-app", ""))).headers["location"]
        journal._conn.execute("PRAGMA query_only=1")
        start = await c.post("/v2/sessions/adobe/ro", auth=("demo-app", ""))
        assert start.status_code == 503 and int(start.headers["Retry-After"]) >= 1
        assert start.json()["associatedAdvice"][0]["type"] == "service-unavailable"
        stop = await c.delete(f"/v2/sessions/adobe/ro/{kept}", auth=("demo-app", ""))
        assert stop.status_code == 503
        stream = await c.put("/oxm/v1/streams/film/streaming?device=tv", headers=bearer)
        assert stream.status_code == 503 and stream.json()["code"] == 1500 and stream.headers["Retry-After"]
        running_now = (await c.get("/v2/runningStreams/adobe/ro", auth=("demo-app", ""))).json()
        assert [s["sessionId"] for s in running_now["runningStreams"]] == [kept]
        assert (await c.get("/oxm/v1/streams/counts", headers=bearer)).json() == {}
        journal._conn.execute("PRAGMA query_only=0")
        assert (await c.delete(f"/v2/sessions/adobe/ro/{kept}", auth=("demo-app", ""))).status_code == 202
        assert (await c.put("/oxm/v1/streams/film/streaming?device=tv", headers=bearer)).status_code == 204
