"""Re-streaming over loopback UDP: rate, order, pause, seek, conflicts."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time

import av
import av.logging
import pytest

from streamkeeper.media.ingest import PortConflict, PortRegistry, SourceSpec
from streamkeeper.media.restream import (
    Destination, Restreamer, SeekPastEnd, Stream, claim_destinations, index_file,
)
from streamkeeper.media.testsignal import Piece, encode_timeline, frame_number
from streamkeeper.media.ts import Analyzer, analyze_file


class Receiver:
    """A plain UDP socket on a thread, timestamping every datagram on arrival."""

    def __init__(self, group: str | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.1)
        self.arrivals: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.arrivals.append((time.monotonic(), data))

    def close(self) -> bytes:
        self._stop.set()
        self._thread.join()
        self.sock.close()
        return b"".join(d for _, d in self.arrivals)


async def test_restream_rate_matches_the_video_and_nothing_is_lost(clip):
    rx = Receiver()
    player = Restreamer(clip, [Destination("127.0.0.1", rx.port)]).start()
    await asyncio.wait_for(player.done.wait(), 20)
    await asyncio.sleep(0.1)
    data = rx.close()
    assert player.state == "ended"
    assert data == clip.read_bytes()
    assert all(len(d) == 7 * 188 for _, d in rx.arrivals[:-1])
    # received rate, from arrival times, against the file's own PCR rate
    first, last = rx.arrivals[0][0], rx.arrivals[-1][0]
    bits = sum(len(d) for _, d in rx.arrivals[1:]) * 8
    own = analyze_file(clip).bitrate
    assert abs(bits / (last - first) - own) / own < 0.01


async def test_pause_holds_and_resume_continues_where_it_stopped(clip):
    rx = Receiver()
    player = Restreamer(clip, [Destination("127.0.0.1", rx.port)]).start()
    while player.sent_datagrams < 150:
        await asyncio.sleep(0.01)
    player.toggle()
    assert player.state == "paused"
    await asyncio.sleep(0.05)
    held = len(rx.arrivals)
    at = player.position
    await asyncio.sleep(0.4)
    assert len(rx.arrivals) == held and player.position == at  # nothing goes out while paused
    player.toggle()
    await asyncio.wait_for(player.done.wait(), 20)
    await asyncio.sleep(0.1)
    assert rx.close() == clip.read_bytes()  # resumed exactly where it stopped


def pes_units(data: bytes, pids) -> dict[int, list[bytes]]:
    """Per elementary PID, each PES as bytes (payloads from one unit start to the next)."""
    units: dict[int, list[bytearray]] = {pid: [] for pid in pids}
    for off in range(0, len(data) - len(data) % 188, 188):
        pid = ((data[off + 1] & 0x1F) << 8) | data[off + 2]
        if pid not in units or not data[off + 3] & 0x10:
            continue
        start = off + 5 + data[off + 4] if data[off + 3] & 0x20 else off + 4
        if data[off + 1] & 0x40:
            units[pid].append(bytearray())
        elif not units[pid]:
            units[pid].append(bytearray())  # a continuation with no start: kept, so that it fails below
        units[pid][-1] += data[start:off + 188]
    return {pid: [bytes(u) for u in us] for pid, us in units.items()}


async def test_seek_is_a_clean_splice_at_the_keyframe_before_the_time(clip):
    """Without landing on the very picture (``exact=False``) a seek goes to the keyframe before."""
    index = index_file(clip)
    # 75 frames, a keyframe every 12: at 0, 0.48, ... 2.88 s
    assert index.times == pytest.approx([i * 0.48 for i in range(7)])
    assert index.keyframe_at(2.2)[0] == pytest.approx(1.92)
    rx = Receiver()
    player = Restreamer(clip, [Destination("127.0.0.1", rx.port)], exact=False).start()
    while player.sent_datagrams < 20:
        await asyncio.sleep(0.01)
    player.seek(2.2)
    with pytest.raises(SeekPastEnd):
        player.seek(3.5)
    await asyncio.wait_for(player.done.wait(), 20)
    await asyncio.sleep(0.1)
    got = rx.close()
    # counters continue across the splice: not one continuity error
    seen = Analyzer()
    seen.feed(got)
    assert seen.cc_errors == 0, seen.cc_errors_by_pid
    # no half PES on either side: every PES received is one of the file's, whole
    original = pes_units(clip.read_bytes(), index.pes_pids)
    received = pes_units(got, index.pes_pids)
    for pid in index.pes_pids:
        assert set(received[pid]) <= set(original[pid]), f"PID {pid}: a PES was cut"
    # one discontinuity indicator, on the PCR PID, on the first PCR of the new position, which
    # is followed by the keyframe at 1.92 s
    flagged = [off for off in range(0, len(got), 188) if got[off + 3] & 0x20 and got[off + 4]
               and got[off + 5] & 0x80]
    assert len(flagged) == 1
    off = flagged[0]
    assert ((got[off + 1] & 0x1F) << 8 | got[off + 2]) == index.pcr_pid and got[off + 5] & 0x10
    video = next(s.pid for s in seen.streams if s.kind == "video")
    nxt = next(o for o in range(off, len(got), 188)
               if ((got[o + 1] & 0x1F) << 8 | got[o + 2]) == video and got[o + 1] & 0x40)
    assert got[nxt + 3] & 0x20 and got[nxt + 5] & 0x40  # random access: a keyframe
    spliced = set(received[video][-27:])  # 75 - 48 frames from 1.92 s to the end
    assert spliced == set(original[video][48:])
    # and it decodes: every PES a picture
    with av.open(io.BytesIO(got), format="mpegts") as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == len(received[video])


async def test_multi_destination_and_conflicts(clip):
    a, b = Receiver(), Receiver()
    registry = PortRegistry()
    claim_destinations(registry, "stream-1", [Destination("127.0.0.1", a.port), Destination("127.0.0.1", b.port)])
    with pytest.raises(PortConflict):
        claim_destinations(registry, "stream-2", [Destination("127.0.0.1", a.port)])
    registry.claim(SourceSpec(type="UDP", port=40999).port_key(), "source-1")
    with pytest.raises(PortConflict):  # a stream may not aim at a local source's port
        claim_destinations(registry, "stream-3", [Destination("127.0.0.1", 40999)])
    assert registry.holder(("dest", "127.0.0.1", 40999)) is None  # refused whole
    stream = Stream([(clip, [Destination("127.0.0.1", a.port), Destination("127.0.0.1", b.port)])]).start()
    await asyncio.wait_for(stream.wait(), 20)
    await asyncio.sleep(0.1)
    assert stream.state == "ended"
    assert a.close() == b.close() == clip.read_bytes()


# What FFmpeg says when it tunes in to an open-GOP stream at one of its keyframes, with nothing
# before: the leading pictures it drops were references that later pictures let go of. A splice
# can do no better than a receiver joining there; anything else is a cut picture or a broken
# reference chain.
TUNE_IN = {"h264: mmco: unref short failure"}

SPLICE_SIGNALS = {
    "B-frames": (Piece(3.0, bframes=2), set()),
    "pictures in two PES": (Piece(3.0, bframes=2, split_pes=True), set()),
    "open GOP": (Piece(3.0, bframes=2, open_gop=True), TUNE_IN),
}


def decode_strictly(data: bytes) -> tuple[list[int], list[str]]:
    """Frame numbers of the pictures a receiver decodes, and every error its decoder logged
    (from any thread: the decoder's own threads log too; repeats included)."""
    av.logging.set_level(av.logging.ERROR)
    skip = av.logging.get_skip_repeated()
    av.logging.set_skip_repeated(False)  # else a message said before, in an earlier decode, is lost
    try:
        with av.logging.Capture(local=False) as logs, av.open(io.BytesIO(data), format="mpegts") as c:
            shown = [frame_number(f) for f in c.decode(video=0)]
    finally:
        av.logging.set_level(None)
        av.logging.set_skip_repeated(skip)
    return shown, [f"{name}: {text.strip()}" for level, name, text in logs if level <= av.logging.ERROR]


@pytest.mark.parametrize("piece,tolerated", list(SPLICE_SIGNALS.values()), ids=list(SPLICE_SIGNALS))
async def test_fifty_random_seeks_decode_without_a_decoder_error(tmp_path, piece, tolerated):
    """Seeks at random moments (some while paused), on clips as real encoders make them: what a
    receiver gets decodes with no decoder error and no continuity error, every picture whole."""
    import random

    path = tmp_path / "seeks.ts"
    path.write_bytes(encode_timeline([piece], width=640, height=480))
    rx = Receiver()
    player = Restreamer(path, [Destination("127.0.0.1", rx.port)]).start()
    rnd = random.Random(25)
    for n in range(50):
        await asyncio.sleep(rnd.uniform(0.0, 0.06))
        roll = rnd.random()
        if roll < 0.15:
            player.pause()
        elif roll < 0.3:
            player.resume()
        player.seek(rnd.uniform(0, 2.9))
        while player.splices == n:  # a seek made while the last one is prepared replaces it
            await asyncio.sleep(0.002)
    player.resume()
    await asyncio.wait_for(player.done.wait(), 30)
    await asyncio.sleep(0.1)
    got = rx.close()
    assert player.splices == 50
    seen = Analyzer()
    seen.feed(got)
    assert seen.cc_errors == 0, seen.cc_errors_by_pid
    shown, errors = decode_strictly(got)
    assert [e for e in errors if e not in tolerated] == []
    assert shown and all(0 <= n < 75 for n in shown)


def test_tuning_in_to_an_open_gop_keyframe_says_what_the_splice_test_tolerates(tmp_path):
    """The tolerated message is FFmpeg's own on joining the open-GOP signal at a keyframe."""
    from streamkeeper.media.timeline import index_track

    piece, tolerated = SPLICE_SIGNALS["open GOP"]
    path = tmp_path / "og.ts"
    data = encode_timeline([piece], width=640, height=480)
    path.write_bytes(data)
    track = index_track(path)
    said = set()
    for cut in track.cuts[1:]:
        said |= set(decode_strictly(track.psi_bytes(cut) + data[cut.offset:])[1])
    assert said == tolerated


@pytest.mark.parametrize("piece", [Piece(3.0, bframes=2), Piece(3.0, split_pes=True), Piece(3.0)],
                         ids=["B-frames", "pictures in two PES", "no B-frames"])
async def test_a_seek_lands_on_the_picture_asked_for(tmp_path, piece):
    """Back to 0.7 s from further on: the receiver's next picture is the one on screen at 0.7 s
    (number 17 at 25 fps), though the keyframe before it is number 12; then every picture on."""
    path = tmp_path / "exact.ts"
    path.write_bytes(encode_timeline([piece], width=320, height=240))
    rx = Receiver()
    player = Restreamer(path, [Destination("127.0.0.1", rx.port)]).start()
    while player.position < 1.6:
        await asyncio.sleep(0.01)
    player.seek(0.7)
    await asyncio.wait_for(player.done.wait(), 30)
    await asyncio.sleep(0.1)
    shown, errors = decode_strictly(rx.close())
    assert errors == []
    back = next(i for i in range(1, len(shown)) if shown[i] < shown[i - 1])
    assert shown[back:] == list(range(17, 75))
    assert shown[:back] == sorted(set(shown[:back]))  # before the seek, in order (B-pictures not yet
    # sent when the seek came are not shown)


@pytest.mark.parametrize("lead", [0.0, 0.4])
def test_the_clock_goes_on_from_a_made_up_stretch_into_the_file(tmp_path, lead):
    """The stretch a seek encodes again carries a clock (PCR) as far ahead of its pictures as the
    file's: the pacing, and a receiver's buffer, see no step where the file goes on."""
    from streamkeeper.media.landing import land
    from streamkeeper.media.timeline import index_track
    from streamkeeper.media.ts import packet_pcr

    path = tmp_path / "lead.ts"
    data = encode_timeline([Piece(3.0, bframes=2, pcr_lead=lead)], width=320, height=240)
    path.write_bytes(data)
    landing = land(index_track(path), 0.7)

    def clock(b: bytes) -> list[float]:
        return [packet_pcr(b, o) / 27e6 for o in range(0, len(b), 188) if packet_pcr(b, o) is not None]

    made, file = clock(landing.packets), clock(data[landing.resume:])
    assert 0 < file[0] - made[-1] < 0.1
