"""`streamkeeper media test-signal` feeds a real source: it goes active and records what was sent."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.process import free_udp_port

from .test_http import make_session


async def test_test_signal_command_feeds_a_source_that_records_its_duration(api):
    c = api.admin
    port = free_udp_port()
    session, (source,) = await make_session(c, [port])
    assert (await c.get(f"/apis/sources/{source}")).json()["data"]["active"] is False
    rec = (await c.post(f"/apis/sessions/{session}/recordings", json={})).json()["data"]["id"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streamkeeper", "media", "test-signal", f"udp://127.0.0.1:{port}",
        "--seconds", "4", "--restart-every", "2", stderr=asyncio.subprocess.PIPE)
    active = False
    while proc.returncode is None:
        active = active or (await c.get(f"/apis/sources/{source}")).json()["data"]["active"]
        try:
            await asyncio.wait_for(proc.wait(), 0.2)
        except TimeoutError:
            pass
    err = (await proc.stderr.read()).decode()
    assert proc.returncode == 0, err
    assert active and "restarting every 2 s" in err
    await asyncio.sleep(0.3)
    assert (await c.delete(f"/apis/recordings/{rec}")).status_code == 200
    video = (await c.get(f"/apis/assets/{rec}")).json()["data"]
    # the recording starts at the first keyframe it sees and ends before the last, unfinished picture
    assert video["duration"] == pytest.approx(4.0, abs=0.15)


async def test_test_signal_command_refuses_what_it_cannot_send():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streamkeeper", "media", "test-signal", "srt://127.0.0.1:5000",
        stderr=asyncio.subprocess.PIPE)
    assert await proc.wait() == 2
    assert "udp://HOST:PORT" in (await proc.stderr.read()).decode()
