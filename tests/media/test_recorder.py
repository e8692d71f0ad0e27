"""Recording: track files that play, pause that leaves the span out, crash finalisation."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import av
import pytest

from streamkeeper.media.ingest import SourceSpec, UdpIngest
from streamkeeper.media.recorder import (
    InsufficientSpace, Recording, TrackWriter, check_space, finalize_track, recover,
)
from streamkeeper.media.testsignal import UdpSender
from streamkeeper.media.ts import Analyzer, analyze_file

DGRAM = 7 * 188


def frames_of(path) -> list[tuple[int, str]]:
    """(pts, digest of the picture) of every video frame; decoding errors raise."""
    out = []
    with av.open(str(path)) as c:
        c.streams.video[0].codec_context.options = {"err_detect": "explode"}
        for f in c.decode(video=0):
            out.append((f.pts, hashlib.sha1(bytes(f.planes[0])).hexdigest()))
    return out


def audio_frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(audio=0))


def feed_datagrams(data: bytes, an: Analyzer, writer, start: int, stop: int) -> None:
    for off in range(start, stop, DGRAM):
        batch = data[off:min(off + DGRAM, stop)]
        an.feed(batch)
        writer(batch)


def keyframe_offsets(data: bytes, video_pid: int) -> list[int]:
    offs = []
    for off in range(0, len(data), 188):
        pid = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
        if pid == video_pid and data[off + 1] & 0x40 and data[off + 3] & 0x20 and data[off + 5] & 0x40:
            offs.append(off)
    return offs


def test_track_is_the_stream_from_its_first_keyframe(clip, tmp_path):
    data = clip.read_bytes()
    an = Analyzer()
    writer = TrackWriter(tmp_path / "t.ts", an)
    feed_datagrams(data, an, writer, 0, len(data))
    info = writer.close()
    original = frames_of(clip)
    recorded = frames_of(tmp_path / "t.ts")
    # a live source is joined at a random point: the file begins with PSI and a keyframe
    assert recorded == original[:len(recorded)] and len(recorded) >= len(original) - 1
    assert info.cc_errors == 0 and info.video_streams == 1 and info.audio_streams == 1
    assert abs(info.duration - len(recorded) / 25) < 1e-6


def test_joining_mid_stream_waits_for_psi_and_keyframe(clip, tmp_path):
    data = clip.read_bytes()
    an = Analyzer()
    writer = TrackWriter(tmp_path / "t.ts", an)
    start = 300 * DGRAM + 5 * 188  # somewhere inside a GOP, PSI not yet seen by this analyzer
    feed_datagrams(data, an, writer, start, len(data))
    info = writer.close()
    original = frames_of(clip)
    recorded = frames_of(tmp_path / "t.ts")
    first = original.index(recorded[0])
    assert recorded == original[first:first + len(recorded)]
    assert first % 12 == 0  # GOP of 12 frames: it started on a keyframe
    assert info.cc_errors == 0


def test_pause_leaves_out_exactly_the_paused_span(clip, tmp_path):
    data = clip.read_bytes()
    probe = Analyzer()
    probe.feed(data)
    video_pid = next(s.pid for s in probe.streams if s.kind == "video")
    keys = keyframe_offsets(data, video_pid)
    an = Analyzer()
    writer = TrackWriter(tmp_path / "t.ts", an)
    pause_at = 200 * DGRAM + 3 * 188
    resume_at = 420 * DGRAM
    feed_datagrams(data, an, writer, 0, pause_at)
    writer.pause()
    feed_datagrams(data, an, writer, pause_at, resume_at)
    writer.resume()
    feed_datagrams(data, an, writer, resume_at, len(data))
    info = writer.close()

    original = frames_of(clip)
    recorded = frames_of(tmp_path / "t.ts")
    # frames whose PES started before the pause point, then from the first keyframe after resume
    starts = [off for off in range(0, len(data), 188)
              if ((data[off + 1] & 0x1F) << 8 | data[off + 2]) == video_pid and data[off + 1] & 0x40]
    before = sum(1 for off in starts if off < pause_at)
    resume_key = next(off for off in keys if off >= resume_at)
    after_index = starts.index(resume_key)
    expected = [digest for _, digest in original[:before]] + [digest for _, digest in original[after_index:]]
    assert [digest for _, digest in recorded] == expected[:len(recorded)]
    assert len(recorded) >= len(expected) - 1  # the last frame is cut by finalisation
    # the timeline is continuous: the gap is gone, not just blank
    pts = [p for p, _ in recorded]
    assert all(b - a == 3600 for a, b in zip(pts, pts[1:]))
    assert info.cc_errors == 0
    assert abs(info.duration - len(recorded) / 25) < 1e-6
    assert audio_frames(tmp_path / "t.ts") > 0


def test_hotmarks_and_positions_follow_recorded_time(clip, tmp_path):
    data = clip.read_bytes()
    now = [1000.0]

    class FakeIngest:
        def __init__(self):
            self.analyzer = Analyzer()
            self.sinks = []

        def subscribe(self, sink):
            self.sinks.append(sink)
            return lambda: self.sinks.remove(sink)

        def push(self, batch):
            self.analyzer.feed(batch)
            for s in self.sinks:
                s(batch)

    src = FakeIngest()
    rec = Recording(tmp_path / "rec", "r1", {"s1": src}, clock=lambda: now[0], min_free=0)
    for i, off in enumerate(range(0, len(data), DGRAM)):
        now[0] = 1000.0 + i * (3.0 / (len(data) / DGRAM))
        src.push(data[off:off + DGRAM])
        if i == 250:
            mark_now = rec.hotmark(name="now")
            pos_at_250 = rec.position
            wall_at_250 = now[0]
    past = rec.hotmark(at=wall_at_250 + 0.01, name="past")
    infos = rec.stop()
    assert mark_now.position == pos_at_250 and 0.5 < pos_at_250 < 2.5
    assert abs(past.position - pos_at_250) <= 0.25  # timeline is sampled every 0.25 s
    saved = json.loads((tmp_path / "rec" / "recording.json").read_text())
    assert saved["state"] == "stopped" and [m["name"] for m in saved["hotmarks"]] == ["now", "past"]
    assert infos["s1"].duration == saved["tracks"]["s1"]["duration"]


def test_insufficient_space_is_refused(tmp_path):
    with pytest.raises(InsufficientSpace):
        check_space(tmp_path / "media", min_free=1 << 62)
    check_space(tmp_path / "media", min_free=0)


async def test_two_udp_sources_recorded_into_two_tracks(clip, clip_b, tmp_path):
    ingests = {}
    for name in ("a", "b"):
        ingests[name] = UdpIngest(SourceSpec(type="UDP", host="127.0.0.1", port=0))
        await ingests[name].start()
    rec = Recording(tmp_path / "rec", "r2", ingests, min_free=0)
    senders = [UdpSender(clip, ("127.0.0.1", ingests["a"].local_port)),
               UdpSender(clip_b, ("127.0.0.1", ingests["b"].local_port))]
    try:
        for s in senders:
            s.start()
        for s in senders:
            await asyncio.to_thread(s.join)
        await asyncio.sleep(0.2)
        infos = rec.stop()
    finally:
        for s in senders:
            s.stop()
        for ing in ingests.values():
            await ing.stop()
    assert set(infos) == {"a", "b"}
    for name, path in (("a", clip), ("b", clip_b)):
        info = infos[name]
        assert ingests[name].analyzer.cc_errors == 0 and info.cc_errors == 0
        assert abs(info.duration - 3.0) <= 0.5
        recorded = frames_of(info.path)
        original = frames_of(path)
        assert recorded == original[:len(recorded)]
        assert audio_frames(info.path) > 0


CHILD = r"""
import asyncio, sys
from streamkeeper.media.ingest import SourceSpec, UdpIngest
from streamkeeper.media.recorder import Recording

