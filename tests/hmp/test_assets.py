"""`/apis/assets`: videos listed, searched, filtered, sorted and paged; edits, deletion rules, metadata,
HotMarks, related videos, shares; plus categories, users, groups and the system version."""

from __future__ import annotations

from sqlalchemy import select

from streamkeeper.hmp.accounts.models import UserRow
from streamkeeper.hmp.accounts.service import identity
from streamkeeper.hmp.assets import service as assets
from tests.hmp.conftest import assert_error


async def add_video(hmp, title: str, *, owner: str = "admin", duration: float = 60.0, state: str = "ready",
                    categories: dict | None = None, description: str = "") -> str:
    """A finished recording, registered the way the media engine does it."""
    ctx = hmp.app.state.ctx
    async with ctx.sessions() as db:
        user = await db.scalar(select(UserRow).where(UserRow.username == owner))
        who = (await identity(db, user)).principal
        meta = [{"name": f"calypso:category:{k}", "field": [{"fieldType": "STRING", "valueString": v} for v in vs]}
                for k, vs in (categories or {}).items()]
        row = await assets.create(db, title=title, description=description, now=ctx.clock(), creator=who,
                                  state=state, duration=duration, track_count=1, metadata=meta)
        return row.id


async def test_video_listing_search_filter_sort_and_paging(hmp, clock):
    await hmp.manage("POST", "/categories", {"label": "Doctor", "values": ["John", "Bob"]})
    await hmp.manage("POST", "/categories", {"label": "Patient ID", "values": ["123", "456"]})
    ids = {}
    for i, (title, cats) in enumerate([("Bravo", {"Doctor": ["john"], "Patient ID": ["123"]}),
                                       ("alpha", {"Doctor": ["Bob"]}),
                                       ("Charlie", {}),
                                       ("delta", {"Patient ID": ["456"]})]):
        clock.advance(1)
        ids[title] = await add_video(hmp, title, duration=10.0 * (4 - i), categories=cats,
                                     description="surgery" if i == 2 else "")
    r = await hmp.admin.get("/apis/assets")
    assert r.status_code == 200
    first = r.json()["data"][0]
    assert first == {"id": ids["Bravo"], "title": "Bravo", "description": "", "active": False,
                     "ctime": first["ctime"], "mtime": first["ctime"], "duration": 40.0, "recording": False,
                     "trimming": False, "importing": False, "movieTrackCount": 1}

    def titles(resp):
        assert resp.status_code == 200, resp.text
        return [v["title"] for v in resp.json()["data"]]

    get = hmp.admin.get
    assert titles(await get("/apis/assets", params={"sort": "title"})) == ["alpha", "Bravo", "Charlie", "delta"]
    assert titles(await get("/apis/assets", params={"sort": "title", "asc": "-1"})) == [
        "delta", "Charlie", "Bravo", "alpha"]
    assert titles(await get("/apis/assets", params={"sort": "duration"})) == ["delta", "Charlie", "alpha", "Bravo"]
    assert titles(await get("/apis/assets", params={"q": '"SURGERY"'})) == ["Charlie"]
    assert titles(await get("/apis/assets", params={"q": "admin"})) == ["Bravo", "alpha", "Charlie", "delta"]
    flt = 'category::"Patient ID" IN ("123", "456") & category::"Doctor" IN ("JOHN", "bob")'
    assert titles(await get("/apis/assets", params={"filter": flt})) == ["Bravo"]
    # the document's URL-encoded example: unquoted values and label
    encoded = ("category%3A%3A%22Patient+ID%22+IN+%28123%2C+456%2C+%22First%22%2C+%22Second%22%29+%26+"
               "category%3A%3ADoctor+IN+%28%22john%22%2C+%22Bob%22%29")
    assert titles(await get(f"/apis/assets?filter={encoded}")) == ["Bravo"]
    assert titles(await get("/apis/assets", params={"filter": 'category::"Doctor" NOT IN ("")'})) == [
        "Charlie", "delta"]
    assert titles(await get("/apis/assets", params={"filter": 'category::"Doctor" IN ("")'})) == ["Bravo", "alpha"]
    assert_error(await get("/apis/assets", params={"filter": 'category::"Doctor" IN ("John"'}), 400, "010002",
                 "InvalidFilter")
    assert_error(await get("/apis/assets", params={"filter": 'category::"Doctor" IN ("Nobody")'}), 404, "040012",
                 "NoResults")
    for bad in ({"sort": "color"}, {"asc": "0"}, {"page": "0"}, {"pageSize": "x"}, {"pageSize": "100000"}):
        assert_error(await get("/apis/assets", params=bad), 400, "010001", "InputValidation")
    p1 = (await get("/apis/assets", params={"sort": "title", "pageSize": "3"})).json()
    assert [v["title"] for v in p1["data"]] == ["alpha", "Bravo", "Charlie"]
    assert p1["paging"]["results"] == 4 and p1["paging"]["pageSize"] == 3
    nxt = p1["paging"]["next"]
    assert "page=2" in nxt and nxt.startswith("http://test/apis/assets?")
    p2 = (await get(nxt)).json()
    assert [v["title"] for v in p2["data"]] == ["delta"] and "next" not in p2["paging"]
    assert_error(await get("/apis/assets", params={"page": "3", "pageSize": "3"}), 404, "040012", "NoResults")


