"""The bytes behind `/play/<token>/<file>`, from the media engine: one function, so that a request
can be routed to the process that holds the media.

Files under a token (the same for every player, relative URLs only):

- live source: `index.m3u8` (sliding playlist) and `<seq>.ts`;
- video: `index.m3u8` (track 1), `track-<n>.m3u8`, and `track-<n>/<seq>.ts`.
"""

from __future__ import annotations

from typing import Any

from ..hmp.recordings.hls import (
    MediaUnavailable,
    live_playlist_text,
    live_segment_bytes,
    video_playlist_text,
    video_segment_bytes,
)
from ..media.engine import TrackNotFound

PLAYLIST = b"application/vnd.apple.mpegurl"
SEGMENT = b"video/mp2t"
MAX_TRACK = 64

# (status, content type, body)
Served = tuple[int, bytes, bytes]


def _number(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return None
    return int(text)


def _missing(what: str) -> Served:
    return 404, b"text/plain; charset=utf-8", what.encode()


async def play_bytes(engine: Any, asset: str, file: str) -> Served:
    """`file` of `asset` ("source:<id>" or "video:<id>"); a 404 for a file that is not there, a
    503 while a live source has nothing to play."""
    if engine is None:
        return 503, b"text/plain; charset=utf-8", b"the media engine is not running"
    kind, _, object_id = asset.partition(":")
    if kind == "source":
        if file == "index.m3u8":
            try:
                text = await live_playlist_text(engine, object_id, lambda s: f"{s.seq}.ts")
            except MediaUnavailable as exc:
                return 503, b"text/plain; charset=utf-8", str(exc).encode()
            return 200, PLAYLIST, text.encode()
        if file.endswith(".ts") and (seq := _number(file[:-3])) is not None:
            data = live_segment_bytes(engine, object_id, seq)
            return (200, SEGMENT, data) if data is not None else _missing("no such segment")
        return _missing("no such file")
    track, seq = 1, None
    if file == "index.m3u8":
        pass
    elif file.startswith("track-") and file.endswith(".m3u8"):
        track = _number(file[6:-5])
    elif file.startswith("track-") and "/" in file and file.endswith(".ts"):
        head, _, tail = file.partition("/")
        track, seq = _number(head[6:]), _number(tail[:-3])
        if seq is None:
            return _missing("no such file")
    else:
        return _missing("no such file")
    if track is None or not 1 <= track <= MAX_TRACK:
        return _missing("no such track")
    try:
        if seq is None:
            text = await video_playlist_text(engine, object_id, track, lambda s: f"track-{track}/{s.seq}.ts")
            return 200, PLAYLIST, text.encode()
        data = await video_segment_bytes(engine, object_id, track, seq)
    except TrackNotFound:
        return _missing("no such track")
    return (200, SEGMENT, data) if data is not None else _missing("no such segment")
