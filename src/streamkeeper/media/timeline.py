"""One timeline for the whole media package: raw stream clocks as content time.

Real encoders restart (their clock jumps back to near zero, or forward by
hours), their 33-bit clock wraps about every 26.5 hours, and a restarted
source may come back with another PID layout. Content time is what a
viewer sees: seconds of pictures, counted from the first one, with every
jump removed. The recorder (duration, HotMarks), the exporter (MP4
timestamps), the seeker, thumbnails and HLS all go through this module;
none does its own arithmetic on raw PTS.

* :class:`Timeline` follows the main clock (the PTS of the main stream, in
  arrival order) and maps any other timestamp of the same stream (audio,
  PCR) through the piece of timeline it belongs to.
* :class:`TrackIndex` reads a track file once, incrementally: its program
  maps (they may change mid-file), its main stream's cut points with their
  content times, and its :class:`Timeline`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .ts import PACKET_SIZE, PAT_PID, PTS_HZ, Analyzer, pes_timestamps, pts_delta

JUMP = 5 * PTS_HZ  # a step forward larger than this is a discontinuity (an encoder restart, a splice)
BACK = 0  # decoding times never step back: any step back is a discontinuity
DEFAULT_FRAME = PTS_HZ // 25  # frame length assumed until two timestamps told the real one
PIECES_LOOKED_AT = 4  # a late timestamp (audio behind video) is matched against the newest pieces only


@dataclass(slots=True)
class Discontinuity:
    """Where the stream's clock jumped: content seconds of the first timestamp after the jump."""

    at: float
    raw_before: int
    raw_after: int


@dataclass(slots=True)
class _Piece:
    """A stretch of continuous clock: a raw timestamp in it and its content ticks."""

    raw: int
    content: int


class Timeline:
    """Maps 33-bit 90 kHz timestamps to monotonic content time across wraps and jumps.

    Feed the main stream's timestamps with :meth:`add`, in the order they
    arrive; map the other streams' with :meth:`to_content`. A wrap is an
    ordinary small step (deltas are taken modulo 2^33); a jump (more than
    ``jump`` forward or :data:`BACK` backward) starts a new piece one frame
    after the latest content so far, and is recorded in :attr:`discontinuities`.
    """

    __slots__ = ("jump", "pieces", "discontinuities", "frame", "count", "high", "high_raw", "_last", "_last_raw",
                 "_restart", "_steps")

    def __init__(self, jump: int = JUMP) -> None:
        self.jump = jump
        self.pieces: list[_Piece] = []
        self.discontinuities: list[Discontinuity] = []
        self.frame = 0  # ticks per frame: the most common forward step
        self._steps: dict[int, int] = {}
        self.count = 0
        self.high = 0  # content ticks of the latest timestamp so far
        self.high_raw: int | None = None  # its raw value
        self._last = 0
        self._last_raw: int | None = None
        self._restart = False

    def restart(self) -> None:
        """The stream was replaced (another PID layout, a re-tuned source): the next timestamp
        starts a new piece whatever its value."""
        self._restart = self._last_raw is not None

    def add(self, raw: int) -> float:
        """The next main-stream decoding time (the DTS, else the PTS); its content time in seconds."""
        self.count += 1
        if self._last_raw is None:
            self.pieces.append(_Piece(raw, 0))
            self._last_raw = self.high_raw = raw
            return 0.0
        step = pts_delta(raw, self._last_raw)
        if -BACK <= step <= self.jump and not self._restart:
            content = self._last + step
            if 0 < step < PTS_HZ:
                self._steps[step] = n = self._steps.get(step, 0) + 1
                if n > self._steps.get(self.frame, 0):
                    self.frame = step  # the most common step: one frame
            piece = self.pieces[-1]
            piece.raw, piece.content = raw, content  # anchor at the newest: valid across any number of wraps
        else:
            self._restart = False
            content = self.high + self.frame_ticks
            self.pieces.append(_Piece(raw, content))
            self.discontinuities.append(Discontinuity(content / PTS_HZ, self._last_raw, raw))
        self._last_raw, self._last = raw, content
        if content >= self.high:
            self.high, self.high_raw = content, raw
        return content / PTS_HZ

    @property
    def frame_ticks(self) -> int:
        return self.frame or DEFAULT_FRAME

    def to_content_ticks(self, raw: int, *, strict: bool = False) -> int | None:
        """Content ticks of a timestamp of another stream (or a PCR / 300), through its nearest piece.

        With ``strict``, None when no piece is near (within the jump threshold): the timestamp
        belongs to a piece the main stream has not reached yet (audio ahead of the pictures of a
        restarted encoder); ask again later."""
        if not self.pieces:
            return None if strict else 0
        best_d, best = None, None
        for piece in reversed(self.pieces[-PIECES_LOOKED_AT:]):
            d = pts_delta(raw, piece.raw)
            if best_d is None or abs(d) < abs(best_d):
                best_d, best = d, piece
        if strict and not -self.jump <= best_d <= self.jump:
            return None
        return best.content + best_d

    def to_content(self, raw: int) -> float:
        return self.to_content_ticks(raw) / PTS_HZ

    @property
    def duration(self) -> float:
        """Seconds of content: up to the end of the latest picture (or audio frame)."""
        if not self.count:
            return 0.0
        return (self.high + (self.frame_ticks if self.count > 1 or self.frame else 0)) / PTS_HZ


