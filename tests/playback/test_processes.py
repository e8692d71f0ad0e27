"""Enforced playback against real `streamkeeper serve` processes: two workers on Redis (any worker
verifies any token), ffmpeg as a plain HLS client cut off by another device, and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx
import imageio_ffmpeg
import pytest

from streamkeeper.cli import _prepare_for_workers
from streamkeeper.settings import Settings
from tests.cli.conftest import run
from tests.conftest import REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test
from tests.scale.servers import Server
from tests.scale.workers import everyone_answers, request

KEY = "playback-admin-key-0123456789"
PASSWORD = "admin-password-1"
AUTH = ("demo-app", "")


def _env(**extra: str) -> dict[str, str]:
    return {"STREAMKEEPER_ADMIN_KEY": KEY, "STREAMKEEPER_ADMIN_PASSWORD": PASSWORD, **extra}


def import_video(c: httpx.Client, clip: Path) -> str:
    assert c.post("/apis/authentication/login", json={"username": "admin", "password": PASSWORD}).status_code == 201
    r = c.post("/apis/assets/import", content=clip.read_bytes(), headers={"content-type": "video/mp2t"})
    assert r.status_code == 201, r.text
    video = r.json()["data"]["id"]
    for _ in range(600):
        if not c.get(f"/apis/assets/{video}").json()["data"]["importing"]:
            return video
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def playback_url(c: httpx.Client, video: str, subject: str, terminate: str | None = None) -> tuple[str, str, str]:
    """A new /v2 session of `subject` and a playback URL for `video`: (session, code, url path)."""
    headers = {"X-Terminate": terminate} if terminate else {}
    r = c.post(f"/v2/sessions/adobe/{subject}", auth=AUTH, headers=headers)
    assert r.status_code == 202, r.text
    sid = r.headers["Location"]
    r = c.post(f"/v2/sessions/adobe/{subject}/{sid}/playback", auth=AUTH, data={"video": video})
    assert r.status_code == 201, r.text
    running = c.get(f"/v2/runningStreams/adobe/{subject}", auth=AUTH).json()["runningStreams"]
    code = next(s["terminationCode"] for s in running if s["sessionId"] == sid)
    return sid, code, r.json()["path"]


@pytest.fixture
def redis_env(tmp_path):
    redis_available()
    prefix = redis_prefix_for_test()
    yield tmp_path / "data", {"STREAMKEEPER_REDIS_URL": REDIS_URL, "STREAMKEEPER_REDIS_PREFIX": prefix}
    asyncio.run(drop_redis_keys(REDIS_URL, prefix))


def test_any_worker_verifies_any_token_and_every_worker_refuses_it_once_the_session_ends(redis_env, clip):
    data, env = redis_env
    _prepare_for_workers(Settings(data_dir=data, redis_url=REDIS_URL, admin_password=PASSWORD))
    server = Server(data, _env(**env), workers=2).spawn().wait_ready()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            video = import_video(c, clip)
            r = c.post("/admin/v1/playback-grants", json={"application": "demo-app", "video": video},
                       headers={"X-Admin-Key": KEY})
            assert r.status_code == 201, r.text
            sid, _, url = playback_url(c, video, "alice")
            segment = url.replace("index.m3u8", "track-1/0.ts")
            since = time.monotonic()
            seen = everyone_answers([server], lambda s: request(s, "GET", segment), 200, since)
            assert len(seen) == 2  # both workers served it
            assert c.delete(f"/v2/sessions/adobe/alice/{sid}", auth=AUTH).status_code == 202
            since = time.monotonic()
            everyone_answers([server], lambda s: request(s, "GET", url), 403, since)
            assert request(server, "GET", segment).body == b"session ended: stopped by its player"
    finally:
        server.stop()


def test_ffmpeg_playing_a_token_url_is_cut_off_when_a_fourth_device_takes_its_place(tmp_path, long_clip):
    server = Server(tmp_path / "data", _env()).spawn().wait_ready()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            video = import_video(c, long_clip)
            assert c.post("/admin/v1/playback-grants", json={"application": "demo-app", "video": video},
                          headers={"X-Admin-Key": KEY}).status_code == 201
            _, code, url = playback_url(c, video, "alice")
            for _ in range(2):
                playback_url(c, video, "alice")
            out = tmp_path / "copy.ts"
            # -re: read at the pace of playback, as a player does
            ffmpeg = subprocess.Popen([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-re",
                                       "-i", server.url + url, "-c", "copy", "-f", "mpegts", "-y", str(out)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 100_000):
                    time.sleep(0.1)
                assert out.exists() and out.stat().st_size >= 100_000, "ffmpeg did not start playing"
                playback_url(c, video, "alice", terminate=code)  # the fourth device
                _, errors = ffmpeg.communicate(timeout=60)
            finally:
                if ffmpeg.poll() is None:
                    ffmpeg.kill()
            assert "403" in errors, errors[-2000:]
            probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out), "-f", "null", "-"],
                                   capture_output=True, text=True)
            played = _duration(probe.stderr)
            assert played < 12, f"ffmpeg got {played} s of the 20 s video"
    finally:
        server.stop()


def _duration(ffmpeg_log: str) -> float:
    """The last `time=HH:MM:SS.xx` ffmpeg printed."""
    stamp = ffmpeg_log.rsplit("time=", 1)[1].split()[0]
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    from streamkeeper.media.testsignal import make_clip

    return make_clip(tmp_path_factory.mktemp("long") / "clip.ts", seconds=20)


def test_grants_options_and_keys_from_the_command_line_and_a_config_file(tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "catalog.toml"
    config.write_text("""
