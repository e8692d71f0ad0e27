"""Live ingest of MPEG-TS sources: UDP (unicast, multicast) natively, SRT via FFmpeg.

Every source ends in the same place: aligned packets go through an
:class:`~streamkeeper.media.ts.Analyzer` (continuity, PSI, clock), a
:class:`RateMeter` (what actually arrives: ``active`` and ``bitrate``) and
then to whatever is subscribed (track writers, the live thumbnail
buffer). Subscribers are called synchronously with each batch so that a
recorder sees exactly the bytes that arrived, in order, one write per
batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, urlencode

from .ts import Analyzer, Resync

log = logging.getLogger(__name__)

Sink = Callable[[bytes], None]
RECEIVE_BUFFER = 8 * 1024 * 1024


class PortConflict(Exception):
    """The address/port is already taken by another source or stream (or another program)."""


@dataclass(slots=True)
class SourceSpec:
    """What the catalog says about a source, in media terms."""

    type: str = "UDP"  # UDP | SRT
    port: int = 0
    host: str | None = None
    multicast: bool = False
    interface: str | None = None  # address of the interface to join a multicast group on
    mode: str = "LISTENER"  # SRT: CALLER | LISTENER | RENDEZVOUS
    latency: int | None = None  # SRT latency in milliseconds
    passphrase: str | None = None
    pbkeylen: int | None = None

    def port_key(self) -> tuple:
        """Key under which two receivers would compete for the same packets."""
        if self.type.upper() == "UDP" and self.multicast:
            return ("udp", self.host, self.port)
        if self.type.upper() == "SRT" and self.mode.upper() == "CALLER":
            return ("srt-caller", self.host, self.port)
        return ("udp", None, self.port)  # SRT listener/rendezvous bind a local UDP port


class RateMeter:
    """Bytes and packets per one-second bucket over a sliding window of arrivals."""

    def __init__(self, window: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._buckets: deque[list] = deque()  # [second, bytes, packets]
        self.total_bytes = 0
        self.total_packets = 0
        self.last_arrival: float | None = None

    def add(self, nbytes: int, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        sec = int(now)
        b = self._buckets
        if b and b[-1][0] == sec:
            b[-1][1] += nbytes
            b[-1][2] += nbytes // 188
        else:
            b.append([sec, nbytes, nbytes // 188])
            while b and b[0][0] <= sec - self.window - 1:
                b.popleft()
        self.total_bytes += nbytes
        self.total_packets += nbytes // 188
        self.last_arrival = now

    def active(self, now: float | None = None) -> bool:
        """Did packets arrive within the last ``window`` seconds?"""
        now = self.clock() if now is None else now
        return self.last_arrival is not None and now - self.last_arrival <= self.window

    def bitrate(self, now: float | None = None) -> int:
        """Bits per second over the last ``window`` whole seconds (0 when idle)."""
        now = self.clock() if now is None else now
        sec = int(now)
        lo = sec - int(self.window)
        total = sum(nb for s, nb, _ in self._buckets if lo <= s < sec)
        return int(total * 8 / self.window)


class Ingest:
    """Common receiving path; subclasses only deliver bytes to :meth:`_on_bytes`."""

    def __init__(self, spec: SourceSpec, *, window: float = 2.0) -> None:
        self.spec = spec
        self.resync = Resync()
        self.analyzer = Analyzer()
        self.meter = RateMeter(window)
        self._sinks: list[Sink] = []
        self.sink_errors = 0

    def subscribe(self, sink: Sink) -> Callable[[], None]:
        self._sinks.append(sink)
        return lambda: self.unsubscribe(sink)

    def unsubscribe(self, sink: Sink) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)

    @property
    def active(self) -> bool:
        return self.meter.active()

    @property
    def bitrate(self) -> int:
        return self.meter.bitrate()

    def _on_bytes(self, data: bytes) -> None:
        packets = self.resync.feed(data)
        if not packets:
            return
        self.meter.add(len(packets))
        self.analyzer.feed(packets)
        for sink in tuple(self._sinks):
            try:
                sink(packets)
            except Exception:  # one failing subscriber must not stop the others
                self.sink_errors += 1
                log.exception("ingest subscriber failed")

    async def start(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def open_udp_socket(spec: SourceSpec) -> socket.socket:
    """A bound, non-blocking UDP socket for a source; multicast groups are joined here.

    Unicast sockets do not set SO_REUSEADDR, so another program on the port
    is a refusal, not silently shared traffic. Multicast sockets do (several
    groups may share a port) and bind to the group address so that each
    receives only its own group.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        _grow_receive_buffer(sock)
        if spec.multicast:
            if not spec.host:
                raise ValueError("a multicast source needs a group address")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((spec.host, spec.port))
            iface = spec.interface or "0.0.0.0"
            mreq = struct.pack("4s4s", socket.inet_aton(spec.host), socket.inet_aton(iface))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        else:
            sock.bind((spec.host or "0.0.0.0", spec.port))
        sock.setblocking(False)
        return sock
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortConflict(f"UDP port {spec.port} is already in use") from exc
        raise


def _grow_receive_buffer(sock: socket.socket) -> None:
    """Ask for a large kernel buffer so that a busy event loop does not drop datagrams."""
    force = getattr(socket, "SO_RCVBUFFORCE", None)
    if force is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, force, RECEIVE_BUFFER)
            return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


