"""Seeking to the very picture asked for, in a stream that is not re-encoded.

A transport stream can only be entered at a keyframe: the pictures after it
refer back to it. To start playing at the picture shown at a given time, the
pictures from that one up to the next keyframe are decoded and encoded again
as a short group that begins with a keyframe of its own (an IDR); the audio of
that stretch is copied from the time asked for on. The re-stream sends this
made-up stretch and then goes on with the file at the next keyframe, whose
stream the receiver takes as it is (a new SPS/PPS comes with it).

Only H.264 is encoded again (the encoder PyAV ships); for another codec, or
when anything about the stretch cannot be read, the seek lands on the keyframe
at or before the time instead (see docs/media.md).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from fractions import Fraction

import av

from .timeline import TrackIndex, payload_start, pid_of
from .ts import H264, PACKET_SIZE, PTS_HZ, PTS_WRAP, packet_pcr, pes_timestamps, pts_delta

log = logging.getLogger(__name__)

ENCODER = "libx264"


@dataclass(slots=True)
class Landing:
    """A made-up stretch that starts at the wanted picture, and where the file goes on after it."""

    time: float  # content seconds of the first picture of ``packets``
    packets: bytes  # TS packets on the track's own PIDs (no PAT/PMT)
    resume: int  # file offset to go on from (a keyframe), or the file's size


def land(track: TrackIndex, seconds: float) -> Landing | None:
    """The stretch from the picture shown at ``seconds`` to the next keyframe; None when the
    keyframe at or before ``seconds`` is that picture and an IDR, or the stretch cannot be made
    (see the module)."""
    if not track.cuts or not track.video:
        return None
    i = track.cut_at(seconds)
    cut = track.cuts[i]
    frame = track.timeline.frame_ticks
    ahead = max(0, round((seconds - cut.time) * PTS_HZ))
    with open(track.path, "rb") as f:
        f.seek(cut.offset)
        head = f.read(PACKET_SIZE * 64)
        vpid = pid_of(head, 0)
        if track.stream_types.get(vpid) != H264 or ENCODER not in av.codecs_available:
            return None
        # the keyframe is the picture asked for: play it as it is, if it is an IDR (the receiver
        # lets go of every picture it had); an open group's keyframe is not, and is made one
        if ahead < frame and _is_idr(head, vpid):
            return None
        key_pts, key_dts = pes_timestamps(head[payload_start(head, 0):])
        if key_pts is None:
            return None
        lead = _pcr_lead(head, key_pts if key_dts is None else key_dts)
        size = track.path.stat().st_size
        size -= size % PACKET_SIZE
        # up to the next keyframe, never across a jump (a new piece starts there); the pictures
        # shown before the next keyframe may come after it (open GOP): decode one group more
        j = i + 1
        resume = track.cuts[j].offset if j < len(track.cuts) and not track.cuts[j].jump else size
        k = j + 1
        end = track.cuts[k].offset if resume < size and k < len(track.cuts) and not track.cuts[k].jump \
            else resume
        next_pts = None
        if resume < size:
            f.seek(resume)
            nxt = f.read(PACKET_SIZE)
            next_pts, _ = pes_timestamps(nxt[payload_start(nxt, 0):])
        f.seek(cut.offset)
        data = f.read(end - cut.offset)
    psi = track.psi_bytes(cut)
    try:
        made = _remake(psi + data, len(psi), resume - cut.offset, vpid, key_pts, ahead, next_pts, frame,
                       lead)
    except Exception as exc:  # noqa: BLE001 - whatever the stretch holds, the seek still happens
        log.warning("seek to %.3f s lands on the keyframe at %.3f s: %r", seconds, cut.time, exc)
        return None
    if made is None:
        return None
    packets, first_pts = made
    return Landing(cut.time + pts_delta(first_pts, key_pts) / PTS_HZ, packets, resume)


def _remake(data: bytes, psi_len: int, resume_at: int, vpid: int, key_pts: int, ahead: int,
            next_pts: int | None, frame: int, lead: float | None) -> tuple[bytes, int] | None:
    """Decode the stretch, encode its pictures from the wanted one, copy its audio, mux on the
    original PIDs. ``resume_at`` is where the file goes on, relative to the stretch's start."""
    with av.open(io.BytesIO(data), format="mpegts") as inp:
        video = next(s for s in inp.streams.video if s.id == vpid)
        audio = [s for s in inp.streams.audio if s.codec_context.sample_rate]
        pictures = []  # (ticks after the keyframe, frame)
        audio_packets = []
        delay = None  # PTS - DTS of the keyframe: the made-up pictures keep that distance
        stop = pts_delta(next_pts, key_pts) if next_pts is not None else None
        done = False  # a picture shown from the next keyframe on came out: the rest come later still
        for packet in inp.demux(video, *audio):
            if packet.stream is video:
                if done:
                    continue
                if delay is None and packet.pts is not None and packet.dts is not None:
                    delay = _ticks(packet.pts - packet.dts, video.time_base)
                for f in packet.decode():  # the last, empty packet flushes the decoder
                    if f.pts is not None:
                        d = pts_delta(_ticks(f.pts, video.time_base) % PTS_WRAP, key_pts)
                        pictures.append((d, f))
                        done = done or (stop is not None and d >= stop)
            elif packet.size and packet.pts is not None and packet.pos is not None \
                    and 0 <= packet.pos - psi_len < resume_at:
                audio_packets.append(packet)  # its PES begins before the file goes on
        pictures.sort(key=lambda p: p[0])
        # the picture on screen ``ahead`` ticks after the keyframe, and each one after it that
        # is shown before the next keyframe
        shown = [p for p in pictures if p[0] >= 0 and (stop is None or p[0] < stop)]
        first = max((n for n, (d, _) in enumerate(shown) if d <= ahead + 1), default=None)
        if first is None:
            return None
        start = key_pts + shown[first][0]
        return _mux(shown[first:], audio_packets, vpid, start, delay or 0, frame, lead), start % PTS_WRAP


