"""No database transaction stays open while a request waits on media: the catalog answers meanwhile."""

from __future__ import annotations

import asyncio
import time

from tests.process import free_udp_port


async def test_catalog_answers_while_a_live_playlist_waits_for_its_first_segment(api):
    c = api.admin
    port = free_udp_port()
    r = await c.post("/apis/sources", json={"name": "silent cam", "type": "UDP", "host": "127.0.0.1",
                                            "port": port, "multicast": False})
    assert r.status_code == 201, r.text
    source = r.json()["data"]["id"]
    # received (its port is bound) but nothing arrives: the playlist waits for a first segment
    waiting = asyncio.create_task(c.get(f"/apis/sources/{source}/hls/live.m3u8"))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    started = time.monotonic()
    r = await c.get(f"/apis/sources/{source}")
    took = time.monotonic() - started
    assert r.status_code == 200 and took < 2.0, took
    r = await c.put(f"/apis/sources/{source}", json={"name": "renamed while waiting"})
    assert r.status_code == 200, r.text
    assert time.monotonic() - started < 4.0
    assert not waiting.done()
    r = await waiting
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
