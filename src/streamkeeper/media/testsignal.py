"""Real test signals: short H.264/AAC MPEG-TS clips and a paced UDP sender.

Used by the tests and the bench so that everything downstream sees what a
real encoder would send: PAT/PMT, PCR, keyframes flagged for random
access, AAC audio, optional constant multiplex rate padded with null
packets.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
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


# -- timelines as real encoders make them --------------------------------------------------------

BAR_BITS = 12  # the frame number, drawn as a row of dark/bright blocks across the top of the picture
BAR_HEIGHT = 32


@dataclass
class Piece:
    """One run of an encoder: what it sends until it restarts.

    ``start`` is the 90 kHz PTS of its first picture (any value: past 2^33 the
    stream's 33-bit clock wraps, as a real one does); ``first_pid`` and
    ``pmt_pid`` choose its PID layout; ``audio_lag`` delays its audio packets
    behind the pictures they belong with; ``first_frame`` is the number drawn
    in its first picture (the next piece goes on counting by default).
    """

    seconds: float
    start: int = 0
    first_pid: int = 0x100
    pmt_pid: int = 0x1000
    video: bool = True
    audio: bool = True
    audio_lag: float = 0.0
    first_frame: int | None = None
    bframes: int = 0  # B-frames between references: decoding order differs from presentation order
    open_gop: bool = False  # keyframes are I-pictures that B-pictures of the previous group still use
    split_pes: bool = False  # each picture (and audio PES) in two PES, cut mid-slice (legal; some encoders do it)
    late_into_next: bool = False  # its audio that comes after its last picture arrives in the next run
    pcr_lead: float | None = None  # seconds its clock (PCR) runs ahead of the decoding times


def encode_piece(piece: Piece, *, first_frame: int = 0, fps: int = 25, width: int = 192,
                 height: int = 128) -> bytes:
    """One encoder run as MPEG-TS bytes (continuity counters from zero, as after a restart)."""
    buf = io.BytesIO()
    options = {"mpegts_start_pid": str(piece.first_pid), "mpegts_pmt_start_pid": str(piece.pmt_pid)}
    if piece.pcr_lead is not None:
        options["max_delay"] = str(round(piece.pcr_lead * 1_000_000))
    tick = PTS_HZ_TESTS // fps
    packets = []
    with av.open(buf, "w", format="mpegts", options=options) as out:
        v = a = None
        if piece.video:
            v = out.add_stream("libx264", rate=fps)
            v.width, v.height, v.pix_fmt = width, height, "yuv420p"
            v.bit_rate = 400_000
            v.options = {"preset": "ultrafast", "g": str(fps // 2), "keyint_min": str(fps // 2),
                         "sc_threshold": "0", "bf": str(piece.bframes)}
            if piece.open_gop:
                v.options["x264-params"] = "open-gop=1"
        if piece.audio:
            a = out.add_stream("aac", rate=48_000, layout="mono")
            a.bit_rate = 48_000
        frames = int(round(piece.seconds * fps))
        if v is not None:
            encoded = []
            for i in range(frames):
                frame = numbered_frame(width, height, first_frame + i)
                frame.pts, frame.time_base = i, Fraction(1, fps)
                encoded += v.encode(frame)
            encoded += v.encode(None)
            for p in encoded:
                p.pts, p.dts = piece.start + p.pts * tick, piece.start + p.dts * tick
                p.time_base = Fraction(1, PTS_HZ_TESTS)
                packets.append((p.dts, 0, p))
        if a is not None:
            encoded = []
            samples = int(piece.seconds * 48_000)
            silence = bytes(4 * 1024)
            for start in range(0, samples, 1024):
                n = min(1024, samples - start)
                af = av.AudioFrame(format="fltp", layout="mono", samples=n)
                af.planes[0].update(silence[: 4 * n])
                af.sample_rate, af.pts = 48_000, start
                encoded += a.encode(af)
            encoded += a.encode(None)
            for p in encoded:
                pts = piece.start + p.pts * PTS_HZ_TESTS // 48_000
                p.pts = p.dts = pts
                p.time_base = Fraction(1, PTS_HZ_TESTS)
                packets.append((pts, 1, p))
        packets.sort(key=lambda item: (item[0], item[1]))
        for _, _, p in packets:
            out.mux(p)
    data = buf.getvalue()
    if piece.split_pes:  # the muxer numbers the streams from first_pid: video, then audio
        for pid in range(piece.first_pid, piece.first_pid + piece.video + piece.audio):
            data = split_pes(data, pid)
    if piece.audio_lag and piece.video and piece.audio:
        data = _delay_pid(data, piece.first_pid + 1, round(piece.audio_lag * PTS_HZ_TESTS), piece.first_pid)
    return data


PTS_HZ_TESTS = 90_000


def split_pes(data: bytes, pid: int) -> bytes:
    """Carry each PES of ``pid`` as two: the first with the timestamps and the picture's first
    bytes, the second (no timestamps) with the rest, cut in the middle of a slice.

    Encoders that bound their PES size do this; a reader that takes a PES start for the start
    of a picture cuts pictures. The packets of a PES take the places of the original ones, any
    extra packet right after them; the first keeps its adaptation field (PCR, random access)."""
    packets = [data[off:off + 188] for off in range(0, len(data) - len(data) % 188, 188)]
    groups: list[list[int]] = []  # packet indices of each PES of ``pid``
    for i, pkt in enumerate(packets):
        if ((pkt[1] & 0x1F) << 8) | pkt[2] != pid:
            continue
        if pkt[1] & 0x40 or not groups:
            groups.append([])
        groups[-1].append(i)
    replaced: dict[int, list[bytes]] = {}
    for group in groups:
        first = packets[group[0]]
        af = first[4:5 + first[4]] if first[3] & 0x20 else b""
        pes = b"".join(_payload(packets[i]) for i in group)
        body_at = 9 + pes[8]
        header, body = pes[:body_at], pes[body_at:]
        cut = max(1, len(body) // 2 + 7)
        second = body[cut:]
        parts = [_with_length(header + body[:cut])]
        if second:
            parts.append(_with_length(bytes((0, 0, 1, pes[3], 0, 0, 0x80, 0, 0)) + second))
        out = []
        for n, part in enumerate(parts):
            out += _packetize(pid, part, af if n == 0 else b"")
        replaced[group[0]] = out
    # each PES's packets take its places in the multiplex, the extra ones right after its last
    out: list[bytes] = list(packets)
    extra: dict[int, list[bytes]] = {}
    cc = 0
    for group in groups:
        numbered = []
        for pkt in replaced[group[0]]:
            numbered.append(pkt[:3] + bytes([(pkt[3] & 0xF0) | cc]) + pkt[4:])
            cc = (cc + 1) & 0x0F
        for k, i in enumerate(group):
            out[i] = numbered[k] if k < len(numbered) else b""
        extra[group[-1]] = numbered[len(group):]
    for i in sorted(extra, reverse=True):
        out[i + 1:i + 1] = extra[i]
    return b"".join(out)


def _payload(pkt: bytes) -> bytes:
    start = 5 + pkt[4] if pkt[3] & 0x20 else 4
    return pkt[start:] if pkt[3] & 0x10 else b""


def _with_length(pes: bytes) -> bytes:
    n = len(pes) - 6
    n = n if n <= 0xFFFF else 0
    return pes[:4] + bytes((n >> 8, n & 0xFF)) + pes[6:]


def _packetize(pid: int, pes: bytes, af: bytes) -> list[bytes]:
    """TS packets (counters left at 0) carrying one PES; ``af`` is the first packet's
    adaptation field, length byte included; the last packet is stuffed through its own."""
    out = []
    pos, first = 0, True
    while pos < len(pes) or first:
        head = bytes((0x47, (0x40 if first else 0) | (pid >> 8), pid & 0xFF))
        field = af if first and af else b""
        room = 184 - len(field)
        chunk = pes[pos:pos + room]
        if len(chunk) < room:  # stuff: grow (or add) the adaptation field
            need = room - len(chunk)
            if field:
                field = bytes([field[0] + need]) + field[1:] + b"\xff" * need
            elif need == 1:
                field = b"\x00"
            else:
                field = bytes([need - 1, 0]) + b"\xff" * (need - 2)
        afc = 0x30 if field else 0x10
        out.append(head + bytes([afc]) + field + chunk)
        pos += len(chunk)
        first = False
    return out


def _delay_pid(data: bytes, pid: int, ticks: int, clock_pid: int) -> bytes:
    """Move one PID's packets later in the multiplex, behind pictures ``ticks`` newer than theirs."""
    from .ts import pes_timestamps

    keyed = []
    now = 0
    for n, off in enumerate(range(0, len(data), 188)):
        p = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
        if p == clock_pid and data[off + 1] & 0x40:
            start = off + 5 + data[off + 4] if data[off + 3] & 0x20 else off + 4
            pts, dts = pes_timestamps(data[start:start + 19])
            if pts is not None:
                now = max(now, dts if dts is not None else pts)
        keyed.append((now + ticks if p == pid else now, n, data[off:off + 188]))
    keyed.sort(key=lambda k: (k[0], k[1]))
    return b"".join(k[2] for k in keyed)


def encode_timeline(pieces: list[Piece], **kw) -> bytes:
    """Several encoder runs one after the other, frame numbers counting on across them."""
    out = []
    frame = 0
    carried = b""
    for piece in pieces:
        first = piece.first_frame if piece.first_frame is not None else frame
        data = encode_piece(piece, first_frame=first, **kw)
        if carried:
            data, carried = _interleave(data, carried), b""
        if piece.late_into_next and piece.video and piece.audio:
            data, carried = _after_last_picture(data, piece.first_pid + 1, piece.first_pid)
        out.append(data)
        frame = first + int(round(piece.seconds * kw.get("fps", 25)))
    return b"".join(out) + carried


def _after_last_picture(data: bytes, pid: int, video_pid: int) -> tuple[bytes, bytes]:
    """(the stream without its ``pid`` packets after the last ``video_pid`` packet, those packets)."""
    packets = [data[off:off + 188] for off in range(0, len(data), 188)]
    last = max(i for i, p in enumerate(packets) if ((p[1] & 0x1F) << 8) | p[2] == video_pid)
    late = [p for p in packets[last + 1:] if ((p[1] & 0x1F) << 8) | p[2] == pid]
    rest = packets[:last + 1] + [p for p in packets[last + 1:] if ((p[1] & 0x1F) << 8) | p[2] != pid]
    return b"".join(rest), b"".join(late)


def _interleave(data: bytes, late: bytes, *, whole_pes: bool = True) -> bytes:
    """``late`` packets spread among the first packets of ``data`` (after its PAT and PMT); in
    one block there if ``data`` has packets on their PID (a PID carries one PES at a time),
    unless ``whole_pes`` is False (a muxer glitch: two PES interleaved on one PID)."""
    packets = [data[off:off + 188] for off in range(0, len(data), 188)]
    extra = [late[off:off + 188] for off in range(0, len(late), 188)]
    pid = ((late[1] & 0x1F) << 8) | late[2] if late else None
    if whole_pes and any(((p[1] & 0x1F) << 8) | p[2] == pid for p in packets):
        return b"".join(packets[:2] + extra + packets[2:])
    out = packets[:2]
    for i, p in enumerate(packets[2:]):
        out.append(p)
        if extra and i % 3 == 0:
            out.append(extra.pop(0))
    return b"".join(out + extra)


def numbered_frame(width: int, height: int, number: int) -> av.VideoFrame:
    """A picture with ``number`` drawn as blocks across its top (see :func:`frame_number`)."""
    frame = av.VideoFrame(width, height, "yuv420p")
    block = width // BAR_BITS
    for index, plane in enumerate(frame.planes):
        stride, ph = plane.line_size, plane.height
        if index:
            plane.update(bytes([128]) * (stride * ph))
            continue
        bar = bytearray(stride)
        for bit in range(BAR_BITS):
            value = 235 if number >> (BAR_BITS - 1 - bit) & 1 else 16
            bar[bit * block:(bit + 1) * block] = bytes([value]) * block
        shade = 60 + (number * 7) % 120
        rows = bytes(bar) * BAR_HEIGHT + bytes([shade]) * (stride * (ph - BAR_HEIGHT))
        plane.update(rows)
    return frame


def frame_number(frame: av.VideoFrame) -> int:
    """The number :func:`numbered_frame` drew into a (decoded) picture."""
    plane = frame.planes[0]
    row = bytes(plane)[plane.line_size * (BAR_HEIGHT // 2):plane.line_size * (BAR_HEIGHT // 2 + 1)]
    block = frame.width // BAR_BITS
    number = 0
    for bit in range(BAR_BITS):
        number = number << 1 | (row[bit * block + block // 2] > 128)
    return number
