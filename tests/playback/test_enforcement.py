"""Enforced playback over HTTP, on the embedded store and on Redis: a token URL plays while its
session lives, and every way a session ends turns the next fetch into a 403 that says why."""

from __future__ import annotations

import pytest

from streamkeeper.playback import service as playback

from .conftest import APP, oxm_auth


@pytest.fixture(params=["asgi", "lane"])
def wire(request) -> str:
    """/play is a hot route: over ASGI and over the uvicorn lane."""
    return request.param


async def test_a_token_url_plays_without_a_cookie_until_the_player_deletes_its_session(stage):
    sid = await stage.session("alice")
    r = await stage.playback("alice", sid)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["url"] == "http://test" + body["path"] and body["path"].endswith("/index.m3u8")
    assert body["asset"] == f"video:{stage.video}" and body["sessionId"] == sid
    assert "alice" not in body["token"]
    stage.c.cookies.clear()  # a plain HLS player: no login
    playlist = await stage.c.get(body["path"])
    assert playlist.status_code == 200, playlist.text
    assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert playlist.headers["access-control-allow-origin"] == "*"
    assert "#EXT-X-ENDLIST" in playlist.text and "track-1/0.ts" in playlist.text
    segment = await stage.fetch(body["path"])
    assert segment.status_code == 200 and segment.headers["content-type"] == "video/mp2t"
    assert segment.content[0] == 0x47 and len(segment.content) % 188 == 0

    r = await stage.c.delete(f"/v2/sessions/adobe/alice/{sid}", auth=(APP, ""))
    assert r.status_code == 202
    assert await stage.refused(body["path"]) == "session ended: stopped by its player"
    assert await stage.refused(body["path"].replace("index.m3u8", "track-1/0.ts")) == \
        "session ended: stopped by its player"


async def test_a_fourth_device_with_x_terminate_cuts_the_player_off(stage):
    sids = [await stage.session("alice") for _ in range(3)]
    url = await stage.url("alice", sids[0])
    assert (await stage.fetch(url)).status_code == 200
    assert (await stage.start("alice")).status_code == 409  # the limit: 3 streams
    running = (await stage.c.get("/v2/runningStreams/adobe/alice", auth=(APP, ""))).json()["runningStreams"]
    code = next(s["terminationCode"] for s in running if s["sessionId"] == sids[0])
    assert (await stage.start("alice", terminate=code)).status_code == 202
    assert await stage.refused(url) == "session ended: terminated by another device"
    # the other streams of the same viewer play on
    assert (await stage.fetch(await stage.url("alice", sids[1]))).status_code == 200


async def test_a_fifo_eviction_cuts_the_evicted_player_off(stage):
    r = await stage.admin("POST", "/policies", {"id": "newest-wins", "tenant": "adobe", "name": "Newest wins",
                                                "rules": [{"name": "1 stream", "threshold": 1, "conflict": "FIFO"}]})
    assert r.status_code == 201, r.text
    r = await stage.admin("POST", "/applications", {"id": "kiosk", "tenant": "adobe", "name": "Kiosk",
                                                    "policies": ["newest-wins"]})
    assert r.status_code == 201, r.text
    await stage.grant(app="kiosk")
    old = await stage.session("bob", app="kiosk")
    url = await stage.url("bob", old, app="kiosk")
    assert (await stage.fetch(url)).status_code == 200
    new = await stage.session("bob", app="kiosk")
    assert await stage.refused(url) == "session ended: evicted by a newer stream"
    assert (await stage.fetch(await stage.url("bob", new, app="kiosk"))).status_code == 200


async def test_ending_a_session_from_the_console_cuts_the_player_off_and_the_dashboard_shows_its_playback(stage):
    quiet = await stage.session("alice")  # never asks for a playback URL
    sid = await stage.session("alice")
    url = await stage.url("alice", sid)
    streams = (await stage.c.get("/console/api/subjects/adobe/alice")).json()["runningStreams"]
    shown = {s["sessionId"]: s["playback"] for s in streams}
    assert shown[quiet] is None
    assert shown[sid]["lastFetch"] is None and shown[sid]["since"] == stage.clock.now
    stage.clock.advance(7)
    assert (await stage.fetch(url)).status_code == 200
    streams = (await stage.c.get("/console/api/subjects/adobe/alice")).json()["runningStreams"]
    assert {s["sessionId"]: s["playback"] for s in streams}[sid]["lastFetch"] == stage.clock.now

    r = await stage.c.post(f"/console/api/subjects/adobe/alice/{sid}/end", params={"application": APP})
    assert r.status_code == 200, r.text
    assert await stage.refused(url) == "session ended: ended by an operator"


async def test_a_session_expires_once_its_player_stops_fetching_and_calling(stage):
    sid = await stage.session("alice")
    url = await stage.url("alice", sid)
    for _ in range(4):  # fetches alone keep it alive well past its 60 s interval (and 30 s grace)
        stage.clock.advance(50)
        assert (await stage.fetch(url)).status_code == 200
    r = await stage.c.post(f"/v2/sessions/adobe/alice/{sid}", auth=(APP, ""))
    assert r.status_code == 202  # still counted: /v2 sees it alive
    stage.clock.advance(95)
    assert await stage.refused(url) == "session expired"


