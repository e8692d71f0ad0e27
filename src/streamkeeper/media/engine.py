"""The media engine as one object: live sources, recordings, videos on disk, re-streams.

It is what the `/apis` catalog talks to (it implements the catalog's
``MediaBackend`` protocol and more). It knows nothing of HTTP or of the
database: callers pass identifiers and source descriptions, and get back
plain values or the domain exceptions of the media modules.

Files: ``<data_dir>/media/videos/<asset id>/track-<n>.ts`` (n = position
of the source in the session, from 1), next to ``recording.json``
(recording state, HotMarks), ``tracks.json`` (source of each track) and
``poster.json`` (chosen thumbnail).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .hls import CUT_SEGMENTS, SEGMENT_FILES_BUDGET, FileSegments, LivePackager, SegmentFiles
from .ingest import Ingest, PortConflict, PortRegistry, SourceSpec, make_ingest
from .recorder import (
    MIN_FREE_BYTES, Recording, TrackWriter, finalize_track, prepare_append, recover, save_json,
)
from .remux import download_entries, probe, to_ts, zip_stream
from .restream import Destination, Stream, claim_destinations
from .thumbnails import LiveThumbnails, ThumbnailNotFound, thumbnail_at

log = logging.getLogger(__name__)


class NotActive(Exception):
    """No active recording / stream with that id."""


class NoSource(Exception):
    """A recording needs at least one source."""


class MultiSourceStream(Exception):
    """A video of several tracks needs a destination per track."""


class TrackNotFound(Exception):
    pass


class NotAllowed(Exception):
    """The engine may not send to (or call) that address: see ``networks``."""


LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def parse_networks(text: str | None) -> tuple:
    """``10.0.0.0/8, 192.168.1.0/24`` (or ``any``) as networks; empty means loopback only."""
    if not text or not text.strip():
        return LOOPBACK
    if text.strip().lower() == "any":
        return (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def spec_of(source: dict, interface: str | None = None) -> SourceSpec:
    """The catalog's source object in media terms."""
    return SourceSpec(
        type=str(source.get("type", "UDP")).upper(), port=int(source["port"]),
        host=source.get("host") or None, multicast=bool(source.get("multicast")),
        interface=interface, mode=str(source.get("mode") or "LISTENER").upper(),
        latency=source.get("latency"), passphrase=source.get("passphrase") or None,
    )


class ImportProgress:
    """How far an import is, kept in a small file next to the video so that every process of the
    server can tell (written at most every :attr:`EVERY` seconds, removed when done)."""

    FILE = "import-progress.json"
    EVERY = 0.25
    PAUSE = 0.02

    def __init__(self, path: Path, total: int, *, clock: Callable[[], float] = time.time) -> None:
        self.path, self.total, self.clock = path, total, clock
        self._written = -1.0

    def __call__(self, done: int) -> None:
        now = self.clock()
        if now - self._written >= self.EVERY or done >= self.total:
            self._written = now
            save_json(self.path, {"bytes": min(int(done), self.total), "totalBytes": self.total})
            # The import is pure Python in a worker thread: without a pause that lets go of the
            # interpreter lock, requests on the event loop wait for the whole import.
            time.sleep(self.PAUSE)

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class ActiveRecording:
    id: str
    session_id: str
    source_ids: list[str]
    recording: Recording
    username: str = ""
    title: str = ""
    ctime: int = 0

    def view(self) -> dict:
        """The recording; ``startTime``/``resumeTime`` (our addition, epoch ms) say when writing
        actually began and last resumed: at the first keyframe after the request, null until then."""
        state = "PAUSED" if self.recording.state == "paused" else "RECORDING"
        writers = list(self.recording.writers.values())
        recorders = []
        for i, (sid, w) in enumerate(zip(self.source_ids, writers), start=1):
            recorders.append({"source": sid, "chunk": f"asset-chunk://{self.id}/{i}/0/0", "id": str(i),
                              "state": state, "startTime": _ms(w.started_at), "resumeTime": _ms(w.resumed_at)})
        starts = [w.started_at for w in writers if w.started_at is not None]
        return {
            "id": self.id, "session": self.session_id, "username": self.username, "state": state,
            "duration": round(self.recording.position, 3), "ctime": self.ctime, "title": self.title,
            "startTime": _ms(min(starts)) if starts else None, "recorders": recorders,
        }


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)


