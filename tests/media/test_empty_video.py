"""A recording that never received a packet is still a video every call answers without a 5xx."""

from __future__ import annotations

from tests.hmp.conftest import assert_error
from tests.process import free_udp_port


async def test_a_video_with_nothing_recorded_answers_every_call_without_a_server_error(api):
    c = api.admin
    port = free_udp_port()
    r = await c.post("/apis/sources", json={"name": "silent", "type": "UDP", "host": "127.0.0.1",
                                            "port": port, "multicast": False})
    src = r.json()["data"]["id"]
    ses = (await c.post("/apis/sessions", json={"title": "silent", "active": True})).json()["data"]["id"]
    assert (await c.post(f"/apis/sessions/{ses}/sources", json={"sourceId": src})).status_code == 201
    rec = (await c.post(f"/apis/sessions/{ses}/recordings", json={})).json()["data"]["id"]
    assert (await c.delete(f"/apis/recordings/{rec}")).status_code == 200
    r = await c.get(f"/apis/assets/{rec}/download", params={"fileType": "mp4"})
    body = assert_error(r, 404, "040015", "TrackNotFound")
    assert "no audio or video" in body["message"] and "fileType=ts" in body["message"]
    assert (await c.get(f"/apis/assets/{rec}/download", params={"fileType": "ts"})).status_code == 200
    assert (await c.get(f"/apis/assets/{rec}/thumbnail")).status_code == 404
    r = await c.get(f"/apis/assets/{rec}/hls/index.m3u8", params={"trackId": 1})
    assert r.status_code == 200 and "#EXT-X-ENDLIST" in r.text
    assert (await c.get(f"/console/media/assets/{rec}/play.mp4")).status_code == 404
