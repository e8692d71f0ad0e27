"""Hand-built transport stream packets (tests of the parser must not trust the parser)."""

from __future__ import annotations

from streamkeeper.media.ts import encode_pcr


def ts_packet(pid: int, cc: int = 0, payload: bytes = b"", *, pusi: bool = False, pcr: int | None = None,
              discontinuity: bool = False, random_access: bool = False, adaptation_only: bool = False) -> bytes:
    """One 188-byte packet; short payloads are padded through the adaptation field."""
    af = b""
    if pcr is not None or discontinuity or random_access or adaptation_only:
        flags = (0x80 if discontinuity else 0) | (0x40 if random_access else 0) | (0x10 if pcr is not None else 0)
        body = bytes([flags]) + (encode_pcr(pcr) if pcr is not None else b"")
        room = 184 - 1 - len(body) - (0 if adaptation_only else len(payload))
        if room < 0:
            raise ValueError("payload too large")
        af_body = body + b"\xff" * room
        af = bytes([len(af_body)]) + af_body
    if not af and len(payload) < 184:
        # pad through an adaptation field so the payload stays intact
        room = 184 - len(payload)
        af = bytes([room - 1]) + (b"\x00" + b"\xff" * (room - 2) if room >= 2 else b"")
    afc = (0x2 if af else 0) | (0 if adaptation_only else 0x1)
    header = bytes([0x47, (0x40 if pusi else 0) | (pid >> 8) & 0x1F, pid & 0xFF, (afc << 4) | (cc & 0x0F)])
    pkt = header + af + (b"" if adaptation_only else payload)
    assert len(pkt) == 188, len(pkt)
    return pkt
