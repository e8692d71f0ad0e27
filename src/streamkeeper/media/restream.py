"""Re-streaming a recorded video to UDP in real time.

Each track file is played by a :class:`Restreamer`: its packets leave in
datagrams of seven, each at the moment the stream's own PCR says (see
:mod:`.pacer`), to one or more unicast or multicast destinations. Pause
holds the position; the stream ends by itself at the end of the file.

A seek is a clean splice, so that receivers see one continuous stream:
the elementary stream packets (PES) in flight are finished (each PID is
played on to the start of its next PES, nothing else), then the PAT/PMT go
out again, the file resumes at the last keyframe at or before the requested
time with every PID's first packets before its first PES start dropped,
continuity counters go on from where each PID stopped, and the first PCR of
the new position carries the discontinuity indicator.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from .ingest import PortConflict, PortRegistry
from .pacer import PACKETS_PER_DATAGRAM, Pacer
from .timeline import TrackIndex, index_track
from .ts import PACKET_SIZE

READ_BLOCK = PACKET_SIZE * 7 * 32


@dataclass(slots=True)
class FileIndex:
    """Where a track's cut points are, in content seconds and byte offsets (see :mod:`.timeline`)."""

    psi: bytes  # PAT + PMT packets to send before playing from anywhere but the start
    times: list[float]
    offsets: list[int]
    duration: float
    pes_pids: frozenset = frozenset()  # elementary streams (audio, video, data) of every layout
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
                     frozenset(track.pes_pids), track.pcr_pid, track)


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
                 interface: str | None = None, per_datagram: int = PACKETS_PER_DATAGRAM) -> None:
        self.path = Path(path)
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
        self._last_cc: dict[int, int] = {}  # per PID, continuity counter of the last payload packet sent
        self._cc_shift: dict[int, int] = {}  # per PID, added to the file's counters since the last splice
        self._rebased: set[int] | None = None  # PIDs whose shift is known since the last splice (None: none yet)
        self._open: set[int] = set()  # elementary PIDs with a PES started and not yet known complete
        self._waiting: set[int] = set()  # after a splice: PIDs still before their first PES start
        self._mark_pcr = False  # flag the next PCR as a time-base discontinuity
        self._sent_in_run = 0  # packets sent since the current run began (its lead included)
        self._lead_left = 0  # packets of the run's lead (PAT/PMT) still to send
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
        """Play from the keyframe at or before ``seconds``; :class:`SeekPastEnd` beyond the video."""
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
        start_offset, lead = 0, b""
        try:
            while True:
                stopped_at = await self._play_from(loop, start_offset, lead)
                if stopped_at is None:
                    break
                target, self._seek = self._seek, None
                self._finish_open_pes(stopped_at)
                t, start_offset = self.index.keyframe_at(target)
                self._base_position = t
                self._clock_position = 0.0
                lead = self.index.psi_at(start_offset)
                self._splice()
            self.state = "ended"
        finally:
            self.done.set()

    async def _play_from(self, loop, offset: int, lead: bytes) -> int | None:
        """Send from ``offset`` to the end; if a seek interrupts, the file offset of the first
        packet not sent."""
        pacer = Pacer(self.per_datagram)
        if lead:
            pacer.feed(lead)
        lead_packets = self._lead_left = len(lead) // PACKET_SIZE
        self._sent_in_run = 0
        base = loop.time()
        self._read_in_run = 0  # file packets read in this run
        self._dropped_at: list[int] = []  # their indices that were left out (see _drop_before_first_pes)
        with open(self.path, "rb") as f:
            f.seek(offset)
            final = False
            while not final:
                block = f.read(READ_BLOCK)
                if block:
                    pacer.feed(self._drop_before_first_pes(block[: len(block) - len(block) % PACKET_SIZE]))
                else:
                    final = True
                for t, dgram in pacer.datagrams(final=final):
                    while True:
                        if self._seek is not None:
                            return self._file_offset(offset, lead_packets)
                        if not self._resume.is_set():
                            paused_at = loop.time()
                            self._wake.clear()
                            await self._wait_resume_or_seek()
                            if self._seek is not None:
                                return self._file_offset(offset, lead_packets)
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
                    self._send(dgram)
                    self._clock_position = t
        return None

    # -- splicing ------------------------------------------------------------

    def _drop_before_first_pes(self, block: bytes) -> bytes:
        """After a splice, leave out each PID's packets before its first PES start (half a PES).

        Keeps, per packet read, how many were dropped so far, to map what was sent back to a
        file offset."""
        kept = block
        if self._waiting:
            out = bytearray()
            for off in range(0, len(block), PACKET_SIZE):
                pid = ((block[off + 1] & 0x1F) << 8) | block[off + 2]
                if pid in self._waiting:
                    if not block[off + 1] & 0x40:
                        self._dropped_at.append(self._read_in_run + off // PACKET_SIZE)
                        continue
                    self._waiting.discard(pid)
                out += block[off:off + PACKET_SIZE]
            kept = bytes(out)
        self._read_in_run += len(block) // PACKET_SIZE
        return kept

    def _file_offset(self, offset: int, lead_packets: int) -> int:
        """File offset of the first packet of this run not sent yet."""
        sent = max(0, self._sent_in_run - lead_packets)
        position = sent
        for dropped in self._dropped_at:  # dropped packets lie before the sent ones they precede
            if dropped <= position:
                position += 1
            else:
                break
        return offset + position * PACKET_SIZE

    def _finish_open_pes(self, offset: int) -> None:
        """Send, for every PID whose PES is in flight, its packets up to its next PES start."""
        open_pids = set(self._open)
        self._lead_left = 0
        out = bytearray()
        with open(self.path, "rb") as f:
            f.seek(offset)
            while open_pids and (block := f.read(READ_BLOCK)):
                for off in range(0, len(block) - len(block) % PACKET_SIZE, PACKET_SIZE):
                    pid = ((block[off + 1] & 0x1F) << 8) | block[off + 2]
                    if pid not in open_pids:
                        continue
                    if block[off + 1] & 0x40:
                        open_pids.discard(pid)
                        if not open_pids:
                            break
                        continue
                    out += block[off:off + PACKET_SIZE]
        n = self.per_datagram * PACKET_SIZE
        for i in range(0, len(out), n):
            self._send(bytes(out[i:i + n]))
        self._open.clear()

    def _splice(self) -> None:
        self.splices += 1
        self._rebased = set()
        self._mark_pcr = True
        self._waiting = set(self.index.pes_pids)

    def _rewrite(self, dgram: bytes) -> bytes:
        """Continue counters across splices, flag the new time base, and note what is open."""
        rebased = self._rebased
        out = bytearray(dgram) if rebased is not None else None
        last = self._last_cc
        pes = self.index.pes_pids
        for off in range(0, len(dgram) - len(dgram) % PACKET_SIZE, PACKET_SIZE):
            pid = ((dgram[off + 1] & 0x1F) << 8) | dgram[off + 2]
            b3 = dgram[off + 3]
            if pid in pes and dgram[off + 1] & 0x40:
                self._open.add(pid)
            if self._lead_left:  # the PAT/PMT sent ahead of a new position: next counter value
                self._lead_left -= 1
                if out is not None and b3 & 0x10 and pid in last:
                    b3 = (b3 & 0xF0) | ((last[pid] + 1) & 0x0F)
                    out[off + 3] = b3
            elif out is not None:
                if b3 & 0x10 and pid not in rebased:
                    rebased.add(pid)
                    self._cc_shift[pid] = ((last[pid] + 1 - b3) % 16) if pid in last else 0
                shift = self._cc_shift.get(pid, 0)
                if shift:
                    b3 = (b3 & 0xF0) | ((b3 + shift) & 0x0F)
                    out[off + 3] = b3
                if self._mark_pcr and b3 & 0x20 and dgram[off + 4] >= 7 \
                        and dgram[off + 5] & 0x10:
                    out[off + 5] |= 0x80  # discontinuity_indicator: the PCR that follows is a new time base
                    self._mark_pcr = False
            if b3 & 0x10:
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
        self._sent_in_run += len(dgram) // PACKET_SIZE
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