async def test_an_application_can_switch_fetches_as_heartbeat_off(stage):
    r = await stage.admin("PUT", f"/playback-applications/{APP}", {"fetchHeartbeat": False})
    assert r.status_code == 200 and r.json() == {"id": APP, "fetchHeartbeat": False}
    sid = await stage.session("alice")
    url = await stage.url("alice", sid)
    stage.clock.advance(50)
    assert (await stage.fetch(url)).status_code == 200
    stage.clock.advance(50)  # 100 s > 60 s interval + 30 s grace: the fetches did not renew it
    assert await stage.refused(url) == "session expired"
    # its own heartbeats still do
    sid = await stage.session("alice")
    url = await stage.url("alice", sid)
    for _ in range(3):
        stage.clock.advance(50)
        assert (await stage.c.post(f"/v2/sessions/adobe/alice/{sid}", auth=(APP, ""))).status_code == 202
    assert (await stage.fetch(url)).status_code == 200


async def test_disabling_the_application_cuts_its_players_off(stage):
    sid = await stage.session("alice")
    url = await stage.url("alice", sid)
    app = (await stage.admin("GET", f"/applications/{APP}")).json()
    app["enabled"] = False
    r = await stage.admin("PUT", f"/applications/{APP}", {k: v for k, v in app.items() if k != "id"})
    assert r.status_code == 200, r.text
    assert await stage.refused(url) == "application disabled"


async def test_a_tightened_policy_cuts_off_the_streams_that_no_longer_fit(stage):
    older = await stage.session("alice")
    stage.clock.advance(1)
    newer = await stage.session("alice")
    old_url, new_url = await stage.url("alice", older), await stage.url("alice", newer)
    assert (await stage.fetch(new_url)).status_code == 200
    policy = (await stage.admin("GET", "/policies/three-streams")).json()
    policy["rules"][0]["threshold"] = 1
    r = await stage.admin("PUT", "/policies/three-streams", {k: v for k, v in policy.items() if k != "id"})
    assert r.status_code == 200, r.text
    assert await stage.refused(new_url) == "session ended: no longer fits the policy"
    assert (await stage.fetch(old_url)).status_code == 200


async def test_a_tightened_fifo_policy_cuts_off_the_oldest_stream(stage):
    older = await stage.session("alice")
    stage.clock.advance(1)
    newer = await stage.session("alice")
    old_url, new_url = await stage.url("alice", older), await stage.url("alice", newer)
    policy = (await stage.admin("GET", "/policies/three-streams")).json()
    policy["rules"][0]["threshold"] = 1
    policy["rules"][0]["conflict"] = "FIFO"
    r = await stage.admin("PUT", "/policies/three-streams", {k: v for k, v in policy.items() if k != "id"})
    assert r.status_code == 200, r.text
    assert await stage.refused(old_url) == "session ended: no longer fits the policy"
    assert (await stage.fetch(new_url)).status_code == 200


async def test_withdrawing_the_grant_cuts_its_players_off_and_ungranted_assets_get_no_url(stage):
    sid = await stage.session("alice")
    url = await stage.url("alice", sid)
    grants = (await stage.admin("GET", "/playback-grants")).json()
    assert grants == [{"id": f"application:{APP}@video:{stage.video}", "ownerKind": "application",
                       "application": APP, "assetKind": "video", "video": stage.video}]
    r = await stage.admin("DELETE", f"/playback-grants/{grants[0]['id']}")
    assert r.status_code == 204
    assert await stage.refused(url) == "not available for playback"
    r = await stage.playback("alice", sid)
    assert r.status_code == 403 and r.json()["associatedAdvice"][0]["type"] == "not-granted"
    r = await stage.playback("alice", sid, source="no-such-source")
    assert r.status_code == 403


async def test_tokens_are_refused_when_forged_expired_for_another_asset_or_another_session(stage):
    a = await stage.session("alice")
    b = await stage.session("alice")
    r = await stage.playback("alice", a, video=stage.video, ttl="10")
    token, url = r.json()["token"], r.json()["path"]
    middle = len(token) // 2
    forged = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    assert await stage.refused(url.replace(token, forged)) == "forged token"
    assert await stage.refused(url.replace(token, "not-a-token")) == "forged token"

    service = stage.app.state.playback
    verdict = await service.check(token, f"video:{stage.video}", stage.clock.now)
    assert verdict.ok and verdict.claims.session == a
    verdict = await service.check(token, "video:another", stage.clock.now)
    assert not verdict.ok and verdict.reason == playback.OTHER_ASSET

    # bound to its own session: b's end does not touch a's token, a's end does not touch b's
    b_url = await stage.url("alice", b)
    assert (await stage.c.delete(f"/v2/sessions/adobe/alice/{b}", auth=(APP, ""))).status_code == 202
    assert (await stage.fetch(url)).status_code == 200
    assert await stage.refused(b_url) == "session ended: stopped by its player"
    # a session id of another viewer, or one never issued, gets no URL
    assert (await stage.playback("bob", a)).status_code == 404

    stage.clock.advance(11)
    assert await stage.refused(url) == "token expired"


