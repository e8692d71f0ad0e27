"""The edge's two calls in process, on both session stores and both wires (ASGI and the uvicorn
lane), with a clock the test moves: the auth_request hook and the signed playlist."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.edge.conftest import EDGE_SECRET
from tests.playback.conftest import clip, open_stage  # noqa: F401 - `clip` is a fixture


@pytest.fixture(params=["asgi", "lane"])
def wire(request) -> str:
    return request.param


@pytest.fixture
async def stage(tmp_path, clock, store, clip, wire):  # noqa: F811 - the fixture above
    s = await open_stage(tmp_path, clock, store, clip, wire, edge_secret=EDGE_SECRET)
    try:
        yield s
    finally:
        await s.running.__aexit__(None, None, None)


async def verify(stage, uri: str | None, header: str = "X-Original-URI"):
    return await stage.c.get("/play/verify", headers={header: uri} if uri is not None else {})


async def test_the_hook_says_yes_while_the_session_lives_and_why_not_after(stage):
    sid = await stage.session("erin")
    path = await stage.url("erin", sid)
    segment = path.replace("index.m3u8", "track-1/0.ts")
    r = await verify(stage, segment)
    assert r.status_code == 204 and r.content == b""
    assert r.headers["X-Playback-Asset"] == f"video/{stage.video}"
    assert r.headers["Cache-Control"] == "no-store"
    assert (await verify(stage, segment + "?cache=buster", "X-Forwarded-Uri")).status_code == 204

    r = await stage.c.delete(f"/v2/sessions/adobe/erin/{sid}", auth=("demo-app", ""))
    assert r.status_code == 202
    r = await verify(stage, segment)
    assert r.status_code == 403 and r.text == "session ended: stopped by its player"
    assert r.headers["X-Playback-Refusal"] == r.text and r.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("uri,reason", [
    (None, "no X-Original-URI header"),
    ("/apis/assets", "not a playback URI"),
    ("/play/abc", "not a playback URI"),
    ("/play/" + "A" * 120 + "/track-1/0.ts", "forged token"),
])
async def test_the_hook_refuses_what_is_not_a_live_token(stage, uri, reason):
    r = await verify(stage, uri)
    assert r.status_code == 403 and r.text.startswith(reason)


async def test_checks_of_the_hook_count_as_heartbeats(stage):
    sid = await stage.session("frank")
    segment = (await stage.url("frank", sid)).replace("index.m3u8", "track-1/0.ts")
    for _ in range(20):  # 20 minutes of segments (demo-app: a heartbeat every 60 s), no /v2 heartbeat
        stage.clock.advance(60)
        assert (await verify(stage, segment)).status_code == 204
    stage.clock.advance(60 + 30 + 1)  # then nothing: gone after the usual expiry
    r = await verify(stage, segment)
    assert r.status_code == 403 and r.text == "session expired"


async def test_signed_playlist_is_renewed_and_refused_once_the_session_ends(stage):
    sid = await stage.session("gina")
    path = await stage.url("gina", sid)
    signed = path.replace("/index.m3u8", "/signed/index.m3u8")
    r = await stage.c.get(signed)
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apple.mpegurl"
    lines = r.text.splitlines()
    longest = max(float(line[8:].split(",")[0]) for line in lines if line.startswith("#EXTINF:"))
    urls = [line for line in lines if line and not line.startswith("#")]
    assert urls and all(u.startswith(f"/hls/video/{stage.video}/track-1/") for u in urls)
    expiry = {int(parse_qs(urlsplit(u).query)["expires"][0]) for u in urls}
    assert expiry == {int(stage.clock.now + 3 * longest) - 1}  # refused from the next second on

    stage.clock.advance(2)
    again = [line for line in (await stage.c.get(signed)).text.splitlines() if line.startswith("/hls/")]
    assert {int(parse_qs(urlsplit(u).query)["expires"][0]) for u in again} == {int(stage.clock.now + 3 * longest) - 1}

    assert (await stage.c.get(path.replace("/index.m3u8", "/signed/track-1.m3u8"))).status_code == 200
    assert (await stage.c.get(path.replace("/index.m3u8", "/signed/nothing.m3u8"))).status_code == 404

    for _ in range(2):
        assert (await stage.start("gina")).status_code == 202
    refused = await stage.start("gina")
    code = refused.json()["associatedAdvice"][0]["conflicts"][sid][0]["terminationCode"]
    assert (await stage.start("gina", terminate=code)).status_code == 202
    r = await stage.c.get(signed)
    assert r.status_code == 403 and r.text == "session ended: terminated by another device"


async def test_signed_playlists_are_off_without_an_edge_secret(tmp_path, clock, clip):  # noqa: F811
    s = await open_stage(tmp_path, clock, {}, clip)
    try:
        sid = await s.session("hank")
        path = await s.url("hank", sid)
        r = await s.c.get(path.replace("/index.m3u8", "/signed/index.m3u8"))
        assert r.status_code == 404 and "STREAMKEEPER_EDGE_SECRET" in r.text
    finally:
        await s.running.__aexit__(None, None, None)
