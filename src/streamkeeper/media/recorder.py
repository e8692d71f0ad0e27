"""Recording live sources into MPEG-TS track files, one per source.

Durability comes from the write pattern, not from a later flush: each batch
of packets that arrives is handed to the kernel with one ``os.write`` on an
unbuffered descriptor, so a killed process loses at most the write it was
in. A track file is a valid transport stream from its first byte: it starts
with the latest PAT/PMT followed by the first video keyframe.

Pause leaves the paused span out of the file. Writing resumes at the next
keyframe, and from there on PCR, PTS and DTS are shifted back by the
length of the gap and continuity counters are renumbered, so the file
plays as if the pause never happened and reports zero continuity errors.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .timeline import Timeline, index_track, main_pid
from .ts import (
    PACKET_SIZE, PAT_PID, PTS_WRAP, Analyzer, analyze_file, decode_timestamp, encode_pcr,
    encode_timestamp, packet_pcr, starts_access_unit,
)

MIN_FREE_BYTES = 256 * 1024 * 1024


class InsufficientSpace(Exception):
    """Too little free disk space under the data directory to start recording."""


def check_space(directory: str | Path, min_free: int = MIN_FREE_BYTES) -> None:
    directory = Path(directory)
    probe = directory
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < min_free:
        raise InsufficientSpace(f"only {free // (1024 * 1024)} MiB free under {directory}")


@dataclass(slots=True)
class TrackInfo:
    """What a finished track file holds, read back from the file itself."""

    path: str
    size: int
    duration: float
    video_streams: int
    audio_streams: int
    bitrate: float | None
    cc_errors: int


def _pes_header_offset(buf, off: int) -> int:
    """Where the payload of the packet at ``off`` starts."""
    if buf[off + 3] & 0x20:
        return off + 5 + buf[off + 4]
    return off + 4


class TrackWriter:
    """Subscriber that appends one source's packets to a track file.

    ``psi`` is the source's analyzer, which already knows the program map
    (which PID is video, which PIDs carry the PMT); the writer itself only
    looks at packet headers, PCRs and the PES headers of the main stream.
    """

    WAITING, RECORDING, PAUSING, PAUSED, FAILED, CLOSED = (
        "waiting", "recording", "pausing", "paused", "failed", "closed")

    def __init__(self, path: str | Path, psi: Analyzer, *, clock: Callable[[], float] = time.time,
                 hold: bool = False, base: float | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.psi = psi
        self.clock = clock
        # Appending to a track another process was writing (a takeover): what it left is cut back
        # to its last whole frame, and the first keyframe written here is flagged as a
        # discontinuity (see :func:`mark_discontinuity`).
        if base is None:  # (reads the whole file: callers on an event loop pass it, see prepare_append)
            base = prepare_append(self.path)
        self.appending = self.path.exists() and self.path.stat().st_size > 0
        self._flag_next, self._flag_next_at = False, -1
        # Content seconds already in the file when appending: positions go on from there.
        self.base = base if self.appending else 0.0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.state = self.WAITING
        self.hold = hold  # paused before writing anything: wait for resume()
        self.error: str | None = None
        self.bytes_written = 0
        self.writes = 0
        self._psi_packets: dict[int, bytes] = {}
        self._offset = 0  # 90 kHz ticks removed from every timestamp after a pause
        self._cc_delta: dict[int, int] = {}
        self._cc_expect: dict[int, int] = {}  # while paused: first dropped cc per PID
        self._cc_pending: dict[int, int] = {}  # after resuming: output cc due next per PID
        self._resume = False
        self._cc_rebind: dict[int, int] | None = None
        self._psi_version = -1
        self._pids: tuple = (None, set(), set())
        self._main_type: int | None = None  # stream_type of the main stream
        self.timeline = Timeline()  # content time of what was written (main stream, after the pause shift)
        self._main_followed: int | None = None
        self._gap_pts: int | None = None  # last written main PTS when pausing
        self._timeline: list[tuple[float, float]] = []  # (wall time, recorded seconds)
        # Writing starts (and resumes) at a keyframe, not at the request: when that happened.
        self.started_at: float | None = None
        self.resumed_at: float | None = None
        self.on_start: Callable[["TrackWriter"], None] | None = None  # at the first keyframe written

    # -- what the stream looks like --------------------------------------

    def _main_pid(self) -> int | None:
        main = main_pid(self.psi)
        if main is not None:
            if self._main_followed is not None and main != self._main_followed:
                self.timeline.restart()  # a new PID layout: a new piece of the timeline
            self._main_followed = main
        return main

    def _has_video(self) -> bool:
        return any(s.kind == "video" for s in self.psi.streams)

    # -- the sink ----------------------------------------------------------

    def __call__(self, data: bytes) -> None:
        if self.state in (self.CLOSED, self.FAILED):
            return
        if self._psi_version != self.psi.psi_version:
            self._psi_version = self.psi.psi_version
            self._pids = (self._main_pid(), {p.pmt_pid for p in self.psi.programs.values()},
                          {s.pid for s in self.psi.streams})
            self._main_type = next((s.stream_type for s in self.psi.streams if s.pid == self._pids[0]), None)
        main, pmt_pids, es_pids = self._pids
        n = len(data) - len(data) % PACKET_SIZE
        ranges: list[tuple[int, int]] = []
        begin = 0 if self.state in (self.RECORDING, self.PAUSING) else None
        for off in range(0, n, PACKET_SIZE):
            b1 = data[off + 1]
            pid = ((b1 & 0x1F) << 8) | data[off + 2]
            if pid == PAT_PID or pid in pmt_pids:
                self._psi_packets[pid] = data[off:off + PACKET_SIZE]
            state = self.state
            if state == self.RECORDING:
                if pid == main and b1 & 0x40:
                    self._see_main_pts(data, off)
                continue
            if state == self.PAUSING:
                if not (pid == main and starts_access_unit(data, off, self._main_type)):
                    continue
                # The frame in progress is complete: stop in front of the next one (a PES start
                # may be the rest of the same picture).
                ranges.append((begin, off))
                begin = None
                self.state = self.PAUSED
                self._gap_pts = self.timeline.high_raw
                self._timeline.append((self.clock(), self.position))
            if self.state == self.PAUSED and data[off + 3] & 0x10 and pid not in self._cc_expect:
                self._cc_expect[pid] = data[off + 3] & 0x0F
            if ((self.state == self.WAITING and not self.hold) or self._resume) and \
                    self._resume_point(data, off, pid, main):
                self._begin(data, off)
                begin = off
        if begin is not None and begin < n:
            ranges.append((begin, n))
        for lo, hi in ranges:
            chunk = data[lo:hi] if (lo, hi) != (0, len(data)) else data
            if self._flag_next and lo == self._flag_next_at:
                self._flag_next = False
                chunk = mark_discontinuity(chunk)
            if self._offset or self._cc_delta or self._cc_pending:
                chunk = self._restamp(chunk, es_pids)
            if self.state == self.FAILED:
                return
            self._write(chunk)
        now = self.clock()
        if not self._timeline or now - self._timeline[-1][0] >= 0.25:
            self._timeline.append((now, self.position))

    def _resume_point(self, data, off: int, pid: int, main: int | None) -> bool:
        """A video keyframe (or, without video, any PES start of the main stream) with PSI known."""
        if main is None or pid != main or not data[off + 1] & 0x40:
            return False
        if self.state == self.WAITING and PAT_PID not in self._psi_packets:
            return False
        if self.state == self.WAITING and len(self._psi_packets) < 2:
            return False
        if self._has_video():
            return bool(data[off + 3] & 0x20 and data[off + 4] and data[off + 5] & 0x40)
        return True

    def _begin(self, data, off: int) -> None:
        pts = _read_dts(data, _pes_header_offset(data, off))
        if self.state == self.WAITING:
            header = self._psi_packets[PAT_PID] + b"".join(
                pkt for p, pkt in sorted(self._psi_packets.items()) if p != PAT_PID)
            if self.appending:
                # Counters go on from what the file ends with; the keyframe says the clock jumped.
                self._cc_pending = self._next_ccs_on_disk()
                self._flag_next, self._flag_next_at = True, off
            self._write(header)
        elif pts is not None and self._gap_pts is not None:
            # Close the gap: the keyframe takes the place of the frame after the last one written.
            target = (self._gap_pts + self.timeline.frame_ticks) % PTS_WRAP
            self._offset = (pts - target) % PTS_WRAP
            # Counters go on from where the file stopped: renumber each PID at its next packet.
            if self._cc_rebind is not None:  # another stream: what the file ends with is the reference
                self._cc_delta = {}
                self._cc_pending, self._cc_rebind = self._cc_rebind, None
            else:
                self._cc_pending = {p: (cc + self._cc_delta.get(p, 0)) % 16 for p, cc in self._cc_expect.items()}
        self._cc_expect.clear()
        self._resume = False
        if self.state == self.WAITING and self.started_at is None:
            self.started_at = self.clock()
            if self.on_start is not None:
                self.on_start(self)
        else:  # (a track taken over from another process was started there: it resumes here)
            self.resumed_at = self.clock()
        self.state = self.RECORDING
        self._timeline.append((self.clock(), self.position))
        self._see_main_pts(data, off)

    def _see_main_pts(self, data, off: int) -> None:
        """Follow the main stream's decoding times on the output timeline (after the pause shift)."""
        dts = _read_dts(data, _pes_header_offset(data, off))
        if dts is not None:
            self.timeline.add((dts - self._offset) % PTS_WRAP)

    def _restamp(self, chunk: bytes, es_pids: set[int]) -> bytes:
        out = bytearray(chunk)
        offset = self._offset
        deltas = self._cc_delta
        pending = self._cc_pending
        for off in range(0, len(out), PACKET_SIZE):
            pid = ((out[off + 1] & 0x1F) << 8) | out[off + 2]
            b3 = out[off + 3]
            if pending and b3 & 0x10 and pid in pending:
                deltas[pid] = (pending.pop(pid) - b3) % 16
            d = deltas.get(pid)
            if d:
                out[off + 3] = (b3 & 0xF0) | ((b3 + d) & 0x0F)
            if not offset:
                continue
            if b3 & 0x20 and out[off + 4] >= 7 and out[off + 5] & 0x10:
                pcr = packet_pcr(out, off)
                out[off + 6:off + 12] = encode_pcr(pcr - offset * 300)
            if out[off + 1] & 0x40 and pid in es_pids:
                p = _pes_header_offset(out, off)
                if p + 14 <= off + PACKET_SIZE and out[p] == 0 and out[p + 1] == 0 and out[p + 2] == 1:
                    flags = out[p + 7] >> 6
                    if flags & 0x2:
                        pts = decode_timestamp(out, p + 9)
                        out[p + 9:p + 14] = encode_timestamp(pts - offset, 0x3 if flags == 0x3 else 0x2)
                        if flags == 0x3 and p + 19 <= off + PACKET_SIZE:
                            dts = decode_timestamp(out, p + 14)
                            out[p + 14:p + 19] = encode_timestamp(dts - offset, 0x1)
        return bytes(out)

    def _write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        try:
            while view:
                done = os.write(self._fd, view)
                view = view[done:]
        except OSError as exc:
            # Disk full or gone: stop here, keep what is on disk playable, say why.
            self.error = f"{type(exc).__name__}: {exc}"
            self.state = self.FAILED
            return
        self.bytes_written += len(chunk)
        self.writes += 1

    # -- control -----------------------------------------------------------

    @property
    def position(self) -> float:
        """Seconds recorded so far, on the stream's own clock (paused spans excluded)."""
        return self.base + self.timeline.duration

    def position_at(self, wall: float) -> float:
        """Recorded seconds at a wall-clock moment (for HotMarks with a timestamp)."""
        best = 0.0
        for t, pos in self._timeline:
            if t > wall:
                break
            best = pos
        return best

    def rebind(self, psi: Analyzer) -> None:
        """The source was re-tuned: follow the new stream, joined at its next keyframe.

        Handled like a pause and resume across the two streams, so the track's
        timeline and continuity counters go on without a jump.
        """
        self.psi = psi
        self._psi_version = -1
        if self.state in (self.RECORDING, self.PAUSING, self.PAUSED):
            if self.state != self.PAUSED:
                self._gap_pts = self.timeline.high_raw
            self.state = self.PAUSED
            self._cc_expect.clear()
            self._resume = True
            self._cc_rebind = self._next_ccs_on_disk()

    def _next_ccs_on_disk(self) -> dict[int, int]:
        """Per PID, the continuity counter due after the last packet in the file."""
        size = os.fstat(self._fd).st_size
        size -= size % PACKET_SIZE
        tail_len = min(size, PACKET_SIZE * 2000)
        with open(self.path, "rb") as f:
            f.seek(size - tail_len)
            tail = f.read(tail_len)
        due = {}
        for off in range(0, len(tail) - PACKET_SIZE + 1, PACKET_SIZE):
            if tail[off + 3] & 0x10:
                pid = ((tail[off + 1] & 0x1F) << 8) | tail[off + 2]
                due[pid] = ((tail[off + 3] & 0x0F) + 1) % 16
        return due

    def pause(self) -> None:
        """Stop writing at the end of the frame in progress."""
        if self.state == self.WAITING:
            self.hold = True
        elif self.state == self.RECORDING:
            self.state = self.PAUSING
            self._cc_expect.clear()
        elif self.state == self.PAUSED:
            self._resume = False

    def resume(self) -> None:
        """Writing restarts at the next keyframe (see :meth:`_begin`)."""
        if self.state == self.WAITING:
            self.hold = False
        elif self.state == self.PAUSING:
            self.state = self.RECORDING
        elif self.state == self.PAUSED:
            self._resume = True

    def detach(self) -> None:
        """Stop writing and let go of the file as it is (another process goes on with it)."""
        if self.state != self.CLOSED:
            self.state = self.CLOSED
            os.close(self._fd)

    def close(self) -> TrackInfo:
        self.detach()
        if not self.path.is_file():
            raise OSError(self.error or f"{self.path} is not a regular file")
        return finalize_track(self.path)


