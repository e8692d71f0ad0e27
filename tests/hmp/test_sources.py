"""`/apis/sources`: create/read/update/delete, validation of UDP and SRT parameters, metadata, shares."""

from __future__ import annotations

from tests.hmp.conftest import assert_error
from tests.process import free_udp_port

MULTICAST = {"name": "Multicast Source", "type": "UDP", "host": "239.35.126.101", "port": 4902, "multicast": True,
             "description": "lobby camera"}
SRT_LISTENER = {"name": "SRT in", "type": "SRT", "mode": "LISTENER", "port": 9000, "latency": 125,
                "passphrase": "passphrase-1"}


async def test_source_lifecycle(hmp, clock):
    created = await hmp.admin.post("/apis/sources", json=MULTICAST)
    assert created.status_code == 201
    src = created.json()["data"]
    assert src["name"] == "Multicast Source" and src["multicast"] is True and src["continuous"] is False
    assert src["active"] is False and src["bitrate"] == 0 and src["ctime"] == src["mtime"] == int(clock.now)
    sid = src["id"]
    assert (await hmp.admin.get(f"/apis/sources/{sid}")).json()["data"] == src

    clock.advance(1)
    srt = (await hmp.admin.post("/apis/sources", json=SRT_LISTENER)).json()["data"]
    assert srt["mode"] == "LISTENER" and srt["continuous"] is True and srt["host"] == "0.0.0.0"
    assert srt["latency"] == 125 and "multicast" not in srt

    listed = await hmp.admin.get("/apis/sources")
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["data"]] == [sid, srt["id"]]
    assert listed.json()["paging"] == {"results": 2, "pageSize": 15}
    assert [s["name"] for s in (await hmp.admin.get("/apis/sources", params={"q": '"LOBBY"'})).json()["data"]] == [
        "Multicast Source"]

    clock.advance(10)
    edited = await hmp.admin.put(f"/apis/sources/{sid}", json={"name": "Renamed", "description": "New"})
    assert edited.status_code == 200
    assert edited.json()["data"]["name"] == "Renamed" and edited.json()["data"]["host"] == "239.35.126.101"
    assert edited.json()["data"]["mtime"] == int(clock.now)

    meta = await hmp.admin.get(f"/apis/sources/{sid}/metadata")
    assert meta.json()["data"] == [
        {"name": "calypso:creator", "field": [{"fieldType": "STRING", "valueString": "admin"}]},
        {"name": "calypso:creatorDisplayName", "field": [{"fieldType": "STRING", "valueString": "Administrator"}]}]

    assert (await hmp.admin.delete(f"/apis/sources/{sid}")).status_code == 200
    assert_error(await hmp.admin.get(f"/apis/sources/{sid}"), 404, "040009", "SourceNotFound")
    assert_error(await hmp.admin.delete(f"/apis/sources/{sid}"), 404, "040009", "SourceNotFound")
    assert_error(await hmp.admin.put(f"/apis/sources/{sid}", json=MULTICAST), 404, "040009", "SourceNotFound")
    await hmp.admin.delete(f"/apis/sources/{srt['id']}")
    assert_error(await hmp.admin.get("/apis/sources"), 404, "040012", "NoResults")


INVALID = [
    ({}, "name"),
    ({**MULTICAST, "name": ""}, "name"),
    ({**MULTICAST, "name": 5}, "name"),
    ({**MULTICAST, "type": "RTP"}, "type"),
    ({**MULTICAST, "port": 0}, "port"),
    ({**MULTICAST, "port": 70000}, "port"),
    ({**MULTICAST, "port": "4902"}, "port"),
    ({**MULTICAST, "port": True}, "port"),
    ({k: v for k, v in MULTICAST.items() if k != "multicast"}, "multicast"),
    ({**MULTICAST, "host": "10.0.0.1"}, "multicast"),
    ({**MULTICAST, "host": None}, "multicast"),
    ({**MULTICAST, "multicast": False, "host": "camera.example"}, "unicast"),
    ({**MULTICAST, "host": "bad host!"}, "host"),
    ({**SRT_LISTENER, "mode": "PUSH"}, "mode"),
    ({k: v for k, v in SRT_LISTENER.items() if k != "mode"}, "mode"),
    ({**SRT_LISTENER, "mode": "CALLER"}, "host"),
    ({**SRT_LISTENER, "mode": "RENDEZVOUS"}, "host"),
    ({**SRT_LISTENER, "latency": 5}, "latency"),
    ({**SRT_LISTENER, "latency": "slow"}, "latency"),
    ({**SRT_LISTENER, "passphrase": "short"}, "passphrase"),
    ({**SRT_LISTENER, "multicast": True}, "multicast"),
    ({**MULTICAST, "id": "chosen"}, "id"),
    ([MULTICAST], "object"),
]


