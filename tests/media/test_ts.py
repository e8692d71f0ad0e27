"""The transport stream core: packets, continuity, clocks, PSI, resync."""

from __future__ import annotations

import zlib

from hypothesis import given, settings, strategies as st

from streamkeeper.media import ts
from streamkeeper.media.ts import Analyzer, Resync, analyze_file, parse_packet

from .packets import ts_packet


def test_header_fields_and_hand_encoded_pcr():
    # PCR base 0x1_2345_6789 (33 bits), extension 0x123: written out bit by bit.
    base, ext = 0x123456789, 0x123
    pcr_bytes = bytes([
        (base >> 25) & 0xFF, (base >> 17) & 0xFF, (base >> 9) & 0xFF, (base >> 1) & 0xFF,
        ((base & 1) << 7) | 0x7E | (ext >> 8), ext & 0xFF,
    ])
    af = bytes([7, 0x10 | 0x40]) + pcr_bytes
    pkt = bytes([0x47, 0x40 | 0x01, 0x00, 0x30 | 0x5]) + af + b"\xaa" * (184 - len(af))
    p = parse_packet(pkt)
    assert (p.pid, p.pusi, p.cc, p.has_adaptation, p.has_payload) == (0x100, True, 5, True, True)
    assert p.random_access and not p.discontinuity
    assert p.pcr == base * 300 + ext
    assert p.payload == b"\xaa" * (184 - len(af))
    assert ts.encode_pcr(base * 300 + ext) == pcr_bytes


def test_pes_timestamp_roundtrip():
    for value in (0, 1, 90_000, (1 << 33) - 1, 0x1ABCDEF01):
        assert ts.decode_timestamp(ts.encode_timestamp(value, 0x2)) == value
    pes = b"\x00\x00\x01\xe0\x00\x00\x80\xc0\x0a" + ts.encode_timestamp(1234567, 3) + ts.encode_timestamp(1230000, 1)
    assert ts.pes_timestamps(pes) == (1234567, 1230000)
    assert ts.pes_timestamps(b"\x00\x00\x01\xbe\x00\x10" + b"\xff" * 16) == (None, None)


def _feed(*packets: bytes) -> Analyzer:
    an = Analyzer()
    an.feed(b"".join(packets))
    return an


def test_continuity_counts_gaps_only():
    pid = 0x101
    assert _feed(*(ts_packet(pid, cc % 16, b"x") for cc in range(40))).cc_errors == 0
    # a lost packet
    assert _feed(*(ts_packet(pid, cc, b"x") for cc in (0, 1, 2, 4, 5))).cc_errors == 1
    # one duplicate is legal, a second repeat is not
    assert _feed(*(ts_packet(pid, cc, b"x") for cc in (0, 1, 1, 2))).cc_errors == 0
    assert _feed(*(ts_packet(pid, cc, b"x") for cc in (0, 1, 1, 1, 2))).cc_errors == 1
    # adaptation-only packets do not advance the counter
    assert _feed(ts_packet(pid, 3, b"x"), ts_packet(pid, 3, adaptation_only=True, pcr=0),
                 ts_packet(pid, 4, b"x")).cc_errors == 0
    # the discontinuity flag announces a jump
    assert _feed(ts_packet(pid, 3, b"x"), ts_packet(pid, 9, b"x", discontinuity=True),
                 ts_packet(pid, 10, b"x")).cc_errors == 0
    # counters are per PID, null packets are ignored
    an = _feed(ts_packet(0x100, 0, b"a"), ts_packet(0x200, 7, b"b"), ts_packet(0x1FFF, 3, b"n"),
               ts_packet(0x100, 1, b"a"), ts_packet(0x1FFF, 9, b"n"), ts_packet(0x200, 8, b"b"))
    assert an.cc_errors == 0 and an.packets == 6


def _section(table_id: int, ext: int, body: bytes) -> bytes:
    length = 5 + len(body) + 4
    head = bytes([table_id, 0xB0 | (length >> 8), length & 0xFF, ext >> 8, ext & 0xFF, 0xC1, 0, 0])
    crc = zlib.crc32(head + body).to_bytes(4, "big")  # value irrelevant to the parser
    return head + body + crc