def _read_dts(buf, p: int) -> int | None:
    """The decoding time of a PES: its DTS, else its PTS (the timeline follows decoding order)."""
    if p + 19 <= len(buf) and buf[p + 7] & 0xC0 == 0xC0 and not (buf[p] or buf[p + 1] or buf[p + 2] != 1):
        return decode_timestamp(buf, p + 14)
    return _read_pts(buf, p)


def _read_pts(buf, p: int) -> int | None:
    if p + 14 > len(buf) or buf[p] or buf[p + 1] or buf[p + 2] != 1:
        return None
    if buf[p + 7] & 0x80:
        return decode_timestamp(buf, p + 9)
    return None


def finalize_track(path: str | Path, *, complete: bool = False,
                   progress: Callable[[int], None] | None = None) -> TrackInfo:
    """Make a track file playable and describe it; also what a restart does after a crash.

    The file is cut at the last whole packet, then (unless the file is known
    to be ``complete``, like an import) before the last video PES start:
    nothing follows that frame to show it was written in full.
    """
    path = Path(path)
    whole = trim_track(path, complete=complete)
    an = analyze_file(path, progress=progress)
    return TrackInfo(
        path=str(path), size=whole, duration=index_track(path).duration,
        video_streams=sum(1 for s in an.streams if s.kind == "video"),
        audio_streams=sum(1 for s in an.streams if s.kind == "audio"),
        bitrate=an.bitrate, cc_errors=an.cc_errors,
    )


