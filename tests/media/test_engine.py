"""The engine without HTTP: a source re-tuned during a recording keeps its track going."""

from __future__ import annotations

import asyncio

from streamkeeper.media.engine import MediaEngine
from streamkeeper.media.testsignal import UdpSender
from streamkeeper.media.ts import analyze_file

from tests.process import free_udp_port
from .test_recorder import frames_of


async def test_retuned_source_during_a_recording(clip, clip_b, tmp_path):
    engine = MediaEngine(tmp_path, min_free=0)
    port_a, port_b = free_udp_port(), free_udp_port()
    await engine.source_saved({"id": "cam", "type": "UDP", "host": "127.0.0.1", "port": port_a})
    try:
        engine.start_recording("video-1", "session-1", ["cam"])
        assert engine.session_recording("session-1")
        for path, port in ((clip, port_a), (clip_b, port_b)):
            if port == port_b:
                await engine.source_saved({"id": "cam", "type": "UDP", "host": "127.0.0.1", "port": port_b})
            sender = UdpSender(path, ("127.0.0.1", port)).start()
            await asyncio.to_thread(sender.join)
            sender.stop()
            await asyncio.sleep(0.2)
        assert engine.source_status("cam")[0]
        duration, tracks = engine.stop_recording("video-1")
    finally:
        await engine.close()
    track = engine.tracks("video-1")[0]
    assert tracks == 1 and 5.0 <= duration <= 6.1  # both clips, the second from its first keyframe
    assert analyze_file(track).cc_errors == 0
    pts = [p for p, _ in frames_of(track)]
    assert all(b - a == 3600 for a, b in zip(pts, pts[1:]))


async def test_nothing_leaves_the_machine_unless_allowed(clip, tmp_path):
    from streamkeeper.media.engine import NotAllowed, parse_networks

    engine = MediaEngine(tmp_path, interface="127.0.0.1", min_free=0)  # default: loopback only
    try:
        for mode, host in (("CALLER", "10.1.1.1"), ("RENDEZVOUS", "10.1.1.1"), ("CALLER", "encoder.example.com")):
            await engine.source_saved({"id": f"srt-{mode}-{host}", "type": "SRT", "mode": mode, "host": host,
                                       "port": 5000})
            assert f"srt-{mode}-{host}" not in engine.ingests  # no FFmpeg started, no packet sent
            assert "outside the networks" in engine.source_errors[f"srt-{mode}-{host}"]
        video = engine.video_dir("v")
        video.mkdir(parents=True)
        (video / "track-1.ts").write_bytes(clip.read_bytes())
        for host in ("10.1.1.1", "8.8.8.8"):
            try:
                await engine.start_stream("v", [(1, host, 5000)])
            except NotAllowed:
                pass
            else:
                raise AssertionError(f"a stream to {host} was allowed")
        stream = await engine.start_stream("v", [(1, "239.1.2.3", 5000)])  # multicast on loopback: local
        await engine.stop_stream(stream.id)
    finally:
        await engine.close()
    assert parse_networks("10.0.0.0/8, 192.168.1.7")[1].prefixlen == 32
    wide = MediaEngine(tmp_path, networks=parse_networks("any"))
    assert wide.may_reach("10.1.1.1") and wide.may_reach("encoder.example.com")