def _mux(shown, audio_packets, vpid: int, start: int, delay: int, frame: int, lead: float | None) -> bytes:
    """TS packets of the pictures encoded again and the audio from ``start`` on (90 kHz ticks),
    on the original PIDs, without PAT/PMT; the clock (PCR) ``lead`` seconds before the decoding
    times, as the original's was, so that the file's clock goes on from the stretch's."""
    buf = io.BytesIO()
    pids = {0x100: vpid}  # the muxer numbers its streams from 0x100, in the order they are added
    options = {"mpegts_copyts": "1"}
    if lead is not None:
        options["max_delay"] = str(round(lead * 1_000_000))
    with av.open(buf, "w", format="mpegts", options=options) as out:
        width, height = shown[0][1].width, shown[0][1].height
        v = out.add_stream(ENCODER, rate=max(1, round(PTS_HZ / frame)))
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.codec_context.time_base = v.time_base = Fraction(1, PTS_HZ)
        # close to the original's quality; one group, no B-pictures, the first an IDR
        v.options = {"preset": "veryfast", "bf": "0", "g": str(len(shown) + 1), "crf": "18"}
        outputs = {}
        for p in audio_packets:
            if p.stream.index not in outputs:
                outputs[p.stream.index] = out.add_stream_from_template(p.stream)
                pids[0x100 + len(outputs)] = p.stream.id
        delay = min(delay, start)  # no negative decoding time
        encoded = []
        for d, f in shown:
            img = f.reformat(format="yuv420p")
            img.pts, img.time_base = start - shown[0][0] + d, Fraction(1, PTS_HZ)
            encoded += v.encode(img)
        encoded += v.encode(None)
        for p in encoded:
            p.dts = p.pts - delay  # as far before the pictures as the original's were
            out.mux(p)
        for p in audio_packets:
            pts = _ticks(p.pts, p.stream.time_base)
            if pts_delta(pts % PTS_WRAP, start % PTS_WRAP) < -frame // 2:
                continue  # sound from before the picture we start at
            p.stream = outputs[p.stream.index]
            out.mux(p)
    made = buf.getvalue()
    keep = bytearray()
    for off in range(0, len(made) - len(made) % PACKET_SIZE, PACKET_SIZE):
        new = pids.get(pid_of(made, off))
        if new is None:
            continue  # PAT, PMT, SDT: the re-stream sends the track's own
        keep += bytes((0x47, (made[off + 1] & 0xE0) | (new >> 8), new & 0xFF)) + made[off + 3:off + PACKET_SIZE]
    return bytes(keep)


def _pcr_lead(packets: bytes, dts: int) -> float | None:
    """How many seconds the stream's clock runs ahead of its decoding times at a keyframe, from
    its first PCR (None when none is near, or the distance is not a plausible one)."""
    for off in range(0, len(packets) - len(packets) % PACKET_SIZE, PACKET_SIZE):
        pcr = packet_pcr(packets, off)
        if pcr is not None:
            lead = pts_delta(dts, pcr // 300) / PTS_HZ
            return lead if 0 <= lead <= 1.0 else None
    return None


def _is_idr(packets: bytes, pid: int) -> bool:
    """Is the H.264 picture that begins the first of ``packets`` an IDR? (Its first slice says.)"""
    es = bytearray()
    for off in range(0, len(packets) - len(packets) % PACKET_SIZE, PACKET_SIZE):
        if pid_of(packets, off) != pid or not packets[off + 3] & 0x10:
            continue
        start = payload_start(packets, off)
        if packets[off + 1] & 0x40:
            if es:
                break  # the next PES: the picture's slices were all before it
            start += 9 + packets[start + 8]
        es += packets[start:off + PACKET_SIZE]
        i = 0
        while (i := es.find(b"\x00\x00\x01", i)) >= 0 and i + 3 < len(es):
            nal = es[i + 3] & 0x1F
            if nal in (1, 5):
                return nal == 5
            i += 3
    return True  # no slice found: do not second-guess the keyframe


def _ticks(value: int, time_base) -> int:
    return round(value * time_base * PTS_HZ)