def trim_track(path: str | Path, *, complete: bool = False) -> int:
    """Cut a track file back to its last whole packet and (unless ``complete``) to before its
    last video frame, which may have been cut short; the size left."""
    path = Path(path)
    size = path.stat().st_size
    whole = size - size % PACKET_SIZE
    with open(path, "r+b") as f:
        cut = None if complete else _last_video_start(f, whole)
        if cut is not None and cut < whole:
            whole = cut
        if whole != size:
            f.truncate(whole)
            f.flush()
            os.fsync(f.fileno())
    return whole


def prepare_append(path: str | Path) -> float:
    """Before going on with a track another process was writing: cut it back (see
    :func:`trim_track`) and tell its content seconds so far (0 for no file)."""
    path = Path(path)
    if not path.exists() or not trim_track(path):
        return 0.0
    return index_track(path).duration


def mark_discontinuity(chunk: bytes) -> bytes:
    """Set the discontinuity indicator of the first packet (which has an adaptation field: a
    keyframe carries its random-access flag there): the time base jumps here, the file's
    readers start a new piece of the timeline (see :class:`~.timeline.TrackIndex`)."""
    if len(chunk) < PACKET_SIZE or not chunk[3] & 0x20 or not chunk[4]:
        return chunk
    out = bytearray(chunk)
    out[5] |= 0x80
    return bytes(out)