async def test_video_details_edit_delete_and_busy_states(hmp, clock):
    vid = await add_video(hmp, "Lecture")
    base = f"/apis/assets/{vid}"
    assert (await hmp.admin.get(base)).json()["data"]["title"] == "Lecture"
    clock.advance(3)
    r = await hmp.admin.put(base, json={"title": "Lecture 1", "description": "API Test"})
    assert r.status_code == 200 and r.json()["data"]["description"] == "API Test"
    assert r.json()["data"]["mtime"] == int(clock.now)
    for bad in ({"title": ""}, {"title": None}, {"description": 5}, {"id": "x"}, "text"):
        assert_error(await hmp.admin.put(base, json=bad), 400, "010001", "InputValidation")
    for state, code, name in (("recording", "060003", "RecordingInProgress"),
                              ("trimming", "060005", "RecordingBeingTrimmed"),
                              ("importing", "060006", "RecordingBeingImported"),
                              ("exporting", "060007", "RecordingBeingExported")):
        busy = await add_video(hmp, state, state=state)
        assert_error(await hmp.admin.delete(f"/apis/assets/{busy}"), 409, code, name)
    assert (await hmp.admin.delete(base)).status_code == 200
    for method in ("GET", "DELETE"):
        assert_error(await hmp.admin.request(method, base), 404, "040002", "AssetNotFound")
    assert_error(await hmp.admin.put(base, json={"title": "x"}), 404, "040002", "AssetNotFound")
    assert await assets.video_info(hmp.app.state.ctx.sessions, vid) is None


