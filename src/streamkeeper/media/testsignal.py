"""Real test signals: short H.264/AAC MPEG-TS clips and a paced UDP sender.

Used by the tests and the bench so that everything downstream sees what a
real encoder would send: PAT/PMT, PCR, keyframes flagged for random
access, AAC audio, optional constant multiplex rate padded with null
packets.
"""

from __future__ import annotations

import math
from fractions import Fraction
import socket
import threading
import time
from array import array
from pathlib import Path

import av

from .pacer import paced_datagrams


def make_clip(
    path: str | Path,
    *,
    seconds: float = 3.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    video_bitrate: int = 800_000,
    muxrate: int | None = None,
    gop: int | None = None,
    audio: bool = True,
    seed: int = 0,
) -> Path:
    """Encode a moving test pattern (and a tone) into an MPEG-TS file.

    ``muxrate`` makes the multiplex constant-rate (null-packet padding), the
    way broadcast encoders deliver it; ``gop`` defaults to half a second so
    that every cut point is close to a keyframe.
    """
    path = Path(path)
    gop = gop or max(1, fps // 2)
    options = {"muxrate": str(muxrate)} if muxrate else {}
    with av.open(str(path), "w", format="mpegts", options=options) as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.bit_rate = video_bitrate
        v.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(gop), "keyint_min": str(gop),
                     "sc_threshold": "0", "bf": "0"}
        a = None
        if audio:
            a = out.add_stream("aac", rate=48_000, layout="mono")
            a.bit_rate = 64_000
        frames = int(round(seconds * fps))
        for i in range(frames):
            frame = _pattern(width, height, i + seed * 7)
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for pkt in v.encode(frame):
                out.mux(pkt)
        for pkt in v.encode(None):
            out.mux(pkt)
        if a is not None:
            samples = int(seconds * 48_000)
            tone = 440 + 110 * seed
            for start in range(0, samples, 1024):
                n = min(1024, samples - start)
                af = av.AudioFrame(format="fltp", layout="mono", samples=n)
                af.planes[0].update(array("f", (0.2 * math.sin(2 * math.pi * tone * (start + k) / 48_000)
                                               for k in range(n))).tobytes())
                af.sample_rate = 48_000
                af.pts = start
                for pkt in a.encode(af):
                    out.mux(pkt)
            for pkt in a.encode(None):
                out.mux(pkt)
    return path


def _pattern(width: int, height: int, t: int) -> av.VideoFrame:
    """A diagonal gradient that moves every frame, with a bright bar for the frame number."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for index, plane in enumerate(frame.planes):
        pw = plane.width
        ph = plane.height
        stride = plane.line_size
        ramp = bytes((k * 3) & 0xFF for k in range(512)) * ((pw + stride) // 512 + 2)
        rows = []
        for y in range(ph):
            shift = (y + t * (4 if index == 0 else 2) + index * 40) % 512
            rows.append(ramp[shift:shift + stride])
        if index == 0:
            bar_y = (t * 5) % max(1, ph - 8)
            for y in range(bar_y, bar_y + 8):
                rows[y] = b"\xeb" * stride
        plane.update(b"".join(rows))
    return frame


class UdpSender:
    """Plays a TS file to a UDP address in real time, 7 packets per datagram.

    Runs in its own thread so that it paces independently of whatever event
    loop the receiver uses. ``loops`` repeats the file (timestamps jump at
    each repeat, like a looping playout server).
    """

    def __init__(self, path: str | Path, address: tuple[str, int], *, loops: int = 1,
                 ttl: int = 1, source_address: str | None = None) -> None:
        self.path = Path(path)
        self.address = address
        self.loops = loops
        self.sent_datagrams = 0
        self.sent_bytes = 0
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        if source_address:
            self._sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source_address))
        self._thread = threading.Thread(target=self._run, name=f"udp-sender-{address[1]}", daemon=True)

    def start(self) -> "UdpSender":
        self._thread.start()
        return self

    def _run(self) -> None:
        data = self.path.read_bytes()
        schedule = list(paced_datagrams(data))
        base = time.monotonic()
        offset = 0.0
        for _ in range(self.loops):
            last_t = 0.0
            for t, dgram in schedule:
                if self._stop.is_set():
                    return
                due = base + offset + t
                delay = due - time.monotonic()
                if delay > 0.0005:
                    time.sleep(delay)
                self._sock.sendto(dgram, self.address)
                self.sent_datagrams += 1
                self.sent_bytes += len(dgram)
                last_t = t
            offset += last_t + (schedule[1][0] - schedule[0][0] if len(schedule) > 1 else 0.0)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> "UdpSender":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def send_file(path: str | Path, address: tuple[str, int], **kw) -> UdpSender:
    """Send a whole file in real time and wait until it is out."""
    sender = UdpSender(path, address, **kw).start()
    sender.join()
    sender.stop()
    return sender
