"""HLS: playlists that validate, segments that decode with no gap, sequence numbers that go on,
and the same permission as downloads for watching."""

from __future__ import annotations

import asyncio
import io
import re
import time

import av
import pytest

from streamkeeper.media.hls import TARGET, FileSegments, media_playlist
from streamkeeper.media.testsignal import UdpSender, make_clip
from streamkeeper.media.ts import Analyzer

from tests.hmp.conftest import start

from .test_http import make_session, send
from tests.process import free_udp_port

FRAME = 1 / 25


def parse_playlist(text: str) -> dict:
    """An RFC 8216 media playlist as tags and segments, checking what every playlist must hold."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    tags: dict[str, str] = {}
    segments: list[dict] = []
    pending: dict = {}
    for line in lines[1:]:
        if not line:
            continue
        if line.startswith("#EXTINF:"):
            pending["duration"] = float(line[len("#EXTINF:"):].split(",")[0])
        elif line == "#EXT-X-DISCONTINUITY":
            pending["discontinuity"] = True
        elif line.startswith("#EXT-X-DATERANGE:"):
            tags.setdefault("dateranges", []).append(dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line[17:])))
        elif line.startswith("#"):
            name, _, value = line[1:].partition(":")
            tags[name] = value
        else:
            assert "duration" in pending, f"a segment URI without EXTINF: {line}"
            segments.append({**pending, "uri": line})
            pending = {}
    target = int(tags["EXT-X-TARGETDURATION"])
    for seg in segments:
        assert round(seg["duration"]) <= target and seg["duration"] <= target + 0.5, (seg, target)
    first = int(tags.get("EXT-X-MEDIA-SEQUENCE", "0"))
    for i, seg in enumerate(segments):
        seg["seq"] = first + i
    return {"tags": tags, "segments": segments, "ended": "EXT-X-ENDLIST" in tags}


def video_pts(data: bytes) -> list[float]:
    """Seconds of every picture a segment decodes to (PyAV)."""
    with av.open(io.BytesIO(data), format="mpegts") as c:
        stream = c.streams.video[0]
        return [float(f.pts * stream.time_base) for f in c.decode(stream)]


def assert_no_gaps(segments: list[bytes], continuity: bool = True) -> int:
    """Each segment decodes on its own, starting at a keyframe, and each picks up one frame after
    the previous one ended."""
    frames = 0
    previous = None
    for data in segments:
        pts = video_pts(data)
        assert pts, "a segment with no picture"
        steps = [b - a for a, b in zip(pts, pts[1:])]
        assert all(abs(s - FRAME) < 1e-3 for s in steps), steps
        if previous is not None:
            assert abs(pts[0] - previous - FRAME) < 1e-3, (previous, pts[0])
        previous = pts[-1]
        frames += len(pts)
        seen = Analyzer()
        seen.feed(data)
        assert seen.cc_errors == 0 or not continuity
    return frames


def test_track_file_cut_at_keyframes_into_segments_that_decode_without_gaps(clip):
    segs = FileSegments(clip)
    segs.refresh()
    cut = segs.segments(complete=True)
    # keyframes every 0.48 s: the first keyframe at least 2 s in is at 2.4 s; the rest is 0.6 s
    assert [round(s.duration, 3) for s, _, _ in cut] == [2.4, 0.6]
    assert all(s.duration >= TARGET or i == len(cut) - 1 for i, (s, _, _) in enumerate(cut))
    data = [segs.read(first, end) for _, first, end in cut]
    assert assert_no_gaps(data) == 75  # every picture of the clip, once
    assert segs.segments(complete=False)[-1][2] != -1  # a growing file leaves its tail out


def test_a_file_whose_clock_jumps_gets_a_discontinuity_and_keeps_its_timeline(clip, tmp_path):
    joined = tmp_path / "joined.ts"
    joined.write_bytes(clip.read_bytes() * 2)  # the second copy's clock starts again
    segs = FileSegments(joined)
    segs.refresh()
    cut = segs.segments(complete=True)
    assert [(round(s.duration, 3), s.discontinuity) for s, _, _ in cut] == [
        (2.4, False), (0.6, False), (2.4, True), (0.6, False)]
    text = media_playlist([s for s, _, _ in cut], lambda s: f"{s.seq}.ts", ended=True, kind="VOD")
    playlist = parse_playlist(text)
    assert [s.get("discontinuity", False) for s in playlist["segments"]] == [False, False, True, False]
    data = [segs.read(first, end) for _, first, end in cut]
    # (the joined file's own counters restart at the join)
    assert assert_no_gaps(data[:2], continuity=False) == 75 and assert_no_gaps(data[2:]) == 75


async def test_live_source_plays_over_hls_and_sequence_numbers_go_on_after_a_restart(api, tmp_path):
    clip = make_clip(tmp_path / "eight.ts", seconds=8, width=160, height=128, muxrate=800_000)
    c = api.admin
    port = free_udp_port()
    _, (source_id,) = await make_session(c, [port])
    url = f"/apis/sources/{source_id}/hls/live.m3u8"

    started = time.monotonic()
    sending = asyncio.create_task(send(UdpSender(clip, ("127.0.0.1", port))))
    seen: dict[int, float] = {}  # sequence number -> when the playlist first listed it
    playlists = []
    while not sending.done():
        r = await c.get(url)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/vnd.apple.mpegurl"
        playlist = parse_playlist(r.text)
        assert not playlist["ended"] and "EXT-X-PLAYLIST-TYPE" not in playlist["tags"]
        playlists.append(playlist)
        for seg in playlist["segments"]:
            seen.setdefault(seg["seq"], time.monotonic())
        await asyncio.sleep(0.05)
    first_run = parse_playlist((await c.get(url)).text)
    segments = first_run["segments"]
    assert len(segments) >= 3 and [s["seq"] for s in segments] == sorted(s["seq"] for s in segments)
    data = []
    for seg in segments:
        r = await c.get(f"/apis/sources/{source_id}/hls/{seg['uri']}")
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp2t"
        data.append(r.content)
    assert assert_no_gaps(data) >= 7 * 25 * 0.8
    # live latency: from the moment a segment's first picture was sent to the moment it was listed
    start = 0.0
    latencies = []
    for seg in segments:
        if seg["seq"] in seen:
            latencies.append(seen[seg["seq"]] - (started + start))
        start += seg["duration"]
    print(f"\nHLS live latency, first picture sent -> segment listed: "
          f"{', '.join(f'{x:.2f}' for x in latencies)} s (segments of {segments[0]['duration']:.2f} s)")

    # The encoder restarts (its clock starts again): numbering goes on, after a discontinuity.
    last = segments[-1]["seq"]
    await send(UdpSender(clip, ("127.0.0.1", port)))
    after = parse_playlist((await c.get(url)).text)
    new = [s for s in after["segments"] if s["seq"] > last]
    assert [s["seq"] for s in new] == list(range(last + 1, last + 1 + len(new)))
    # (the first run's last, shorter segment is closed by the restart: it may come first)
    flagged = [i for i, s in enumerate(new) if s.get("discontinuity")]
    assert len(flagged) == 1 and flagged[0] <= 1 and len(new) - flagged[0] >= 3
    assert int(after["tags"].get("EXT-X-DISCONTINUITY-SEQUENCE", "0")) + sum(
        1 for s in after["segments"] if s.get("discontinuity")) >= 1
    data = [(await c.get(f"/apis/sources/{source_id}/hls/{s['uri']}")).content for s in new[flagged[0]:]]
    assert assert_no_gaps(data) >= 7 * 25 * 0.8
    gone = await c.get(f"/apis/sources/{source_id}/hls/{last + 1000}.ts")
    assert gone.status_code == 404 and gone.json()["code"] == "040000"


async def test_recording_in_progress_then_video_over_hls_with_hotmarks(api, tmp_path):
    clip = make_clip(tmp_path / "six.ts", seconds=6, width=160, height=128, muxrate=800_000)
    c = api.admin
    port = free_udp_port()
    session_id, _ = await make_session(c, [port])
    rec = (await c.post(f"/apis/sessions/{session_id}/recordings", json={})).json()["data"]
    url = f"/apis/assets/{rec['id']}/hls/index.m3u8"
    sending = asyncio.create_task(send(UdpSender(clip, ("127.0.0.1", port))))
    await asyncio.sleep(4.0)
    r = await c.post(f"/apis/recordings/{rec['id']}/hotmarks", json={"title": 'the "goal"'})
    assert r.status_code == 201
    mark = r.json()["data"]
    growing = parse_playlist((await c.get(url)).text)
    assert growing["tags"]["EXT-X-PLAYLIST-TYPE"] == "EVENT" and not growing["ended"]
    assert 1 <= len(growing["segments"]) <= 2
    await sending
    assert (await c.delete(f"/apis/recordings/{rec['id']}")).status_code == 200

    r = await c.get(url)
    assert r.status_code == 200
    done = parse_playlist(r.text)
    assert done["tags"]["EXT-X-PLAYLIST-TYPE"] == "VOD" and done["ended"]
    assert done["segments"][: len(growing["segments"])] == growing["segments"]  # the event only grew
    total = sum(s["duration"] for s in done["segments"])
    video = (await c.get(f"/apis/assets/{rec['id']}")).json()["data"]
    assert abs(total - video["duration"]) < 0.05
    data = [(await c.get(f"/apis/assets/{rec['id']}/hls/{s['uri']}")).content for s in done["segments"]]
    assert assert_no_gaps(data) == round(video["duration"] * 25)
    (daterange,) = done["tags"]["dateranges"]
    assert daterange["ID"] == f'"{mark["id"]}"' and daterange["X-TITLE"] == "\"the 'goal'\""
    assert "EXT-X-PROGRAM-DATE-TIME" in done["tags"]
    assert (await c.get(url, params={"trackId": 2})).json()["name"] == "TrackNotFound"
    assert (await c.get(url, params={"trackId": 0})).json()["name"] == "InputValidation"
    assert (await c.get(f"/apis/assets/{rec['id']}/hls/track-1/99.ts")).status_code == 404


@pytest.mark.parametrize("resource", ["sources", "assets"])
async def test_watching_needs_watch_like_a_download_needs_download(api, tmp_path, resource):
    c = api.admin
    port = free_udp_port()
    session_id, (source_id,) = await make_session(c, [port])
    object_id = source_id
    if resource == "assets":
        object_id = (await c.post(f"/apis/sessions/{session_id}/recordings", json={})).json()["data"]["id"]
    level = (await api.manage("POST", "/share-permissions", {"resource": resource, "name": "Look only",
                                                             "actions": ["VIEW"]})).json()
    viewer = await api.user("looker", roles=("content-creator",))
    r = await c.post(f"/apis/{resource}/{object_id}/shares", json={"shareType": "USER", "name": "looker",
                                                                    "permission": level["id"]})
    assert r.status_code == 201, r.text
    url = (f"/apis/sources/{object_id}/hls/live.m3u8" if resource == "sources"
           else f"/apis/assets/{object_id}/hls/index.m3u8")
    assert (await viewer.get(f"/apis/{resource}/{object_id}")).status_code == 200  # sees it ...
    r = await viewer.get(url)
    assert r.status_code == 403 and r.json()["code"] == "030001"  # ... but may not watch it
    segment = (f"/apis/sources/{object_id}/hls/0.ts" if resource == "sources"
               else f"/apis/assets/{object_id}/hls/track-1/0.ts")
    assert (await viewer.get(segment)).status_code == 403
    stranger = await api.user("stranger", roles=("content-creator",))
    assert (await stranger.get(url)).status_code == 404
    if resource == "assets":
        await c.delete(f"/apis/recordings/{object_id}")


async def test_live_sequence_numbers_go_on_across_a_server_restart(tmp_path, clock):
    clip = make_clip(tmp_path / "five.ts", seconds=5, width=160, height=128, muxrate=800_000)
    port = free_udp_port()
    numbers = []
    for run in range(2):
        hmp = await start(tmp_path, clock, {})
        try:
            c = hmp.admin
            if run == 0:
                _, (source_id,) = await make_session(c, [port])
            sending = asyncio.create_task(send(UdpSender(clip, ("127.0.0.1", port))))
            r = await c.get(f"/apis/sources/{source_id}/hls/live.m3u8")
            assert r.status_code == 200, r.text
            await sending
            playlist = parse_playlist((await c.get(f"/apis/sources/{source_id}/hls/live.m3u8")).text)
            numbers.append([s["seq"] for s in playlist["segments"]])
            if run == 1:
                assert playlist["segments"][0].get("discontinuity")  # after another server's segments
        finally:
            await hmp.close()
            await hmp.running.__aexit__(None, None, None)
    assert numbers[0] and numbers[1] and numbers[1][0] > numbers[0][-1], numbers


def test_live_packaging_stops_when_nobody_asks_and_numbering_goes_on(clip, tmp_path):
    from streamkeeper.media.hls import LivePackager

    now = [1000.0]
    dropped = []
    data = clip.read_bytes()
    an = Analyzer()
    packager = LivePackager(an, tmp_path / "live.json", clock=lambda: now[0], idle_after=60,
                            on_idle=dropped.append)
    for off in range(0, len(data), 188 * 7):
        an.feed(data[off:off + 188 * 7])
        packager(data[off:off + 188 * 7])
        now[0] += 0.01
    assert [s.seq for s in packager.segments] == [0] and not dropped  # 2.4 s cut; the rest pending
    now[0] += 120
    again = Analyzer()
    for off in range(0, len(data), 188 * 7):  # the encoder starts over; no request for two minutes
        again.feed(data[off:off + 188 * 7])
        packager(data[off:off + 188 * 7])
    assert dropped == [packager]
    later = LivePackager(again, tmp_path / "live.json")  # asked for again: numbering goes on
    assert later.next_seq == packager.next_seq and later.next_seq >= 2


def test_a_finished_segment_is_cut_once_and_served_from_memory(tmp_path):
    """Many players fetch the same segment: it is cut from the file once. A segment whose streams
    ran on past the bytes written so far is not kept (the file may still grow)."""
    from streamkeeper.media.hls import CUT_SEGMENTS

    clip = make_clip(tmp_path / "clip.ts", seconds=7)
    segs = FileSegments(clip)
    segs.refresh()
    cut = segs.segments(True)
    assert len(cut) >= 3
    _, first, end = cut[0]
    assert segs.cached(first, end) is None
    data = segs.read(first, end)
    assert segs.cached(first, end) == data
    # the copy in memory is what a fresh cut gives
    CUT_SEGMENTS.forget(segs.path)
    assert segs.cached(first, end) is None and segs.read(first, end) == data
    # a file cut short just after the second segment's end: its audio may still run on, so it is not kept
    short = tmp_path / "short.ts"
    raw = clip.read_bytes()
    short.write_bytes(raw[: segs.keyframes[cut[1][2]].offset + 188 * 2])  # just past its end keyframe
    growing = FileSegments(short)
    growing.refresh()
    _, first, end = growing.segments(False)[0]
    growing.read(first, end)
    second = growing.segments(True)[1]
    assert second[2] >= 0, "the second segment ends at a keyframe"
    growing.read(second[1], second[2])
    assert growing.cached(second[1], second[2]) is None
    # the segment that runs to the end is kept under that end, and is another once the file grows
    tail = growing.segments(True)[-1]
    assert tail[2] == -1
    first_tail = growing.read(tail[1], -1)
    assert growing.cached(tail[1], -1) == first_tail
    short.write_bytes(raw)
    growing.refresh()
    assert growing.cached(tail[1], -1) is None
    assert len(growing.read(tail[1], -1)) > len(first_tail)