async def test_hotmarks(hmp):
    vid = await add_video(hmp, "Match", duration=300.0)
    base = f"/apis/assets/{vid}/hotmarks"
    assert_error(await hmp.admin.get(base), 404, "040012", "NoResults")
    r = await hmp.admin.post(base, json={"title": "Goal", "description": "first", "timestamp": 100400})
    assert r.status_code == 201
    mark = r.json()["data"]
    assert mark == {"id": mark["id"], "title": "Goal", "description": "first", "timestamp": 100000,
                    "username": "admin", "userDisplayName": "Administrator"}
    assert_error(await hmp.admin.post(base, json={"title": "Same second", "timestamp": 100999}), 409, "060004",
                 "HotmarkAlreadyExists")
    r = await hmp.admin.put(base, json={"title": "Save", "timestamp": 20000})  # the document's request line
    assert r.status_code == 201, r.text
    other = r.json()["data"]
    assert [m["title"] for m in (await hmp.admin.get(base)).json()["data"]] == ["Save", "Goal"]
    assert (await hmp.admin.get(f"{base}/{mark['id']}")).json()["data"] == mark
    assert_error(await hmp.admin.put(f"{base}/{other['id']}", json={"timestamp": 100000}), 409, "060004",
                 "HotmarkAlreadyExists")
    r = await hmp.admin.put(f"{base}/{other['id']}", json={"title": "Big save", "timestamp": 120000})
    assert r.status_code == 200 and r.json()["data"]["timestamp"] == 120000
    assert [v["title"] for v in (await hmp.admin.get("/apis/assets", params={"q": "big SAVE"})).json()["data"]] == [
        "Match"]
    for bad in ({"timestamp": 1000}, {"title": "x"}, {"title": "x", "timestamp": -1},
                {"title": "x", "timestamp": "soon"}, {"title": "x", "timestamp": 301000}, {"title": 4, "timestamp": 1}):
        assert_error(await hmp.admin.post(base, json=bad), 400, "010001", "InputValidation")
    assert_error(await hmp.admin.get(f"{base}/nope"), 404, "040010", "HotmarkNotFound")
    assert_error(await hmp.admin.put(f"{base}/nope", json={"title": "x"}), 404, "040010", "HotmarkNotFound")
    assert (await hmp.admin.delete(f"{base}/{mark['id']}")).status_code == 200
    assert_error(await hmp.admin.delete(f"{base}/{mark['id']}"), 404, "040010", "HotmarkNotFound")
    assert_error(await hmp.admin.get("/apis/assets/nope/hotmarks"), 404, "040002", "AssetNotFound")
    assert_error(await hmp.admin.post("/apis/assets/nope/hotmarks", json={"title": "x", "timestamp": 1}),
                 404, "040002", "AssetNotFound")


async def test_related_videos_metadata_shares_and_public_share(hmp, clock):
    await hmp.manage("POST", "/categories", {"label": "Sport", "values": ["Hockey", "Tennis"]})
    main = await add_video(hmp, "Main", categories={"Sport": ["Hockey", "Tennis"]})
    clock.advance(1)
    one = await add_video(hmp, "One match", categories={"Sport": ["hockey"]})
    clock.advance(1)
    two = await add_video(hmp, "Two matches", categories={"Sport": ["Hockey", "TENNIS"]})
    lonely = await add_video(hmp, "Unrelated")
    r = await hmp.admin.get(f"/apis/assets/{main}/related")
    assert [v["id"] for v in r.json()["data"]] == [two, one]
    assert_error(await hmp.admin.get(f"/apis/assets/{lonely}/related"), 404, "040012", "NoResults")
    assert_error(await hmp.admin.get("/apis/assets/nope/related"), 404, "040002", "AssetNotFound")

    info = await assets.video_info(hmp.app.state.ctx.sessions, main)
    assert info == {"id": main, "title": "Main", "description": "", "duration": 60.0,
                    "categories": {"Sport": ["Hockey", "Tennis"]}}

    meta = (await hmp.admin.get(f"/apis/assets/{main}/metadata")).json()["data"]
    assert meta[0]["name"] == "calypso:creator" and meta[2]["name"] == "calypso:category:Sport"
    r = await hmp.admin.put(f"/apis/assets/{main}/metadata", json=[])
    assert [e["name"] for e in r.json()["data"]] == ["calypso:creator", "calypso:creatorDisplayName"]
    assert_error(await hmp.admin.get("/apis/assets/nope/metadata"), 404, "040002", "AssetNotFound")

    viewer = await hmp.user("viewer", roles=("viewer",))
    assert_error(await viewer.get(f"/apis/assets/{main}"), 404, "040002", "AssetNotFound")
    r = await hmp.admin.post(f"/apis/assets/{main}/shares", json={"shareType": "USER", "name": "viewer",
                                                                  "permission": "WATCH"})
    assert r.status_code == 201
    assert (await viewer.get(f"/apis/assets/{main}")).status_code == 200
    assert [v["id"] for v in (await viewer.get("/apis/assets")).json()["data"]] == [main]
    assert_error(await viewer.delete(f"/apis/assets/{main}"), 403, "030001", "Forbidden")
    assert len((await hmp.admin.get(f"/apis/assets/{main}/shares")).json()["data"]) == 2
    r = await hmp.admin.post(f"/apis/assets/{one}/publicshare", json={"resource": "assets", "permission": "WATCH"})
    assert r.status_code == 201 and r.json()["data"] == {"permission": "WATCH"}
    assert (await viewer.get(f"/apis/assets/{one}")).status_code == 200
    assert_error(await viewer.get(f"/apis/assets/{one}/publicshare"), 403, "030001", "Forbidden")


