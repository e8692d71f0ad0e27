"""Bad request bodies of `/apis`, over HTTP: each gets 400
`010001 InputValidation` in the HMP error body (never a 500, never the framework's 422), and a
good body on an unknown object gets as far as the lookup (404)."""

from __future__ import annotations

import asyncio

import pytest

from streamkeeper.media.testsignal import make_clip
from tests.hmp.conftest import assert_error

NOT_JSON = [b"{not json", b"", b"[1, 2]", b'"a string"', b"3", b"null"]

OPTIONAL_BODY = {"/apis/sessions/no-such/recordings", "/apis/recordings/no-such/hotmarks",
                 "/apis/assets/no-such/streams", "/apis/streams/no-such"}
# (method, path, bodies that are refused, a body that is accepted)
ENDPOINTS = [
    ("POST", "/apis/sessions/no-such/recordings",
     [{"recorders": "all"}, {"recorders": [3]}, {"recorders": [{"source": 1}]}, {"recorders": [{}]}],
     {"recorders": [{"source": "cam"}], "other": "ignored"}),
    ("PUT", "/apis/recordings/no-such",
     [{}, {"state": "STOPPED"}, {"state": 1}, {"state": None}],
     {"state": "PAUSED"}),
    ("POST", "/apis/recordings/no-such/hotmarks",
     [{"timestamp": "1000"}, {"timestamp": -1}, {"timestamp": True}, {"timestamp": [1]}],
     {"timestamp": 1000, "title": "goal"}),
    ("PUT", "/apis/assets/no-such/thumbnail",
     [{}, {"timestamp": 0}, {"trackId": 1}, {"timestamp": 0, "trackId": 1.5}, {"timestamp": -5, "trackId": 1},
      {"timestamp": "0", "trackId": 1}, {"data": [1]}, {"data": {"timestamp": 0}}],
     {"data": {"timestamp": 2000, "trackId": 1}}),
    ("POST", "/apis/assets/no-such/streams",
     [{"destinations": []},
      {"destinations": "all"}, {"destinations": [{"trackId": 1}]},
      {"destinations": [{"trackId": "1", "address": "239.1.1.1", "port": 5000}]},
      {"address": "239.1.1.1", "port": 5000, "ttl": 300}, {"address": "239.1.1.1", "port": 5000, "ttl": False},
      {"address": "239.1.1.1", "port": 5000, "state": "stopped"}],
     {"address": "239.1.1.1", "port": 5000, "ttl": 4, "state": "paused"}),
    ("POST", "/apis/assets/no-such/streams", [{"destinations": [{"trackId": 1, "address": "x", "port": 1}]}],
     {"address": "ignored", "port": "ignored", "destinations": [{"trackId": 1, "address": "239.1.1.1", "port": 5000}]}),
    ("PUT", "/apis/streams/no-such", [{"state": "stopped"}, {"state": 2}], {"state": "paused"}),
    ("PUT", "/apis/sources/no-such",
     [{"port": "5000"}, {"name": 3}, {"multicast": 1}, {"latency": 1.5}, {"passphrase": ["x"]}],
     {"name": "cam", "unknown": True}),
    ("PUT", "/apis/sessions/no-such", [{"title": None}, {"title": 5}, {"active": "yes"}, {"description": 1}],
     {"title": "Studio", "description": None}),
    ("POST", "/apis/sessions/no-such/sources", [{}, {"sourceId": 5}, {"sourceId": None}], {"sourceId": "cam"}),
    ("PUT", "/apis/assets/no-such", [{"title": None}, {"title": 1}, {"description": 5}], {"title": "Match"}),
    ("POST", "/apis/assets/no-such/hotmarks", [{"timestamp": "1"}, {"timestamp": None}, {"title": 5}],
     {"timestamp": 0, "title": "kick-off"}),
    ("PUT", "/apis/assets/no-such/hotmarks/no-such", [{"timestamp": None}, {"description": 2}], {"title": "goal"}),
    ("POST", "/apis/sessions/no-such/events",
     [{"startTime": "1"}, {"startTime": True}, {"typeData": []}, {"parameters": 1}, {"title": 2}],
     {"type": "one-time", "command": "record", "startTime": 10, "duration": 5}),
    ("PUT", "/apis/sources/no-such/metadata", [{"name": "x"}, [1], ["x"]], []),
    ("POST", "/apis/streams/no-such/seek",
     [{}, {"time": -1}, {"time": "10"}, {"time": True}, {"time": 2**31}, {"time": None}],
     {"time": 12.5}),
]


@pytest.mark.parametrize(("method", "path", "refused", "accepted"), ENDPOINTS, ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS])
async def test_bad_bodies_get_the_hmp_input_validation_error(hmp, method, path, refused, accepted):
    c = hmp.admin
    for body in refused:
        r = await c.request(method, path, json=body)
        assert_error(r, 400, "010001", "InputValidation")
    for raw in NOT_JSON:
        if raw in (b"", b"null") and path in OPTIONAL_BODY:
            continue  # no body at all is allowed there: the defaults apply
        r = await c.request(method, path, content=raw, headers={"content-type": "application/json"})
        assert_error(r, 400, "010001", "InputValidation")
    r = await c.request(method, path, json=accepted)
    assert r.status_code == 404, r.text
    assert r.json()["httpStatusCode"] == 404


async def test_one_destination_of_a_single_track_video_is_checked_when_it_is_used(hmp, tmp_path):
    c = hmp.admin
    clip = make_clip(tmp_path / "clip.ts", seconds=1)
    r = await c.post("/apis/assets/import", content=clip.read_bytes(), headers={"content-type": "video/mp2t"})
    assert r.status_code == 201, r.text
    video = r.json()["data"]
    for _ in range(200):
        if not (await c.get(f"/apis/assets/{video['id']}")).json()["data"]["importing"]:
            break
        await asyncio.sleep(0.05)
    streams = f"/apis/assets/{video['id']}/streams"
    for body in ({}, {"address": "239.1.1.1"}, {"port": 5000}, {"address": "239.1.1.1", "port": "5000"},
                 {"address": "nowhere", "port": 5000}, {"address": "239.1.1.1", "port": 0},
                 {"address": 1, "port": 5000}, {"address": "239.1.1.1", "port": True}):
        body_error = assert_error(await c.post(streams, json=body), 400, "010001", "InputValidation")
        assert "address" in body_error["message"] or "port" in body_error["message"]
