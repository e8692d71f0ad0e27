"""Downloads: TS tracks remuxed to MP4 with PyAV (no re-encoding) and streamed as a ZIP.

The ZIP is produced while it is sent: entries are stored (video does not
compress), sizes and CRCs follow each entry in a data descriptor, ZIP64
records are used so that tracks over 4 GiB work, and no file is ever read
whole into memory.
"""

from __future__ import annotations

import bisect
import io
import os
import tempfile
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import av

from .timeline import Timeline, index_track
from .ts import PACKET_SIZE, PTS_HZ, PTS_WRAP

CHUNK = 1024 * 1024


class NothingToExport(ValueError):
    """A track holds no audio or video that an MP4 could carry (a recording that never received a
    packet, or bytes no demuxer reads): there is no MP4 of it, only its TS file."""


def ts_to_mp4(src: str | Path, dst: str | Path) -> Path:
    """Copy every audio/video packet of a TS file into an MP4 file; written atomically.

    Timestamps are rewritten to content time (see :mod:`.timeline`): across an
    encoder restart, a clock wrap or a new PID layout the MP4 plays on without
    a jump, each stream's decoding times strictly increasing. Each PID layout
    of the file is demuxed on its own and goes on in the same MP4 tracks.
    """
    src, dst = Path(src), Path(dst)
    index = index_track(src)
    fd, tmp = tempfile.mkstemp(suffix=".mp4", dir=dst.parent)
    os.close(fd)
    try:
        with av.open(tmp, "w", format="mp4", options={"avoid_negative_ts": "make_non_negative"}) as out:
            copier = _ContentTimeCopier(out)
            layouts = layout_ranges(src, index.layouts, index.layout_pids, index.pos)
            for ranges in layouts:  # every layout's tracks first: an MP4 takes none once written
                with _open_probed(_FileRange(src, ranges)) as inp:
                    copier.declare(inp)
            for ranges in layouts:
                with _open_probed(_FileRange(src, ranges)) as inp:
                    copier.copy(inp)
            if not copier.outputs:
                raise NothingToExport(f"{src.name} holds no audio or video to put in an MP4")
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return dst


LATE_BYTES = 32 * 1024 * 1024  # how far into the next layout an old layout's late packets are looked for


def layout_ranges(path: Path, layouts: list[int], layout_pids: list[set[int]], size: int
                  ) -> list[list[tuple[int, int]]]:
    """The bytes of each PID layout, as (offset, length) ranges of the file.

    A source restarted with another layout may still be delivering the old one's audio (it lags
    the pictures): packets of PIDs only the old layout has, found after the new layout began,
    are the old layout's, and are left out of the new one."""
    ends = layouts[1:] + [size]
    out = []
    for k, (start, end) in enumerate(zip(layouts, ends)):
        if end <= start:
            continue  # a layout with no bytes after it (or an empty file)
        if k + 1 < len(layouts):
            own = layout_pids[k] - set().union(*layout_pids[k + 1:])
            late = _packets_of(path, end, min(size, end + LATE_BYTES), own)
            out.append([(start, end - start)] + late)
        else:
            out.append([(start, end - start)])
        if k > 0:
            gone = set().union(*layout_pids[:k]) - set().union(*layout_pids[k:])
            out[-1] = _without(path, out[-1], gone)
    return out


def _packets_of(path: Path, start: int, end: int, pids: set[int]) -> list[tuple[int, int]]:
    """Ranges of the packets of ``pids`` between two offsets, consecutive ones merged."""
    ranges: list[tuple[int, int]] = []
    if not pids:
        return ranges
    with open(path, "rb") as f:
        f.seek(start)
        pos = start
        while pos < end and (block := f.read(min(CHUNK, end - pos))):
            for off in range(0, len(block) - len(block) % PACKET_SIZE, PACKET_SIZE):
                if ((block[off + 1] & 0x1F) << 8 | block[off + 2]) in pids:
                    at = pos + off
                    if ranges and ranges[-1][0] + ranges[-1][1] == at:
                        ranges[-1] = (ranges[-1][0], ranges[-1][1] + PACKET_SIZE)
                    else:
                        ranges.append((at, PACKET_SIZE))
            pos += len(block)
    return ranges


def _without(path: Path, ranges: list[tuple[int, int]], pids: set[int]) -> list[tuple[int, int]]:
    """``ranges`` less the packets of ``pids`` within the first :data:`LATE_BYTES` of them."""
    if not pids:
        return ranges
    start, length = ranges[0]
    head = min(length, LATE_BYTES)
    kept, at = [], start
    for off, n in _packets_of(path, start, start + head, pids):
        if off > at:
            kept.append((at, off - at))
        at = off + n
    if start + length > at:
        kept.append((at, start + length - at))
    return kept + ranges[1:]