class UdpIngest(Ingest):
    """Receives a UDP (unicast or multicast) source on the running event loop.

    The socket is read directly when it becomes readable, draining every
    queued datagram at once: when the process falls behind, batches grow
    instead of the kernel buffer overflowing, and each batch costs one pass
    over the packets and one write per subscriber.
    """

    MAX_BATCH = 128  # datagrams per wake-up

    def __init__(self, spec: SourceSpec, **kw) -> None:
        super().__init__(spec, **kw)
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.datagrams = 0

    async def start(self) -> None:
        self._sock = open_udp_socket(self.spec)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._readable)

    def _readable(self) -> None:
        recv = self._sock.recv
        parts = []
        for _ in range(self.MAX_BATCH):
            try:
                parts.append(recv(65536))
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ICMP errors reported on the socket
                log.warning("UDP source on port %s: %s", self.spec.port, exc)
                break
        if parts:
            self.datagrams += len(parts)
            self._on_bytes(parts[0] if len(parts) == 1 else b"".join(parts))

    @property
    def local_port(self) -> int:
        return self._sock.getsockname()[1] if self._sock else self.spec.port

    async def stop(self) -> None:
        if self._sock is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def srt_url(spec: SourceSpec, *, for_sending: bool = False) -> str:
    """The FFmpeg ``srt://`` URL for a source (latency given in ms, FFmpeg wants µs)."""
    mode = spec.mode.lower()
    if mode not in ("caller", "listener", "rendezvous"):
        raise ValueError(f"unknown SRT mode {spec.mode!r}")
    host = spec.host or ("0.0.0.0" if mode == "listener" else None)
    if host is None:
        raise ValueError(f"SRT {mode} needs a host")
    params: dict[str, str] = {"mode": mode, "transtype": "live"}
    if spec.latency is not None:
        params["latency"] = str(int(spec.latency) * 1000)
    if spec.passphrase:
        params["passphrase"] = spec.passphrase
        params["pbkeylen"] = str(spec.pbkeylen or 16)
    return f"srt://{host}:{spec.port}?" + urlencode(params, quote_via=quote)


class SrtIngest(Ingest):
    """SRT through the FFmpeg binary: ``-c copy`` to MPEG-TS on a pipe, restarted with backoff.

    FFmpeg ends when the peer goes away or the connection cannot be made;
    we start it again after a delay that doubles up to ``max_backoff`` and
    falls back to ``min_backoff`` once data flows again. A silence longer
    than ``stall_timeout`` while connected also counts as a drop.
    """

    def __init__(self, spec: SourceSpec, *, min_backoff: float = 0.5, max_backoff: float = 10.0,
                 stall_timeout: float = 5.0, **kw) -> None:
        super().__init__(spec, **kw)
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.stall_timeout = stall_timeout
        self.starts = 0
        self.last_error = ""
        self._task: asyncio.Task | None = None
        self._proc: asyncio.subprocess.Process | None = None

    def command(self) -> list[str]:
        return [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-probesize", "200000", "-analyzeduration", "500000",
            "-i", srt_url(self.spec),
            "-map", "0", "-c", "copy", "-f", "mpegts", "-flush_packets", "1", "pipe:1",
        ]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"srt-ingest-{self.spec.port}")

    async def _supervise(self) -> None:
        backoff = self.min_backoff
        while True:
            got_data = await self._run_once()
            backoff = self.min_backoff if got_data else min(backoff * 2, self.max_backoff)
            await asyncio.sleep(backoff)

    async def _run_once(self) -> bool:
        self.starts += 1
        # A pipe that starts mid-stream must not inherit the old stream's alignment.
        self.resync = Resync()
        proc = self._proc = await asyncio.create_subprocess_exec(
            *self.command(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        got = False
        try:
            while True:
                timeout = self.stall_timeout if got else None
                try:  # asyncio.timeout: wait_for (3.11) can swallow stop()'s cancellation
                    async with asyncio.timeout(timeout):
                        chunk = await proc.stdout.read(65536)
                except TimeoutError:
                    self.last_error = "stalled"
                    break
                if not chunk:
                    break
                got = True
                self._on_bytes(chunk)
        finally:
            if proc.returncode is None:
                # Ask FFmpeg to flush what its muxer still holds, then insist.
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    rest = await asyncio.wait_for(proc.stdout.read(), 2.0)
                    if rest:
                        self._on_bytes(rest)
                except asyncio.TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            err = await proc.stderr.read()
            await proc.wait()
            if err:
                self.last_error = err.decode(errors="replace").strip()[-500:]
            self._proc = None
        return got

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()


class PortRegistry:
    """Who holds which receive port: sources and streams must not share one."""

    def __init__(self) -> None:
        self._owners: dict[tuple, str] = {}

    def claim(self, key: tuple, owner: str) -> None:
        holder = self._owners.get(key)
        if holder is not None and holder != owner:
            raise PortConflict(f"{key[0]} {key[1] or '*'}:{key[2]} is used by {holder}")
        self._owners[key] = owner

    def release(self, owner: str) -> None:
        for key in [k for k, v in self._owners.items() if v == owner]:
            del self._owners[key]

    def holder(self, key: tuple) -> str | None:
        return self._owners.get(key)


def make_ingest(spec: SourceSpec, **kw) -> Ingest:
    kind = spec.type.upper()
    if kind == "UDP":
        return UdpIngest(spec, **kw)
    if kind == "SRT":
        return SrtIngest(spec, **kw)
    raise ValueError(f"unknown source type {spec.type!r}")
