"""Re-streaming a recorded video to UDP in real time.

Each track file is played by a :class:`Restreamer`: its packets leave in
datagrams of seven, each at the moment the stream's own PCR says (see
:mod:`.pacer`), to one or more unicast or multicast destinations. Pause
holds the position; the stream ends by itself at the end of the file.

A seek is a clean splice, so that receivers see one continuous stream
(details in docs/media.md): the units in flight (a picture, an audio frame,
whatever number of PES carries it) are finished, the PAT/PMT go out again,
the new position starts at the picture asked for (:mod:`.landing` encodes
the stretch up to the next keyframe again; without it, at the keyframe at
or before the time), every PID waits for its first unit start, pictures a
new keyframe leaves undecodable are left out, continuity counters are
numbered on, and the first PCR of the new position carries the
discontinuity indicator.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import ipaddress
import logging
import socket
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .ingest import PortConflict, PortRegistry
from .landing import land
from .pacer import PACKETS_PER_DATAGRAM, Pacer
from .timeline import TrackIndex, index_track
from .ts import PACKET_SIZE, VIDEO_STREAM_TYPES, packet_pcr, pes_timestamps, pts_delta, starts_access_unit

READ_BLOCK = PACKET_SIZE * 7 * 32

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FileIndex:
    """Where a track's cut points are, in content seconds and byte offsets (see :mod:`.timeline`)."""

    psi: bytes  # PAT + PMT packets to send before playing from anywhere but the start
    times: list[float]
    offsets: list[int]
    duration: float
    pes_pids: frozenset = frozenset()  # elementary streams (audio, video, data) of every layout
    stream_types: dict = field(default_factory=dict)  # their stream_type
    pcr_pid: int | None = None
    track: TrackIndex | None = None

    def keyframe_at(self, seconds: float) -> tuple[float, int]:
        i = bisect.bisect_right(self.times, seconds + 1e-9) - 1
        if i < 0:
            return 0.0, 0
        return self.times[i], self.offsets[i]

    def psi_at(self, offset: int) -> bytes:
        """The PAT and PMT in force at a cut point (a file may change its PID layout)."""
        if self.track is not None:
            i = bisect.bisect_left(self.offsets, offset)
            if i < len(self.offsets) and self.offsets[i] == offset:
                return self.track.psi_bytes(self.track.cuts[i])
        return self.psi


def index_file(path: str | Path) -> FileIndex:
    """The track's cut points and content duration, from the one timeline model."""
    track = index_track(path)
    psi = track.psi_bytes(track.cuts[0]) if track.cuts else b""
    return FileIndex(psi, [c.time for c in track.cuts], [c.offset for c in track.cuts], track.duration,
                     frozenset(track.pes_pids), dict(track.stream_types), track.pcr_pid, track)


@dataclass(slots=True)
class Destination:
    host: str
    port: int

    @property
    def multicast(self) -> bool:
        return ipaddress.ip_address(self.host).is_multicast

    def keys(self) -> list[tuple]:
        """Registry keys: two streams may not share one, nor a stream and a local source."""
        keys = [("dest", self.host, self.port)]
        if self.multicast:
            keys.append(("udp", self.host, self.port))
        elif ipaddress.ip_address(self.host).is_loopback or self.host == "0.0.0.0":
            keys.append(("udp", None, self.port))
        return keys


def claim_destinations(registry: PortRegistry, owner: str, destinations: list[Destination]) -> None:
    """All or nothing: refuse the stream if any of its destinations is taken."""
    for d in destinations:
        for key in d.keys():
            holder = registry.holder(key)
            if holder is not None and holder != owner:
                raise PortConflict(f"{d.host}:{d.port} is already in use by {holder}")
    for d in destinations:
        for key in d.keys():
            registry.claim(key, owner)


class SeekPastEnd(ValueError):
    """A seek to a time the video does not reach."""

    def __init__(self, duration: float) -> None:
        super().__init__(f"the video ends at {duration:.3f} s")
        self.duration = duration