class _FileRange(io.RawIOBase):
    """Byte ranges of a file as one read-only seekable file (one PID layout of a track)."""

    def __init__(self, path: Path, ranges: list[tuple[int, int]]) -> None:
        self._f = open(path, "rb")
        self._ranges = [r for r in ranges if r[1] > 0]
        self._starts = []  # where each range begins in the joined file
        total = 0
        for _, n in self._ranges:
            self._starts.append(total)
            total += n
        self._size, self._pos = total, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        want = self._size - self._pos if n < 0 else max(0, min(n, self._size - self._pos))
        out = bytearray()
        while want > 0:
            i = bisect.bisect_right(self._starts, self._pos) - 1
            off, length = self._ranges[i]
            inside = self._pos - self._starts[i]
            take = min(want, length - inside)
            self._f.seek(off + inside)
            data = self._f.read(take)
            if not data:
                break
            out += data
            self._pos += len(data)
            want -= len(data)
        return bytes(out)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = min(self._size, max(0, base + offset))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._f.close()
        super().close()


PROBE_MORE = {"probesize": str(64 * 1024 * 1024), "analyzeduration": str(60 * 1_000_000)}


def _open_probed(src: _FileRange):
    """Open TS bytes; if a stream's parameters were not found in the default probe (audio whose
    first packets come late), open them again looking further."""
    inp = av.open(src, format="mpegts")
    if not all(_usable(s) for s in inp.streams if s.type in ("video", "audio")):
        inp.close()
        src.seek(0)
        inp = av.open(src, format="mpegts", options=PROBE_MORE)
    return inp


class _ContentTimeCopier:
    """Muxes demuxed packets into one MP4 on the content timeline (see :class:`~.timeline.Timeline`).

    The main stream (video, else audio) drives the timeline; the other streams' packets are
    mapped through it, and wait while they belong to a piece the main stream has not reached yet."""

    def __init__(self, out) -> None:
        self.out = out
        self.outputs: dict[str, object] = {}  # "video", "audio-0", ... -> output stream
        self.timeline = Timeline()
        self.main_kind: str | None = None
        self._last_dts: dict[int, int] = {}
        self._waiting: list = []
        self._muxing = False  # the MP4 header is written: no track can be added

    @staticmethod
    def _keyed(inp) -> list[tuple[str, object]]:
        """A layout's usable streams with the MP4 track each goes to: "video", "audio-0", ..."""
        out = []
        audio_n = 0
        for s in inp.streams:
            if s.type not in ("video", "audio") or not _usable(s):
                continue
            key = s.type
            if s.type == "audio":
                key, audio_n = f"audio-{audio_n}", audio_n + 1
            out.append((key, s))
        return out

    def declare(self, inp) -> None:
        """Make the MP4 tracks a layout needs (before anything is written)."""
        for key, s in self._keyed(inp):
            if key not in self.outputs and not self._muxing:
                self.outputs[key] = self.out.add_stream_from_template(s)

    def copy(self, inp) -> None:
        keyed = self._keyed(inp)
        streams = [s for _, s in keyed]
        if not streams:
            return
        self.declare(inp)
        mapping = {s.index: self.outputs[key] for key, s in keyed if key in self.outputs}
        if self.main_kind is None:
            self.main_kind = "video" if any(s.type == "video" for s in streams) else "audio"
        main = next((s for s in streams if s.type == self.main_kind), None)
        self.timeline.restart()
        self._main_started = False  # this layout's other streams wait for its first picture
        streams = [s for s in streams if s.index in mapping]
        for packet in inp.demux(*streams):
            if packet.dts is None or packet.size == 0:
                continue  # flush packets and frames without timing
            raw = _ticks(packet.dts, packet.stream.time_base) % PTS_WRAP
            if packet.stream is main:
                self._main_started = True
                self._send(packet, mapping, round(self.timeline.add(raw) * PTS_HZ))
                waiting, self._waiting = self._waiting, []
                for p, r in waiting:
                    self._place(p, mapping, r)
            else:
                self._place(packet, mapping, raw)
        self._waiting = []  # what never met its pictures is left out

    def _place(self, packet, mapping, raw: int) -> None:
        dts = self.timeline.to_content_ticks(raw, strict=True) if self._main_started else None
        if dts is None:
            if len(self._waiting) < 10_000:
                self._waiting.append((packet, raw))
            return
        self._send(packet, mapping, dts)

    def _send(self, packet, mapping, dts: int) -> None:
        st = packet.stream
        if st.type == "audio" and st.codec_context.name == "aac" and not _whole_adts(packet):
            return  # a damaged frame: MP4 takes AAC without its ADTS header, which must be readable
        pts = dts + (_ticks(packet.pts - packet.dts, st.time_base) if packet.pts is not None else 0)
        o = mapping[st.index]
        prev = self._last_dts.get(id(o))
        if prev is not None and dts <= prev:
            if st.type == "audio":
                return  # an audio frame overlapping the previous one (at a splice): left out
            dts = prev + 1
        self._last_dts[id(o)] = dts
        packet.stream = o
        packet.time_base = Fraction(1, PTS_HZ)
        packet.dts, packet.pts = dts, max(pts, dts)
        self._muxing = True
        self.out.mux(packet)