async def test_invalid_sources_are_input_validation(hmp):
    for body, problem in INVALID:
        error = assert_error(await hmp.admin.post("/apis/sources", json=body), 400, "010001", "InputValidation")
        assert problem in error["message"], (body, error)
    sid = (await hmp.admin.post("/apis/sources", json=MULTICAST)).json()["data"]["id"]
    for body in ({"name": ""}, {"port": 0}, {"type": "SRT"}, {"host": "10.0.0.1"}, {"multicast": "yes"}, []):
        assert_error(await hmp.admin.put(f"/apis/sources/{sid}", json=body), 400, "010001", "InputValidation")
    assert_error(await hmp.admin.put(f"/apis/sources/{sid}", json={"id": "other"}), 400, "010001", "InputValidation")
    assert_error(await hmp.admin.post("/apis/sources", content=b"name=x", headers={"content-type": "text/plain"}),
                 415, "100000", "UnsupportedMediaType")


async def test_valid_variants_and_port_conflicts(hmp):
    port = free_udp_port()
    for body in ({"name": "unicast", "type": "UDP", "port": port, "multicast": False},
                 {"name": "caller", "type": "SRT", "mode": "CALLER", "host": "encoder.example.com", "port": port},
                 {"name": "rdv", "type": "SRT", "mode": "RENDEZVOUS", "host": "10.1.1.1", "port": 5002}):
        assert (await hmp.admin.post("/apis/sources", json=body)).status_code == 201, body
    clash = {"name": "again", "type": "SRT", "mode": "LISTENER", "port": port}
    assert_error(await hmp.admin.post("/apis/sources", json=clash), 400, "010006", "AddressPortAlreadyInUse")


async def test_source_metadata_replace_and_delete(hmp):
    sid = (await hmp.admin.post("/apis/sources", json=MULTICAST)).json()["data"]["id"]
    entries = [{"name": "calypso:creator", "field": [{"fieldType": "STRING", "valueString": "someone-else"}]},
               {"name": "room", "field": [{"fieldType": "INT32", "valueInt32": -14},
                                          {"fieldType": "UINT32", "valueUInt32": 42}]}]
    r = await hmp.admin.put(f"/apis/sources/{sid}/metadata", json=entries)
    assert r.status_code == 200
    data = r.json()["data"]
    assert data[0] == {"name": "calypso:creator", "field": [{"fieldType": "STRING", "valueString": "admin"}]}
    assert data[2] == {"name": "room", "field": [{"fieldType": "INT32", "valueInt32": -14},
                                                 {"fieldType": "UINT32", "valueUint32": 42}]}
    for bad in ({"name": "x"}, [{"name": "x", "field": [{"fieldType": "INT32", "valueInt32": 2**31}]}],
                [{"name": "x", "field": [{"fieldType": "UINT32", "valueUint32": -1}]}],
                [{"name": "x", "field": [{"fieldType": "FLOAT", "valueString": "1"}]}],
                [{"name": "", "field": []}], [{"name": "x", "field": "y"}],
                [{"name": "x", "field": []}, {"name": "x", "field": []}]):
        assert_error(await hmp.admin.put(f"/apis/sources/{sid}/metadata", json=bad), 400, "010001", "InputValidation")
    assert (await hmp.admin.delete(f"/apis/sources/{sid}/metadata")).status_code == 200
    assert [e["name"] for e in (await hmp.admin.get(f"/apis/sources/{sid}/metadata")).json()["data"]] == [
        "calypso:creator", "calypso:creatorDisplayName"]
    for method in ("GET", "DELETE"):
        assert_error(await hmp.admin.request(method, "/apis/sources/nope/metadata"), 404, "040009", "SourceNotFound")
    assert_error(await hmp.admin.put("/apis/sources/nope/metadata", json=[]), 404, "040009", "SourceNotFound")


