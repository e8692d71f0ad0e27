"""The media engine behind `/apis`: real UDP sources recorded, thumbnails, downloads, streams, events."""

from __future__ import annotations

import asyncio
import io
import time
import zipfile

import av

from streamkeeper.media.testsignal import UdpSender, make_clip
from tests.hmp.conftest import start

from .test_files import digests, jpeg_size
from tests.process import free_udp_port
from .test_restream import Receiver


async def make_session(c, ports: list[int]) -> tuple[str, list[str]]:
    source_ids = []
    for i, port in enumerate(ports):
        r = await c.post("/apis/sources", json={"name": f"cam {i}", "type": "UDP", "host": "127.0.0.1",
                                                "port": port, "multicast": False})
        assert r.status_code == 201, r.text
        source_ids.append(r.json()["data"]["id"])
    r = await c.post("/apis/sessions", json={"title": "Studio"})
    assert r.status_code == 201, r.text
    session_id = r.json()["data"]["id"]
    for sid in source_ids:
        r = await c.post(f"/apis/sessions/{session_id}/sources", json={"sourceId": sid})
        assert r.status_code == 201, r.text
    return session_id, source_ids


async def send(*senders: UdpSender) -> None:
    for s in senders:
        s.start()
    for s in senders:
        await asyncio.to_thread(s.join)
        s.stop()
    await asyncio.sleep(0.3)


