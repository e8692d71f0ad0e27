"""Live ingest over loopback: UDP unicast, multicast, SRT through FFmpeg."""

from __future__ import annotations

import asyncio
import subprocess

import av
import pytest

from streamkeeper.media.ingest import (
    PortConflict, PortRegistry, RateMeter, SourceSpec, SrtIngest, UdpIngest, ffmpeg_exe, make_ingest, srt_url,
)
from streamkeeper.media.testsignal import UdpSender
from streamkeeper.media.ts import Analyzer
from tests.process import free_udp_port


async def run_sender(sender: UdpSender) -> None:
    sender.start()
    await asyncio.to_thread(sender.join)
    sender.stop()
    await asyncio.sleep(0.2)  # let the loop drain the socket


def test_rate_meter_counts_what_arrived_in_the_window():
    now = [100.0]
    meter = RateMeter(window=2.0, clock=lambda: now[0])
    assert not meter.active() and meter.bitrate() == 0
    for i in range(300):  # 3 s of 100 datagrams/s of 1316 bytes
        now[0] = 100.0 + i / 100
        meter.add(1316)
    now[0] = 103.0
    assert meter.active()
    assert meter.bitrate() == 100 * 1316 * 8
    now[0] = 105.5
    assert not meter.active() and meter.bitrate() == 0


async def test_udp_unicast_receives_every_packet(clip):
    ingest = UdpIngest(SourceSpec(type="UDP", host="127.0.0.1", port=0))
    await ingest.start()
    got = bytearray()
    ingest.subscribe(got.extend)
    try:
        await run_sender(UdpSender(clip, ("127.0.0.1", ingest.local_port)))
        assert ingest.active
    finally:
        await ingest.stop()
    assert bytes(got) == clip.read_bytes()
    assert ingest.analyzer.cc_errors == 0
    assert sorted(s.kind for s in ingest.analyzer.streams) == ["audio", "video"]
    assert ingest.meter.total_packets == len(got) // 188


async def test_udp_multicast_join_on_interface(clip):
    port = free_udp_port()
    group = "239.255.42.7"
    spec = SourceSpec(type="UDP", host=group, port=port, multicast=True, interface="127.0.0.1")
    ingest = make_ingest(spec)
    other = UdpIngest(SourceSpec(type="UDP", host="239.255.42.8", port=port, multicast=True, interface="127.0.0.1"))
    await ingest.start()
    await other.start()
    got = bytearray()
    ingest.subscribe(got.extend)
    try:
        # ttl 0 and the loopback interface: nothing leaves this machine
        await run_sender(UdpSender(clip, (group, port), ttl=0, source_address="127.0.0.1"))
    finally:
        await ingest.stop()
        await other.stop()
    assert bytes(got) == clip.read_bytes()
    assert other.meter.total_bytes == 0  # same port, other group: nothing


async def test_port_conflicts_are_refused():
    first = UdpIngest(SourceSpec(type="UDP", host="127.0.0.1", port=0))
    await first.start()
    try:
        with pytest.raises(PortConflict):
            await UdpIngest(SourceSpec(type="UDP", port=first.local_port)).start()
    finally:
        await first.stop()
    registry = PortRegistry()
    registry.claim(SourceSpec(type="UDP", port=5000).port_key(), "source-1")
    registry.claim(SourceSpec(type="UDP", port=5000).port_key(), "source-1")  # idempotent for its owner
    with pytest.raises(PortConflict):
        registry.claim(SourceSpec(type="SRT", mode="LISTENER", port=5000).port_key(), "source-2")
    registry.claim(SourceSpec(type="UDP", host="239.1.1.1", port=5000, multicast=True).port_key(), "source-3")
    registry.release("source-1")
    registry.claim(SourceSpec(type="UDP", port=5000).port_key(), "stream-9")


def test_srt_url_options():
    url = srt_url(SourceSpec(type="SRT", host="10.0.0.5", port=7001, mode="CALLER", latency=200,
                             passphrase="correct horse battery"))
    assert url.startswith("srt://10.0.0.5:7001?")
    assert "mode=caller" in url and "latency=200000" in url and "pbkeylen=16" in url
    assert "passphrase=correct%20horse%20battery" in url
    assert srt_url(SourceSpec(type="SRT", port=7002, mode="LISTENER")).startswith("srt://0.0.0.0:7002?mode=listener")
    with pytest.raises(ValueError):
        srt_url(SourceSpec(type="SRT", port=1, mode="CALLER"))


