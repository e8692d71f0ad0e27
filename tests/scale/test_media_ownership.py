"""The media lease on the test Redis: one holder at a time, renewed only by its holder, taken by
another once it expires; and the owner's status, believed only while it is fresh."""

from __future__ import annotations

import asyncio
import time

import pytest

from streamkeeper.media.ownership import Holder, Lease, StatusBoard, new_holder
from tests.conftest import redis_prefix_for_test


@pytest.fixture
async def keys(redis_client):
    prefix = redis_prefix_for_test()
    yield prefix
    found = [k async for k in redis_client.scan_iter(match=prefix + "*")]
    if found:
        await redis_client.unlink(*found)


async def test_one_holder_at_a_time_and_takeover_after_expiry(redis_client, keys):
    lease = Lease(redis_client, f"{keys}media:owner", ttl=0.4)
    a, b = new_holder("http://127.0.0.1:1111"), new_holder("http://127.0.0.1:2222")
    assert await lease.acquire(a)
    assert not await lease.acquire(b)
    assert await lease.holder() == a
    assert await lease.renew(a)
    assert not await lease.renew(b)  # only the holder renews
    await lease.release(b)  # nor lets go of it
    assert await lease.holder() == a
    for _ in range(3):  # renewed, it outlives its time to live
        await asyncio.sleep(0.2)
        assert await lease.renew(a)
    assert not await lease.acquire(b)
    await asyncio.sleep(0.6)  # a stops renewing (killed): the lease expires and b takes it
    assert await lease.acquire(b)
    assert await lease.holder() == b
    assert not await lease.renew(a)  # a, back, learns it lost the lease
    await lease.release(b)
    assert await lease.holder() is None


def test_a_holder_reads_back_what_it_wrote():
    h = new_holder("http://10.0.0.5:41234")
    assert Holder.decode(h.encode()) == h
    assert Holder.decode(b"not json") is None and Holder.decode(None) is None


async def test_the_owner_status_is_not_believed_once_stale(redis_client, keys):
    board = StatusBoard(redis_client, f"{keys}media:status", ttl=0.3)
    await board.publish({"sources": {"s": [True, 1000, None]}})
    assert (await board.read())["sources"] == {"s": [True, 1000, None]}
    await asyncio.sleep(0.5)  # the owner died: its word expires with it
    assert await board.read() == {}


def test_an_owner_cut_off_from_redis_stops_receiving(redis_user, tmp_path):
    """Without its lease renewed, the owner lets go of its sources before the lease can expire,
    so that no other process receives them at the same time."""
    from tests.process import free_udp_port

    from .servers import Server
    from .test_media_plane import PASSWORD, login, receivers, studio

    env = {"STREAMKEEPER_REDIS_URL": redis_user["url"], "STREAMKEEPER_REDIS_PREFIX": redis_user["prefix"],
           "STREAMKEEPER_ADMIN_KEY": "k" * 32, "STREAMKEEPER_SECRET": "m" * 32,
           "STREAMKEEPER_ADMIN_PASSWORD": PASSWORD}
    server = Server(tmp_path / "data", env).spawn()
    try:
        server.wait_ready()
        cookie = login(server)
        udp_port = free_udp_port()
        studio(server, cookie, udp_port)
        assert receivers([server], udp_port) == {server.proc.pid}
        redis_user["cut_off"]()
        cut = time.monotonic()
        while receivers([server], udp_port) and time.monotonic() - cut < 10:
            time.sleep(0.1)
        stopped = time.monotonic() - cut
        assert not receivers([server], udp_port)
        assert stopped < 5.0  # before the lease (5 s) could have expired in Redis
    finally:
        server.stop()