def _last_video_start(f, end: int) -> int | None:
    """Offset of the last video PES start in the file's final stretch (None if not found)."""
    window = min(end, PACKET_SIZE * 20_000)
    f.seek(end - window)
    tail = f.read(window)
    # The layout in force at the end (a source may have come back with other PIDs): the tail's
    # own program map, else the one at the start of the file.
    an = Analyzer()
    an.feed(tail)
    if not an.streams:
        f.seek(0)
        head = f.read(PACKET_SIZE * 64)
        an.feed(head[: len(head) - len(head) % PACKET_SIZE])
    video = {s.pid: s.stream_type for s in an.streams if s.kind == "video"}
    if not video:
        return None
    for off in range(window - PACKET_SIZE, -1, -PACKET_SIZE):
        pid = ((tail[off + 1] & 0x1F) << 8) | tail[off + 2]
        if pid in video and starts_access_unit(tail, off, video[pid]):
            return end - window + off
    return None


@dataclass
class HotMark:
    position: float  # seconds into the recording
    wall_time: float
    name: str = ""


@dataclass
class RecordingState:
    """The part of a recording that must survive a restart (kept next to the tracks)."""

    id: str
    sources: list[str]
    state: str = "recording"  # recording | paused | stopped
    started: float = 0.0
    hotmarks: list[dict] = field(default_factory=list)
    tracks: dict[str, dict] = field(default_factory=dict)
    written_from: dict[str, float] = field(default_factory=dict)  # track -> when its first keyframe was written