class Restreamer:
    """Plays one track file to its destinations; control methods are safe at any time."""

    def __init__(self, path: str | Path, destinations: list[Destination], *, ttl: int = 16,
                 interface: str | None = None, per_datagram: int = PACKETS_PER_DATAGRAM,
                 exact: bool = True) -> None:
        self.path = Path(path)
        self.exact = exact  # seeks land on the picture asked for (see :mod:`.landing`)
        self.destinations = destinations
        self.per_datagram = per_datagram
        self.index = index_file(self.path)
        self.state = "playing"
        self.sent_datagrams = 0
        self.sent_bytes = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        if interface:
            self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
        self._sock.setblocking(False)
        self._resume = asyncio.Event()
        self._resume.set()
        self._seek: float | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._base_position = 0.0  # stream seconds where the current play run started
        self._clock_position = 0.0  # pacer seconds into the current run
        self.done = asyncio.Event()
        # splicing (see the module docstring)
        self._spliced = False  # counters are renumbered from the first splice on
        self._last_cc: dict[int, int] = {}  # per PID, continuity counter of the last payload packet sent
        self._last_src_cc: dict[int, bytes] = {}  # per PID, that packet as its source had it
        self._open: set[int] = set()  # elementary PIDs with a unit (picture, audio frame) begun
        self._waiting: set[int] = set()  # after a splice: PIDs still before their first unit start
        self._leading: _Leading | None = None  # pictures after the new keyframe shown before it
        self._mark_pcr = False  # flag the next PCR as a time-base discontinuity
        self._queued: deque[int] = deque()  # run positions of the packets handed to the pacer, not sent
        self._read_in_run = 0  # run positions read so far
        self._reduced: set[int] = set()  # run positions sent reduced to their PCR
        self._arm_at = -1  # run position where the file goes on after a splice
        self.splices = 0

    @property
    def duration(self) -> float:
        return self.index.duration

    # -- control -----------------------------------------------------------

    def start(self) -> "Restreamer":
        self._task = asyncio.create_task(self._run(), name=f"restream-{self.path.name}")
        return self

    def pause(self) -> None:
        if self.state == "playing":
            self.state = "paused"
            self._resume.clear()
            self._wake.set()

    def resume(self) -> None:
        if self.state == "paused":
            self.state = "playing"
            self._resume.set()

    def toggle(self) -> None:
        self.resume() if self.state == "paused" else self.pause()

    def seek(self, seconds: float) -> None:
        """Play from the picture on screen at ``seconds`` (see :mod:`.landing`; without ``exact``,
        from the keyframe at or before it); :class:`SeekPastEnd` beyond the video."""
        if float(seconds) >= self.duration:
            raise SeekPastEnd(self.duration)
        if self.state == "ended":
            return
        self._seek = max(0.0, float(seconds))
        self._wake.set()

    @property
    def position(self) -> float:
        """Seconds into the video of what was sent last."""
        return self._base_position + self._clock_position

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sock.close()
        if self.state != "ended":
            self.state = "stopped"
        self.done.set()

    # -- playing -------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        run = _Run(self.path, 0, b"")
        try:
            while True:
                stopped_at = await self._play(loop, run)
                if stopped_at is None:
                    break
                target, self._seek = self._seek, None
                self._finish_open_units(run, stopped_at)
                t, start_offset = self.index.keyframe_at(target)
                lead = self.index.psi_at(start_offset)
                landing = None
                if self.exact and self.index.track is not None:
                    try:
                        landing = await asyncio.to_thread(land, self.index.track, target)
                    except Exception:  # noqa: BLE001 - the seek happens anyway, at the keyframe
                        log.exception("seek to %.3f s in %s: lands on the keyframe", target, self.path.name)
                if landing is not None:  # the picture asked for, made into a keyframe
                    t, start_offset, lead = landing.time, landing.resume, lead + landing.packets
                self._base_position = t
                self._clock_position = 0.0
                run = _Run(self.path, start_offset, lead)
                self._splice(run)
            self.state = "ended"
        finally:
            self.done.set()

    async def _play(self, loop, run: "_Run") -> int | None:
        """Send a run to its end; if a seek interrupts, the run position of the first packet
        not sent."""
        pacer = Pacer(self.per_datagram)
        self._queued.clear()
        self._reduced.clear()
        self._read_in_run = 0
        base = loop.time()
        blocks = run.blocks(0)
        final = False
        while not final:
            block = next(blocks, None)
            if block is not None:
                pacer.feed(self._filter(block))
            else:
                final = True
            for t, dgram in pacer.datagrams(final=final):
                while True:
                    if self._seek is not None:
                        return self._unsent()
                    if not self._resume.is_set():
                        paused_at = loop.time()
                        self._wake.clear()
                        await self._wait_resume_or_seek()
                        if self._seek is not None:
                            return self._unsent()
                        base += loop.time() - paused_at
                        continue
                    delay = base + t - loop.time()
                    if delay <= 0:
                        break
                    self._wake.clear()
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                    # cancellation (stop) that arrives together with a wake-up (seek, pause).
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._wake.wait()
                for _ in range(len(dgram) // PACKET_SIZE):
                    self._queued.popleft()
                self._send(dgram)
                self._clock_position = t
        return None

    def _unsent(self) -> int:
        return self._queued[0] if self._queued else self._read_in_run

    # -- splicing ------------------------------------------------------------

    def _filter(self, block: bytes) -> bytes:
        """What of a run's next packets goes out: after a splice, each PID from its first unit
        start on, and not the pictures the new keyframe leaves undecodable (see :class:`_Leading`).
        A left-out packet that carries the PCR goes out reduced to the PCR alone."""
        queued, position = self._queued, self._read_in_run
        self._read_in_run += len(block) // PACKET_SIZE
        if not self._waiting and self._leading is None and not position <= self._arm_at < self._read_in_run:
            queued.extend(range(position, self._read_in_run))
            return block
        out = bytearray()
        for k, off in enumerate(range(0, len(block), PACKET_SIZE)):
            if self._keeps(block, off, position + k):
                out += block[off:off + PACKET_SIZE]
            elif packet_pcr(block, off) is not None:
                out += pcr_only(block[off:off + PACKET_SIZE])
                self._reduced.add(position + k)
            else:
                continue
            queued.append(position + k)
        return bytes(out)

    def _keeps(self, buf: bytes, off: int, position: int) -> bool:
        if position == self._arm_at:
            self._arm(buf, off)
        pid = ((buf[off + 1] & 0x1F) << 8) | buf[off + 2]
        if pid in self._waiting:
            if not starts_access_unit(buf, off, self.index.stream_types.get(pid)):
                return False
            self._waiting.discard(pid)
        leading = self._leading
        if leading is not None and pid == leading.pid:
            keep = leading.keep(buf, off)
            if leading.over:
                self._leading = None
            return keep
        return True

    def _finish_open_units(self, run: "_Run", position: int) -> None:
        """Send, for every PID whose unit is in flight, the rest of it (up to its next unit
        start, of what the run would have sent): the receiver gets whole pictures and audio frames."""
        self._spliced = True  # from here on counters are ours
        open_pids = set(self._open)
        types = self.index.stream_types
        queued, reduced, read = set(self._queued), self._reduced, self._read_in_run
        out = bytearray()
        for block in run.blocks(position):
            for off in range(0, len(block), PACKET_SIZE):
                if not open_pids:
                    break
                kept = position in queued and position not in reduced if position < read \
                    else self._keeps(block, off, position)
                position += 1
                pid = ((block[off + 1] & 0x1F) << 8) | block[off + 2]
                if pid not in open_pids:
                    continue
                if starts_access_unit(block, off, types.get(pid)):
                    open_pids.discard(pid)
                elif kept:
                    out += block[off:off + PACKET_SIZE]
            if not open_pids:
                break
        n = self.per_datagram * PACKET_SIZE
        for i in range(0, len(out), n):
            self._send(bytes(out[i:i + n]))
        self._open.clear()

    def _splice(self, run: "_Run") -> None:
        self.splices += 1
        self._spliced = True
        self._mark_pcr = True
        self._last_src_cc.clear()  # a packet of the new position repeats none of the old
        self._waiting = set(self.index.pes_pids)
        self._leading = None
        self._arm_at = run.made

    def _arm(self, buf: bytes, off: int) -> None:
        """Where the file goes on (its first packet is at ``off``): every elementary stream waits
        for its first unit start, and the keyframe's leading pictures are left out."""
        self._waiting = set(self.index.pes_pids)
        pid = ((buf[off + 1] & 0x1F) << 8) | buf[off + 2]
        kind = self.index.stream_types.get(pid)
        self._leading = _Leading(pid, kind) if kind in VIDEO_STREAM_TYPES else None

    def _rewrite(self, dgram: bytes) -> bytes:
        """Number counters on across splices, flag the new time base, and note what is open."""
        spliced = self._spliced
        out = bytearray(dgram) if spliced else None
        last, last_src = self._last_cc, self._last_src_cc
        pes = self.index.pes_pids
        for off in range(0, len(dgram) - len(dgram) % PACKET_SIZE, PACKET_SIZE):
            pid = ((dgram[off + 1] & 0x1F) << 8) | dgram[off + 2]
            b3 = dgram[off + 3]
            if pid in pes and b3 & 0x10:
                self._open.add(pid)
            if out is not None:
                if b3 & 0x10:
                    if pid in last and last_src.get(pid) == dgram[off:off + PACKET_SIZE]:
                        cc = last[pid]  # the source repeats a packet (a legal duplicate): so do we
                    else:
                        cc = (last[pid] + 1) & 0x0F if pid in last else b3 & 0x0F
                    b3 = (b3 & 0xF0) | cc
                    out[off + 3] = b3
                if self._mark_pcr and b3 & 0x20 and dgram[off + 4] >= 7 \
                        and dgram[off + 5] & 0x10:
                    out[off + 5] |= 0x80  # discontinuity_indicator: the PCR that follows is a new time base
                    self._mark_pcr = False
            if b3 & 0x10:
                last_src[pid] = dgram[off:off + PACKET_SIZE]
                last[pid] = b3 & 0x0F
        return bytes(out) if out is not None else dgram

    async def _wait_resume_or_seek(self) -> None:
        waiters = [asyncio.ensure_future(self._resume.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    def _send(self, dgram: bytes) -> None:
        dgram = self._rewrite(dgram)
        for d in self.destinations:
            try:
                self._sock.sendto(dgram, (d.host, d.port))
            except (BlockingIOError, InterruptedError):
                pass  # a full socket buffer drops, like a network would
            except OSError:
                pass  # e.g. an unreachable destination; keep time for the others
        self.sent_datagrams += 1
        self.sent_bytes += len(dgram)


class _Run:
    """What one play run sends: packets made for it (the PAT/PMT lead) and then the file from
    an offset. Positions count packets from the run's start."""

    def __init__(self, path: Path, offset: int, prefix: bytes) -> None:
        self.path = path
        self.offset = offset
        self.prefix = prefix[: len(prefix) - len(prefix) % PACKET_SIZE]
        self.made = len(self.prefix) // PACKET_SIZE  # the position of the file's first packet

    def blocks(self, position: int) -> Iterator[bytes]:
        """Whole packets from ``position`` to the run's end, in blocks."""
        made = len(self.prefix) // PACKET_SIZE
        if position < made:
            yield self.prefix[position * PACKET_SIZE:]
            position = made
        with open(self.path, "rb") as f:
            f.seek(self.offset + (position - made) * PACKET_SIZE)
            while block := f.read(READ_BLOCK):
                block = block[: len(block) - len(block) % PACKET_SIZE]
                if not block:
                    break
                yield block


class _Leading:
    """The pictures that follow a keyframe in the stream but are shown before it.

    After an open-GOP keyframe (an I-picture that is not an IDR) the pictures decoded next and
    shown earlier still refer to the group before it, which the receiver never got: they are left
    out, up to the first picture shown after the keyframe. After an IDR there are none."""

    def __init__(self, pid: int, stream_type: int) -> None:
        self.pid = pid
        self.stream_type = stream_type
        self.keyframe_pts: int | None = None
        self.dropping = False
        self.over = False

    def keep(self, buf: bytes, off: int) -> bool:
        if not starts_access_unit(buf, off, self.stream_type):
            return not self.dropping
        start = off + 5 + buf[off + 4] if buf[off + 3] & 0x20 else off + 4
        pts, _ = pes_timestamps(buf[start:off + PACKET_SIZE])
        if pts is None:
            return not self.dropping
        if self.keyframe_pts is None:
            self.keyframe_pts = pts
            return True
        self.dropping = pts_delta(pts, self.keyframe_pts) < 0
        self.over = not self.dropping
        return not self.dropping


def pcr_only(pkt: bytes) -> bytes:
    """The packet reduced to its PCR: an adaptation field alone, no payload, no other flags."""
    pcr = pkt[6:12]
    return pkt[:3] + bytes([(pkt[3] & 0xC0) | 0x20, 183, 0x10]) + pcr + b"\xff" * (183 - 7)


class Stream:
    """A video re-streamed: one :class:`Restreamer` per track, controlled together."""

    def __init__(self, tracks: list[tuple[str | Path, list[Destination]]], **kw) -> None:
        self.players = [Restreamer(path, dests, **kw) for path, dests in tracks]

    def start(self) -> "Stream":
        for p in self.players:
            p.start()
        return self

    @property
    def state(self) -> str:
        states = {p.state for p in self.players}
        if states == {"ended"}:
            return "ended"
        return "paused" if "paused" in states else "playing"

    def pause(self) -> None:
        for p in self.players:
            p.pause()

    def resume(self) -> None:
        for p in self.players:
            p.resume()

    def toggle(self) -> None:
        self.resume() if self.state == "paused" else self.pause()

    @property
    def duration(self) -> float:
        return min(p.duration for p in self.players)

    def seek(self, seconds: float) -> None:
        if float(seconds) >= self.duration:
            raise SeekPastEnd(self.duration)
        for p in self.players:
            p.seek(seconds)

    async def wait(self) -> None:
        for p in self.players:
            await p.done.wait()

    async def stop(self) -> None:
        for p in self.players:
            await p.stop()