def _whole_adts(packet) -> bool:
    """An AAC frame as a transport stream carries it: an ADTS header whose length is the frame's."""
    b = bytes(packet)
    if len(b) < 7 or b[0] != 0xFF or b[1] & 0xF6 != 0xF0:
        return False
    length = ((b[3] & 0x03) << 11) | (b[4] << 3) | (b[5] >> 5)
    return length == len(b)


def _ticks(value: int, time_base) -> int:
    return round(value * time_base * PTS_HZ)


def _usable(s) -> bool:
    if s.type == "audio":
        return bool(s.codec_context.sample_rate)
    return bool(s.codec_context.width)


def probe(path: str | Path) -> str:
    """The container of an uploaded file, ``mpegts`` or ``mp4``; ValueError for anything else."""
    try:
        with av.open(str(path)) as c:
            name = c.format.name
            has_media = any(s.type in ("video", "audio") for s in c.streams)
    except (av.error.FFmpegError, OSError, UnicodeError):
        # FFmpeg's message names the spooled file and an errno: nothing for the uploader.
        raise ValueError("not a video file, or it cannot be read") from None
    if not has_media:
        raise ValueError("the file has no audio or video stream")
    if name == "mpegts":
        return "mpegts"
    if "mp4" in name.split(","):
        return "mp4"
    raise ValueError(f"unsupported container {name!r}: upload MPEG-TS or MP4")


def to_ts(src: str | Path, dst: str | Path, progress: Callable[[int], None] | None = None) -> Path:
    """Copy the audio/video packets of any container into MPEG-TS (no re-encoding);
    ``progress`` is called with how far into the source file the copy is, in bytes."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_suffix(".part")
    with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mpegts") as out:
        mapping = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(*[inp.streams[i] for i in mapping]):
            if packet.dts is None or packet.size == 0:
                continue
            if progress is not None and packet.pos is not None and packet.pos >= 0:
                progress(packet.pos)
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)
    os.replace(tmp, dst)
    return dst


MP4_CACHE = ".content-time.mp4"  # MP4s made before exports followed the timeline model are not reused


def mp4_for(track: str | Path) -> Path:
    """The MP4 next to a TS track, made once and reused."""
    track = Path(track)
    mp4 = track.with_suffix(MP4_CACHE)
    if not mp4.exists() or mp4.stat().st_mtime < track.stat().st_mtime:
        ts_to_mp4(track, mp4)
    return mp4


class _Spool:
    """A write-only file object whose bytes are taken away as soon as they are written."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def write(self, b) -> int:
        self._parts.append(bytes(b))
        self._pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def zip_stream(entries: Iterable[tuple[str, str | Path]], chunk: int = CHUNK) -> Iterator[bytes]:
    """Yield a ZIP archive of ``(name in archive, file path)`` entries, piece by piece."""
    spool = _Spool()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=_mtime(path))
            info.compress_type = zipfile.ZIP_STORED
            with open(path, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                while block := src.read(chunk):
                    dst.write(block)
                    if data := spool.take():
                        yield data
            if data := spool.take():
                yield data
    if data := spool.take():
        yield data


def _mtime(path) -> tuple:
    import time

    t = time.localtime(os.stat(path).st_mtime)
    return (max(t.tm_year, 1980), t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


def download_entries(tracks: list[tuple[str, Path]], file_type: str = "ts") -> list[tuple[str, Path]]:
    """Archive entries for a video's tracks in the requested format (``ts`` or ``mp4``)."""
    if file_type not in ("ts", "mp4"):
        raise ValueError("fileType must be ts or mp4")
    out = []
    for name, path in tracks:
        path = Path(path)
        if file_type == "mp4":
            out.append((f"{name}.mp4", mp4_for(path)))
        else:
            out.append((f"{name}.ts", path))
    return out
