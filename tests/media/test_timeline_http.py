"""What a user gets over `/apis` for every timeline real encoders make: imports and live recordings."""

from __future__ import annotations

import asyncio
import io
import re
import time
import zipfile

import av
import pytest

from streamkeeper.media.testsignal import Piece, UdpSender, encode_timeline
from tests.process import free_udp_port

from .test_http import make_session
from .test_timeline import jpeg_number
from .timelines import CASES, content_seconds, numbers, pictures


async def imported(c, data: bytes) -> dict:
    r = await c.post("/apis/assets/import", content=data, headers={"content-type": "video/mp2t"})
    assert r.status_code == 201, r.text
    video = r.json()["data"]
    for _ in range(200):
        video = (await c.get(f"/apis/assets/{video['id']}")).json()["data"]
        if not video["importing"]:
            return video
        await asyncio.sleep(0.05)
    raise AssertionError("import did not finish")


def playlist_seconds(text: str) -> tuple[float, int]:
    return sum(float(x) for x in re.findall(r"#EXTINF:([0-9.]+),", text)), text.count("#EXT-X-DISCONTINUITY\n")


@pytest.mark.parametrize("name", list(CASES))
async def test_imported_timeline_duration_playlist_downloads_seek_and_thumbnail(api, name):
    c = api.admin
    pieces = CASES[name]
    video = await imported(c, encode_timeline(pieces))
    vid, want, n = video["id"], content_seconds(pieces), pictures(pieces)
    assert video["duration"] == pytest.approx(want, rel=0.02)
    # the on-demand playlist adds up to the duration, each jump flagged
    r = await c.get(f"/apis/assets/{vid}/hls/index.m3u8")
    assert r.status_code == 200, r.text
    total, flagged = playlist_seconds(r.text)
    assert total == pytest.approx(video["duration"], abs=0.01)
    restarts = sum(1 for a, b in zip(pieces, pieces[1:]) if b.first_pid != a.first_pid or
                   not 0 <= (b.start - a.start - round(a.seconds * 25) * 3600) % (1 << 33) <= 5 * 90_000)
    assert flagged == restarts
    # both downloads decode end to end, every picture in order
    for file_type in ("mp4", "ts"):
        r = await c.get(f"/apis/assets/{vid}/download", params={"fileType": file_type})
        assert r.status_code == 200, r.text
        data = zipfile.ZipFile(io.BytesIO(r.content)).read(f"track-1.{file_type}")
        assert numbers(data, "mp4" if file_type == "mp4" else "mpegts") == list(range(n))
    # seeking: past the true end is refused, inside is taken
    port = free_udp_port()
    r = await c.post(f"/apis/assets/{vid}/streams", json={"address": "127.0.0.1", "port": port, "state": "paused"})
    assert r.status_code == 201, r.text
    stream = r.json()["data"]["id"]
    assert (await c.post(f"/apis/streams/{stream}/seek", json={"time": want + 0.5})).status_code == 400
    assert (await c.post(f"/apis/streams/{stream}/seek", json={"time": want * 0.5})).status_code == 200
    await c.delete(f"/apis/streams/{stream}")
    # the poster picture is the one at the time chosen
    if n:
        at = round(want * 0.7, 2)
        r = await c.put(f"/apis/assets/{vid}/thumbnail", json={"timestamp": int(at * 1000), "trackId": 1})
        assert r.status_code == 200
        r = await c.get(f"/apis/assets/{vid}/thumbnail")
        assert r.status_code == 200 and jpeg_number(r.content) == int(at * 25 + 1e-6)


