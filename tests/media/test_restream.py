"""Re-streaming over loopback UDP: rate, order, pause, seek, conflicts."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from streamkeeper.media.ingest import PortConflict, PortRegistry, SourceSpec
from streamkeeper.media.restream import Destination, Restreamer, Stream, claim_destinations, index_file
from streamkeeper.media.ts import analyze_file


class Receiver:
    """A plain UDP socket on a thread, timestamping every datagram on arrival."""

    def __init__(self, group: str | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.1)
        self.arrivals: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.arrivals.append((time.monotonic(), data))

    def close(self) -> bytes:
        self._stop.set()
        self._thread.join()
        self.sock.close()
        return b"".join(d for _, d in self.arrivals)


async def test_restream_rate_matches_the_video_and_nothing_is_lost(clip):
    rx = Receiver()
    player = Restreamer(clip, [Destination("127.0.0.1", rx.port)]).start()
    await asyncio.wait_for(player.done.wait(), 20)
    await asyncio.sleep(0.1)
    data = rx.close()
    assert player.state == "ended"
    assert data == clip.read_bytes()
    assert all(len(d) == 7 * 188 for _, d in rx.arrivals[:-1])
    # received rate, from arrival times, against the file's own PCR rate
    first, last = rx.arrivals[0][0], rx.arrivals[-1][0]
    bits = sum(len(d) for _, d in rx.arrivals[1:]) * 8
    own = analyze_file(clip).bitrate
    assert abs(bits / (last - first) - own) / own < 0.01


async def test_pause_holds_and_resume_continues_where_it_stopped(clip):
    rx = Receiver()
    player = Restreamer(clip, [Destination("127.0.0.1", rx.port)]).start()
    while player.sent_datagrams < 150:
        await asyncio.sleep(0.01)
    player.toggle()
    assert player.state == "paused"
    await asyncio.sleep(0.05)
    held = len(rx.arrivals)
    at = player.position
    await asyncio.sleep(0.4)
    assert len(rx.arrivals) == held and player.position == at  # nothing goes out while paused
    player.toggle()
    await asyncio.wait_for(player.done.wait(), 20)
    await asyncio.sleep(0.1)
    assert rx.close() == clip.read_bytes()  # resumed exactly where it stopped


async def test_seek_restarts_at_the_keyframe_before_the_time(clip):
    index = index_file(clip)
    # 75 frames, a keyframe every 12: at 0, 0.48, ... 2.88 s
    assert index.times == pytest.approx([i * 0.48 for i in range(7)])
    rx = Receiver()
    player = Restreamer(clip, [Destination("127.0.0.1", rx.port)]).start()
    while player.sent_datagrams < 20:
        await asyncio.sleep(0.01)
    before = len(rx.arrivals)
    player.seek(2.2)
    await asyncio.wait_for(player.done.wait(), 20)
    await asyncio.sleep(0.1)
    rx.close()
    after = b"".join(d for _, d in rx.arrivals[before:])
    data = clip.read_bytes()
    _, offset = index.keyframe_at(2.2)
    assert index.keyframe_at(2.2)[0] == pytest.approx(1.92)
    # PAT/PMT again, then from the keyframe at 1.92 s to the end (after what was in flight)
    assert after.endswith(index.psi + data[offset:])
    assert len(after) < len(index.psi + data[offset:]) + 5 * 7 * 188


async def test_multi_destination_and_conflicts(clip):
    a, b = Receiver(), Receiver()
    registry = PortRegistry()
    claim_destinations(registry, "stream-1", [Destination("127.0.0.1", a.port), Destination("127.0.0.1", b.port)])
    with pytest.raises(PortConflict):
        claim_destinations(registry, "stream-2", [Destination("127.0.0.1", a.port)])
    registry.claim(SourceSpec(type="UDP", port=40999).port_key(), "source-1")
    with pytest.raises(PortConflict):  # a stream may not aim at a local source's port
        claim_destinations(registry, "stream-3", [Destination("127.0.0.1", 40999)])
    assert registry.holder(("dest", "127.0.0.1", 40999)) is None  # refused whole
    stream = Stream([(clip, [Destination("127.0.0.1", a.port), Destination("127.0.0.1", b.port)])]).start()
    await asyncio.wait_for(stream.wait(), 20)
    await asyncio.sleep(0.1)
    assert stream.state == "ended"
    assert a.close() == b.close() == clip.read_bytes()
