"""`/apis/sessions`: CRUD, hidden sessions, sources with indexes, metadata, shares, public share, events."""

from __future__ import annotations

from tests.hmp.conftest import assert_error

UDP = {"name": "cam", "type": "UDP", "host": "239.1.1.1", "port": 4900, "multicast": True}


async def new_source(client, port: int) -> str:
    r = await client.post("/apis/sources", json={**UDP, "port": port})
    assert r.status_code == 201, r.text
    return r.json()["data"]["id"]


async def test_session_lifecycle_and_sources(hmp, clock):
    r = await hmp.admin.post("/apis/sessions", json={"title": "InfoDev", "description": "UDP", "syncrecord": True})
    assert r.status_code == 201
    s = r.json()["data"]
    assert s == {"id": s["id"], "title": "InfoDev", "description": "UDP", "ctime": int(clock.now),
                 "mtime": int(clock.now), "duration": 0, "active": False, "syncrecord": True, "movieTrackCount": 0,
                 "sources": [], "recording": False}
    sid = s["id"]
    base = f"/apis/sessions/{sid}"
    assert_error(await hmp.admin.get(f"{base}/sources"), 404, "040012", "NoResults")
    a, b, c = [await new_source(hmp.admin, p) for p in (4900, 4901, 4902)]
    for i, src in enumerate((a, b, c)):
        r = await hmp.admin.post(f"{base}/sources", json={"sourceId": src})
        assert r.status_code == 201 and r.json()["data"] == {"sourceId": src, "index": i}
    assert_error(await hmp.admin.post(f"{base}/sources", json={"sourceId": b}), 409, "060008",
                 "SessionSourceAlreadyExists")
    assert_error(await hmp.admin.post(f"{base}/sources", json={"sourceId": "nope"}), 404, "040009", "SourceNotFound")
    assert_error(await hmp.admin.post(f"{base}/sources", json={}), 400, "010001", "InputValidation")
    assert (await hmp.admin.delete(f"{base}/sources/{b}")).status_code == 200
    assert_error(await hmp.admin.delete(f"{base}/sources/{b}"), 404, "040015", "TrackNotFound")
    assert_error(await hmp.admin.delete(f"{base}/sources/nope"), 404, "040009", "SourceNotFound")
    d = await new_source(hmp.admin, 4903)
    assert (await hmp.admin.post(f"{base}/sources", json={"sourceId": d})).json()["data"]["index"] == 3
    listed = (await hmp.admin.get(f"{base}/sources")).json()
    assert listed["data"] == [{"index": 0, "sourceId": a}, {"index": 2, "sourceId": c}, {"index": 3, "sourceId": d}]
    got = (await hmp.admin.get(base)).json()["data"]
    assert got["sources"] == [a, c, d] and got["movieTrackCount"] == 3

    clock.advance(5)
    r = await hmp.admin.put(base, json={"title": "Renamed", "active": True})
    assert r.status_code == 200 and r.json()["data"]["title"] == "Renamed" and r.json()["data"]["active"] is True
    assert r.json()["data"]["description"] == "UDP" and r.json()["data"]["mtime"] == int(clock.now)
    for bad in ({"title": ""}, {"title": 3}, {"active": "yes"}, {"id": "other"}, ["x"]):
        assert_error(await hmp.admin.put(base, json=bad), 400, "010001", "InputValidation")
    for bad in ({}, {"description": "no title"}, {"title": "x", "syncrecord": 1}, {"title": "x", "id": "mine"}):
        assert_error(await hmp.admin.post("/apis/sessions", json=bad), 400, "010001", "InputValidation")

    assert (await hmp.admin.delete(f"/apis/sources/{c}")).status_code == 200
    assert (await hmp.admin.get(base)).json()["data"]["sources"] == [a, d]
    assert (await hmp.admin.delete(base)).status_code == 200
    for method in ("GET", "DELETE"):
        assert_error(await hmp.admin.request(method, base), 404, "040006", "SessionNotFound")
    assert_error(await hmp.admin.put(base, json={"title": "x"}), 404, "040006", "SessionNotFound")
    assert_error(await hmp.admin.get(f"{base}/sources"), 404, "040006", "SessionNotFound")
    assert_error(await hmp.admin.get("/apis/sessions"), 404, "040012", "NoResults")


async def test_hidden_sessions_are_seen_by_their_owner_only(hmp):
    creator = await hmp.user("creator", roles=("content-creator",))
    watcher = await hmp.user("watcher", roles=("viewer",))
    stranger = await hmp.user("stranger", roles=("viewer",))
    sid = (await creator.post("/apis/sessions", json={"title": "Secret"})).json()["data"]["id"]
    await creator.post(f"/apis/sessions/{sid}/shares", json={"shareType": "USER", "name": "watcher",
                                                             "permission": "WATCH"})
    assert (await creator.get(f"/apis/sessions/{sid}")).status_code == 200
    assert_error(await watcher.get(f"/apis/sessions/{sid}"), 403, "040006", "SessionHidden")
    assert_error(await watcher.get("/apis/sessions"), 404, "040012", "NoResults")
    assert_error(await stranger.get(f"/apis/sessions/{sid}"), 404, "040006", "SessionNotFound")
    assert (await hmp.admin.get(f"/apis/sessions/{sid}")).status_code == 200
    await creator.put(f"/apis/sessions/{sid}", json={"active": True})
    assert (await watcher.get(f"/apis/sessions/{sid}")).status_code == 200
    assert [s["id"] for s in (await watcher.get("/apis/sessions")).json()["data"]] == [sid]
    assert_error(await stranger.get(f"/apis/sessions/{sid}"), 404, "040006", "SessionNotFound")
    assert_error(await watcher.put(f"/apis/sessions/{sid}", json={"title": "x"}), 403, "030001", "Forbidden")


