"""The one timeline model: raw clocks to content time, and what every consumer makes of it."""

from __future__ import annotations

import io

import av
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from streamkeeper.media.remux import ts_to_mp4
from streamkeeper.media.restream import index_file
from streamkeeper.media.testsignal import Piece, encode_timeline, frame_number
from streamkeeper.media.thumbnails import thumbnail_from_file
from streamkeeper.media.timeline import Timeline, index_track
from streamkeeper.media.recorder import finalize_track

from .timelines import CASES, HOUR, WRAP, content_seconds, numbers, pictures

F = 3600  # one frame at 25 fps, in 90 kHz ticks


def test_timeline_counts_content_across_jumps_and_wraps():
    t = Timeline()
    for i in range(50):
        t.add(900_000 + i * F)
    for i in range(50):  # the encoder restarts near zero
        t.add(i * F)
    for i in range(50):  # then jumps forward by hours
        t.add(5 * HOUR + i * F)
    for i in range(50):  # and its 33-bit clock wraps
        t.add((WRAP - 25 * F + i * F) % WRAP)
    assert t.duration == pytest.approx(200 * F / 90_000)
    assert [round(d.at, 3) for d in t.discontinuities] == [2.0, 4.0, 6.0]


def test_other_streams_map_through_their_own_piece():
    t = Timeline()
    for i in range(50):
        t.add(900_000 + i * F)
    t.add(0)  # restart: the pictures moved on, the audio of the old run is still arriving
    assert t.to_content(900_000 + 40 * F) == pytest.approx(40 * F / 90_000)
    assert t.to_content(2 * F) == pytest.approx((50 + 2) * F / 90_000)
    assert t.to_content_ticks(3 * HOUR, strict=True) is None  # a piece not reached yet


def test_a_new_layout_starts_a_new_piece_even_without_a_jump():
    t = Timeline()
    t.add(0)
    t.add(F)
    t.restart()
    t.add(3 * F)
    assert t.duration == pytest.approx(3 * F / 90_000) and len(t.discontinuities) == 1


@pytest.mark.parametrize("name", list(CASES))
def test_every_consumer_agrees_on_each_timeline(name, tmp_path):
    pieces = CASES[name]
    path = tmp_path / "track.ts"
    path.write_bytes(encode_timeline(pieces))
    want = content_seconds(pieces)
    # duration: recorder (finalised file), seeker, HLS index
    info = finalize_track(path, complete=True)
    assert info.duration == pytest.approx(want, rel=0.02)
    index = index_file(path)
    assert index.duration == pytest.approx(want, rel=0.02)
    track = index_track(path)
    jumps = sum(1 for c in track.cuts if c.jump)
    assert jumps == len(pieces) - 1 if len(pieces) > 1 and pieces[1].start != pieces[0].start + 0 else True
    # MP4 export: every picture, in order; audio with its sample rate
    mp4 = ts_to_mp4(path, tmp_path / "track.mp4")
    n = pictures(pieces)
    assert numbers(mp4.read_bytes(), "mp4") == list(range(n))
    assert numbers(path.read_bytes(), "mpegts") == list(range(n))
    with av.open(str(mp4)) as c:
        assert all(s.codec_context.sample_rate == 48_000 for s in c.streams.audio)
        assert len(c.streams.audio) == (1 if pieces[0].audio else 0)
        assert float(c.duration / 1e6) == pytest.approx(want, rel=0.02, abs=0.05)
    # thumbnails: the picture shown at a content time, after any jump
    if n:
        for at in (0.0, want * 0.6, want - 0.01):
            frame = int(at * 25 + 1e-6)
            assert jpeg_number(thumbnail_from_file(path, at)) == frame, at
        # a seek lands on the keyframe at or before the time asked for
        t, _ = index.keyframe_at(want * 0.6)
        assert want * 0.6 - 0.5 < t <= want * 0.6


def jpeg_number(jpeg: bytes) -> int:
    with av.open(io.BytesIO(jpeg)) as c:
        return frame_number(next(iter(c.decode(video=0))))