def _srt_sender(clip, url: str) -> subprocess.Popen:
    return subprocess.Popen([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i", str(clip),
                             "-c", "copy", "-f", "mpegts", url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _call_until_answered(clip, url: str, received) -> subprocess.Popen:
    """Send the clip as an SRT caller; the receiving FFmpeg may still be starting, so call again
    (only while nothing at all got through)."""
    for _ in range(10):
        before = received()
        proc = await asyncio.to_thread(lambda: (p := _srt_sender(clip, url), p.wait(30), p)[2])
        if proc.returncode == 0 or received() != before:
            return proc
        await asyncio.sleep(0.5)
    return proc


def _decoded_video_frames(data: bytes, tmp_path) -> int:
    """How many video frames decode; they must be the clip's frames from the first on, none skipped."""
    path = tmp_path / "received.ts"
    path.write_bytes(data)
    with av.open(str(path)) as c:
        pts = [f.pts for f in c.decode(video=0)]
    assert all(b - a == 3600 for a, b in zip(pts, pts[1:]))  # 25 fps in 90 kHz ticks, no gap
    return len(pts)


# Room for retransmission on a busy test machine; SRT drops what is later than this.
LATENCY = 400


# When an SRT peer disconnects, what sits in the receiver's latency buffer is
# dropped by libsrt: at most latency / 40 ms frames (+1 partial) at the very end.
def _lost_at_close(latency_ms: int) -> int:
    return -(-latency_ms // 40) + 1


async def _wait_for(predicate, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_srt_listener_with_passphrase_and_restart(clip, tmp_path):
    port = free_udp_port()
    secret = "streamkeeper-test-secret"
    ingest = SrtIngest(SourceSpec(type="SRT", host="127.0.0.1", port=port, mode="LISTENER", latency=LATENCY,
                                  passphrase=secret), min_backoff=0.1)
    got = bytearray()
    ingest.subscribe(got.extend)
    await ingest.start()
    try:
        caller = srt_url(SourceSpec(type="SRT", host="127.0.0.1", port=port, mode="CALLER", latency=LATENCY,
                                    passphrase=secret), for_sending=True)
        proc = await _call_until_answered(clip, caller, lambda: len(got))
        assert proc.returncode == 0, proc.stderr.read()
        await _wait_for(lambda: ingest.starts >= 2)  # the sender left: FFmpeg ended and was restarted
        first = bytes(got)
        # a second sender is picked up by the restarted receiver
        proc = await _call_until_answered(clip, caller, lambda: len(got))
        await _wait_for(lambda: len(got) > len(first) * 1.5)
    finally:
        await ingest.stop()
    assert 75 - _lost_at_close(LATENCY) <= _decoded_video_frames(first, tmp_path) <= 75
    an = Analyzer()
    an.feed(first)
    assert an.cc_errors == 0 and sorted(s.kind for s in an.streams) == ["audio", "video"]


async def test_srt_caller_to_a_listening_sender(clip, tmp_path):
    port = free_udp_port()
    listen = srt_url(SourceSpec(type="SRT", host="127.0.0.1", port=port, mode="LISTENER", latency=LATENCY),
                     for_sending=True)
    sender = _srt_sender(clip, listen)
    ingest = SrtIngest(SourceSpec(type="SRT", host="127.0.0.1", port=port, mode="CALLER", latency=LATENCY),
                       min_backoff=0.1)
    got = bytearray()
    ingest.subscribe(got.extend)
    await ingest.start()
    try:
        await asyncio.to_thread(sender.wait, 20)
        await _wait_for(lambda: ingest.starts >= 2)
    finally:
        await ingest.stop()
        if sender.poll() is None:
            sender.kill()
    assert sender.returncode == 0
    assert 75 - _lost_at_close(LATENCY) <= _decoded_video_frames(bytes(got), tmp_path) <= 75