@pytest.mark.parametrize("name", ["restart back", "restart forward", "PID change", "late audio"])
async def test_live_recording_across_an_encoder_restart(api, tmp_path, name):
    """A source whose encoder restarts mid-recording (clock back near zero, forward by hours, with
    another PID layout) or whose audio lags: the duration while paused and after stop, the
    HotMark, the playlist and both downloads all agree with the content."""
    c = api.admin
    port = free_udp_port()
    session, _ = await make_session(c, [port])
    pieces = CASES[name]
    path = tmp_path / "restart.ts"
    path.write_bytes(encode_timeline(pieces))
    r = await c.post(f"/apis/sessions/{session}/recordings", json={})
    assert r.status_code == 201, r.text
    rec = r.json()["data"]["id"]
    sender = UdpSender(path, ("127.0.0.1", port)).start()
    t0 = None
    while t0 is None:  # the recording starts with the first keyframe
        await asyncio.sleep(0.02)
        if (await c.get(f"/apis/recordings/{rec}")).json()["data"]["startTime"] is not None:
            t0 = time.monotonic()
    while time.monotonic() - t0 < 3.0:  # one second after the restart
        await asyncio.sleep(0.02)
    r = await c.post(f"/apis/recordings/{rec}/hotmarks", json={"title": "after the restart"})
    assert r.status_code == 201, r.text
    mark = r.json()["data"]["timestamp"]
    assert abs(mark / 1000 - (time.monotonic() - t0)) < 0.5
    await asyncio.to_thread(sender.join)
    sender.stop()
    await asyncio.sleep(0.5)
    assert (await c.put(f"/apis/recordings/{rec}", json={"state": "PAUSED"})).status_code == 200
    paused = (await c.get(f"/apis/recordings/{rec}")).json()["data"]["duration"]
    assert (await c.delete(f"/apis/recordings/{rec}")).status_code == 200
    video = (await c.get(f"/apis/assets/{rec}")).json()["data"]
    assert video["duration"] == pytest.approx(4.0, abs=0.1)
    assert paused == pytest.approx(video["duration"], abs=0.1)
    total, flagged = playlist_seconds((await c.get(f"/apis/assets/{rec}/hls/index.m3u8")).text)
    assert total == pytest.approx(video["duration"], abs=0.01) and flagged == len(pieces) - 1
    for file_type in ("mp4", "ts"):
        r = await c.get(f"/apis/assets/{rec}/download", params={"fileType": file_type})
        assert r.status_code == 200, r.text
        data = zipfile.ZipFile(io.BytesIO(r.content)).read(f"track-1.{file_type}")
        got = numbers(data, "mp4" if file_type == "mp4" else "mpegts")
        assert got == list(range(got[0], got[0] + len(got))) and len(got) >= 95  # in order, nothing lost


@pytest.mark.parametrize("name", ["late audio", "restart back", "audio after all video"])
async def test_imported_mp4_downloads_as_mp4_and_ts(api, name, tmp_path):
    from streamkeeper.media.remux import ts_to_mp4

    c = api.admin
    pieces = CASES[name]
    ts = tmp_path / "in.ts"
    ts.write_bytes(encode_timeline(pieces))
    mp4 = ts_to_mp4(ts, tmp_path / "in.mp4")
    r = await c.post("/apis/assets/import", content=mp4.read_bytes(), headers={"content-type": "video/mp4"})
    assert r.status_code == 201, r.text
    vid = r.json()["data"]["id"]
    for _ in range(200):
        video = (await c.get(f"/apis/assets/{vid}")).json()["data"]
        if not video["importing"]:
            break
        await asyncio.sleep(0.05)
    assert video["duration"] == pytest.approx(content_seconds(pieces), rel=0.02)
    for file_type in ("mp4", "ts"):
        r = await c.get(f"/apis/assets/{vid}/download", params={"fileType": file_type})
        assert r.status_code == 200, r.text
        data = zipfile.ZipFile(io.BytesIO(r.content)).read(f"track-1.{file_type}")
        assert numbers(data, "mp4" if file_type == "mp4" else "mpegts") == list(range(pictures(pieces)))


