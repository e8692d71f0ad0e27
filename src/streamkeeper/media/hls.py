"""HLS packaging of what the engine already holds: no transcoding, MPEG-TS segments cut at keyframes.

Two packagers, one cutting rule. A segment starts at a video keyframe (at
an audio frame when there is no video) and ends at the first one at least
:data:`TARGET` seconds later, in content time (see :mod:`.timeline`). Every
elementary stream is cut at its own PES boundaries around that point (an
audio frame that straddles the keyframe stays whole, in the earlier
segment), and each segment opens with the newest PAT/PMT, so that each one
decodes on its own and their concatenation is the original stream with
nothing cut in half.

* :class:`FileSegments` indexes a track file, incrementally, so that it
  also serves a recording that is still being written (an EVENT playlist
  without an end until the recording stops). Segments are read from the
  file on request.
* :class:`LivePackager` is an ingest subscriber: it keeps the last few
  segments of a live source in memory for a sliding playlist. Its media
  sequence numbers (and discontinuity count) are kept on disk, so they go
  on across a restart of the source, a re-tune, or of the server; a jump
  in the stream's clock (an encoder restart) starts a segment flagged with
  EXT-X-DISCONTINUITY. Packaging starts with the first request and stops
  after :data:`IDLE_AFTER` seconds without one.

Playlists are built by :func:`media_playlist` (plain text, RFC 8216).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from .timeline import CutPoint, Timeline, TrackIndex, main_pid
from .ts import PACKET_SIZE, PAT_PID, PTS_HZ, Analyzer, pes_timestamps

TARGET = 2.0  # seconds: a segment ends at the first keyframe at least this far after its start
LIVE_WINDOW = 6  # segments listed in a live playlist
LIVE_KEEP = 10  # segments kept in memory (a player may still fetch one that just left the playlist)
IDLE_AFTER = 300.0  # seconds without a request after which a live source is no longer packaged
TAIL_SLACK = PACKET_SIZE * 4096  # how far past a cut the other streams' PES may still run


@dataclass(slots=True)
class Segment:
    seq: int
    duration: float
    start: float = 0.0  # seconds from the first segment (on-demand) / stream clock (live)
    discontinuity: bool = False
    data: bytes | None = None  # live segments carry their bytes
    arrived: float = 0.0  # live: when its first packet arrived
    published: float = 0.0  # live: when it became listed
    disc_seq: int = 0  # discontinuities up to and including this segment


def _is_keyframe_start(buf, off: int) -> bool:
    """A PES start flagged for random access (the adaptation field's random_access_indicator)."""
    return bool(buf[off + 1] & 0x40 and buf[off + 3] & 0x20 and buf[off + 4] and buf[off + 5] & 0x40)


def _payload_start(buf, off: int) -> int:
    return off + 5 + buf[off + 4] if buf[off + 3] & 0x20 else off + 4


def _pid(buf, off: int) -> int:
    return ((buf[off + 1] & 0x1F) << 8) | buf[off + 2]


# -- files --------------------------------------------------------------------------------------


class FileSegments:
    """A track file's cut points (see :class:`~.timeline.TrackIndex`); segments cut from them on request."""

    def __init__(self, path: str | Path, files: "SegmentFiles | None" = None) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.index = TrackIndex(self.path)
        self.files = files  # where segments that cannot change any more are also kept as files

    def refresh(self) -> None:
        """Read what was appended to the file since the last call (whole packets only)."""
        with self._lock:
            before = self.index.pos
            self.index.refresh()
            if self.index.pos < before:  # cut back (a recording finalised): cut segments again
                CUT_SEGMENTS.forget(self.path)
                if self.files is not None:
                    self.files.forget(self.path)

    @property
    def keyframes(self) -> list[CutPoint]:
        return self.index.cuts

    @property
    def pes_pids(self) -> set[int]:
        return self.index.pes_pids

    @property
    def end_time(self) -> float:
        """Content seconds to the end of the newest picture."""
        return self.index.duration

    def segments(self, complete: bool) -> list[tuple[Segment, int, int]]:
        """(segment, first keyframe index, next cut keyframe index or -1 for the file's end).

        Without ``complete`` (a file still growing) the tail after the newest cut is left out:
        it becomes a segment once the keyframe that ends it has arrived."""
        kfs = self.keyframes
        out: list[tuple[Segment, int, int]] = []
        if not kfs:
            return out
        i = 0
        disc = 0
        for j in range(1, len(kfs)):
            if kfs[j].time - kfs[i].time >= TARGET - 1e-6 or kfs[j].jump:
                out.append((Segment(len(out), kfs[j].time - kfs[i].time, start=kfs[i].time,
                                    discontinuity=kfs[i].jump, disc_seq=disc), i, j))
                i = j
                disc += kfs[j].jump
        if complete and self.end_time > kfs[i].time:
            out.append((Segment(len(out), self.end_time - kfs[i].time, start=kfs[i].time,
                                discontinuity=kfs[i].jump, disc_seq=disc), i, -1))
        return out

    def _key(self, first: int, cut: int) -> tuple:
        # A segment running to the file's end is named with the end: it is another once the file grows.
        return (self.path, first, cut, self.index.pos if cut < 0 else 0)

    def cached(self, first: int, cut: int) -> bytes | None:
        """The segment's bytes if they were cut already (no file read, no thread needed)."""
        return CUT_SEGMENTS.get(self._key(first, cut))

    def open_cut(self, first: int, cut: int) -> tuple[int, int] | None:
        """(an open descriptor, size) of the segment's file when it was cut and kept as one
        (:class:`SegmentFiles`); the caller closes the descriptor. None otherwise."""
        return self.files.open(self._key(first, cut)) if self.files is not None else None

    def read(self, first: int, cut: int) -> bytes:
        """The bytes of the segment from keyframe ``first`` to keyframe ``cut`` (-1: the end of
        what is indexed).

        A segment that cannot change any more is kept in :data:`CUT_SEGMENTS`, so one that many
        players fetch is cut once, not once per request: one whose every stream was closed
        before the bytes read ran out (even while the file grows), or one that runs to the end
        (named with that end)."""
        key = self._key(first, cut)
        data = CUT_SEGMENTS.get(key)
        if data is not None:
            if self.files is not None and not self.files.has(key):
                self.files.put(key, data)
            return data
        kf = self.keyframes[first]
        end = self.keyframes[cut].offset if cut >= 0 else None
        psi = self.index.psi_bytes(kf)
        with open(self.path, "rb") as f:
            f.seek(kf.offset)
            limit = end - kf.offset + TAIL_SLACK if end is not None else key[3] - kf.offset
            data = f.read(limit)
        data = data[: len(data) - len(data) % PACKET_SIZE]
        body, final = _cut_at_pes(data, self.pes_pids, None if end is None else end - kf.offset)
        out = psi + body
        if final or end is None:
            CUT_SEGMENTS.put(key, out)
            if self.files is not None:
                self.files.put(key, out)
        return out


class SegmentCache:
    """Segments already cut from track files, the most recently used kept within a byte budget.
    Shared by every track of the process; safe from worker threads."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self._items: dict[tuple, bytes] = {}  # insertion order = use order (moved on a hit)
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            data = self._items.pop(key, None)
            if data is not None:
                self._items[key] = data
            return data

    def put(self, key: tuple, data: bytes) -> None:
        if len(data) > self.budget // 8:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._items[key] = data
            self.size += len(data)
            while self.size > self.budget:
                self.size -= len(self._items.pop(next(iter(self._items))))

    def forget(self, path: Path) -> None:
        """Drop a file's segments (the file was deleted or replaced)."""
        with self._lock:
            for key in [k for k in self._items if k[0] == path]:
                self.size -= len(self._items.pop(key))


#: Cut segments of every track file (about 30 segments of 2 s at 8 Mbit/s).
CUT_SEGMENTS = SegmentCache(64 << 20)
#: Disk space a media engine's cut segments kept as files may take (about 250 segments of 2 s at
#: 8 Mbit/s).
SEGMENT_FILES_BUDGET = 512 << 20


class SegmentFiles:
    """Segments already cut, also kept as files, so that a server can hand them to the kernel
    (sendfile) instead of copying their bytes: the most recently used within a byte budget, under
    a directory of this process (`<parent>/<host>-<pid>`, made at the first segment). Removed by
    :meth:`close`; the directories of processes of this host that are gone are removed when the
    first segment is kept. Safe from worker threads.

    A file is written whole under another name and renamed: a descriptor from :meth:`open` always
    reads a whole segment, even once the file is evicted (unlinked) meanwhile."""

    def __init__(self, parent: Path, budget: int) -> None:
        self.parent = Path(parent)
        self.host = socket.gethostname().replace("-", "_")
        self.directory = self.parent / f"{self.host}-{os.getpid()}"
        self.budget = budget
        self.size = 0
        self._files: dict[tuple, tuple[str, int]] = {}  # key -> (path, size); order = use order
        self._lock = threading.Lock()
        self._made = False
        self._serial = 0
        self.broken = False  # the directory cannot be written: segments are no longer kept

    def has(self, key: tuple) -> bool:
        return key in self._files

    def open(self, key: tuple) -> tuple[int, int] | None:
        with self._lock:
            found = self._files.pop(key, None)
            if found is None:
                return None
            self._files[key] = found
        try:
            return os.open(found[0], os.O_RDONLY | os.O_CLOEXEC), found[1]
        except OSError:  # removed behind our back: cut again next time
            with self._lock:
                if self._files.get(key) is found:
                    del self._files[key]
                    self.size -= found[1]
            return None

    def put(self, key: tuple, data: bytes) -> None:
        if self.broken or len(data) > self.budget // 8 or key in self._files:
            return
        with self._lock:
            self._serial += 1
            name = str(self.directory / f"{self._serial}.ts")
        try:
            if not self._made:
                self._prepare()
            partial = name + ".part"
            with open(partial, "wb") as f:
                f.write(data)
            os.replace(partial, name)
        except OSError as exc:
            import logging

            logging.getLogger(__name__).warning("cut segments are no longer kept as files in %s: %s",
                                                self.directory, exc)
            self.broken = True
            return
        drop: list[str] = []
        with self._lock:
            old = self._files.pop(key, None)
            if old is not None:
                self.size -= old[1]
                drop.append(old[0])
            self._files[key] = (name, len(data))
            self.size += len(data)
            while self.size > self.budget:
                path, size = self._files.pop(next(iter(self._files)))
                self.size -= size
                drop.append(path)
        for path in drop:
            _unlink(path)

    def forget(self, track: Path) -> None:
        """Drop a track file's segments (the file was deleted or replaced)."""
        with self._lock:
            gone = [k for k in self._files if k[0] == track]
            paths = [self._files.pop(k) for k in gone]
            self.size -= sum(size for _, size in paths)
        for path, _ in paths:
            _unlink(path)

    def close(self) -> None:
        with self._lock:
            self._files.clear()
            self.size = 0
        shutil.rmtree(self.directory, ignore_errors=True)
        self._made = False

    def _prepare(self) -> None:
        """Make this process's directory, and remove those of this host's processes that are gone."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._made = True
        for other in self.parent.iterdir():
            host, _, pid = other.name.rpartition("-")
            if host != self.host or not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                shutil.rmtree(other, ignore_errors=True)
            except OSError:
                pass  # alive, another user's


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def cut_at_pes(data: bytes, pes_pids: Iterable[int], end: int | None) -> bytes:
    """Packets of ``data`` (which starts at a keyframe) that belong to the segment ending at
    ``end``: each elementary stream from its first PES start to its first PES start at or after
    ``end``; other packets (PSI, PCR) before ``end``; null packets dropped."""
    return _cut_at_pes(data, pes_pids, end)[0]


def _cut_at_pes(data: bytes, pes_pids: Iterable[int], end: int | None) -> tuple[bytes, bool]:
    """:func:`cut_at_pes`, and whether every stream was closed within ``data`` (more bytes after
    it could not change the segment)."""
    pes = set(pes_pids)
    started: set[int] = set()
    closed: set[int] = set()
    out = bytearray()
    for off in range(0, len(data), PACKET_SIZE):
        pid = _pid(data, off)
        past = end is not None and off >= end
        if pid in pes:
            unit_start = data[off + 1] & 0x40
            if unit_start:
                if past:
                    closed.add(pid)
                else:
                    started.add(pid)
            if pid in started and pid not in closed:
                out += data[off:off + PACKET_SIZE]
            if past and started <= closed:
                return bytes(out), True
        elif not past and pid != 0x1FFF:
            out += data[off:off + PACKET_SIZE]
    return bytes(out), False


# -- live ----------------------------------------------------------------------------------------


class LivePackager:
    """Ingest subscriber that cuts a live source into a sliding window of in-memory segments."""

    def __init__(self, psi: Analyzer, state_file: str | Path | None = None, *,
                 clock: Callable[[], float] = time.time, window: int = LIVE_WINDOW, keep: int = LIVE_KEEP,
                 idle_after: float = IDLE_AFTER, on_idle: Callable[["LivePackager"], None] | None = None) -> None:
        self.psi = psi
        self.clock = clock
        # Nobody asked for a playlist or segment for this long: stop packaging (``on_idle``).
        self.idle_after = idle_after
        self.on_idle = on_idle
        self.window = window
        self.segments: deque[Segment] = deque(maxlen=keep)
        self.state_file = Path(state_file) if state_file else None
        self.next_seq, self.disc_seq = self._load()
        self._discontinuity = self.next_seq > 0  # the first segment after a restart follows other ones
        self._pending: bytearray | None = None  # the segment being filled
        self._pending_t = 0  # content ticks where the pending segment starts
        self._pending_arrived = 0.0
        self._timeline = Timeline()
        self._last_t: int | None = None  # content ticks of the newest main timestamp
        self._closing: tuple[Segment, bytearray, set[int]] | None = None  # ended, its PES still finishing
        self._psi_packets: dict[int, bytes] = {}
        self._started: set[int] = set()  # elementary PIDs whose first PES in the pending segment began
        self._psi_version = -1
        self._pids: tuple = (None, set(), frozenset(), False)
        self._followed: int | None = None  # the latest main PID there was
        self.last_access = clock()

    def _load(self) -> tuple[int, int]:
        if self.state_file is None:
            return 0, 0
        try:
            state = json.loads(self.state_file.read_text())
            return int(state["next"]), int(state["discontinuities"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0, 0

    def _save(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"next": self.next_seq, "discontinuities": self.disc_seq}))
        os.replace(tmp, self.state_file)

    def rebind(self, psi: Analyzer) -> None:
        """The source was re-tuned: a new stream, after a discontinuity."""
        self.psi = psi
        self._psi_version = -1
        self._end_pending(cut_t=None)
        self._discontinuity = True
        self._timeline.restart()

    # -- the sink ------------------------------------------------------------------------------

    def __call__(self, data: bytes) -> None:
        if self._psi_version != self.psi.psi_version:
            self._psi_version = self.psi.psi_version
            streams = self.psi.streams
            main = main_pid(self.psi)
            if main is not None and self._followed is not None and main != self._followed:
                # another PID layout: what we have ends, the new layout starts after a discontinuity
                self._end_pending(cut_t=None)
                self._discontinuity = True
                self._timeline.restart()
            if main is not None:
                self._followed = main
            is_video = any(s.pid == main and s.kind == "video" for s in streams)
            self._pids = (main, {p.pmt_pid for p in self.psi.programs.values()}, frozenset(s.pid for s in streams),
                          is_video)
        main, pmt, pes, is_video = self._pids
        if main is None:
            return
        for off in range(0, len(data) - len(data) % PACKET_SIZE, PACKET_SIZE):
            pid = _pid(data, off)
            if pid == 0x1FFF:
                continue
            packet = data[off:off + PACKET_SIZE]
            if pid == PAT_PID or pid in pmt:
                self._psi_packets[pid] = packet
            unit_start = data[off + 1] & 0x40
            if pid == main and unit_start:
                start = _payload_start(data, off)
                pts, dts = pes_timestamps(data[start:start + 19])
                if pts is not None:
                    # without video, any audio frame may start a segment
                    self._on_main(pts if dts is None else dts, not is_video or _is_keyframe_start(data, off))
            if self._closing is not None and pid in self._closing[2]:
                seg, buf, still_open = self._closing
                if unit_start:
                    still_open.discard(pid)
                    if not still_open:
                        self._publish(seg, buf)
                else:
                    buf += packet
                    continue
            if self._pending is None:
                continue
            if pid in pes and pid not in self._started:
                if not unit_start:
                    continue  # the rest of a PES that began in the previous segment
                self._started.add(pid)
            self._pending += packet

    def _on_main(self, raw: int, cut_ok: bool) -> None:
        """A timestamp of the main stream (the video, else the audio), in decoding order."""
        jumps = len(self._timeline.discontinuities)
        t = round(self._timeline.add(raw) * PTS_HZ)
        if len(self._timeline.discontinuities) != jumps:
            # the encoder restarted (or the clock leapt): close what we have, flag the next
            self._end_pending(cut_t=None)
            self._discontinuity = True
        self._last_t = t if self._last_t is None else max(self._last_t, t)
        if not cut_ok or PAT_PID not in self._psi_packets or len(self._psi_packets) < 2:
            return
        if self._pending is not None:
            if t - self._pending_t < TARGET * PTS_HZ - 1:
                return
            self._end_pending(cut_t=t)
        self._begin(t)

    def _begin(self, t: int) -> None:
        pmt = self._pids[1]
        header = self._psi_packets[PAT_PID] + b"".join(p for k, p in sorted(self._psi_packets.items()) if k in pmt)
        self._pending = bytearray(header)
        self._pending_t = t
        self._pending_arrived = self.clock()
        self._started: set[int] = set()

    def _end_pending(self, cut_t: int | None) -> None:
        """Close the segment being filled; its other streams finish their PES first."""
        if self._closing is not None:
            self._publish(self._closing[0], self._closing[1])
        if self._pending is None:
            return
        if cut_t is not None:
            ticks = cut_t - self._pending_t
        elif self._last_t is not None:
            ticks = self._last_t - self._pending_t + self._timeline.frame_ticks
        else:
            ticks = 0
        if ticks <= 0:
            self._pending = None
            return
        seg = Segment(self.next_seq, ticks / PTS_HZ, start=self._pending_t / PTS_HZ,
                      discontinuity=self._discontinuity, arrived=self._pending_arrived)
        self.next_seq += 1
        if seg.discontinuity:
            self.disc_seq += 1
        seg.disc_seq = self.disc_seq
        self._discontinuity = False
        buf, self._pending = self._pending, None
        main = self._pids[0]
        still_open = {p for p in self._started if p != main}
        if cut_t is None or not still_open:
            self._publish(seg, buf)
        else:
            self._closing = (seg, buf, still_open)

    def _publish(self, seg: Segment, buf: bytearray) -> None:
        seg.data = bytes(buf)
        seg.published = self.clock()
        self.segments.append(seg)
        if self._closing is not None and self._closing[0] is seg:
            self._closing = None
        self._save()
        if self.on_idle is not None and seg.published - self.last_access > self.idle_after:
            idle, self.on_idle = self.on_idle, None  # once
            idle(self)

    # -- reading -------------------------------------------------------------------------------

    def listed(self) -> list[Segment]:
        return list(self.segments)[-self.window:]

    def segment(self, seq: int) -> Segment | None:
        self.last_access = self.clock()
        for seg in self.segments:
            if seg.seq == seq:
                return seg
        return None


# -- playlists -----------------------------------------------------------------------------------


@dataclass(slots=True)
class DateRange:
    """A point in a video (a HotMark), as an EXT-X-DATERANGE tag."""

    id: str
    seconds: float
    title: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _quoted(text: str) -> str:
    """A quoted-string attribute value: no double quote, CR or LF may appear in one."""
    return '"' + text.replace('"', "'").replace("\r", " ").replace("\n", " ") + '"'


def media_playlist(segments: list[Segment], uri: Callable[[Segment], str], *, ended: bool,
                   kind: str | None = None, program_start: float | None = None,
                   marks: Iterable[DateRange] = (), min_target: int = 1) -> str:
    """An RFC 8216 media playlist. ``kind`` is ``VOD``/``EVENT`` (None for live);
    ``program_start`` (epoch seconds of the video's time 0) adds EXT-X-PROGRAM-DATE-TIME so
    that ``marks`` can be placed as EXT-X-DATERANGE tags."""
    target = max([min_target] + [math.ceil(s.duration - 1e-3) for s in segments])
    first = segments[0] if segments else None
    lines = ["#EXTM3U", "#EXT-X-VERSION:6" if marks else "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}",
             f"#EXT-X-MEDIA-SEQUENCE:{first.seq if first else 0}"]
    if first is not None and (first.disc_seq or first.discontinuity):
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{first.disc_seq - (1 if first.discontinuity else 0)}")
    if kind:
        lines.append(f"#EXT-X-PLAYLIST-TYPE:{kind}")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    if program_start is not None and first is not None:
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(program_start + first.start)}")
        for mark in marks:
            attrs = [f"ID={_quoted(mark.id)}", 'CLASS="com.streamkeeper.hotmark"',
                     f"START-DATE={_quoted(_iso(program_start + mark.seconds))}", "DURATION=0",
                     f"X-TITLE={_quoted(mark.title)}"]
            attrs += [f"{k}={_quoted(v)}" for k, v in mark.attributes.items()]
            lines.append("#EXT-X-DATERANGE:" + ",".join(attrs))
    for seg in segments:
        if seg.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{seg.duration:.3f},")
        lines.append(uri(seg))
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
