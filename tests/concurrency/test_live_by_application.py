"""Live sessions per application (what the usage history's peaks and the dashboard read), the same
on both stores: after starts, heartbeats (plain and with metadata), stops, evictions, expiry and a
restart. On Redis they come from the per-application live indexes the scripts keep."""

from __future__ import annotations

from tests.conftest import ADMIN_KEY, Running, basic

KEY = {"X-Admin-Key": ADMIN_KEY}
DEMO, FIFO = basic("demo-app"), basic("fifo-app")


async def live(running: Running, now: float) -> dict[str, int]:
    store = running.app.state.ctx.concurrency.store
    by_app = await store.live_by_application(now)
    assert await store.count_live(now) == sum(by_app.values())
    return by_app


async def start(client, subject: str, auth) -> str:
    r = await client.post(f"/v2/sessions/adobe/{subject}", auth=auth)
    assert r.status_code == 202, r.text
    return r.headers["location"]


async def test_live_sessions_per_application_follow_every_change(settings, clock):
    running = Running(settings, clock)
    async with running as client:
        policy = {"id": "one", "tenant": "adobe", "name": "One",
                  "rules": [{"name": "1", "threshold": 1, "conflict": "FIFO"}]}
        assert (await client.post("/admin/v1/policies", json=policy, headers=KEY)).status_code == 201
        app = {"id": "fifo-app", "tenant": "adobe", "name": "FIFO", "heartbeatInterval": 60, "policies": ["one"]}
        assert (await client.post("/admin/v1/applications", json=app, headers=KEY)).status_code == 201
        assert await live(running, clock()) == {}

        a1, a2 = await start(client, "alice", DEMO), await start(client, "alice", DEMO)
        await start(client, "bob", DEMO)
        d1 = await start(client, "dave", FIFO)
        d2 = await start(client, "dave", FIFO)  # evicts d1
        assert await live(running, clock()) == {"demo-app": 3, "fifo-app": 1}
        assert (await client.post(f"/v2/sessions/adobe/dave/{d1}", auth=FIFO)).status_code == 409  # evicted

        assert (await client.delete(f"/v2/sessions/adobe/alice/{a2}", auth=DEMO)).status_code == 202
        assert await live(running, clock()) == {"demo-app": 2, "fifo-app": 1}

        clock.advance(50)
        assert (await client.post(f"/v2/sessions/adobe/alice/{a1}", auth=DEMO)).status_code == 202
        r = await client.post(f"/v2/sessions/adobe/dave/{d2}", auth=FIFO, data={"channel": "news"})
        assert r.status_code == 202, r.text  # (a heartbeat with metadata: the general commit)
        clock.advance(50)  # bob's stream, never renewed, is past its expiry and grace
        assert await live(running, clock()) == {"demo-app": 1, "fifo-app": 1}

    running = Running(settings, clock)  # a restart keeps them
    async with running as client:
        assert await live(running, clock()) == {"demo-app": 1, "fifo-app": 1}
        clock.advance(200)
        assert await live(running, clock()) == {}
        await start(client, "bob", DEMO)
        assert await live(running, clock()) == {"demo-app": 1}