async def test_session_metadata_with_categories(hmp):
    await hmp.manage("POST", "/categories", {"label": "Locations", "values": ["Montreal", "Chicago"],
                                             "multipleValues": True, "allowCustomValues": True})
    await hmp.manage("POST", "/categories", {"label": "Sport", "values": ["Hockey"], "multipleValues": False,
                                             "allowCustomValues": False})
    sid = (await hmp.admin.post("/apis/sessions", json={"title": "Game"})).json()["data"]["id"]
    base = f"/apis/sessions/{sid}/metadata"
    entries = [{"name": "calypso:category:locations", "field": [{"fieldType": "STRING", "valueString": "Montreal"},
                                                                {"fieldType": "STRING", "valueString": "Austin"}]},
               {"name": "note", "field": [{"fieldType": "STRING", "valueString": "x"}]}]
    r = await hmp.admin.put(base, json=entries)
    assert r.status_code == 200
    names = [e["name"] for e in r.json()["data"]]
    assert names == ["calypso:creator", "calypso:creatorDisplayName", "calypso:category:Locations", "note"]
    cats = (await hmp.admin.get("/apis/categories")).json()["data"]
    assert cats[0]["label"] == "Locations" and cats[0]["customValues"] == ["Austin"]
    r = await hmp.admin.put(base, json=[{"name": "note", "field": []}])
    assert [e["name"] for e in r.json()["data"]][2:] == ["note"]  # full replacement
    for bad in ([{"name": "calypso:category:Sport", "field": [{"fieldType": "STRING", "valueString": "Chess"}]}],
                [{"name": "calypso:category:Sport", "field": [{"fieldType": "STRING", "valueString": "Hockey"}] * 2}],
                [{"name": "calypso:category:Unknown", "field": [{"fieldType": "STRING", "valueString": "x"}]}],
                [{"name": "calypso:category:Sport", "field": [{"fieldType": "INT32", "valueInt32": 1}]}]):
        assert_error(await hmp.admin.put(base, json=bad), 400, "010001", "InputValidation")
    assert (await hmp.admin.delete(base)).status_code == 200
    assert len((await hmp.admin.get(base)).json()["data"]) == 2
    assert_error(await hmp.admin.get("/apis/sessions/nope/metadata"), 404, "040006", "SessionNotFound")


async def test_session_shares_cannot_share_and_public_share(hmp):
    creator = await hmp.user("creator", roles=("content-creator",))
    await hmp.add_user("editor", roles=("content-creator",))
    editor = await hmp.login("editor")
    await hmp.add_user("viewer", roles=("viewer",))
    sid = (await creator.post("/apis/sessions", json={"title": "Shared", "active": True})).json()["data"]["id"]
    base = f"/apis/sessions/{sid}"
    r = await creator.get(f"{base}/shares")
    assert [(s["name"], s["permission"]) for s in r.json()["data"]] == [("creator", "OWN")]
    r = await creator.post(f"{base}/shares", json={"shareType": "USER", "name": "editor", "permission": "EDIT"})
    assert r.status_code == 201
    # EDIT holders may not share at all; a custom level that may share WATCH cannot hand out OWN.
    assert_error(await editor.post(f"{base}/shares", json={"shareType": "USER", "name": "viewer",
                                                           "permission": "WATCH"}), 403, "030003", "CannotShare")
    custom = (await hmp.manage("POST", "/share-permissions", {"resource": "sessions", "name": "Delegate",
                                                               "actions": ["WATCH", "SHARE"]})).json()
    await creator.put(f"{base}/shares/{r.json()['data']['id']}", json={"permission": custom["id"]})
    r = await editor.post(f"{base}/shares", json={"shareType": "USER", "name": "viewer", "permission": "WATCH"})
    assert r.status_code == 201, r.text
    assert_error(await editor.post(f"{base}/shares", json={"shareType": "USER", "name": "viewer",
                                                           "permission": "OWN"}), 403, "030003", "CannotShare")
    assert_error(await editor.put(f"{base}/shares/{r.json()['data']['id']}", json={"permission": "EDIT"}),
                 403, "030003", "CannotShare")

    # The document's own example: a WATCH holder sharing at OWN.
    watch_share = await creator.post(f"{base}/shares", json={"shareType": "USER", "name": "viewer",
                                                             "permission": "WATCH"})
    assert watch_share.status_code == 201, watch_share.text
    viewer = await hmp.login("viewer")
    assert_error(await viewer.post(f"{base}/shares", json={"shareType": "USER", "name": "viewer", "permission": "OWN"}),
                 403, "030003", "CannotShare")
    assert_error(await viewer.delete(f"{base}/shares/{watch_share.json()['data']['id']}"), 403, "030003",
                 "CannotShare")
    assert_error(await viewer.post("/apis/sessions/nope/shares", json={"shareType": "USER", "name": "viewer",
                                                                       "permission": "OWN"}),
                 404, "040006", "SessionNotFound")

    assert_error(await creator.get(f"{base}/publicshare"), 404, "040025", "SharePermissionNotFound")
    assert_error(await creator.delete(f"{base}/publicshare"), 404, "040025", "SharePermissionNotFound")
    assert_error(await creator.post(f"{base}/publicshare", json={"permission": "EDIT"}), 403, "030003", "CannotShare")
    assert_error(await creator.post(f"{base}/publicshare", json={"permission": "SUPER"}), 404, "040025",
                 "SharePermissionNotFound")
    assert_error(await creator.post(f"{base}/publicshare", json={}), 400, "010001", "InputValidation")
    r = await creator.post(f"{base}/publicshare", json={"id": sid, "resource": "sessions", "permission": "WATCH"})
    assert r.status_code == 201 and r.json() == {"data": {"permission": "WATCH"}}
    assert (await creator.get(f"{base}/publicshare")).json() == {"data": {"permission": "WATCH"}}
    outsider = await hmp.user("outsider", roles=("viewer",))
    assert (await outsider.get(base)).status_code == 200  # public: every user may watch
    assert (await creator.delete(f"{base}/publicshare")).status_code == 200
    assert_error(await outsider.get(base), 404, "040006", "SessionNotFound")


