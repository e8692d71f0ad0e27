"""The bytes behind `/play/<token>/<file>`, from the media engine: one function, so that a request
can be routed to the process that holds the media.

Files under a token (the same for every player, relative URLs only):

- live source: `index.m3u8` (sliding playlist) and `<seq>.ts`;
- video: `index.m3u8` (track 1), `track-<n>.m3u8`, and `track-<n>/<seq>.ts`.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ..hmp.recordings.hls import (
    MediaUnavailable,
    live_playlist_text,
    live_segment_bytes,
    video_playlist_text,
    video_segment_cut,
)
from ..media.engine import TrackNotFound
from ..media.recorder import Recording
from ..ops.hot import FileBody

PLAYLIST = b"application/vnd.apple.mpegurl"
SEGMENT = b"video/mp2t"
MAX_TRACK = 64

# (status, content type, body): a video segment kept as a file is an open file (`FileBody`), sent
# with sendfile where the server can
Served = tuple[int, bytes, "bytes | FileBody"]


def _number(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return None
    return int(text)


# (engine id, asset, file) -> (engine, (track file, and for the segment that runs to the end of the
# track the recording manifest), their stamps then, the track's segments, first keyframe, cut
# keyframe): where a segment was found, valid while those files did not change. A video being
# recorded here is not remembered; one being recorded by another process writes both files (its
# track grows, its manifest says when it stops), and a video deleted or replaced has no track
# file, or another. A segment that ends at a keyframe does not change while the file only grows.
_FOUND: dict[tuple, tuple] = {}
_FOUND_MAX = 20_000


def _stamps(paths: tuple[str, ...]) -> tuple:
    """(inode, size, modification time) of each file, None for one that is not there."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _missing(what: str) -> Served:
    return 404, b"text/plain; charset=utf-8", what.encode()


async def play_bytes(engine: Any, asset: str, file: str) -> Served:
    """`file` of `asset` ("source:<id>" or "video:<id>"); a 404 for a file that is not there, a
    503 while a live source has nothing to play."""
    if engine is None:
        return 503, b"text/plain; charset=utf-8", b"the media engine is not running"
    known = _FOUND.get((id(engine), asset, file))
    if known is not None and known[0] is engine and _stamps(known[1]) == known[2]:
        opened = known[3].open_cut(known[4], known[5])
        if opened is not None:  # (the usual case: no index, no list of segments to look at)
            return 200, SEGMENT, FileBody(*opened)
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
        directory = engine.video_dir(object_id)
        files = (str(directory / f"track-{track}.ts"), str(directory / Recording.MANIFEST))
        stamp = _stamps(files)  # (before the index is read)
        found = video_segment_cut(engine, object_id, track, seq)
        if found is not None and found[2] >= 0:  # ends at a keyframe: the same whether recorded or not
            files, stamp = files[:1], stamp[:1]
    except TrackNotFound:
        return _missing("no such track")
    if found is None:
        return _missing("no such segment")
    segments, first, end = found
    if stamp[0] is not None and object_id not in engine.recordings:
        if len(_FOUND) >= _FOUND_MAX:
            _FOUND.clear()
        _FOUND[(id(engine), asset, file)] = (engine, files, stamp, segments, first, end)
    opened = segments.open_cut(first, end)
    if opened is not None:
        return 200, SEGMENT, FileBody(*opened)
    data = segments.cached(first, end)
    if data is None:  # cut now (and kept, as a file too, once it cannot change any more)
        data = await asyncio.to_thread(segments.read, first, end)
    return 200, SEGMENT, data
