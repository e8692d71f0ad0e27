"""Thumbnails, MP4 remux and the streamed ZIP download."""

from __future__ import annotations

import hashlib
import io
import zipfile

import av
import pytest

from streamkeeper.media.remux import download_entries, ts_to_mp4, zip_stream
from streamkeeper.media.thumbnails import LiveThumbnails, ThumbnailNotFound, encode_jpeg, thumbnail_from_file
from streamkeeper.media.ts import Analyzer


def jpeg_size(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    with av.open(io.BytesIO(data), format="image2pipe") as c:
        frame = next(c.decode(video=0))
        return frame.width, frame.height


def digests(path) -> list[str]:
    with av.open(str(path)) as c:
        return [hashlib.sha1(bytes(f.planes[0])).hexdigest() for f in c.decode(video=0)]


def test_thumbnail_of_a_file_at_a_time_and_size(clip):
    assert jpeg_size(thumbnail_from_file(clip, 1.5, 160, 120)) == (160, 120)
    assert jpeg_size(thumbnail_from_file(clip, 0, width=100)) == (100, 74)  # aspect kept (75), made even
    # different times give different pictures (the pattern moves)
    assert thumbnail_from_file(clip, 0.2, 80, 60) != thumbnail_from_file(clip, 2.2, 80, 60)


def test_live_thumbnail_needs_a_keyframe_then_shows_the_newest(clip):
    data = clip.read_bytes()
    an = Analyzer()
    live = LiveThumbnails(an)
    with pytest.raises(ThumbnailNotFound):
        live.jpeg()
    for off in range(0, len(data), 1316):
        an.feed(data[off:off + 1316])
        live(data[off:off + 1316])
    assert jpeg_size(live.jpeg(64, 48)) == (64, 48)
    # the picture is the last keyframe of the clip (frame 72 with a GOP of 12)
    with av.open(str(clip)) as c:
        frames = list(c.decode(video=0))
    assert live.jpeg() == encode_jpeg(frames[72])


def test_mp4_download_demuxes_to_the_same_frames(clip, tmp_path):
    mp4 = ts_to_mp4(clip, tmp_path / "clip.mp4")
    with av.open(str(mp4)) as c:
        assert c.format.name.startswith("mov") and sorted(s.type for s in c.streams) == ["audio", "video"]
    assert digests(mp4) == digests(clip)
    with av.open(str(mp4)) as c, av.open(str(clip)) as t:
        assert sum(1 for _ in c.decode(audio=0)) == sum(1 for _ in t.decode(audio=0))


def test_zip_is_streamed_in_small_pieces_and_holds_the_tracks(clip, clip_b, tmp_path):
    entries = download_entries([("track-1", clip), ("track-2", clip_b)], "ts")
    pieces = list(zip_stream(entries, chunk=64 * 1024))
    assert max(len(p) for p in pieces) <= 64 * 1024 + 1024  # never a whole file at once
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.testzip() is None
    assert archive.read("track-1.ts") == clip.read_bytes()
    assert archive.read("track-2.ts") == clip_b.read_bytes()
    (tmp_path / "copy.ts").write_bytes(clip.read_bytes())
    mp4_entries = download_entries([("track-1", tmp_path / "copy.ts")], "mp4")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(zip_stream(mp4_entries))))
    assert archive.namelist() == ["track-1.mp4"]
    (tmp_path / "out.mp4").write_bytes(archive.read("track-1.mp4"))
    assert digests(tmp_path / "out.mp4") == digests(clip)
    with pytest.raises(ValueError):
        download_entries([("x", clip)], "avi")
