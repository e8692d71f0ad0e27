"""The timelines real encoders make, as generated numbered streams, and how to read them back."""

from __future__ import annotations

import io

import av

from streamkeeper.media.testsignal import Piece, encode_timeline, frame_number
from streamkeeper.media.timeline import TrackIndex

HOUR = 3600 * 90_000
WRAP = 1 << 33

# name -> (pieces, seconds of content, pictures): each a few seconds, so the suite stays short
CASES: dict[str, list[Piece]] = {
    "restart back": [Piece(2.0, start=900_000), Piece(2.0, start=0)],
    "restart forward": [Piece(2.0, start=10 * 90_000), Piece(2.0, start=3 * HOUR)],
    "33-bit wrap": [Piece(4.0, start=WRAP - 2 * 90_000)],
    "PID change": [Piece(2.0), Piece(2.0, start=5 * 90_000, first_pid=0x200, pmt_pid=0x1100)],
    "late audio": [Piece(4.0, audio_lag=1.5)],
    "audio after all video": [Piece(2.0, audio_lag=3.0)],
    "audio only": [Piece(3.0, video=False)],
    "video only": [Piece(3.0, audio=False)],
    "concatenated clips": [Piece(1.0, start=126_000) for _ in range(4)],
    "wrapping import": [Piece(1.52, start=WRAP - 90_000), Piece(1.52, start=40_000)],
}


def content_seconds(pieces: list[Piece]) -> float:
    return sum(p.seconds for p in pieces)


def pictures(pieces: list[Piece]) -> int:
    return sum(round(p.seconds * 25) for p in pieces if p.video)


def numbers(data: bytes, fmt: str) -> list[int]:
    """Frame numbers of every picture decoded from a file's bytes, failing on a decoder error.

    A TS file is decoded one PID layout at a time, as a player that follows PMT changes would."""
    if fmt != "mpegts":
        return _decode(data, fmt)
    index = TrackIndex()
    index.feed(data[: len(data) - len(data) % 188])
    ends = index.layouts[1:] + [len(data)]
    return [n for start, end in zip(index.layouts, ends) for n in _decode(data[start:end], fmt)]


def _decode(data: bytes, fmt: str) -> list[int]:
    with av.open(io.BytesIO(data), format=fmt) as c:
        if not c.streams.video:
            return []
        return [frame_number(f) for f in c.decode(video=0)]


def timeline_bytes(name: str) -> bytes:
    return encode_timeline(CASES[name])
