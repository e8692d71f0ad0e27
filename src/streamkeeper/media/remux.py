"""Downloads: TS tracks remuxed to MP4 with PyAV (no re-encoding) and streamed as a ZIP.

The ZIP is produced while it is sent: entries are stored (video does not
compress), sizes and CRCs follow each entry in a data descriptor, ZIP64
records are used so that tracks over 4 GiB work, and no file is ever read
whole into memory.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

import av

CHUNK = 1024 * 1024


def ts_to_mp4(src: str | Path, dst: str | Path) -> Path:
    """Copy every audio/video packet of a TS file into an MP4 file; written atomically."""
    src, dst = Path(src), Path(dst)
    fd, tmp = tempfile.mkstemp(suffix=".mp4", dir=dst.parent)
    os.close(fd)
    try:
        with av.open(str(src)) as inp, av.open(tmp, "w", format="mp4") as out:
            mapping = {}
            for s in inp.streams:
                if s.type in ("video", "audio"):
                    mapping[s.index] = out.add_stream_from_template(s)
            for packet in inp.demux(*[inp.streams[i] for i in mapping]):
                if packet.dts is None or packet.size == 0:
                    continue  # flush packets and frames without timing
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return dst


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


def to_ts(src: str | Path, dst: str | Path) -> Path:
    """Copy the audio/video packets of any container into MPEG-TS (no re-encoding)."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_suffix(".part")
    with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mpegts") as out:
        mapping = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux(*[inp.streams[i] for i in mapping]):
            if packet.dts is None or packet.size == 0:
                continue
            packet.stream = mapping[packet.stream.index]
            out.mux(packet)
    os.replace(tmp, dst)
    return dst


def mp4_for(track: str | Path) -> Path:
    """The MP4 next to a TS track, made once and reused."""
    track = Path(track)
    mp4 = track.with_suffix(".mp4")
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
