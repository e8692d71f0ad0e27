"""Pacing from the stream's own clock."""

from __future__ import annotations

from streamkeeper.media.pacer import paced_datagrams
from streamkeeper.media.ts import analyze_file


def test_datagrams_follow_the_pcr_clock(clip):
    data = clip.read_bytes()
    schedule = list(paced_datagrams(data))
    assert b"".join(d for _, d in schedule) == data  # nothing lost, nothing reordered
    assert all(len(d) == 7 * 188 for _, d in schedule[:-1])
    times = [t for t, _ in schedule]
    assert times == sorted(times)
    an = analyze_file(clip)
    # the bytes between the first and last datagram go out at the multiplex rate
    sent_bits = sum(len(d) for _, d in schedule[1:]) * 8
    rate = sent_bits / (times[-1] - times[0])
    assert abs(rate - an.bitrate) / an.bitrate < 0.01


def test_blocks_of_any_size_give_the_same_schedule(clip):
    data = clip.read_bytes()
    whole = list(paced_datagrams(data))
    pieces = list(paced_datagrams(data[i:i + 5000] for i in range(0, len(data), 5000)))
    assert [d for _, d in pieces] == [d for _, d in whole]
    assert max(abs(a - b) for (a, _), (b, _) in zip(whole, pieces)) < 1e-9