async def test_audio_only_source_plays_over_live_and_on_demand_hls(api, tmp_path):
    c = api.admin
    port = free_udp_port()
    session, (source,) = await make_session(c, [port])
    path = tmp_path / "radio.ts"
    path.write_bytes(encode_timeline([Piece(6.0, video=False)]))
    rec = (await c.post(f"/apis/sessions/{session}/recordings", json={})).json()["data"]["id"]
    sender = UdpSender(path, ("127.0.0.1", port)).start()
    r = await c.get(f"/apis/sources/{source}/hls/live.m3u8")
    assert r.status_code == 200, r.text
    seq = re.findall(r"^(\d+)\.ts$", r.text, re.M)[0]
    r = await c.get(f"/apis/sources/{source}/hls/{seq}.ts")
    assert r.status_code == 200
    with av.open(io.BytesIO(r.content), format="mpegts") as got:
        assert sum(1 for _ in got.decode(audio=0)) > 40  # two seconds of 1024-sample frames
    await asyncio.to_thread(sender.join)
    sender.stop()
    await asyncio.sleep(0.3)
    assert (await c.delete(f"/apis/recordings/{rec}")).status_code == 200
    video = (await c.get(f"/apis/assets/{rec}")).json()["data"]
    assert video["duration"] > 4.0
    total, _ = playlist_seconds((await c.get(f"/apis/assets/{rec}/hls/index.m3u8")).text)
    assert total == pytest.approx(video["duration"], abs=0.01)


async def _import(c, data: bytes) -> tuple[dict, list[dict]]:
    """Import `data`; the video once done, and every progress the API showed on the way."""
    r = await c.post("/apis/assets/import", content=data, headers={"content-type": "video/mp2t"})
    assert r.status_code == 201, r.text
    vid = r.json()["data"]["id"]
    seen = []
    while True:
        video = (await c.get(f"/apis/assets/{vid}")).json()["data"]
        if not video["importing"]:
            return video, seen
        if "importProgress" in video:
            seen.append(video["importProgress"])


async def test_an_import_of_concatenated_clips_lasts_as_long_as_they_do(api):
    data = encode_timeline([Piece(10.0, start=126_000)]) * 40  # 40 clips of 10 s end to end, as in the issue
    video, _ = await _import(api.admin, data)
    assert "importProgress" not in video and video["duration"] == pytest.approx(400.0, rel=0.02)


async def test_import_reports_its_progress_until_done(api):
    c = api.admin
    # long enough (4000 s of clips) that a quiet machine's import is seen in progress
    data = encode_timeline([Piece(10.0, start=126_000)]) * 400
    video, seen = await _import(c, data)
    assert "importProgress" not in video and video["duration"] == pytest.approx(4000.0, rel=0.02)
    assert seen, "no progress was ever shown"
    assert all(p["totalBytes"] == len(data) and 0 <= p["bytes"] <= len(data) for p in seen)
    assert [p["bytes"] for p in seen] == sorted(p["bytes"] for p in seen)
    listed = (await c.get("/apis/assets")).json()["data"]
    assert all("importProgress" not in v for v in listed)


@pytest.mark.parametrize("name", ["restart back", "33-bit wrap", "PID change", "late audio"])
async def test_a_seek_over_http_lands_on_the_picture_asked_for(api, name):
    """A paused re-stream sought to a time between two keyframes, then played: the receiver's
    first picture is the one on screen at that time, and every picture after it follows, across
    the timeline's jumps; past the true end answers 400."""
    from .test_restream import Receiver, decode_strictly

    c = api.admin
    pieces = CASES[name]
    video = await imported(c, encode_timeline(pieces))
    want, n = content_seconds(pieces), pictures(pieces)
    rx = Receiver()
    r = await c.post(f"/apis/assets/{video['id']}/streams",
                     json={"address": "127.0.0.1", "port": rx.port, "state": "paused"})
    assert r.status_code == 201, r.text
    stream = r.json()["data"]["id"]
    assert (await c.post(f"/apis/streams/{stream}/seek", json={"time": want + 0.01})).status_code == 400
    at = round(want * 0.6, 2) + 0.13  # between keyframes (every 0.48 s)
    assert (await c.post(f"/apis/streams/{stream}/seek", json={"time": at})).status_code == 200
    assert (await c.put(f"/apis/streams/{stream}", json={"state": "playing"})).status_code == 200
    for _ in range(400):  # a stream that reached its end is gone
        if (await c.get(f"/apis/streams/{stream}")).status_code == 404:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    shown, errors = decode_strictly(rx.close())
    assert errors == []
    assert shown == list(range(int(at * 25 + 1e-6), n))