piece = st.builds(
    lambda seconds, kind, start, layout, split, lag: (seconds, kind, start, layout, split, lag),
    st.sampled_from([0.48, 0.96, 1.44]),
    st.sampled_from(["continue", "back", "forward", "wrap", "anywhere"]),
    st.integers(0, WRAP - 1),
    st.booleans(),
    st.booleans(),  # pictures and audio frames in two PES each
    st.sampled_from([0.0, 0.0, 0.4]),  # audio behind the pictures, arriving into the next run
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(piece, min_size=1, max_size=4))
def test_any_sequence_of_pieces_records_its_sum_and_exports(tmp_path, spec):
    pieces = []
    clock = 0
    for i, (seconds, kind, start, new_layout, split, lag) in enumerate(spec):
        if kind == "back":
            clock = clock // 3
        elif kind == "forward":
            clock = clock + 2 * HOUR
        elif kind == "wrap":
            clock = WRAP - 45_000
        elif kind == "anywhere" and (start - clock) % WRAP > 6 * 90_000:  # an encoder restarted elsewhere
            clock = start
        layout = 0x100 + 0x100 * (i % 2) if new_layout else 0x100
        pieces.append(Piece(seconds, start=clock, first_pid=layout, pmt_pid=0x1000 + layout, split_pes=split,
                            audio_lag=lag, late_into_next=bool(lag)))
        clock += round(seconds * 90_000)
    path = tmp_path / f"p{len(list(tmp_path.iterdir()))}.ts"
    path.write_bytes(encode_timeline(pieces))
    want = content_seconds(pieces)
    # within 2 %, or one frame on the shortest runs (an encoder's first timestamps may sit a
    # fraction of a frame off where the previous run stopped)
    assert finalize_track(path, complete=True).duration == pytest.approx(want, rel=0.02, abs=0.04)
    mp4 = ts_to_mp4(path, path.with_suffix(".mp4"))
    assert numbers(mp4.read_bytes(), "mp4") == list(range(pictures(pieces)))
    assert numbers(path.read_bytes(), "mpegts") == list(range(pictures(pieces)))


@pytest.mark.parametrize("name", ["restart back", "PID change", "33-bit wrap", "audio only"])
def test_live_packager_cuts_each_timeline_into_segments_that_add_up(name):
    from streamkeeper.media.hls import LivePackager
    from streamkeeper.media.ts import Analyzer

    pieces = CASES[name]
    data = encode_timeline(pieces)
    an = Analyzer()
    packager = LivePackager(an, keep=100)
    for off in range(0, len(data), 188 * 7):
        an.feed(data[off:off + 188 * 7])
        packager(data[off:off + 188 * 7])
    packager.rebind(an)  # the source goes away: the pending segment is closed
    segments = list(packager.segments)
    assert sum(s.duration for s in segments) == pytest.approx(content_seconds(pieces), rel=0.02)
    assert sum(s.discontinuity for s in segments) == len(pieces) - 1
    got = [n for s in segments for n in numbers(s.data, "mpegts")]
    assert got == list(range(pictures(pieces)))


def test_audio_of_the_old_layout_that_comes_after_the_new_one_is_kept(tmp_path):
    """A source restarted with another PID layout while its old audio (1 s behind the pictures)
    is still arriving: the MP4 keeps that second of sound, in its place."""
    pieces = [Piece(2.0, audio_lag=1.0, late_into_next=True),
              Piece(2.0, start=5 * 90_000, first_pid=0x200, pmt_pid=0x1100)]
    path = tmp_path / "late.ts"
    path.write_bytes(encode_timeline(pieces))
    mp4 = ts_to_mp4(path, tmp_path / "late.mp4")
    assert numbers(mp4.read_bytes(), "mp4") == list(range(pictures(pieces)))
    with av.open(str(mp4)) as c:
        audio = c.streams.audio[0]
        times = [float(p.pts * p.time_base) for p in c.demux(audio) if p.size]
    step = 1024 / 48_000
    assert len(times) >= 2 * round(2.0 / step) - 2  # both runs' sound, nearly every frame
    assert times == sorted(times) and times[-1] == pytest.approx(4.0 - step, abs=0.1)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) < 3 * step  # no second missing at the change of layout


def test_a_layout_with_more_tracks_than_the_first_exports_them_all(tmp_path):
    """A source that starts without sound and is restarted with it: the MP4 has the sound of the
    second run (a track can no longer be added once the MP4 is being written)."""
    pieces = [Piece(1.0, audio=False), Piece(1.0, start=3 * 90_000, first_pid=0x200, pmt_pid=0x1100)]
    path = tmp_path / "more.ts"
    path.write_bytes(encode_timeline(pieces))
    mp4 = ts_to_mp4(path, tmp_path / "more.mp4")
    assert numbers(mp4.read_bytes(), "mp4") == list(range(pictures(pieces)))
    with av.open(str(mp4)) as c:
        audio = c.streams.audio[0]
        times = [float(p.pts * p.time_base) for p in c.demux(audio) if p.size]
    assert times[0] == pytest.approx(1.0, abs=0.1) and len(times) >= 40