class Recording:
    """A session's recording: one :class:`TrackWriter` per source, controlled together."""

    MANIFEST = "recording.json"

    def __init__(self, directory: str | Path, recording_id: str, ingests: dict, *,
                 clock: Callable[[], float] = time.time, min_free: int = MIN_FREE_BYTES,
                 resume: bool = False, bases: dict[str, float] | None = None) -> None:
        """With ``resume``, go on with a recording another process left unfinished: its state
        (paused or not, HotMarks) is read back and its track files are appended to."""
        self.dir = Path(directory)
        check_space(self.dir, min_free)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        if resume:
            self.meta = RecordingState(**json.loads((self.dir / self.MANIFEST).read_text()))
        else:
            self.meta = RecordingState(id=recording_id, sources=list(ingests), started=clock())
        self.writers: dict[str, TrackWriter] = {}
        self._unsubscribe = []
        for source_id, ingest in ingests.items():
            w = TrackWriter(self.dir / f"{source_id}.ts", ingest.analyzer, clock=clock,
                            hold=self.meta.state == "paused", base=(bases or {}).get(source_id))
            w.started_at = self.meta.written_from.get(source_id) if resume else None
            w.on_start = lambda writer, track=source_id: self._written_from(track, writer.started_at)
            self.writers[source_id] = w
            self._unsubscribe.append(ingest.subscribe(w))
        self._save()

    def _written_from(self, track: str, when: float) -> None:
        """Kept with the recording, so that a process going on with it tells the same start."""
        self.meta.written_from[track] = when
        self._save()

    @property
    def state(self) -> str:
        return self.meta.state

    @property
    def position(self) -> float:
        return max((w.position for w in self.writers.values()), default=0.0)

    def pause(self) -> None:
        if self.meta.state == "recording":
            for w in self.writers.values():
                w.pause()
            self.meta.state = "paused"
            self._save()

    def resume(self) -> None:
        if self.meta.state == "paused":
            for w in self.writers.values():
                w.resume()
            self.meta.state = "recording"
            self._save()

    def hotmark(self, at: float | None = None, name: str = "") -> HotMark:
        """Mark the current moment, or a past wall-clock moment, in recording time."""
        if at is None:
            pos = self.position
            at = self.clock()
        else:
            pos = max((w.position_at(at) for w in self.writers.values()), default=0.0)
        mark = HotMark(position=pos, wall_time=at, name=name)
        self.meta.hotmarks.append(asdict(mark))
        self._save()
        return mark

    def detach(self) -> None:
        """Stop writing, leaving the recording unfinished on disk for the next media owner."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for w in self.writers.values():
            w.detach()

    def stop(self) -> dict[str, TrackInfo]:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        infos = {sid: w.close() for sid, w in self.writers.items()}
        self.meta.state = "stopped"
        self.meta.tracks = {sid: asdict(info) for sid, info in infos.items()}
        self._save()
        return infos

    def _save(self) -> None:
        save_json(self.dir / self.MANIFEST, asdict(self.meta))


def save_json(path: Path, data) -> None:
    """Write-then-rename, so a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def recover(directory: str | Path) -> RecordingState:
    """After a restart: finalise every track of an unfinished recording into a playable video."""
    directory = Path(directory)
    manifest = directory / Recording.MANIFEST
    meta = RecordingState(**json.loads(manifest.read_text()))
    if meta.state != "stopped":
        meta.tracks = {
            sid: asdict(finalize_track(directory / f"{sid}.ts"))
            for sid in meta.sources if (directory / f"{sid}.ts").exists()
        }
        meta.state = "stopped"
        save_json(manifest, asdict(meta))
    return meta