async def test_record_two_sources_then_thumbnails_downloads_and_streams(api, clip, clip_b):
    c = api.admin
    ports = [free_udp_port(), free_udp_port()]
    session_id, source_ids = await make_session(c, ports)

    r = await c.post(f"/apis/sessions/{session_id}/recordings", json={})
    assert r.status_code == 201, r.text
    rec = r.json()["data"]
    assert rec["state"] == "RECORDING" and [x["source"] for x in rec["recorders"]] == source_ids
    r = await c.get(f"/apis/sessions/{session_id}/thumbnail")
    assert r.status_code == 404 and r.json()["name"] == "ThumbnailNotFound"  # nothing received yet
    assert (await c.delete(f"/apis/sessions/{session_id}")).json()["name"] == "RecordingInProgress"
    assert (await c.post(f"/apis/sessions/{session_id}/recordings", json={})).status_code == 409

    senders = [UdpSender(clip, ("127.0.0.1", ports[0])), UdpSender(clip_b, ("127.0.0.1", ports[1]))]
    sending = asyncio.create_task(send(*senders))
    while not (await c.get(f"/apis/sources/{source_ids[0]}")).json()["data"]["active"]:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    live = (await c.get(f"/apis/sources/{source_ids[0]}")).json()["data"]
    assert live["active"] and live["bitrate"] > 0
    r = await c.get(f"/apis/sources/{source_ids[1]}/thumbnail", params={"width": 128, "height": 96})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert jpeg_size(r.content) == (128, 96)
    r = await c.post(f"/apis/recordings/{rec['id']}/hotmarks", json={"title": "goal"})
    assert r.status_code == 201, r.text
    assert 0 < r.json()["data"]["timestamp"] <= 3000
    listed = (await c.get("/apis/recordings")).json()
    assert [x["id"] for x in listed["data"]] == [rec["id"]]
    await sending

    r = await c.delete(f"/apis/recordings/{rec['id']}")
    assert r.status_code == 200
    assert (await c.get(f"/apis/recordings/{rec['id']}")).json()["name"] == "RecordingNotFound"
    video = (await c.get(f"/apis/assets/{rec['id']}")).json()["data"]
    assert video["movieTrackCount"] == 2 and not video["recording"]
    assert abs(video["duration"] - 3.0) <= 0.5

    # downloads: TS tracks are the received streams; MP4 demuxes to the same pictures
    r = await c.get(f"/apis/assets/{rec['id']}/download", params={"fileType": "ts"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.namelist() == ["track-1.ts", "track-2.ts"]
    for name, original in (("track-1.ts", clip), ("track-2.ts", clip_b)):
        with av.open(io.BytesIO(archive.read(name)), format="mpegts") as got:
            pictures = [f.pts for f in got.decode(video=0)]
        assert len(pictures) >= len(digests(original)) - 1
    r = await c.get(f"/apis/assets/{rec['id']}/download", params={"fileType": "mp4"})
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    assert archive.namelist() == ["track-1.mp4", "track-2.mp4"]
    with av.open(io.BytesIO(archive.read("track-1.mp4")), format="mp4") as got:
        mp4_frames = sum(1 for _ in got.decode(video=0))
    assert mp4_frames >= len(digests(clip)) - 1
    assert (await c.get(f"/apis/assets/{rec['id']}/download", params={"fileType": "avi"})).status_code == 400

    # thumbnails of the video
    assert jpeg_size((await c.get(f"/apis/assets/{rec['id']}/thumbnail")).content) == (320, 240)
    assert jpeg_size((await c.get(f"/apis/assets/{rec['id']}/tracks/2/thumbnail")).content) == (256, 192)
    assert (await c.get(f"/apis/assets/{rec['id']}/tracks/3/thumbnail")).json()["name"] == "TrackNotFound"
    r = await c.put(f"/apis/assets/{rec['id']}/thumbnail", json={"data": {"timestamp": 2000, "trackId": 2}})
    assert r.status_code == 200
    assert jpeg_size((await c.get(f"/apis/assets/{rec['id']}/thumbnail")).content) == (256, 192)

    # streams
    rx1, rx2 = Receiver(), Receiver()
    r = await c.post(f"/apis/assets/{rec['id']}/streams", json={"address": "127.0.0.1", "port": rx1.port})
    assert r.status_code == 400 and r.json()["name"] == "MultiSourcesStream"
    r = await c.post(f"/apis/assets/{rec['id']}/streams", json={"address": "127.0.0.1", "port": ports[0],
                     "destinations": [{"trackId": 1, "address": "127.0.0.1", "port": ports[0]}]})
    assert r.status_code == 400 and r.json()["message"].endswith("by a source")
    body = {"address": "ignored", "port": 1, "destinations": [
        {"trackId": 1, "address": "127.0.0.1", "port": rx1.port},
        {"trackId": 2, "address": "127.0.0.1", "port": rx2.port}]}
    r = await c.post(f"/apis/assets/{rec['id']}/streams", json=body)
    assert r.status_code == 201, r.text
    stream = r.json()["data"]
    assert stream["address"] == "multiple" and stream["port"] == 0 and len(stream["destinations"]) == 2
    r = await c.post(f"/apis/assets/{rec['id']}/streams", json=body)
    assert r.status_code == 400 and r.json()["name"] == "AddressPortAlreadyInUse"
    assert (await c.delete(f"/apis/assets/{rec['id']}")).json()["name"] == "RecordingBeingStreamed"
    assert (await c.put(f"/apis/streams/{stream['id']}", json={})).json()["data"]["state"] == "paused"
    assert (await c.put(f"/apis/streams/{stream['id']}", json={"state": "playing"})).json()["data"]["state"] == "playing"
    r = await c.post(f"/apis/streams/{stream['id']}/seek", json={"time": 30})
    assert r.status_code == 400 and r.json()["code"] == "010001" and "past the end" in r.json()["message"]
    assert (await c.post(f"/apis/streams/{stream['id']}/seek", json={"time": 1.5})).json() == {"data": {"time": 1.5}}
    assert [s["id"] for s in (await c.get("/apis/streams")).json()["data"]] == [stream["id"]]
    # it ends by itself at the end of the video
    for _ in range(200):
        if (await c.get(f"/apis/streams/{stream['id']}")).status_code == 404:
            break
        await asyncio.sleep(0.05)
    assert (await c.get(f"/apis/streams/{stream['id']}")).json()["name"] == "StreamNotFound"
    got1, got2 = rx1.close(), rx2.close()
    track1 = archive_track(await c.get(f"/apis/assets/{rec['id']}/download"), "track-1.ts")
    # after the seek, the end of the video (continuity counters renumbered across the splice)
    assert without_cc(got1).endswith(without_cc(track1[-188 * 50:])) and len(got1) < len(track1) + 188 * 10
    assert len(got2) > 0
    assert (await c.delete(f"/apis/assets/{rec['id']}")).status_code == 200


def without_cc(data: bytes) -> bytes:
    out = bytearray(data)
    for off in range(3, len(out), 188):
        out[off] &= 0xF0
    return bytes(out)


def archive_track(response, name: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(response.content)).read(name)


def _hold_udp(port: int):
    import socket

    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", port))
    return blocker


async def test_udp_port_held_by_another_program(tmp_path, clock, clip):
    """Refused at creation; after a restart shown as an error, and bound once the port frees."""
    port, taken = free_udp_port(), free_udp_port()
    hmp = await start(tmp_path, clock, {})
    try:
        c = hmp.admin
        with _hold_udp(taken):
            r = await c.post("/apis/sources", json={"name": "cam", "type": "UDP", "host": "127.0.0.1",
                                                    "port": taken, "multicast": False})
            assert r.status_code == 400 and r.json()["code"] == "010006", r.text
            assert r.json()["name"] == "AddressPortAlreadyInUse"
            assert (await c.get("/apis/sources")).status_code == 404  # nothing was created
            r = await c.post("/apis/sources", json={"name": "cam", "type": "UDP", "host": "127.0.0.1",
                                                    "port": port, "multicast": False})
            assert r.status_code == 201, r.text
            source = r.json()["data"]
            assert "error" not in source
            r = await c.put(f"/apis/sources/{source['id']}", json={"port": taken})
            assert r.status_code == 400 and r.json()["code"] == "010006"
            kept = (await c.get(f"/apis/sources/{source['id']}")).json()["data"]
            assert kept["port"] == port and "error" not in kept  # still received on its own port
    finally:
        await hmp.close()
        await hmp.running.__aexit__(None, None, None)

    blocker = _hold_udp(port)  # another program takes the port while the server is down
    hmp = await start(tmp_path, clock, {})
    try:
        c = hmp.admin
        got = (await c.get(f"/apis/sources/{source['id']}")).json()["data"]
        assert got["active"] is False and "in use" in got["error"], got
        await asyncio.sleep(0.8)
        blocker.close()
        for _ in range(100):
            got = (await c.get(f"/apis/sources/{source['id']}")).json()["data"]
            if "error" not in got:
                break
            await asyncio.sleep(0.1)
        assert "error" not in got, got
        sending = asyncio.create_task(send(UdpSender(clip, ("127.0.0.1", port))))
        for _ in range(100):
            if (await c.get(f"/apis/sources/{source['id']}")).json()["data"]["active"]:
                break
            await asyncio.sleep(0.05)
        assert (await c.get(f"/apis/sources/{source['id']}")).json()["data"]["active"]
        await sending
    finally:
        blocker.close()
        await hmp.close()
        await hmp.running.__aexit__(None, None, None)


async def test_pause_resume_and_errors_over_http(api, clip):
    c = api.admin
    port = free_udp_port()
    session_id, source_ids = await make_session(c, [port])
    r = await c.post(f"/apis/sessions/{session_id}/recordings", json={"recorders": [{"source": "unknown"}]})
    assert r.status_code == 409 and r.json()["name"] == "SessionHasNoSource"
    rec = (await c.post(f"/apis/sessions/{session_id}/recordings")).json()["data"]
    # writing waits for the first keyframe: no start time until one arrives
    assert rec["startTime"] is None and rec["recorders"][0]["startTime"] is None
    await asyncio.sleep(0.3)
    sent_at = time.time()
    sender = UdpSender(clip, ("127.0.0.1", port))
    sending = asyncio.create_task(send(sender))
    await asyncio.sleep(1.0)
    started = (await c.get(f"/apis/recordings/{rec['id']}")).json()["data"]
    assert started["startTime"] is not None and sent_at * 1000 <= started["startTime"] <= time.time() * 1000
    r = await c.put(f"/apis/recordings/{rec['id']}", json={"state": "PAUSED"})
    assert r.status_code == 200 and r.json()["data"]["state"] == "PAUSED"
    assert (await c.put(f"/apis/recordings/{rec['id']}", json={"state": "STOPPED"})).status_code == 400
    await asyncio.sleep(1.0)
    asked = time.time()
    r = await c.put(f"/apis/recordings/{rec['id']}", json={"state": "RECORDING"})
    assert r.status_code == 200 and r.json()["data"]["recorders"][0]["resumeTime"] is None  # next keyframe
    await asyncio.sleep(0.7)  # keyframes every 0.48 s
    resumed = (await c.get(f"/apis/recordings/{rec['id']}")).json()["data"]["recorders"][0]["resumeTime"]
    assert resumed is not None and asked * 1000 <= resumed <= asked * 1000 + 700
    await sending
    assert (await c.delete(f"/apis/recordings/{rec['id']}")).status_code == 200
    video = (await c.get(f"/apis/assets/{rec['id']}")).json()["data"]
    assert 1.0 <= video["duration"] <= 2.5  # about a second of the three was paused
    r = await c.post(f"/apis/recordings/{rec['id']}/hotmarks", json={"title": "late"})
    assert r.status_code == 404 and r.json()["name"] == "NoRecordingActive"


async def test_event_two_seconds_ahead_records_once_for_its_duration(api, clock, tmp_path):
    clip = make_clip(tmp_path / "seven.ts", seconds=7, width=160, height=128, muxrate=800_000)
    c = api.admin
    port = free_udp_port()
    session_id, _ = await make_session(c, [port])
    r = await c.post(f"/apis/sessions/{session_id}/events", json={
        "title": "show", "startTime": int(clock()) + 2, "duration": 2, "type": "one-time", "command": "record"})
    assert r.status_code == 201, r.text
    sender = UdpSender(clip, ("127.0.0.1", port))
    sending = asyncio.create_task(send(sender))
    started = time.monotonic()
    base = clock.now
    seen_recording = False
    while time.monotonic() - started < 5.5:  # the fake clock follows real time
        clock.now = base + (time.monotonic() - started)
        r = await c.get(f"/apis/sessions/{session_id}/recordings")
        seen_recording |= r.status_code == 200
        await asyncio.sleep(0.1)
    await sending
    assert seen_recording
    videos = (await c.get(f"/apis/sessions/{session_id}/assets")).json()["data"]
    assert len(videos) == 1 and not videos[0]["recording"]
    # 2 s of stream, less the wait for the first keyframe (0.48 s GOP), give or take a 0.5 s tick
    assert 1.0 <= videos[0]["duration"] <= 2.6
    clock.now += 60
    await asyncio.sleep(1.2)  # more ticks: it does not fire again
    assert len((await c.get(f"/apis/sessions/{session_id}/assets")).json()["data"]) == 1


async def test_a_recording_started_by_an_event_belongs_to_the_events_creator(api, clock, tmp_path):
    clip = make_clip(tmp_path / "five.ts", seconds=5, width=160, height=128, muxrate=800_000)
    creator = await api.user("planner", roles=("content-creator",))
    port = free_udp_port()
    session_id, _ = await make_session(creator, [port])
    r = await creator.post(f"/apis/sessions/{session_id}/events", json={
        "title": "show", "startTime": int(clock()) + 1, "duration": 2, "type": "one-time", "command": "record"})
    assert r.status_code == 201, r.text
    sending = asyncio.create_task(send(UdpSender(clip, ("127.0.0.1", port))))
    started, base = time.monotonic(), clock.now
    while time.monotonic() - started < 4.0:  # the fake clock follows real time
        clock.now = base + (time.monotonic() - started)
        await asyncio.sleep(0.1)
    await sending
    videos = (await creator.get(f"/apis/sessions/{session_id}/assets")).json()["data"]
    assert len(videos) == 1, videos
    video_id = videos[0]["id"]
    assert (await creator.get(f"/apis/assets/{video_id}")).status_code == 200
    meta = {m["name"]: m for m in (await creator.get(f"/apis/assets/{video_id}/metadata")).json()["data"]}
    assert meta["calypso:creator"]["field"][0]["valueString"] == "planner"
    shares = (await creator.get(f"/apis/assets/{video_id}/shares")).json()["data"]
    assert [(s["name"], s["permission"]) for s in shares] == [("planner", "OWN")]
    r = await creator.get(f"/apis/assets/{video_id}/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"


async def test_import_ts_and_mp4_files_as_videos(api, clip, tmp_path):
    from streamkeeper.media.remux import ts_to_mp4

    c = api.admin
    mp4 = ts_to_mp4(clip, tmp_path / "upload.mp4")
    for path, ctype in ((clip, "video/mp2t"), (mp4, "video/mp4")):
        r = await c.post("/apis/assets/import", params={"title": f"from {path.suffix}"}, content=path.read_bytes(),
                         headers={"content-type": ctype})
        assert r.status_code == 201, r.text
        video = r.json()["data"]
        assert video["importing"] and video["title"] == f"from {path.suffix}"
        for _ in range(100):
            video = (await c.get(f"/apis/assets/{video['id']}")).json()["data"]
            if not video["importing"]:
                break
            await asyncio.sleep(0.05)
        assert not video["importing"] and video["movieTrackCount"] == 1
        assert abs(video["duration"] - 3.0) < 0.05
        r = await c.get(f"/apis/assets/{video['id']}/download")
        track = zipfile.ZipFile(io.BytesIO(r.content)).read("track-1.ts")
        with av.open(io.BytesIO(track), format="mpegts") as got:
            assert sum(1 for _ in got.decode(video=0)) == 75  # complete: nothing trimmed
    r = await c.post("/apis/assets/import", content=b"not a video at all" * 100,
                     headers={"content-type": "application/octet-stream"})
    assert r.status_code == 400 and r.json()["name"] == "InputValidation"


def studio(c, udp_port: int) -> tuple[str, str]:
    """Log in to a server from `_serve` as its administrator and set up a UDP source on
    `udp_port` shown by a session; returns (source id, session id)."""
    assert c.post("/apis/authentication/login",
                  json={"username": "admin", "password": "admin-password-1"}).status_code == 201
    source = c.post("/apis/sources", json={"name": "cam", "type": "UDP", "host": "127.0.0.1",
                                           "port": udp_port, "multicast": False}).json()["data"]["id"]
    session = c.post("/apis/sessions", json={"title": "Studio"}).json()["data"]["id"]
    c.post(f"/apis/sessions/{session}/sources", json={"sourceId": source})
    return source, session


def _serve(data_dir, port: int) -> "subprocess.Popen":
    import os
    import subprocess
    import sys

    env = {**os.environ, "STREAMKEEPER_ADMIN_PASSWORD": "admin-password-1", "STREAMKEEPER_ADMIN_KEY": "k" * 32,
           "STREAMKEEPER_SECRET": "s" * 32}
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir.parent / "server.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "streamkeeper", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--data-dir", str(data_dir)], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _wait_up(client, proc) -> None:
    import httpx

    for _ in range(300):
        if proc.poll() is not None:
            log = [a for a in proc.args if str(a).endswith("data")]
            raise AssertionError("server exited: " + open(f"{log[0]}/../server.log", errors="replace").read()[-3000:])
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not start")


def test_server_killed_mid_recording_restarts_with_a_playable_video(clip, tmp_path):
    import os
    import signal
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http_port = s.getsockname()[1]
    udp_port = free_udp_port()
    data = tmp_path / "data"
    base = f"http://127.0.0.1:{http_port}"
    proc = _serve(data, http_port)
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            _wait_up(c, proc)
            sid, session = studio(c, udp_port)
            rec = c.post(f"/apis/sessions/{session}/recordings", json={}).json()["data"]
            track = data / "media" / "videos" / rec["id"] / "track-1.ts"
            sender = UdpSender(clip, ("127.0.0.1", udp_port)).start()
            deadline = time.monotonic() + 20
            while (not track.exists() or track.stat().st_size < 300_000) and time.monotonic() < deadline:
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)  # mid-recording, while packets still arrive
            proc.wait(10)
            sender.stop()
        proc = _serve(data, http_port)
        with httpx.Client(base_url=base, timeout=30) as c:
            _wait_up(c, proc)
            c.post("/apis/authentication/login", json={"username": "admin", "password": "admin-password-1"})
            video = c.get(f"/apis/assets/{rec['id']}").json()["data"]
            assert not video["recording"] and video["movieTrackCount"] == 1
            assert 1.0 <= video["duration"] <= 3.0
            archive = zipfile.ZipFile(io.BytesIO(c.get(f"/apis/assets/{rec['id']}/download").content))
            with av.open(io.BytesIO(archive.read("track-1.ts")), format="mpegts") as got:
                frames = sum(1 for _ in got.decode(video=0))
            assert abs(frames / 25 - video["duration"]) < 1e-6  # every frame there decodes
            assert c.get("/apis/recordings").status_code == 404  # nothing left recording
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
