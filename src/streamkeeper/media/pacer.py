"""Real-time pacing of a transport stream from its own clock.

A multiplex says how fast it must be played: between two PCRs of the PCR
PID, the packets in between are spread evenly over the PCR difference.
The pacer turns packets into (seconds since start, datagram) pairs; the
sender sleeps until each time. Clock jumps (a looping file, a
discontinuity) keep the last known rate instead of stalling or bursting.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator

from .ts import CLOCK_HZ, PACKET_SIZE, PCR_WRAP, Resync, packet_pcr

PACKETS_PER_DATAGRAM = 7
MAX_PCR_GAP = CLOCK_HZ  # a jump of more than one second is a discontinuity, not a rate


class Pacer:
    """Feed aligned packets; take out timed datagrams once their times are known."""

    def __init__(self, per_datagram: int = PACKETS_PER_DATAGRAM, pcr_pid: int | None = None) -> None:
        self.per_datagram = per_datagram
        self.pcr_pid = pcr_pid
        self._segment = bytearray()  # packets since the last PCR (anchor packet first)
        self._anchor_pcr: int | None = None
        self._anchor_t = 0.0
        self._tick = None  # seconds per packet, from the last complete segment
        self._ready: deque[tuple[float, bytes]] = deque()  # (time, packet)
        self.clock = 0.0  # stream seconds of the newest anchor

    def feed(self, data: bytes) -> None:
        for off in range(0, len(data) - len(data) % PACKET_SIZE, PACKET_SIZE):
            pcr = None
            if data[off + 3] & 0x20:
                pid = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
                if self.pcr_pid is None or pid == self.pcr_pid:
                    pcr = packet_pcr(data, off)
                    if pcr is not None and self.pcr_pid is None:
                        self.pcr_pid = pid
            if pcr is not None:
                self._anchor(pcr)
            self._segment += data[off:off + PACKET_SIZE]

    def _anchor(self, pcr: int) -> None:
        count = len(self._segment) // PACKET_SIZE
        if self._anchor_pcr is None:
            t0, tick = 0.0, 0.0  # whatever came before the first PCR goes out at once
            new_t = 0.0
        else:
            delta = (pcr - self._anchor_pcr) % PCR_WRAP
            if delta > MAX_PCR_GAP or delta == 0:
                tick = self._tick or 0.0
                new_t = self._anchor_t + tick * count
            else:
                new_t = self._anchor_t + delta / CLOCK_HZ
                tick = (new_t - self._anchor_t) / count if count else 0.0
                self._tick = tick
            t0 = self._anchor_t
        self._emit(t0, tick, count)
        self._anchor_pcr = pcr
        self._anchor_t = new_t
        self.clock = new_t

    def _emit(self, t0: float, tick: float, count: int) -> None:
        seg = bytes(self._segment)
        self._segment.clear()
        for k in range(count):
            self._ready.append((t0 + tick * k, seg[k * PACKET_SIZE:(k + 1) * PACKET_SIZE]))

    def datagrams(self, final: bool = False) -> Iterator[tuple[float, bytes]]:
        """Timed datagrams whose packets all have known times (all of them when ``final``)."""
        if final and self._segment:
            count = len(self._segment) // PACKET_SIZE
            self._emit(self._anchor_t, self._tick or 0.0, count)
        ready = self._ready
        n = self.per_datagram
        while len(ready) >= n or (final and ready):
            k = min(n, len(ready))
            parts = [ready.popleft() for _ in range(k)]
            yield parts[-1][0], b"".join(p for _, p in parts)


def paced_datagrams(data: bytes | Iterable[bytes], per_datagram: int = PACKETS_PER_DATAGRAM
                    ) -> Iterator[tuple[float, bytes]]:
    """(seconds, datagram) for a whole stream given as bytes or as blocks of bytes."""
    blocks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    pacer = Pacer(per_datagram)
    rs = Resync()
    for block in blocks:
        pacer.feed(rs.feed(bytes(block)))
        yield from pacer.datagrams()
    pacer.feed(rs.flush())
    yield from pacer.datagrams(final=True)
