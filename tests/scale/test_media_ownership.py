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


class _Feed:
    """What a recording needs of a source's receiver: its analyzer and its subscribers."""

    def __init__(self) -> None:
        from streamkeeper.media.ts import Analyzer

        self.analyzer = Analyzer()
        self.sinks = []

    def subscribe(self, sink):
        self.sinks.append(sink)
        return lambda: self.sinks.remove(sink)

    def push(self, data: bytes) -> None:
        step = 188 * 7
        for off in range(0, len(data) - len(data) % 188, step):
            chunk = data[off:off + step]
            self.analyzer.feed(chunk)
            for sink in list(self.sinks):
                sink(chunk)


def test_a_recording_taken_over_goes_on_in_the_same_file_after_a_flagged_gap(tmp_path):
    """What a new media owner does with a recording the old one left: the track is appended to,
    nothing is written while the recording is paused, and the first keyframe after the gap starts
    a new piece of the timeline; the file decodes whole."""
    import io

    import av

    from streamkeeper.media.recorder import Recording, prepare_append
    from streamkeeper.media.testsignal import make_clip
    from streamkeeper.media.timeline import index_track

    data = make_clip(tmp_path / "clip.ts", seconds=6).read_bytes()
    third = len(data) // 3 // 188 * 188
    directory = tmp_path / "video"
    first = _Feed()
    rec = Recording(directory, "video", {"track-1": first}, min_free=0)
    first.push(data[:third])
    started = rec.writers["track-1"].started_at
    assert started is not None
    rec.pause()
    rec.detach()  # the owner is gone (or lost its lease), the recording paused and unfinished
    track = directory / "track-1.ts"
    before = index_track(track).duration
    assert before > 1

    second = _Feed()
    bases = {"track-1": prepare_append(track)}
    taken = Recording(directory, "video", {"track-1": second}, min_free=0, resume=True, bases=bases)
    assert taken.state == "paused"
    size = track.stat().st_size
    second.push(data[third:2 * third])  # paused: nothing written
    assert track.stat().st_size == size
    taken.resume()
    second.push(data[2 * third:])  # a gap: the middle third never arrived while recording
    writer = taken.writers["track-1"]
    assert writer.started_at == started and writer.resumed_at is not None  # started there, resumed here
    assert taken.position > before + 1  # positions go on from what the file held
    info = taken.stop()["track-1"]

    index = index_track(track)
    assert len(index.timeline.discontinuities) == 1  # flagged, though the clock jumped only a little
    assert any(cut.jump for cut in index.cuts)
    assert abs(info.duration - index.duration) < 1e-6 and info.duration > before + 1
    with av.open(io.BytesIO(track.read_bytes()), format="mpegts") as got:
        frames = sum(1 for _ in got.decode(video=0))
    assert frames >= round(info.duration * 25) - 2  # every picture on both sides decodes