[[tenants]]
id = "adobe"
name = "Adobe"

[[applications]]
id = "tv"
tenant = "adobe"
name = "TV"

[[playback.grants]]
application = "tv"
video = "v-1"

[[playback.grants]]
tenant = "adobe"
source = "s-1"

[[playback.applications]]
id = "tv"
fetchHeartbeat = false
""")
    done = run("admin", "--data-dir", str(data), "apply", str(config))
    assert done.returncode == 0, done.stderr
    assert "applied   playback-grant tv v-1" in done.stdout and "applied   playback-options tv" in done.stdout
    listed = run("admin", "--data-dir", str(data), "playback", "list", "--json")
    assert json.loads(listed.stdout) == [
        {"id": "application:tv@video:v-1", "ownerKind": "application", "application": "tv",
         "assetKind": "video", "video": "v-1"},
        {"id": "tenant:adobe@source:s-1", "ownerKind": "tenant", "tenant": "adobe", "assetKind": "source",
         "source": "s-1"}]
    shown = run("admin", "--data-dir", str(data), "playback", "options", "tv")
    assert json.loads(shown.stdout) == {"id": "tv", "fetchHeartbeat": False}
    changed = run("admin", "--data-dir", str(data), "playback", "options", "tv", "--fetch-heartbeat", "on")
    assert json.loads(changed.stdout) == {"id": "tv", "fetchHeartbeat": True}
    revoked = run("admin", "--data-dir", str(data), "playback", "revoke", "--application", "tv", "--video", "v-1")
    assert revoked.returncode == 0, revoked.stderr
    again = run("admin", "--data-dir", str(data), "playback", "revoke", "--application", "tv", "--video", "v-1")
    assert again.returncode == 1 and "is not granted" in again.stderr
    missing = run("admin", "--data-dir", str(data), "playback", "grant", "--application", "tv", "--video", "v-2")
    assert missing.returncode == 1 and "no video 'v-2'" in missing.stderr
    unknown = run("admin", "--data-dir", str(data), "playback", "grant", "--application", "radio", "--source", "s")
    assert unknown.returncode == 1 and "no application 'radio'" in unknown.stderr

    rotated = run("admin", "--data-dir", str(data), "playback-key", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    keys = json.loads(rotated.stdout)["keys"]
    lines = (data / "playback.keys").read_text().splitlines()
    assert [line.split(":")[0] for line in lines] == keys and len(keys) == 2