async def test_an_oxm_stream_plays_through_a_token_until_it_stops_or_no_longer_fits(stage):
    await stage.grant(owner="tenant", app="acme")
    video, clock = stage.video, stage.clock
    for device in ("tv", "phone"):
        r = await stage.c.put(f"/oxm/v1/streams/{video}/streaming", params={"device": device},
                              headers=oxm_auth(clock, "u1"))
        assert r.status_code == 204, r.text
        clock.advance(1)
    urls = {}
    for device in ("tv", "phone"):
        r = await stage.c.post(f"/oxm/v1/streams/{video}/playback", params={"device": device},
                               headers=oxm_auth(clock, "u1"))
        assert r.status_code == 201, r.text
        urls[device] = r.json()["path"]
        assert (await stage.fetch(urls[device])).status_code == 200
    # no stream on this device: no URL
    r = await stage.c.post(f"/oxm/v1/streams/{video}/playback", params={"device": "radio"},
                           headers=oxm_auth(clock, "u1"))
    assert r.status_code == 404 and r.json()["status"] == 404
    r = await stage.c.post(f"/oxm/v1/streams/{video}/playback", params={"device": "tv"})
    assert r.status_code == 401

    r = await stage.c.put("/oxm/v1/streampolicy/acme", json={"maxPerUser": 1, "maxPerAsset": 0, "maxDevices": 0},
                          headers={"Authorization": f"Bearer {_admin_token(clock)}"})
    assert r.status_code == 200, r.text
    assert await stage.refused(urls["phone"]) == "session ended: no longer fits the policy"
    assert (await stage.fetch(urls["tv"])).status_code == 200
    r = await stage.c.put(f"/oxm/v1/streams/{video}/stopped", params={"device": "tv"}, headers=oxm_auth(clock, "u1"))
    assert r.status_code == 204
    assert await stage.refused(urls["tv"]) == "session ended"


def _admin_token(clock) -> str:
    from streamkeeper.oxm.tokens import mint

    from tests.oxm.conftest import ACME_KEY

    return mint(ACME_KEY, "boss", now=clock.now, ttl=3600, admin=True)


async def test_deleting_the_application_cuts_its_players_off(stage):
    r = await stage.admin("POST", "/applications", {"id": "kiosk", "tenant": "adobe", "name": "Kiosk"})
    assert r.status_code == 201, r.text
    await stage.grant(app="kiosk")
    sid = await stage.session("bob", app="kiosk")
    url = await stage.url("bob", sid, app="kiosk")
    assert (await stage.fetch(url)).status_code == 200
    assert (await stage.admin("DELETE", "/applications/kiosk")).status_code == 204
    assert await stage.refused(url) == "application deleted"


async def test_grants_are_checked_and_listed_as_the_console_edits_them(stage):
    for body, status in (({"application": APP, "video": stage.video, "source": "s"}, 400),
                         ({"video": stage.video}, 400),
                         ({"application": "nope", "video": stage.video}, 404),
                         ({"tenant": "adobe", "video": "no-such-video"}, 404),
                         ({"application": APP, "video": stage.video}, 200),  # granted already
                         ({"ownerKind": "tenant", "application": APP, "tenant": "acme", "assetKind": "video",
                           "video": stage.video, "source": ""}, 201)):
        r = await stage.admin("POST", "/playback-grants", body)
        assert r.status_code == status, (body, r.text)
    grant = r.json()
    assert grant == {"id": f"tenant:acme@video:{stage.video}", "ownerKind": "tenant", "tenant": "acme",
                     "assetKind": "video", "video": stage.video}
    assert (await stage.admin("GET", f"/playback-grants/{grant['id']}")).json() == grant
    assert (await stage.admin("GET", "/playback-grants/tenant:acme@video:other")).status_code == 404
    assert (await stage.admin("GET", "/playback-grants/not-an-id")).status_code == 404
    r = await stage.admin("PUT", f"/playback-grants/{grant['id']}", {"tenant": "adobe", "video": stage.video})
    assert r.status_code == 200 and r.json()["tenant"] == "adobe"
    assert (await stage.admin("GET", f"/playback-grants/{grant['id']}")).status_code == 404
    options = (await stage.admin("GET", "/playback-applications")).json()
    assert {"id": APP, "fetchHeartbeat": True} in options
    assert (await stage.admin("GET", "/playback-applications/nope")).status_code == 404
    r = await stage.c.get("/admin/v1/playback-grants")  # the admin's console cookie works too
    assert r.status_code == 200
    stage.c.cookies.clear()
    assert (await stage.c.get("/admin/v1/playback-grants")).status_code == 401
