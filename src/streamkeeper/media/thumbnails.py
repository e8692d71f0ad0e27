"""JPEG thumbnails decoded with PyAV, from video files and from live sources.

A live source keeps, in memory, only what a decoder needs to show its
latest picture: the newest PAT/PMT and the packets since the last video
keyframe (bounded). Decoding happens on request, never per packet.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av

from .timeline import TrackIndex, index_track
from .ts import PACKET_SIZE, PAT_PID, PTS_HZ, PTS_WRAP, Analyzer, starts_access_unit

MAX_GOP_BYTES = 8 * 1024 * 1024


class ThumbnailNotFound(Exception):
    """No picture is available yet (no keyframe received, or nothing at that time)."""


def _fit(src_w: int, src_h: int, width: int | None, height: int | None) -> tuple[int, int]:
    """Target size; a missing side keeps the aspect ratio. Even numbers for 4:2:0."""
    if width and height:
        w, h = width, height
    elif width:
        w, h = width, round(src_h * width / src_w)
    elif height:
        w, h = round(src_w * height / src_h), height
    else:
        w, h = src_w, src_h
    return max(2, w - w % 2), max(2, h - h % 2)


def encode_jpeg(frame: av.VideoFrame, width: int | None = None, height: int | None = None,
                quality: int = 5) -> bytes:
    w, h = _fit(frame.width, frame.height, width, height)
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height = w, h
    ctx.pix_fmt = "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    ctx.options = {"qmin": str(quality), "qmax": str(quality)}
    img = frame.reformat(width=w, height=h, format="yuvj420p")
    img.pts = 0
    packets = ctx.encode(img) + ctx.encode(None)
    return b"".join(bytes(p) for p in packets)


def thumbnail_from_file(path: str | Path, at: float = 0.0, width: int | None = None,
                        height: int | None = None) -> bytes:
    """JPEG of the picture on screen at ``at`` content seconds into the video (see :mod:`.timeline`)."""
    return thumbnail_at(index_track(path), at, width, height)


def thumbnail_at(index: TrackIndex, at: float = 0.0, width: int | None = None,
                 height: int | None = None) -> bytes:
    """Decode from the keyframe at or before ``at`` to the picture shown at ``at``; past the end,
    the last picture."""
    if not index.video:
        raise ThumbnailNotFound("no video stream")
    cuts = index.cuts
    if not cuts:
        raise ThumbnailNotFound("no picture recorded yet")
    at = max(0.0, min(float(at), index.duration - index.timeline.frame_ticks / PTS_HZ))
    i = index.cut_at(at)
    first = cuts[i]
    # up to the keyframe after the wanted picture (the decoder then holds it), never past a jump
    k = i + 1
    while k < len(cuts) and cuts[k].time <= at and not cuts[k].jump:
        k += 1
    with open(index.path, "rb") as f:
        f.seek(first.offset)
        data = f.read(cuts[k].offset - first.offset) if k < len(cuts) else f.read()
    data = index.psi_bytes(first) + data[: len(data) - len(data) % PACKET_SIZE]
    best = None
    try:
        with av.open(io.BytesIO(data), format="mpegts") as container:
            if not container.streams.video:
                raise ThumbnailNotFound("no video stream")
            start = None
            for frame in container.decode(container.streams.video[0]):
                if frame.pts is None:
                    continue
                if start is None:
                    if not frame.key_frame:
                        continue  # an open group's pictures shown before its keyframe
                    start = frame.pts
                elif (frame.pts - start) % PTS_WRAP >= PTS_WRAP // 2:
                    continue
                t = first.time + ((frame.pts - start) % PTS_WRAP) * float(frame.time_base)
                if best is not None and t > at + 1e-6:
                    break  # ``best`` is the picture on screen at ``at``
                best = frame
    except av.error.FFmpegError as exc:
        if best is None:
            raise ThumbnailNotFound(str(exc)) from exc
    if best is None:
        raise ThumbnailNotFound(f"no picture at {at} s")
    return encode_jpeg(best, width, height)


def thumbnail_from_ts_bytes(data: bytes, width: int | None = None, height: int | None = None) -> bytes:
    with av.open(io.BytesIO(data), format="mpegts") as container:
        if not container.streams.video:
            raise ThumbnailNotFound("no video stream")
        try:
            for frame in container.decode(container.streams.video[0]):
                return encode_jpeg(frame, width, height)
        except av.error.FFmpegError as exc:
            raise ThumbnailNotFound(str(exc)) from exc
    raise ThumbnailNotFound("no complete picture yet")


class LiveThumbnails:
    """Ingest subscriber that keeps the newest keyframe and what follows it."""

    def __init__(self, psi: Analyzer, max_bytes: int = MAX_GOP_BYTES) -> None:
        self.psi = psi
        self.max_bytes = max_bytes
        self._psi_packets: dict[int, bytes] = {}
        self._capture: bytearray | None = None  # the keyframe being received
        self._complete = b""  # PSI + the newest keyframe known to be whole

    def __call__(self, data: bytes) -> None:
        video = {s.pid: s.stream_type for s in self.psi.streams if s.kind == "video"}
        pmt = {p.pmt_pid for p in self.psi.programs.values()}
        cap = self._capture
        seg = 0 if cap is not None else None
        for off in range(0, len(data) - len(data) % PACKET_SIZE, PACKET_SIZE):
            b1 = data[off + 1]
            pid = ((b1 & 0x1F) << 8) | data[off + 2]
            if pid == PAT_PID or pid in pmt:
                self._psi_packets[pid] = data[off:off + PACKET_SIZE]
            elif b1 & 0x40 and pid in video and starts_access_unit(data, off, video[pid]):
                # (a PES start may be the rest of the same picture: see starts_access_unit)
                if cap is not None:
                    # the next frame starts, so the keyframe before it is whole
                    cap += data[seg:off]
                    self._complete = self._header() + bytes(cap)
                    cap = seg = None
                if data[off + 3] & 0x20 and data[off + 4] and data[off + 5] & 0x40:
                    cap, seg = bytearray(), off
        if cap is not None:
            cap += data[seg:]
            if len(cap) > self.max_bytes:
                cap = None
        self._capture = cap

    def _header(self) -> bytes:
        pat = self._psi_packets.get(PAT_PID, b"")
        return pat + b"".join(p for pid, p in self._psi_packets.items() if pid != PAT_PID)

    def jpeg(self, width: int | None = None, height: int | None = None) -> bytes:
        if not self._complete:
            raise ThumbnailNotFound("no keyframe received yet")
        return thumbnail_from_ts_bytes(self._complete, width, height)