def _whole(jpeg: bytes) -> bool:
    """Is the picture drawn to its last row (a cut one is filled in by the decoder's guesses)?"""
    with av.open(io.BytesIO(jpeg)) as c:
        frame = next(iter(c.decode(video=0)))
    shade = 60 + (frame_number(frame) * 7) % 120
    plane = frame.planes[0]
    rows = bytes(plane)
    samples = [rows[plane.line_size * y + x] for y in (frame.height - 40, frame.height - 4)
               for x in range(4, frame.width - 4, frame.width // 8)]
    return all(abs(v - shade) < 16 for v in samples)


@pytest.mark.parametrize("piece", [Piece(3.0, bframes=2, split_pes=True), Piece(3.0, bframes=2, open_gop=True)],
                         ids=["pictures in two PES", "open GOP"])
def test_thumbnails_are_whole_pictures_at_their_time(tmp_path, piece):
    """A picture carried in two PES is not taken for two; an open group's keyframe is shown at its
    own time (the pictures shown before it come after it in the stream)."""
    from streamkeeper.media.thumbnails import LiveThumbnails
    from streamkeeper.media.ts import Analyzer

    data = encode_timeline([piece], width=640, height=480)
    path = tmp_path / "t.ts"
    path.write_bytes(data)
    for at in (0.5, 1.3, 2.9):
        jpeg = thumbnail_from_file(path, at)
        assert jpeg_number(jpeg) == int(at * 25 + 1e-6) and _whole(jpeg)
    an = Analyzer()
    live = LiveThumbnails(an)
    seen = set()
    for off in range(0, len(data), 188 * 7):
        an.feed(data[off:off + 188 * 7])
        live(data[off:off + 188 * 7])
        if live._complete:
            jpeg = live.jpeg()
            seen.add(jpeg_number(jpeg))
            assert _whole(jpeg)
    assert seen == set(range(0, 75, 12))  # the newest keyframe each time


def test_hls_segments_hold_whole_pictures_when_an_encoder_splits_them(tmp_path):
    """Pictures and audio frames carried in two PES each: every live and on-demand segment decodes
    on its own without a decoder error, and together they hold every picture once."""
    from streamkeeper.media.hls import FileSegments, LivePackager
    from streamkeeper.media.ts import Analyzer

    from .test_restream import decode_strictly

    pieces = [Piece(3.0, bframes=2, split_pes=True), Piece(2.0, start=0, bframes=2, split_pes=True)]
    data = encode_timeline(pieces, width=640, height=480)
    an = Analyzer()
    packager = LivePackager(an, keep=100)
    for off in range(0, len(data), 188 * 7):
        an.feed(data[off:off + 188 * 7])
        packager(data[off:off + 188 * 7])
    packager.rebind(an)
    path = tmp_path / "split.ts"
    path.write_bytes(data)
    files = FileSegments(path)
    files.refresh()
    for segments in ([s.data for s in packager.segments], [files.read(i, j) for _, i, j in files.segments(True)]):
        shown = []
        for segment in segments:
            numbers_, errors = decode_strictly(segment)
            assert errors == []
            shown += numbers_
        assert shown == list(range(pictures(pieces)))


def test_a_damaged_audio_frame_is_left_out_of_the_mp4_not_fatal(tmp_path):
    """Audio PES of two runs interleaved on one PID (a muxer glitch) across a clock wrap: what
    comes out of them is not all AAC frames; the MP4 is made without those, with every picture
    (the MP4 muxer refused the whole file: a 500 on download)."""
    from streamkeeper.media.testsignal import _after_last_picture, _interleave, encode_piece

    runs = [Piece(0.48, start=WRAP - 45_000, audio_lag=0.4), Piece(0.48, start=WRAP - 1800, audio_lag=0.4,
            split_pes=True), Piece(0.48, start=41_400)]
    out, late = [], b""
    for n, piece in enumerate(runs):
        data = encode_piece(piece, first_frame=12 * n)
        if late:
            data = _interleave(data, late, whole_pes=False)
        data, late = _after_last_picture(data, 0x101, 0x100) if piece.audio_lag else (data, b"")
        out.append(data)
    path = tmp_path / "glitch.ts"
    path.write_bytes(b"".join(out) + late)
    mp4 = ts_to_mp4(path, tmp_path / "glitch.mp4")
    assert numbers(mp4.read_bytes(), "mp4") == list(range(36))
