"""MPEG transport stream (ISO/IEC 13818-1) essentials, in plain Python.

Everything the media engine needs to know about a stream without decoding
it: where packets start, whether packets went missing (continuity
counters), what the stream's own clock says (PCR, PTS) and which programs
and elementary streams it carries (PAT/PMT). The hot path works on whole
datagrams and touches each packet header with a handful of integer
operations, so that many sources at 10 Mbit/s fit in one Python process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PACKET_SIZE = 188
SYNC_BYTE = 0x47
NULL_PID = 0x1FFF
PAT_PID = 0x0000
CLOCK_HZ = 27_000_000  # PCR ticks per second
PTS_HZ = 90_000  # PTS/DTS ticks per second
PCR_WRAP = (1 << 33) * 300
PTS_WRAP = 1 << 33

# stream_type values (ISO/IEC 13818-1 table 2-34 and common registrations)
VIDEO_STREAM_TYPES = {0x01, 0x02, 0x10, 0x1B, 0x24, 0x42, 0xD1, 0xEA}
AUDIO_STREAM_TYPES = {0x03, 0x04, 0x0F, 0x11, 0x81, 0x87}


@dataclass(slots=True)
class Packet:
    """One decoded packet header; built only where a caller wants details."""

    pid: int
    pusi: bool
    tei: bool
    scrambled: bool
    has_adaptation: bool
    has_payload: bool
    cc: int
    discontinuity: bool = False
    random_access: bool = False
    pcr: int | None = None
    payload: bytes = b""


def parse_packet(pkt: bytes | memoryview) -> Packet:
    """Decode the header, adaptation field and payload of one 188-byte packet."""
    if len(pkt) != PACKET_SIZE or pkt[0] != SYNC_BYTE:
        raise ValueError("not a transport stream packet")
    b1, b2, b3 = pkt[1], pkt[2], pkt[3]
    afc = (b3 >> 4) & 0x3
    p = Packet(
        pid=((b1 & 0x1F) << 8) | b2,
        pusi=bool(b1 & 0x40),
        tei=bool(b1 & 0x80),
        scrambled=bool(b3 & 0xC0),
        has_adaptation=bool(afc & 0x2),
        has_payload=bool(afc & 0x1),
        cc=b3 & 0x0F,
    )
    start = 4
    if p.has_adaptation:
        af_len = pkt[4]
        start = 5 + af_len
        if af_len > 0:
            flags = pkt[5]
            p.discontinuity = bool(flags & 0x80)
            p.random_access = bool(flags & 0x40)
            if flags & 0x10 and af_len >= 7:
                p.pcr = _pcr_at(pkt, 6)
    if p.has_payload and start < PACKET_SIZE:
        p.payload = bytes(pkt[start:PACKET_SIZE])
    return p


def _pcr_at(buf, i: int) -> int:
    """PCR in 27 MHz ticks: 33-bit base at 90 kHz times 300 plus a 9-bit extension."""
    base = (buf[i] << 25) | (buf[i + 1] << 17) | (buf[i + 2] << 9) | (buf[i + 3] << 1) | (buf[i + 4] >> 7)
    ext = ((buf[i + 4] & 0x01) << 8) | buf[i + 5]
    return base * 300 + ext


def packet_pcr(buf, offset: int = 0) -> int | None:
    """The PCR carried by the packet at ``offset`` in ``buf``, if any."""
    if not buf[offset + 3] & 0x20:
        return None
    af_len = buf[offset + 4]
    if af_len >= 7 and buf[offset + 5] & 0x10:
        return _pcr_at(buf, offset + 6)
    return None


def encode_pcr(pcr: int) -> bytes:
    """The six PCR bytes of an adaptation field for a 27 MHz value."""
    pcr %= PCR_WRAP
    base, ext = divmod(pcr, 300)
    return bytes((
        (base >> 25) & 0xFF, (base >> 17) & 0xFF, (base >> 9) & 0xFF, (base >> 1) & 0xFF,
        ((base & 1) << 7) | 0x7E | (ext >> 8), ext & 0xFF,
    ))


def decode_timestamp(b: bytes | memoryview, i: int = 0) -> int:
    """A 33-bit PTS/DTS from the 5-byte marker-bit encoding of a PES header."""
    return (
        ((b[i] >> 1) & 0x07) << 30
        | b[i + 1] << 22
        | (b[i + 2] >> 1) << 15
        | b[i + 3] << 7
        | b[i + 4] >> 1
    )


def encode_timestamp(value: int, prefix: int) -> bytes:
    """Inverse of :func:`decode_timestamp`; ``prefix`` is the 4-bit '0010'/'0011'/'0001' marker."""
    value %= PTS_WRAP
    return bytes((
        (prefix << 4) | ((value >> 29) & 0x0E) | 1,
        (value >> 22) & 0xFF,
        ((value >> 14) & 0xFE) | 1,
        (value >> 7) & 0xFF,
        ((value << 1) & 0xFE) | 1,
    ))


def pes_timestamps(payload: bytes | memoryview) -> tuple[int | None, int | None]:
    """(PTS, DTS) from the start of a PES packet; None where absent."""
    if len(payload) < 9 or payload[0] != 0 or payload[1] != 0 or payload[2] != 1:
        return None, None
    stream_id = payload[3]
    # stream ids without the optional PES header (padding, private_2, ECM, ...)
    if stream_id in (0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF):
        return None, None
    flags = payload[7] >> 6
    pts = dts = None
    if flags & 0x2 and len(payload) >= 14:
        pts = decode_timestamp(payload, 9)
        if flags == 0x3 and len(payload) >= 19:
            dts = decode_timestamp(payload, 14)
    return pts, dts


def pcr_delta(later: int, earlier: int) -> int:
    """Ticks from ``earlier`` to ``later`` across a PCR wrap-around."""
    return (later - earlier) % PCR_WRAP


def pts_delta(later: int, earlier: int) -> int:
    """Signed 90 kHz ticks from ``earlier`` to ``later`` across a wrap-around."""
    d = (later - earlier) % PTS_WRAP
    return d - PTS_WRAP if d >= PTS_WRAP // 2 else d


class Resync:
    """Cuts a byte stream into whole, aligned packets, skipping garbage.

    Datagrams normally hold whole packets and take the fast path. Anything
    else (a stream that starts mid-packet, bytes lost inside a pipe, junk
    between packets) is scanned for a position where the sync byte repeats
    every 188 bytes; skipped bytes are counted, not silently lost.
    """

    CONFIRM = 3  # sync bytes 188 apart needed to lock on inside a stream

    def __init__(self) -> None:
        self._pending = b""
        self._locked = False
        self.skipped_bytes = 0
        self.resyncs = 0

    def feed(self, data: bytes) -> bytes:
        """Whole packets available after ``data``: a multiple of 188 bytes, aligned."""
        buf = self._pending + data if self._pending else bytes(data)
        n = len(buf)
        if (
            n % PACKET_SIZE == 0
            and n >= (PACKET_SIZE if self._locked else PACKET_SIZE * self.CONFIRM)
            and buf[0] == SYNC_BYTE
            and _aligned(buf, n)
        ):
            # The usual case: a datagram (or pipe read) of whole packets.
            self._pending = b""
            self._locked = True
            return buf
        return self._scan(buf, final=False)

    def flush(self) -> bytes:
        """End of input: hand out what still lines up, drop the rest."""
        out = self._scan(self._pending, final=True)
        self.skipped_bytes += len(self._pending)
        self._pending = b""
        return out

    def _scan(self, buf: bytes, final: bool) -> bytes:
        out = bytearray()
        i, n = 0, len(buf)
        while n - i >= PACKET_SIZE:
            if buf[i] == SYNC_BYTE:
                if self._locked:
                    nxt = i + PACKET_SIZE
                    if nxt < n and buf[nxt] == SYNC_BYTE:
                        out += buf[i:nxt]
                        i = nxt
                        continue
                    # The next packet is not where it should be. This one is real
                    # unless the stream visibly resumes inside it (then it is junk
                    # that happens to start with the sync byte).
                    resume = self._resumes_within(buf, i, final)
                    if resume is None:
                        break  # wait for the next bytes to tell
                    if resume < 0:
                        out += buf[i:nxt]
                        i = nxt
                        continue
                    self._locked = False
                    self.resyncs += 1
                    self.skipped_bytes += resume - i
                    i = resume
                    continue
                verdict = self._confirm(buf, i, final)
                if verdict is None:
                    break  # need more bytes to tell
                if verdict:
                    self._locked = True
                    continue
            if self._locked:
                self._locked = False
                self.resyncs += 1
            j = buf.find(SYNC_BYTE_BYTES, i + 1)
            if j < 0:
                j = n
            self.skipped_bytes += j - i
            i = j
        self._pending = buf[i:]
        return bytes(out)

    def _resumes_within(self, buf: bytes, i: int, final: bool) -> int | None:
        """Where a confirmed packet sequence starts inside the packet at ``i``: -1 if nowhere."""
        j = buf.find(SYNC_BYTE_BYTES, i + 1, i + PACKET_SIZE)
        while j >= 0:
            verdict = self._confirm(buf, j, final)
            if verdict is None:
                return None
            if verdict:
                return j
            j = buf.find(SYNC_BYTE_BYTES, j + 1, i + PACKET_SIZE)
        return -1

    def _confirm(self, buf: bytes, i: int, final: bool) -> bool | None:
        """Do sync bytes repeat from ``i``? None when the buffer ends before we know."""
        n = len(buf)
        for k in range(1, self.CONFIRM):
            j = i + k * PACKET_SIZE
            if j >= n:
                return True if final else None
            if buf[j] != SYNC_BYTE:
                return False
        return True


SYNC_BYTE_BYTES = bytes([SYNC_BYTE])


def _aligned(buf: bytes, whole: int) -> bool:
    """Every packet start in ``buf[:whole]`` carries the sync byte."""
    count = whole // PACKET_SIZE
    return buf[0:whole:PACKET_SIZE] == SYNC_BYTE_BYTES * count


@dataclass(slots=True)
class ElementaryStream:
    pid: int
    stream_type: int

    @property
    def kind(self) -> str:
        if self.stream_type in VIDEO_STREAM_TYPES:
            return "video"
        if self.stream_type in AUDIO_STREAM_TYPES:
            return "audio"
        return "data"


@dataclass(slots=True)
class Program:
    number: int
    pmt_pid: int
    pcr_pid: int | None = None
    streams: list[ElementaryStream] = field(default_factory=list)


class _Unwrapper:
    """Turns a wrapping counter into a monotonic-ish integer line, tracking its span."""

    __slots__ = ("wrap", "raw", "value", "first", "low", "high", "count")

    def __init__(self, wrap: int) -> None:
        self.wrap = wrap
        self.raw: int | None = None
        self.value = 0
        self.first: int | None = None
        self.low = self.high = 0
        self.count = 0

    def add(self, raw: int) -> int:
        self.count += 1
        if self.raw is None:
            self.first = raw
            self.value = self.low = self.high = 0
        else:
            d = (raw - self.raw) % self.wrap
            if d >= self.wrap // 2:
                d -= self.wrap
            self.value += d
            if self.value < self.low:
                self.low = self.value
            elif self.value > self.high:
                self.high = self.value
        self.raw = raw
        return self.value

    @property
    def span(self) -> int:
        return self.high - self.low


class Analyzer:
    """Watches aligned packets: continuity, PSI, PCR and PTS.

    Continuity follows the standard: the counter advances only on packets
    that carry payload; one repeat of the previous packet is a legal
    duplicate; the adaptation field's discontinuity flag resets the
    expectation; null packets are not counted.
    """

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0
        self.skipped_bytes = 0  # set by analyze_file: garbage the resync had to skip
        self.cc_errors = 0
        self.cc_errors_by_pid: dict[int, int] = {}
        self.transport_errors = 0
        self.programs: dict[int, Program] = {}
        self.pat_seen = False
        self.psi_version = 0  # changes whenever programs or their streams change
        self._cc: dict[int, int] = {}  # pid -> last cc, | 0x10 once a duplicate was seen
        self._psi: dict[int, bytearray | None] = {PAT_PID: None}
        self._es: dict[int, ElementaryStream] = {}
        self._pcr_pid: int | None = None
        self._pcr = _Unwrapper(PCR_WRAP)
        self._pcr_pos_first: int | None = None
        self._pcr_pos_last: int | None = None
        self.pts: dict[int, _Unwrapper] = {}
        self.last_pcr: int | None = None

    # -- the hot loop ------------------------------------------------------

    def feed(self, data: bytes) -> None:
        n = len(data)
        cc_state = self._cc
        psi = self._psi
        es = self._es
        pcr_pid = self._pcr_pid
        for off in range(0, n - n % PACKET_SIZE, PACKET_SIZE):
            b1 = data[off + 1]
            pid = ((b1 & 0x1F) << 8) | data[off + 2]
            if pid == NULL_PID:
                continue
            b3 = data[off + 3]
            if b1 & 0x80:
                self.transport_errors += 1
            discontinuity = False
            start = off + 4
            if b3 & 0x20:
                af_len = data[off + 4]
                start = off + 5 + af_len
                if af_len:
                    flags = data[off + 5]
                    discontinuity = bool(flags & 0x80)
                    if flags & 0x10 and af_len >= 7 and (pid == pcr_pid or pcr_pid is None):
                        self._on_pcr(_pcr_at(data, off + 6), self.bytes + off)
            if b3 & 0x10:
                cc = b3 & 0x0F
                last = cc_state.get(pid)
                if last is None or discontinuity or cc == ((last & 0x0F) + 1) & 0x0F:
                    cc_state[pid] = cc
                elif cc == last:
                    cc_state[pid] = cc | 0x10  # first duplicate: allowed once
                else:
                    self.cc_errors += 1
                    self.cc_errors_by_pid[pid] = self.cc_errors_by_pid.get(pid, 0) + 1
                    cc_state[pid] = cc
                if pid in psi:
                    self._on_psi(pid, data[start:off + PACKET_SIZE], bool(b1 & 0x40))
                    pcr_pid = self._pcr_pid
                elif b1 & 0x40 and pid in es:
                    pts, _ = pes_timestamps(data[start:start + 19])
                    if pts is not None:
                        u = self.pts.get(pid)
                        if u is None:
                            u = self.pts[pid] = _Unwrapper(PTS_WRAP)
                        u.add(pts)
        self.packets += n // PACKET_SIZE
        self.bytes += n

    def _on_pcr(self, pcr: int, pos: int) -> None:
        self._pcr.add(pcr)
        self.last_pcr = pcr
        if self._pcr_pos_first is None:
            self._pcr_pos_first = pos
        self._pcr_pos_last = pos

    # -- PSI ---------------------------------------------------------------

    def _on_psi(self, pid: int, payload: bytes, unit_start: bool) -> None:
        buf = self._psi[pid]
        if unit_start:
            if not payload:
                return
            pointer = payload[0]
            if buf is not None:
                buf += payload[1:1 + pointer]
                self._sections(pid, buf)
            buf = self._psi[pid] = bytearray(payload[1 + pointer:])
        elif buf is None:
            return  # joined mid-section; wait for the next start
        else:
            buf += payload
        self._sections(pid, buf)

    def _sections(self, pid: int, buf: bytearray) -> None:
        while len(buf) >= 3 and buf[0] != 0xFF:
            length = 3 + (((buf[1] & 0x0F) << 8) | buf[2])
            if len(buf) < length:
                return
            section = bytes(buf[:length])
            del buf[:length]
            self._on_section(pid, section)
        if buf and buf[0] == 0xFF:
            buf.clear()

    def _on_section(self, pid: int, s: bytes) -> None:
        table_id = s[0]
        end = len(s) - 4  # CRC32 at the end
        if pid == PAT_PID and table_id == 0x00:
            self.pat_seen = True
            listed = set()
            for i in range(8, end - 3, 4):
                number = (s[i] << 8) | s[i + 1]
                pmt_pid = ((s[i + 2] & 0x1F) << 8) | s[i + 3]
                if number == 0:
                    continue  # network information PID
                listed.add(number)
                prog = self.programs.get(number)
                if prog is None or prog.pmt_pid != pmt_pid:
                    self.programs[number] = Program(number, pmt_pid)
                    self._psi.setdefault(pmt_pid, None)
                    self.psi_version += 1
            if s[6] == 0 and s[7] == 0:  # a one-section PAT lists every program: the others are gone
                for number in [n for n in self.programs if n not in listed]:
                    del self.programs[number]
                    self.psi_version += 1
        elif table_id == 0x02 and len(s) >= 16:
            number = (s[3] << 8) | s[4]
            prog = self.programs.get(number)
            if prog is None or prog.pmt_pid != pid:
                return
            pcr_pid = ((s[8] & 0x1F) << 8) | s[9]
            info_len = ((s[10] & 0x0F) << 8) | s[11]
            streams = []
            i = 12 + info_len
            while i + 5 <= end:
                stype = s[i]
                es_pid = ((s[i + 1] & 0x1F) << 8) | s[i + 2]
                es_len = ((s[i + 3] & 0x0F) << 8) | s[i + 4]
                streams.append(ElementaryStream(es_pid, stype))
                i += 5 + es_len
            if streams == prog.streams and pcr_pid == prog.pcr_pid:
                return  # the usual repeat of an unchanged table
            prog.streams = streams
            prog.pcr_pid = pcr_pid
            self.psi_version += 1
            for st in streams:
                self._es[st.pid] = st
            if prog.pcr_pid != NULL_PID:
                self._pcr_pid = prog.pcr_pid  # a new layout may carry its clock on another PID

    # -- results -----------------------------------------------------------

    @property
    def streams(self) -> list[ElementaryStream]:
        return [s for p in self.programs.values() for s in p.streams]

    @property
    def pcr_pid(self) -> int | None:
        return self._pcr_pid

    @property
    def pcr_span(self) -> float:
        """Seconds of stream clock between the first and the last PCR seen."""
        return self._pcr.span / CLOCK_HZ

    def pts_span(self, pid: int) -> float:
        u = self.pts.get(pid)
        return u.span / PTS_HZ if u else 0.0

    @property
    def duration(self) -> float:
        """Stream time covered: the PCR span, or the longest PTS span without PCR."""
        if self._pcr.span:
            return self.pcr_span
        return max((u.span for u in self.pts.values()), default=0) / PTS_HZ

    @property
    def bitrate(self) -> float | None:
        """Bits per second of the multiplex measured against its own PCR clock."""
        if self._pcr_pos_first is None or not self._pcr.span:
            return None
        return (self._pcr_pos_last - self._pcr_pos_first) * 8 * CLOCK_HZ / self._pcr.span


def analyze_file(path, chunk: int = PACKET_SIZE * 7 * 64, progress=None) -> Analyzer:
    """Run an :class:`Analyzer` over a whole file, resyncing where needed; ``progress`` is
    called with the bytes read so far."""
    an = Analyzer()
    rs = Resync()
    done = 0
    with open(path, "rb") as f:
        while block := f.read(chunk):
            an.feed(rs.feed(block))
            done += len(block)
            if progress is not None:
                progress(done)
    an.feed(rs.flush())
    an.skipped_bytes = rs.skipped_bytes
    return an


# -- where a stream may be cut -------------------------------------------------------------------

H264, HEVC = 0x1B, 0x24
MPEG_VIDEO = {0x01, 0x02}
_H264_AU_FIRST = {6, 7, 8, 9}  # SEI, SPS, PPS, access unit delimiter
_HEVC_AU_FIRST = {32, 33, 34, 35, 39}  # VPS, SPS, PPS, AUD, prefix SEI


def starts_access_unit(buf, off: int, stream_type: int | None = None) -> bool:
    """Does the packet at ``off`` begin a new unit of its elementary stream (a whole picture or
    audio frame), so that a stream may be cut right before it?

    A PES start is not always one: an encoder may carry one picture in several PES, or begin a
    PES in the middle of a slice. A unit begins at a PES start that carries a PTS (H.222 puts it
    on the PES holding the first byte of an access unit) and, for video whose syntax we know,
    whose data begins with what only the first NAL unit / start code of a picture can be. A
    payload that is not a PES (PSI-like data in a PMT-listed PID) begins at each unit start."""
    b1 = buf[off + 1]
    if not b1 & 0x40 or b1 & 0x80 or not buf[off + 3] & 0x10:
        return False
    start = off + 5 + buf[off + 4] if buf[off + 3] & 0x20 else off + 4
    end = off + PACKET_SIZE
    if end - start < 9 or buf[start] or buf[start + 1] or buf[start + 2] != 1:
        return True  # not a PES: sections or other private data
    stream_id = buf[start + 3]
    if stream_id in (0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF):
        return True
    if not buf[start + 7] & 0x80:
        return False  # no PTS: the rest of a unit begun in an earlier PES
    es = start + 9 + buf[start + 8]
    if stream_type not in MPEG_VIDEO and stream_type not in (H264, HEVC):
        return True
    # skip to the first start code of the elementary stream
    i = es
    while i < end and buf[i] == 0:
        i += 1
    if i >= end - 2 or i - es < 2 or buf[i] != 1:
        return i >= end - 2  # the header fills the packet: trust the PTS
    code = i + 1
    if stream_type == H264:
        nal = buf[code] & 0x1F
        if nal in _H264_AU_FIRST:
            return True
        return nal in (1, 5) and code + 1 < end and bool(buf[code + 1] & 0x80)  # first_mb_in_slice == 0
    if stream_type == HEVC:
        nal = (buf[code] >> 1) & 0x3F
        if nal in _HEVC_AU_FIRST:
            return True
        return nal < 32 and code + 2 < end and bool(buf[code + 2] & 0x80)  # first slice segment
    return buf[code] in (0xB3, 0xB8, 0x00)  # sequence header, GOP, picture