async def test_source_shares(hmp):
    sid = (await hmp.admin.post("/apis/sources", json=MULTICAST)).json()["data"]["id"]
    viewer = await hmp.add_user("viewer", roles=("content-creator",))
    await hmp.add_user("nobody", roles=())
    shares = await hmp.admin.get(f"/apis/sources/{sid}/shares")
    assert [(s["name"], s["permission"]) for s in shares.json()["data"]] == [("admin", "OWN")]
    r = await hmp.admin.post(f"/apis/sources/{sid}/shares", json={"shareType": "USER", "permission": "EDIT",
                                                                   "name": "viewer"})
    assert r.status_code == 201
    assert r.json()["data"] == {"id": viewer["id"], "shareType": "USER", "permission": "EDIT", "name": "viewer",
                                "email": None}
    one = await hmp.admin.get(f"/apis/sources/{sid}/shares/{viewer['id']}")
    assert one.json()["data"]["permission"] == "EDIT"
    r = await hmp.admin.put(f"/apis/sources/{sid}/shares/{viewer['id']}", json={"permission": "WATCH"})
    assert r.status_code == 200 and r.json()["data"]["permission"] == "WATCH"

    base = f"/apis/sources/{sid}/shares"
    assert_error(await hmp.admin.post(base, json={"shareType": "USER", "permission": "EDIT", "name": "ghost"}),
                 404, "040004", "UserNotFound")
    assert_error(await hmp.admin.post(base, json={"shareType": "GROUP", "permission": "EDIT", "name": "ghosts"}),
                 404, "040005", "GroupNotFound")
    assert_error(await hmp.admin.post(base, json={"shareType": "USER", "permission": "EDIT", "name": "nobody"}),
                 409, "060001", "UserHasNoRoles")
    await hmp.manage("POST", "/groups", {"groupname": "empty"})
    assert_error(await hmp.admin.post(base, json={"shareType": "GROUP", "permission": "EDIT", "name": "empty"}),
                 409, "060002", "GroupHasNoRoles")
    assert_error(await hmp.admin.post(base, json={"shareType": "USER", "permission": "BOSS", "name": "viewer"}),
                 404, "040025", "SharePermissionNotFound")
    assert_error(await hmp.admin.post(base, json={"shareType": "ROBOT", "permission": "EDIT", "name": "viewer"}),
                 400, "010001", "InputValidation")
    assert_error(await hmp.admin.post(base, json={"shareType": "USER", "permission": "EDIT"}),
                 400, "010001", "InputValidation")
    assert_error(await hmp.admin.post("/apis/sources/nope/shares",
                                      json={"shareType": "USER", "permission": "EDIT", "name": "viewer"}),
                 404, "040009", "SourceNotFound")
    assert_error(await hmp.admin.get(f"{base}/nope"), 404, "040021", "UserGroupNotFound")
    assert_error(await hmp.admin.put(f"{base}/nope", json={"permission": "EDIT"}), 404, "040021", "UserGroupNotFound")
    assert_error(await hmp.admin.put(f"{base}/{viewer['id']}", json={"permission": "EDIT", "shareType": "GROUP"}),
                 400, "010001", "InputValidation")
    assert (await hmp.admin.delete(f"{base}/{viewer['id']}")).status_code == 200
    assert_error(await hmp.admin.delete(f"{base}/{viewer['id']}"), 404, "040021", "UserGroupNotFound")