def test_pat_pmt_synthetic_and_split_over_packets():
    pat = _section(0x00, 1, bytes([0, 0, 0xE0, 0x10, 0, 5, 0xE1, 0x00]))  # NIT on 0x10, program 5 on 0x100
    es = b"".join(bytes([stype, 0xE0 | (pid >> 8), pid & 0xFF, 0xF0, 0]) for stype, pid in
                  ((0x1B, 0x101), (0x0F, 0x102), (0x06, 0x103)))
    pmt = _section(0x02, 5, bytes([0xE1, 0x01, 0xF0, 0x00]) + es)
    # the PMT is split across two packets: the parser must reassemble it
    first, rest = pmt[:10], pmt[10:]
    an = _feed(ts_packet(0, 0, b"\x00" + pat, pusi=True),
               ts_packet(0x100, 0, b"\x00" + first, pusi=True),
               ts_packet(0x100, 1, rest))
    assert list(an.programs) == [5]
    prog = an.programs[5]
    assert prog.pmt_pid == 0x100 and prog.pcr_pid == 0x101
    assert [(s.pid, s.kind) for s in prog.streams] == [(0x101, "video"), (0x102, "audio"), (0x103, "data")]


def test_real_clip_programs_clock_and_rate(clip):
    an = analyze_file(clip)
    assert an.cc_errors == 0 and an.skipped_bytes == 0
    kinds = sorted(s.kind for s in an.streams)
    assert kinds == ["audio", "video"]
    video = next(s for s in an.streams if s.kind == "video")
    assert an.pcr_pid == video.pid
    assert 2.8 <= an.duration <= 3.1
    assert abs(an.pts_span(video.pid) - (75 - 1) / 25) < 1e-6  # 75 frames at 25 fps
    assert abs(an.bitrate - 2_000_000) / 2_000_000 < 0.001  # the muxrate it was made with


def test_lost_datagram_is_seen(clip):
    data = clip.read_bytes()
    dgram = 7 * 188
    damaged = data[:100 * dgram] + data[101 * dgram:]
    an = Analyzer()
    an.feed(damaged)
    assert an.cc_errors >= 1


def test_resync_after_garbage_in_real_stream(clip):
    data = clip.read_bytes()[: 188 * 300]
    rs = Resync()
    out = rs.feed(b"\x47garbage\x47\x00" + data[:1000]) + rs.feed(data[1000:5000] + b"junk") + rs.feed(data[5000:])
    out += rs.flush()
    # the packet that "junk" was pushed into comes out damaged; every other one intact
    next_boundary = (5000 // 188 + 1) * 188
    assert out.endswith(data[next_boundary:]) and out.startswith(data[:5000 // 188 * 188])
    assert rs.skipped_bytes > 0
    an = Analyzer()
    an.feed(out)
    assert an.programs


def _clean_packet(i: int) -> bytes:
    # header and payload bytes never equal the sync byte, so garbage is the only ambiguity
    return ts_packet(0x100 + (i % 5), i % 16, bytes([0x10 + i % 50]) * 184)


@settings(max_examples=150, deadline=None)
@given(
    garbage=st.lists(st.binary(min_size=0, max_size=187), min_size=1, max_size=4),
    counts=st.lists(st.integers(min_value=3, max_value=8), min_size=1, max_size=4),
    cuts=st.lists(st.integers(min_value=1, max_value=600), max_size=12),
)
def test_resync_recovers_every_packet_after_random_garbage(garbage, counts, cuts):
    stream = b""
    expected = []
    k = 0
    for junk, count in zip(garbage, counts):
        stream += junk
        for _ in range(count):
            pkt = _clean_packet(k)
            k += 1
            stream += pkt
            expected.append(pkt)
    # cut the byte stream at arbitrary places, as a pipe would
    rs = Resync()
    out = b""
    pos = 0
    for size in cuts:
        out += rs.feed(stream[pos:pos + size])
        pos += size
    out += rs.feed(stream[pos:]) + rs.flush()
    assert len(out) % 188 == 0
    got = [out[i:i + 188] for i in range(0, len(out), 188)]
    assert got == expected