async def main():
    ingest = UdpIngest(SourceSpec(type="UDP", host="127.0.0.1", port=0))
    await ingest.start()
    Recording(sys.argv[1], "crash", {"src": ingest}, min_free=0)
    print(ingest.local_port, flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_kill_9_mid_recording_leaves_a_playable_video(clip, tmp_path):
    directory = tmp_path / "rec"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(directory)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        sender = UdpSender(clip, ("127.0.0.1", port)).start()
        track = directory / "src.ts"
        # kill while the source is still sending, once a good part is on disk
        deadline = time.monotonic() + 20
        while (not track.exists() or track.stat().st_size < 1_500_000 // 8 * 1.5) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(5)
        sender.stop()
    finally:
        if child.poll() is None:
            child.kill()
    written = track.read_bytes()
    meta = recover(directory)
    assert meta.state == "stopped"
    info = meta.tracks["src"]
    data = clip.read_bytes()
    # what survived is exactly the stream, from the PSI header + first keyframe on
    body = track.read_bytes()
    psi = 2 * 188
    start = data.index(body[psi:psi + 188 * 4])
    assert data[start:start + len(body) - psi] == body[psi:]
    assert len(written) - len(body) < 188 * 200  # only the unfinished last frame was cut
    recorded = frames_of(track)
    original = frames_of(clip)
    assert recorded == original[:len(recorded)] and len(recorded) >= 25  # over a second survived
    assert info["cc_errors"] == 0 and abs(info["duration"] - len(recorded) / 25) < 1e-6
    assert recover(directory).tracks == meta.tracks  # recovering twice changes nothing


def test_retuned_source_continues_the_same_track(clip, clip_b, tmp_path):
    a, b = clip.read_bytes(), clip_b.read_bytes()
    first = Analyzer()
    writer = TrackWriter(tmp_path / "t.ts", first)
    feed_datagrams(a, first, writer, 0, 250 * DGRAM)
    second = Analyzer()  # the source now comes from another sender
    writer.rebind(second)
    feed_datagrams(b, second, writer, 0, len(b))
    info = writer.close()
    recorded = frames_of(tmp_path / "t.ts")
    pts = [p for p, _ in recorded]
    assert all(y - x == 3600 for x, y in zip(pts, pts[1:]))  # one timeline, no jump
    from_a = frames_of(clip)
    from_b = [d for _, d in frames_of(clip_b)]
    digests = [d for _, d in recorded]
    k = next(i for i, d in enumerate(digests) if d in from_b)
    assert digests[:k] == [d for _, d in from_a[:k]] and k > 10
    assert digests[k:] == from_b[from_b.index(digests[k]):][:len(digests) - k]
    assert info.cc_errors == 0


def test_full_disk_stops_the_track_cleanly(clip):
    data = clip.read_bytes()
    an = Analyzer()
    writer = TrackWriter("/dev/full", an)
    feed_datagrams(data, an, writer, 0, 60 * DGRAM)
    assert writer.state == "failed" and "No space" in writer.error
    feed_datagrams(data, an, writer, 60 * DGRAM, 120 * DGRAM)  # later batches are ignored, no exception
    with pytest.raises(OSError):
        writer.close()


def test_pause_and_finalisation_cut_between_pictures_carried_in_two_pes(tmp_path):
    """An encoder that carries each picture in two PES: pausing stops before a picture, not in the
    middle of one, and the end of the file is trimmed to a whole picture too."""
    from streamkeeper.media.testsignal import Piece, encode_timeline

    from .test_restream import decode_strictly

    data = encode_timeline([Piece(3.0, bframes=2, split_pes=True)], width=640, height=480)
    an = Analyzer()
    writer = TrackWriter(tmp_path / "t.ts", an)
    pause_at, resume_at = 150 * DGRAM + 5 * 188, 300 * DGRAM
    feed_datagrams(data, an, writer, 0, pause_at)
    writer.pause()
    feed_datagrams(data, an, writer, pause_at, resume_at)
    writer.resume()
    cut = len(data) - 40 * 188 - (len(data) // 3) % DGRAM  # the source stops mid-picture
    feed_datagrams(data, an, writer, resume_at, cut)
    writer.close()
    shown, errors = decode_strictly((tmp_path / "t.ts").read_bytes())
    assert errors == []
    assert shown == sorted(shown) and len(shown) > 30