def main_pid(an: Analyzer) -> int | None:
    """The stream whose timestamps drive the timeline: the video, else the first audio, else any."""
    streams = an.streams
    for kind in ("video", "audio"):
        for s in streams:
            if s.kind == kind:
                return s.pid
    return streams[0].pid if streams else None


def is_random_access(buf, off: int) -> bool:
    """A packet flagged for random access (the adaptation field's random_access_indicator)."""
    return bool(buf[off + 3] & 0x20 and buf[off + 4] and buf[off + 5] & 0x40)


def has_discontinuity_flag(buf, off: int) -> bool:
    """The adaptation field's discontinuity_indicator: the time base is discontinuous here."""
    return bool(buf[off + 3] & 0x20 and buf[off + 4] and buf[off + 5] & 0x80)


def payload_start(buf, off: int) -> int:
    return off + 5 + buf[off + 4] if buf[off + 3] & 0x20 else off + 4


def pid_of(buf, off: int) -> int:
    return ((buf[off + 1] & 0x1F) << 8) | buf[off + 2]


@dataclass(slots=True)
class CutPoint:
    """Where playback can start: a video keyframe (any audio frame without video)."""

    offset: int  # of its first packet in the file
    time: float  # content seconds
    psi: tuple[int, ...]  # offsets of the newest PAT and PMT packets before it
    jump: bool = False  # the clock jumped (or the layout changed) since the previous cut point


def _unit_starts(pids: Iterable[int]) -> re.Pattern:
    """Headers of packets that start a unit (PUSI set, no transport error) on one of ``pids``."""
    alternatives = []
    for pid in pids:
        hi, lo = 0x40 | (pid >> 8), pid & 0xFF
        alternatives.append(b"\x47[" + re.escape(bytes([hi])) + re.escape(bytes([hi | 0x20])) + b"]"
                            + re.escape(bytes([lo])))
    return re.compile(b"|".join(alternatives))


READ_BLOCK = PACKET_SIZE * 7 * 64