async def test_session_assets(hmp):
    sid = (await hmp.admin.post("/apis/sessions", json={"title": "Rec"})).json()["data"]["id"]
    assert_error(await hmp.admin.get(f"/apis/sessions/{sid}/assets"), 404, "040012", "NoResults")
    ctx = hmp.app.state.ctx
    async with ctx.sessions() as db:
        row = await assets.create(db, title="Rec take 1", now=ctx.clock(), session_id=sid, state="ready",
                                  duration=5.0, track_count=1)
    assert [v["id"] for v in (await hmp.admin.get(f"/apis/sessions/{sid}/assets")).json()["data"]] == [row.id]
    meta = (await hmp.admin.get(f"/apis/assets/{row.id}/metadata")).json()["data"]
    assert meta == [{"name": "calypso:recorded_from_session", "field": [{"fieldType": "STRING", "valueString": sid}]}]
    assert_error(await hmp.admin.get("/apis/sessions/nope/assets"), 404, "040006", "SessionNotFound")


async def test_categories_users_groups_and_version(hmp):
    assert_error(await hmp.admin.get("/apis/categories"), 404, "040012", "NoResults")
    made = (await hmp.manage("POST", "/categories", {"label": "Locations", "values": ["Montreal"], "index": 2,
                                                     "group": "Teams", "multipleValues": True,
                                                     "allowCustomValues": False})).json()
    await hmp.manage("POST", "/categories", {"label": "Sports", "index": 1})
    r = await hmp.admin.get("/apis/categories")
    assert [c["label"] for c in r.json()["data"]] == ["Sports", "Locations"]
    one = (await hmp.admin.get(f"/apis/categories/{made['id']}")).json()["data"]
    assert one == {"id": made["id"], "label": "Locations", "values": ["Montreal"], "multipleValues": True,
                   "allowCustomValues": False, "customValues": [], "index": 2, "group": "Teams"}
    assert_error(await hmp.admin.get("/apis/categories/nope"), 404, "040007", "CategoryNotFound")
    assert (await hmp.manage("POST", "/categories", {"label": "Sports"})).status_code == 400

    await hmp.manage("POST", "/groups", {"groupname": "staff", "roles": ["viewer"]})
    await hmp.manage("POST", "/groups", {"groupname": "no-role"})
    await hmp.add_user("bsmith", roles=(), groups=("staff",))
    await hmp.add_user("idle", roles=())
    users = (await hmp.admin.get("/apis/users/enabled")).json()
    assert [u["username"] for u in users["data"]] == ["admin", "bsmith"]
    assert set(users["data"][1]) >= {"id", "username", "displayName", "email"}
    assert users["paging"] == {"results": 2, "pageSize": 15}
    groups = (await hmp.admin.get("/apis/groups/enabled")).json()["data"]
    assert [(g["groupname"], g["roles"]) for g in groups] == [("staff", ["viewer"])]
    r = await hmp.admin.get("/apis/system/version")
    assert r.status_code == 200 and set(r.json()["data"]) == {"version", "build"}
    assert_error(await hmp.new_client().get("/apis/system/version"), 401, "020001", "UserNotAuthorized")
