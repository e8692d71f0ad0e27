"""Re-streaming a recorded video to UDP in real time.

Each track file is played by a :class:`Restreamer`: its packets leave in
datagrams of seven, each at the moment the stream's own PCR says (see
:mod:`.pacer`), to one or more unicast or multicast destinations. Pause
holds the position; seek restarts at the last keyframe at or before the
requested time, preceded by the PAT/PMT so that receivers can lock on
again. The stream ends by itself at the end of the file.
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
from .ts import PACKET_SIZE, PAT_PID, PTS_HZ, PTS_WRAP, Analyzer, pes_timestamps

READ_BLOCK = PACKET_SIZE * 7 * 32


@dataclass(slots=True)
class FileIndex:
    """Where a track's keyframes are, in stream seconds and byte offsets."""

    psi: bytes  # PAT + PMT packets to send before playing from anywhere but the start
    times: list[float]
    offsets: list[int]
    duration: float

    def keyframe_at(self, seconds: float) -> tuple[float, int]:
        i = bisect.bisect_right(self.times, seconds) - 1
        if i < 0:
            return 0.0, 0
        return self.times[i], self.offsets[i]


def index_file(path: str | Path) -> FileIndex:
    """One pass over a TS file: PSI, then every video keyframe's time (PTS from the first one)."""
    an = Analyzer()
    psi: dict[int, bytes] = {}
    times: list[float] = []
    offsets: list[int] = []
    first_pts = None
    pos = 0
    with open(path, "rb") as f:
        while block := f.read(READ_BLOCK):
            block = block[: len(block) - len(block) % PACKET_SIZE]
            an.feed(block)
            video = {s.pid for s in an.streams if s.kind == "video"}
            pmt = {p.pmt_pid for p in an.programs.values()}
            for off in range(0, len(block), PACKET_SIZE):
                pid = ((block[off + 1] & 0x1F) << 8) | block[off + 2]
                if (pid == PAT_PID or pid in pmt) and pid not in psi:
                    psi[pid] = block[off:off + PACKET_SIZE]
                if (pid in video and block[off + 1] & 0x40 and block[off + 3] & 0x20 and block[off + 4]
                        and block[off + 5] & 0x40):
                    start = off + 5 + block[off + 4]
                    pts, _ = pes_timestamps(block[start:start + 19])
                    if pts is None:
                        continue
                    if first_pts is None:
                        first_pts = pts
                    times.append(((pts - first_pts) % PTS_WRAP) / PTS_HZ)
                    offsets.append(pos + off)
            pos += len(block)
    header = psi.get(PAT_PID, b"") + b"".join(p for k, p in psi.items() if k != PAT_PID)
    return FileIndex(header, times, offsets, an.duration)


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
                seeked = await self._play_from(loop, start_offset, lead)
                if not seeked:
                    break
                target, self._seek = self._seek, None
                t, start_offset = self.index.keyframe_at(target)
                self._base_position = t
                self._clock_position = 0.0
                lead = self.index.psi
            self.state = "ended"
        finally:
            self.done.set()

    async def _play_from(self, loop, offset: int, lead: bytes) -> bool:
        """Send from ``offset`` to the end; True if interrupted by a seek."""
        pacer = Pacer(self.per_datagram)
        if lead:
            pacer.feed(lead)
        base = loop.time()
        with open(self.path, "rb") as f:
            f.seek(offset)
            final = False
            while not final:
                block = f.read(READ_BLOCK)
                if block:
                    pacer.feed(block[: len(block) - len(block) % PACKET_SIZE])
                else:
                    final = True
                for t, dgram in pacer.datagrams(final=final):
                    while True:
                        if self._seek is not None:
                            return True
                        if not self._resume.is_set():
                            paused_at = loop.time()
                            self._wake.clear()
                            await self._wait_resume_or_seek()
                            if self._seek is not None:
                                return True
                            base += loop.time() - paused_at
                            continue
                        delay = base + t - loop.time()
                        if delay <= 0:
                            break
                        self._wake.clear()
                        with contextlib.suppress(asyncio.TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), delay)
                    self._send(dgram)
                    self._clock_position = t
        return False

    async def _wait_resume_or_seek(self) -> None:
        waiters = [asyncio.ensure_future(self._resume.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    def _send(self, dgram: bytes) -> None:
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

    def seek(self, seconds: float) -> None:
        for p in self.players:
            p.seek(seconds)

    async def wait(self) -> None:
        for p in self.players:
            await p.done.wait()

    async def stop(self) -> None:
        for p in self.players:
            await p.stop()