class TrackIndex:
    """A TS file's cut points and timeline, read incrementally (a recording still grows).

    Until the program map is known every packet is looked at; then only unit
    starts of the PAT, the PMTs and the main stream, found by a regular
    expression (an hour of a 10 Mbit/s recording is indexed in seconds).
    A new program map (another PID layout, a new PMT version) is followed
    from the packet that carries it.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.pos = 0
        self.timeline = Timeline()
        self.cuts: list[CutPoint] = []
        self.pes_pids: set[int] = set()  # every elementary stream of every layout
        self.stream_types: dict[int, int] = {}  # their stream_type (the newest layout's, for a reused PID)
        self.video = False  # the main stream is video
        self.layouts: list[int] = [0]  # file offsets where each PID layout begins (its PAT)
        self.layout_pids: list[set[int]] = [set()]  # the elementary PIDs of each layout
        self._an = Analyzer()
        self._psi_at: dict[int, int] = {}
        self._version = -1
        self._main: int | None = None
        self._followed: int | None = None  # the latest main PID there was
        self._pmt: set[int] = set()
        self._starts: re.Pattern | None = None
        self._jumped = False
        self._seen_discontinuities = 0
        self._reorder: int | None = None  # PTS - DTS of the main stream's first unit

    def refresh(self) -> "TrackIndex":
        """Read what was appended to the file since the last call (whole packets only)."""
        size = self.path.stat().st_size
        size -= size % PACKET_SIZE
        if size < self.pos:  # cut back when a recording was finalised: read it again
            self.__init__(self.path)
        if size <= self.pos:
            return self
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            while self.pos < size:
                block = f.read(min(READ_BLOCK, size - self.pos))
                if not block:
                    break
                block = block[: len(block) - len(block) % PACKET_SIZE]
                self.feed(block)
        return self

    def feed(self, block: bytes) -> None:
        """Index the next whole packets of the file."""
        base = self.pos
        self._scan(block, 0, base)
        self.pos = base + len(block)

    def _layout(self) -> None:
        an = self._an
        self._version = an.psi_version
        self.pes_pids.update(s.pid for s in an.streams)
        self.stream_types.update((s.pid, s.stream_type) for s in an.streams)
        main = main_pid(an)
        pmt = {p.pmt_pid for p in an.programs.values()}
        if main is not None:
            if self._followed is not None and main != self._followed:
                self.timeline.restart()  # another layout: a new piece begins at its first cut point
                self.layouts.append(self._psi_at.get(PAT_PID, self.pos))
                self.layout_pids.append(set())
            self._followed = main
            self.layout_pids[-1].update(s.pid for s in an.streams)
        self._main, self._pmt = main, pmt
        self.video = any(s.kind == "video" and s.pid == main for s in an.streams)
        self._starts = _unit_starts({PAT_PID, main, *pmt}) if main is not None and pmt else None

    def _scan(self, block: bytes, start: int, base: int) -> None:
        an = self._an
        if self._starts is None:
            offsets: Iterable[int] = range(start, len(block), PACKET_SIZE)
        else:
            offsets = (m.start() for m in self._starts.finditer(block, start) if not m.start() % PACKET_SIZE)
        for off in offsets:
            pid = pid_of(block, off)
            if pid == PAT_PID or pid in self._pmt or self._starts is None:
                an.feed(block[off:off + PACKET_SIZE])
                if pid == PAT_PID or pid in self._pmt:
                    self._psi_at[pid] = base + off
                if an.psi_version != self._version:
                    self._layout()
                    self._scan(block, off + PACKET_SIZE, base)  # the rest of the block, new layout
                    return
                continue
            if pid == self._main and block[off + 1] & 0x40:
                self._on_main(block, off, base)

    def _on_main(self, block: bytes, off: int, base: int) -> None:
        start = payload_start(block, off)
        pts, dts = pes_timestamps(block[start:start + 19])
        if pts is None:
            return
        if has_discontinuity_flag(block, off):
            self.timeline.restart()  # the writer said the clock jumps here (a recording taken over)
        t = self.timeline.add(pts if dts is None else dts)
        if dts is not None:
            # a cut point's time is when its picture is shown: its decoding time plus how much
            # later than the stream's first picture it is shown (an open group's keyframe waits
            # longer for the pictures shown before it)
            reorder = pts_delta(pts, dts)
            if self._reorder is None:
                self._reorder = reorder
            t += (reorder - self._reorder) / PTS_HZ
        elif self._reorder is None:
            self._reorder = 0
        if len(self.timeline.discontinuities) != self._seen_discontinuities:
            self._seen_discontinuities = len(self.timeline.discontinuities)
            self._jumped = True
        if self.video and not is_random_access(block, off):
            return
        if PAT_PID not in self._psi_at or len(self._psi_at) < 2:
            return
        psi = (self._psi_at[PAT_PID], *sorted(v for k, v in self._psi_at.items() if k in self._pmt))
        self.cuts.append(CutPoint(base + off, t, psi, self._jumped and bool(self.cuts)))
        self._jumped = False

    # -- questions ---------------------------------------------------------------------------

    @property
    def duration(self) -> float:
        return self.timeline.duration

    @property
    def pcr_pid(self) -> int | None:
        return self._an.pcr_pid

    def cut_at(self, seconds: float) -> int:
        """Index of the last cut point at or before ``seconds`` (0 if none is)."""
        lo, hi = 0, len(self.cuts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.cuts[mid].time <= seconds + 1e-9:
                lo = mid + 1
            else:
                hi = mid
        return max(0, lo - 1)

    def psi_bytes(self, cut: CutPoint) -> bytes:
        """The PAT and PMT packets in force at a cut point."""
        out = b""
        with open(self.path, "rb") as f:
            for off in cut.psi:
                f.seek(off)
                out += f.read(PACKET_SIZE)
        return out


def index_track(path: str | Path) -> TrackIndex:
    return TrackIndex(path).refresh()