@dataclass
class ActiveStream:
    id: str
    asset_id: str
    stream: Stream
    destinations: list[tuple[int, Destination]]
    username: str = ""
    task: asyncio.Task | None = field(default=None, repr=False)

    def view(self) -> dict:
        dests = [{"trackId": t, "address": d.host, "port": d.port} for t, d in self.destinations]
        single = len(dests) == 1
        return {"id": self.id, "asset": self.asset_id, "username": self.username,
                "address": dests[0]["address"] if single else "multiple", "port": dests[0]["port"] if single else 0,
                "state": "paused" if self.stream.state == "paused" else "playing", "destinations": dests}


class MediaEngine:
    RESUME = "recording-session.json"  # next to a recording: what another process needs to go on with it

    def __init__(self, data_dir: str | Path, *, interface: str | None = None, networks: tuple = LOOPBACK,
                 clock: Callable[[], float] = time.time, min_free: int = MIN_FREE_BYTES,
                 retry_min: float = 0.5, retry_max: float = 15.0, media_dir: str | Path | None = None) -> None:
        self.root = Path(media_dir) if media_dir is not None else Path(data_dir) / "media"
        # Where the engine may send re-streams and place SRT calls: nothing leaves the machine
        # unless an operator widens it.
        self.networks = networks
        self.videos = self.root / "videos"
        self.interface = interface
        self.clock = clock
        self.min_free = min_free
        self.registry = PortRegistry()
        self.ingests: dict[str, Ingest] = {}
        self.specs: dict[str, SourceSpec] = {}
        self.live: dict[str, LiveThumbnails] = {}
        self.source_errors: dict[str, str] = {}
        self.recordings: dict[str, ActiveRecording] = {}
        self.streams: dict[str, ActiveStream] = {}
        self.background: set[asyncio.Task] = set()  # imports in progress
        self.retries: dict[str, asyncio.Task] = {}  # sources waiting for their port, by id
        self.retry_min, self.retry_max = retry_min, retry_max
        # Per source, subscribers that outlive one receiver (HLS packagers): re-attached on re-bind.
        self.source_sinks: dict[str, list] = {}
        self.packagers: dict[str, LivePackager] = {}  # live HLS, by source id, made on first request
        self._file_segments: dict[Path, FileSegments] = {}
        # Cut video segments kept as files too, for the servers that send files (sendfile).
        self.segment_files = SegmentFiles(self.root / "cache" / "segments", SEGMENT_FILES_BUDGET)

    def may_reach(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:  # a host name: only when every address is allowed (no lookups otherwise)
            return host == "localhost" or any(n.prefixlen == 0 for n in self.networks)
        if ip.is_multicast and self.interface and ipaddress.ip_address(self.interface).is_loopback:
            return True  # sent on the loopback interface: stays on this machine
        return any(ip.version == n.version and ip in n for n in self.networks)

    # -- the catalog's MediaBackend protocol ------------------------------------

    def source_status(self, source_id: str) -> tuple[bool, int]:
        ingest = self.ingests.get(source_id)
        return (ingest.active, ingest.bitrate) if ingest else (False, 0)

    def session_recording(self, session_id: str) -> bool:
        return any(r.session_id == session_id for r in self.recordings.values())

    def asset_streaming(self, asset_id: str) -> bool:
        return any(s.asset_id == asset_id for s in self.streams.values())

    def source_error(self, source_id: str) -> str | None:
        """Why a source is not being received (a port held by another program, ...), if it is not."""
        return self.source_errors.get(source_id)

    def status(self) -> dict:
        """What the other processes need to know to answer like this one (see ownership.StatusBoard)."""
        sources = {sid: [ingest.active, ingest.bitrate, None] for sid, ingest in self.ingests.items()}
        for sid, error in self.source_errors.items():
            sources[sid] = [False, 0, error]
        return {"sources": sources,
                "recordings": {aid: r.session_id for aid, r in self.recordings.items()},
                "streams": {sid: s.asset_id for sid, s in self.streams.items()}}

    async def source_saved(self, source: dict, *, strict: bool = False) -> None:
        """Start receiving a new source; re-tune one whose network settings changed.

        With ``strict`` (a source being created or changed by a user) a port that cannot be
        bound raises :class:`PortConflict` and nothing is left running. Otherwise (start-up) the
        failure is kept in :meth:`source_error` and binding is retried with back-off until it
        works, the source changes or it is deleted.
        """
        sid = source["id"]
        spec = spec_of(source, self.interface)
        if self.specs.get(sid) == spec and sid in self.ingests:
            return
        # Track writers of recordings in progress follow the source to its new address.
        old = self.ingests.get(sid)
        writers = [w for w in (old._sinks if old else ()) if isinstance(w, TrackWriter)]
        await self._stop_source(sid)
        if spec.type == "SRT" and spec.mode in ("CALLER", "RENDEZVOUS") and not self.may_reach(spec.host):
            self.source_errors[sid] = f"{spec.host} is outside the networks the media engine may reach"
            log.warning("source %s not received: %s", sid, self.source_errors[sid])
            return
        try:
            await self._receive(sid, spec, writers)
        except PortConflict:
            if strict:
                self.source_errors.pop(sid, None)
                raise
            self._retry_later(sid, spec, writers)
        except (OSError, ValueError):
            self._retry_later(sid, spec, writers)

    async def _receive(self, sid: str, spec: SourceSpec, writers: list) -> None:
        """Bind and start one source's receiver; on failure record why and re-raise."""
        try:
            self.registry.claim(spec.port_key(), f"source {sid}")
            ingest = make_ingest(spec)
            await ingest.start()
        except (PortConflict, OSError, ValueError) as exc:
            self.registry.release(f"source {sid}")
            self.source_errors[sid] = str(exc)
            log.warning("source %s not received: %s", sid, exc)
            raise
        self.source_errors.pop(sid, None)
        self.specs[sid] = spec
        self.ingests[sid] = ingest
        live = self.live[sid] = LiveThumbnails(ingest.analyzer)
        ingest.subscribe(live)
        for sink in self.source_sinks.get(sid, ()):
            sink.rebind(ingest.analyzer)
            ingest.subscribe(sink)
        for writer in writers:
            writer.rebind(ingest.analyzer)
            ingest.subscribe(writer)  # a closed writer ignores what it still gets

    def _retry_later(self, sid: str, spec: SourceSpec, writers: list) -> None:
        async def retry() -> None:
            delay = self.retry_min
            while True:
                await asyncio.sleep(delay)
                try:
                    await self._receive(sid, spec, writers)
                except (PortConflict, OSError, ValueError):
                    delay = min(delay * 2, self.retry_max)
                    continue
                self.retries.pop(sid, None)
                log.info("source %s is received now", sid)
                return

        self.retries[sid] = asyncio.create_task(retry(), name=f"source-retry-{sid}")

    async def source_deleted(self, source_id: str) -> None:
        await self._stop_source(source_id)
        self.source_sinks.pop(source_id, None)
        self.packagers.pop(source_id, None)
        (self.root / "live" / f"{source_id}.json").unlink(missing_ok=True)

    async def asset_deleted(self, asset_id: str, media_path: str | None) -> None:
        for s in [s for s in self.streams.values() if s.asset_id == asset_id]:
            await self.stop_stream(s.id)
        directory = Path(media_path) if media_path else self.videos / asset_id
        for path in [p for p in self._file_segments if p.parent == self.video_dir(asset_id)]:
            del self._file_segments[path]
            CUT_SEGMENTS.forget(path)
            self.segment_files.forget(path)
        if directory.is_dir() and self.root in directory.resolve().parents:
            shutil.rmtree(directory, ignore_errors=True)

    async def _stop_source(self, source_id: str) -> None:
        retry = self.retries.pop(source_id, None)
        if retry is not None:
            retry.cancel()
        ingest = self.ingests.pop(source_id, None)
        self.specs.pop(source_id, None)
        self.live.pop(source_id, None)
        self.registry.release(f"source {source_id}")
        if ingest is not None:
            await ingest.stop()

    def port_in_use(self, host: str, port: int) -> str | None:
        """Who holds a destination (a stream) or its local port (a source), if anyone."""
        for key in Destination(host, port).keys():
            holder = self.registry.holder(key)
            if holder:
                return holder
        return None

    # -- live sources --------------------------------------------------------------

    def source_thumbnail(self, source_id: str, width: int | None = None, height: int | None = None) -> bytes:
        live = self.live.get(source_id)
        if live is None:
            raise ThumbnailNotFound("source is not being received")
        return live.jpeg(width, height)

    # -- HLS -----------------------------------------------------------------------

    def live_packager(self, source_id: str) -> LivePackager:
        """The source's live HLS packager, started on first use; it follows re-binds."""
        packager = self.packagers.get(source_id)
        if packager is not None:
            return packager
        ingest = self.ingests.get(source_id)
        if ingest is None:
            raise NotActive(f"source {source_id} is not being received")
        packager = LivePackager(ingest.analyzer, self.root / "live" / f"{source_id}.json", clock=self.clock,
                                on_idle=lambda p: self._drop_packager(source_id, p))
        self.packagers[source_id] = packager
        self.source_sinks.setdefault(source_id, []).append(packager)
        ingest.subscribe(packager)
        return packager

    def _drop_packager(self, source_id: str, packager: LivePackager) -> None:
        """Nobody watches the source any more: stop cutting it (numbering is kept on disk)."""
        if self.packagers.get(source_id) is packager:
            del self.packagers[source_id]
        sinks = self.source_sinks.get(source_id, [])
        if packager in sinks:
            sinks.remove(packager)
        ingest = self.ingests.get(source_id)
        if ingest is not None:
            ingest.unsubscribe(packager)

    def track_segments(self, asset_id: str, track_id: int) -> FileSegments:
        """A track's keyframe index for HLS, brought up to date with what was written since."""
        path = self.track(asset_id, track_id)
        segments = self._file_segments.get(path)
        if segments is None:
            segments = self._file_segments[path] = FileSegments(path, self.segment_files)
        segments.refresh()
        return segments

    # -- recordings ----------------------------------------------------------------

    def video_dir(self, asset_id: str) -> Path:
        return self.videos / asset_id

    def start_recording(self, asset_id: str, session_id: str, source_ids: list[str], *, username: str = "",
                        title: str = "", ctime: int | None = None) -> ActiveRecording:
        """Record the given sources (in session order) into the video's directory."""
        if not source_ids:
            raise NoSource("the session has no source to record")
        directory = self.video_dir(asset_id)
        ingests = {}
        for i, sid in enumerate(source_ids, start=1):
            ingest = self.ingests.get(sid)
            if ingest is None:
                raise NotActive(f"source {sid} is not being received")
            ingests[f"track-{i}"] = ingest
        rec = Recording(directory, asset_id, ingests, clock=self.clock, min_free=self.min_free)
        save_json(directory / "tracks.json", {f"track-{i}": sid for i, sid in enumerate(source_ids, start=1)})
        active = ActiveRecording(asset_id, session_id, list(source_ids), rec, username, title,
                                 int(self.clock() if ctime is None else ctime))
        # What another process needs to go on with this recording if this one dies.
        save_json(directory / self.RESUME, {"session": session_id, "sources": list(source_ids),
                                            "username": username, "title": title, "ctime": active.ctime})
        self.recordings[asset_id] = active
        return active

    def being_recorded(self, asset_id: str) -> bool:
        """Whether a recording of this video is in progress here or in another process (its
        manifest, in the shared media directory, is not stopped yet)."""
        if asset_id in self.recordings:
            return True
        try:
            state = json.loads((self.video_dir(asset_id) / Recording.MANIFEST).read_text()).get("state")
        except (OSError, ValueError, AttributeError):
            return False
        return state in ("recording", "paused")

    def unfinished(self) -> list[str]:
        """Videos whose recording a process left unfinished (killed, or its lease lost)."""
        out = []
        if not self.videos.is_dir():
            return out
        for manifest in self.videos.glob(f"*/{Recording.MANIFEST}"):
            with contextlib.suppress(OSError, ValueError):
                if json.loads(manifest.read_text()).get("state") != "stopped":
                    out.append(manifest.parent.name)
        return sorted(out)

    def recording_sources(self, asset_id: str) -> list[str]:
        """The sources an unfinished recording was made of (empty when not known)."""
        try:
            return list(json.loads((self.video_dir(asset_id) / self.RESUME).read_text())["sources"])
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def prepare_resume(self, asset_id: str) -> dict[str, float]:
        """Blocking (reads the tracks: run it in a worker thread): each track of an unfinished
        recording cut back to its last whole frame; {track: content seconds so far}."""
        return {f"track-{i}": prepare_append(self.video_dir(asset_id) / f"track-{i}.ts")
                for i in range(1, len(self.recording_sources(asset_id)) + 1)}

    def resume_recording(self, asset_id: str, bases: dict[str, float] | None = None) -> ActiveRecording:
        """Go on with an unfinished recording into the same video: each track is appended to,
        from the next keyframe of its source, after a flagged discontinuity (``bases``: what
        :meth:`prepare_resume` said)."""
        directory = self.video_dir(asset_id)
        info = json.loads((directory / self.RESUME).read_text())
        ingests = {}
        for i, sid in enumerate(info["sources"], start=1):
            ingest = self.ingests.get(sid)
            if ingest is None:
                raise NotActive(f"source {sid} is not being received")
            ingests[f"track-{i}"] = ingest
        rec = Recording(directory, asset_id, ingests, clock=self.clock, min_free=0, resume=True, bases=bases)
        active = ActiveRecording(asset_id, info["session"], list(info["sources"]), rec, info.get("username", ""),
                                 info.get("title", ""), int(info.get("ctime", 0)))
        self.recordings[asset_id] = active
        return active

    def recording(self, asset_id: str) -> ActiveRecording:
        try:
            return self.recordings[asset_id]
        except KeyError:
            raise NotActive(asset_id) from None

    def set_recording_state(self, asset_id: str, state: str) -> ActiveRecording:
        active = self.recording(asset_id)
        if state == "PAUSED":
            active.recording.pause()
        elif state == "RECORDING":
            active.recording.resume()
        else:
            raise ValueError("State should be either 'RECORDING' or 'PAUSED'")
        return active

    def recording_position(self, asset_id: str) -> float | None:
        """Seconds recorded so far (pauses excluded), for HotMarks without a timestamp."""
        active = self.recordings.get(asset_id)
        return active.recording.position if active else None

    def stop_recording(self, asset_id: str) -> tuple[float, int]:
        """Finish a recording; returns (duration in seconds, number of tracks)."""
        active = self.recordings.pop(asset_id, None)
        if active is None:
            raise NotActive(asset_id)
        infos = active.recording.stop()
        return max((i.duration for i in infos.values()), default=0.0), len(infos)

    def recover_unfinished(self, only: set[str] | None = None) -> dict[str, tuple[float, int]]:
        """Finalise recordings a previous process left open (all of them, or those in ``only``);
        {asset id: (duration, tracks)}."""
        out = {}
        if not self.videos.is_dir():
            return out
        for manifest in self.videos.glob(f"*/{Recording.MANIFEST}"):
            if only is not None and manifest.parent.name not in only:
                continue
            try:
                state = json.loads(manifest.read_text()).get("state")
                if state == "stopped":
                    continue
                meta = recover(manifest.parent)
            except (OSError, ValueError) as exc:
                log.error("could not recover %s: %s", manifest.parent, exc)
                continue
            tracks = meta.tracks.values()
            out[manifest.parent.name] = (max((t["duration"] for t in tracks), default=0.0), len(meta.tracks))
        return out

    # -- videos on disk ------------------------------------------------------------

    def tracks(self, asset_id: str) -> list[Path]:
        directory = self.video_dir(asset_id)
        return sorted(directory.glob("track-*.ts"), key=lambda p: int(p.stem.split("-")[1]))

    def track(self, asset_id: str, track_id: int) -> Path:
        path = self.video_dir(asset_id) / f"track-{int(track_id)}.ts"
        if not path.exists():
            raise TrackNotFound(f"track {track_id}")
        return path

    def set_poster(self, asset_id: str, track_id: int, seconds: float) -> None:
        self.track(asset_id, track_id)
        save_json(self.video_dir(asset_id) / "poster.json", {"track": int(track_id), "seconds": float(seconds)})

    def video_thumbnail(self, asset_id: str, track_id: int | None = None, width: int | None = None,
                        height: int | None = None) -> bytes:
        poster = {"track": 1, "seconds": 0.0}
        with contextlib.suppress(OSError, ValueError):
            poster.update(json.loads((self.video_dir(asset_id) / "poster.json").read_text()))
        if track_id is None:
            track_id = poster["track"]
        seconds = poster["seconds"] if track_id == poster["track"] else 0.0
        try:
            segments = self.track_segments(asset_id, track_id)
        except TrackNotFound:
            if track_id == poster["track"] and not self.tracks(asset_id):
                raise ThumbnailNotFound("no track written yet") from None
            raise
        try:
            return thumbnail_at(segments.index, seconds, width, height)
        except ThumbnailNotFound:
            raise
        except Exception as exc:  # a recording still without its first keyframe, a damaged file
            raise ThumbnailNotFound(str(exc)) from exc

    def import_video(self, asset_id: str, upload: Path) -> tuple[float, int]:
        """Turn an uploaded TS or MP4 file into the video's single track; (duration, tracks).

        Blocking (a remux over the whole file): run it in a worker thread.
        """
        kind = probe(upload)
        directory = self.video_dir(asset_id)
        directory.mkdir(parents=True, exist_ok=True)
        track = directory / "track-1.ts"
        report = ImportProgress(directory / ImportProgress.FILE, upload.stat().st_size, clock=self.clock)
        report(0)
        if kind == "mpegts":
            shutil.move(str(upload), track)
            info = finalize_track(track, complete=True, progress=report)  # the pass that reads it all
        else:
            to_ts(upload, track, progress=report)
            upload.unlink(missing_ok=True)
            info = finalize_track(track, complete=True)
        save_json(directory / "tracks.json", {"track-1": None})
        report.done()
        return info.duration, 1

    def import_progress(self, asset_id: str) -> tuple[int, int] | None:
        """(bytes copied, total bytes) of a video being imported; None when not known (or done)."""
        try:
            state = json.loads((self.video_dir(asset_id) / ImportProgress.FILE).read_text())
            return int(state["bytes"]), int(state["totalBytes"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def download(self, asset_id: str, file_type: str = "ts") -> Iterator[bytes]:
        tracks = self.tracks(asset_id)
        entries = download_entries([(p.stem, p) for p in tracks], file_type)
        return zip_stream(entries)

    # -- re-streaming ----------------------------------------------------------------

    async def start_stream(self, asset_id: str, destinations: list[tuple[int, str, int]], *, username: str = "",
                           ttl: int = 16, state: str = "playing") -> ActiveStream:
        """Re-stream a video: ``destinations`` are (track id, address, port), one or more per track."""
        tracks = self.tracks(asset_id)
        by_track: dict[int, list[Destination]] = {}
        flat = []
        for track_id, host, port in destinations:
            if not 1 <= track_id <= len(tracks):
                raise TrackNotFound(f"track {track_id}")
            if not self.may_reach(host):
                raise NotAllowed(f"{host} is outside the networks the media engine may send to "
                                 "(STREAMKEEPER_MEDIA_NETWORKS)")
            d = Destination(host, int(port))
            by_track.setdefault(track_id, []).append(d)
            flat.append((track_id, d))
        if len(tracks) > 1 and len(by_track) < 1:
            raise MultiSourceStream("Multi-Source recordings must have a destination list")
        stream_id = str(uuid.uuid4())
        claim_destinations(self.registry, f"stream {stream_id}", [d for _, d in flat])
        try:
            stream = Stream([(tracks[t - 1], ds) for t, ds in sorted(by_track.items())], ttl=ttl,
                            interface=self.interface)
        except Exception:
            self.registry.release(f"stream {stream_id}")
            raise
        active = ActiveStream(stream_id, asset_id, stream, flat, username)
        self.streams[stream_id] = active
        stream.start()
        if state == "paused":
            stream.pause()
        active.task = asyncio.create_task(self._reap(active))
        return active

    async def _reap(self, active: ActiveStream) -> None:
        """A stream ends by itself at the end of the video: forget it then."""
        await active.stream.wait()
        if self.streams.get(active.id) is active:
            del self.streams[active.id]
            self.registry.release(f"stream {active.id}")

    def stream(self, stream_id: str) -> ActiveStream:
        try:
            return self.streams[stream_id]
        except KeyError:
            raise NotActive(stream_id) from None

    def set_stream_state(self, stream_id: str, state: str | None) -> ActiveStream:
        active = self.stream(stream_id)
        if state is None:
            active.stream.toggle()
        elif state == "playing":
            active.stream.resume()
        elif state == "paused":
            active.stream.pause()
        else:
            raise ValueError(f"Invalid state {state}")
        return active

    def seek_stream(self, stream_id: str, seconds: float) -> None:
        self.stream(stream_id).stream.seek(seconds)

    async def stop_stream(self, stream_id: str) -> None:
        active = self.streams.pop(stream_id, None)
        if active is None:
            raise NotActive(stream_id)
        self.registry.release(f"stream {stream_id}")
        await active.stream.stop()
        if active.task is not None:
            active.task.cancel()

    # -- life cycle ------------------------------------------------------------------

    async def detach(self) -> None:
        """Stop receiving, re-streaming and writing, leaving recordings unfinished on disk: this
        process is no longer the media owner and the next one goes on with them."""
        for sid in list(self.streams):
            with contextlib.suppress(NotActive):
                await self.stop_stream(sid)
        for active in self.recordings.values():
            active.recording.detach()
        self.recordings.clear()
        for sid in {*self.ingests, *self.retries}:
            await self._stop_source(sid)
        self.source_errors.clear()
        for sid, packager in list(self.packagers.items()):
            self._drop_packager(sid, packager)
        self.source_sinks.clear()

    async def close(self) -> None:
        self.segment_files.close()
        for task in list(self.background):
            task.cancel()
        for sid in list(self.streams):
            with contextlib.suppress(NotActive):
                await self.stop_stream(sid)
        for aid in list(self.recordings):
            with contextlib.suppress(Exception):
                self.stop_recording(aid)
        for sid in {*self.ingests, *self.retries}:
            await self._stop_source(sid)