async def test_session_events(hmp):
    sid = (await hmp.admin.post("/apis/sessions", json={"title": "Weekly show"})).json()["data"]["id"]
    base = f"/apis/sessions/{sid}/events"
    assert_error(await hmp.admin.get(base), 404, "040012", "NoResults")
    assert_error(await hmp.admin.get("/apis/events"), 404, "040012", "NoResults")
    weekly = {"startTime": 1445452200, "duration": 1800, "type": "weekly-recurring",
              "typeData": {"days": ["SAT", "MON", "WED"]}, "command": "set-live", "parameters": {"record": True}}
    r = await hmp.admin.post(base, json=weekly)
    assert r.status_code == 201
    ev = r.json()["data"]
    assert ev == {"id": ev["id"], "title": "Weekly show", "sessionId": sid, "startTime": 1445452200,
                  "duration": 1800, "type": "weekly-recurring", "typeData": {"days": ["MON", "WED", "SAT"]},
                  "command": "set-live", "parameters": {"record": True}}
    once = {"title": "Special", "startTime": 1445456820, "duration": 600, "type": "one-time", "command": "record"}
    second = (await hmp.admin.post(base, json=once)).json()["data"]
    assert "typeData" not in second
    assert [e["id"] for e in (await hmp.admin.get(base)).json()["data"]] == [ev["id"], second["id"]]
    assert (await hmp.admin.get(f"{base}/{ev['id']}")).json()["data"] == ev
    assert [e["title"] for e in (await hmp.admin.get("/apis/events", params={"q": "spec"})).json()["data"]] == [
        "Special"]
    r = await hmp.admin.put(f"{base}/{ev['id']}", json={"typeData": {"days": ["SUN"]}, "parameters": {"record": False}})
    assert r.status_code == 200 and r.json()["data"]["typeData"] == {"days": ["SUN"]}
    for bad in ({**weekly, "type": "daily"}, {**weekly, "command": "explode"}, {**weekly, "typeData": {"days": []}},
                {**weekly, "typeData": {"days": ["MON", "MON"]}}, {**weekly, "typeData": None},
                {**weekly, "duration": 7 * 86400}, {**weekly, "parameters": {}}, {**weekly, "startTime": -1},
                {**weekly, "startTime": "soon"}, {**once, "duration": None}, {**once, "typeData": {"days": ["MON"]}},
                {**weekly, "sessionId": "other"}, {**weekly, "id": "mine"}, {k: v for k, v in weekly.items()
                                                                             if k != "startTime"}):
        assert_error(await hmp.admin.post(base, json=bad), 400, "010001", "InputValidation")
    assert_error(await hmp.admin.put(f"{base}/{ev['id']}", json={"type": "one-time", "duration": 0}),
                 400, "010001", "InputValidation")
    assert_error(await hmp.admin.get(f"{base}/nope"), 404, "040012", "NoResults")
    assert_error(await hmp.admin.put(f"{base}/nope", json=weekly), 404, "040012", "NoResults")
    assert_error(await hmp.admin.post("/apis/sessions/nope/events", json=weekly), 404, "040006", "SessionNotFound")
    assert (await hmp.admin.delete(f"{base}/{second['id']}")).status_code == 200
    assert len((await hmp.admin.get("/apis/events")).json()["data"]) == 1
