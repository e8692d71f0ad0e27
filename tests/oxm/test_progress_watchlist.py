"""Progress, history and watchlists: written by `streaming`/`stopped`, read back in the
documented timestamp forms, private to their user (tenant admins excepted)."""

from __future__ import annotations

import re
import uuid

STREAMS = "/oxm/v1/streams"
TOWATCH = "/oxm/v1/towatch"
RFC3339_NS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


async def test_progress_written_by_streaming_and_read_back(oxm):
    assert (await oxm.streaming("ann", "movie-1", device="tv", progress=123)).status_code == 204
    r = await oxm.client.get(f"{STREAMS}/movie-1", headers=oxm.auth("ann"))
    assert r.status_code == 200
    assert r.json() == {"tenantId": "acme", "userId": "ann", "assetId": "movie-1", "progress": 123,
                        "timestamp": int(oxm.clock.now * 1000)}
    oxm.clock.advance(30.5)
    assert (await oxm.streaming("ann", "movie-1", device="tv", progress=150)).status_code == 204
    r = await oxm.client.get(f"{STREAMS}/movie-1", headers=oxm.auth("ann"))
    assert (r.json()["progress"], r.json()["timestamp"]) == (150, int(oxm.clock.now * 1000))
    # A streaming call without progress leaves it alone.
    assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 204
    assert (await oxm.client.get(f"{STREAMS}/movie-1", headers=oxm.auth("ann"))).json()["progress"] == 150


async def test_refused_stream_records_no_progress(oxm_lite):
    oxm = oxm_lite
    assert (await oxm.set_policy(1, 0, 0)).status_code == 200
    assert (await oxm.streaming("ann", "a", device="tv")).status_code == 204
    assert (await oxm.streaming("ann", "b", device="tv", progress=99)).status_code == 409
    assert (await oxm.client.get(f"{STREAMS}/b", headers=oxm.auth("ann"))).status_code == 404


async def test_history_newest_first_and_deleted_ones_gone(oxm):
    for asset, progress in (("a", 10), ("b", 20), ("c", 30)):
        assert (await oxm.streaming("ann", asset, device="tv", progress=progress)).status_code == 204
        oxm.clock.advance(1.25)
    assert (await oxm.client.put(f"{STREAMS}/a/stopped?device=tv&progress=11", headers=oxm.auth("ann"))).status_code == 204
    r = await oxm.client.get(f"{STREAMS}/history", headers=oxm.auth("ann"))
    assert r.status_code == 200
    history = r.json()
    assert [(h["assetId"], h["progress"]) for h in history] == [("a", 11), ("c", 30), ("b", 20)]
    assert all(h["tenantId"] == "acme" and h["userId"] == "ann" for h in history)
    assert all(RFC3339_NS.match(h["timestamp"]) for h in history)
    assert history[0]["timestamp"] == "2027-01-15T08:00:03.750000000Z"

    deleted = await oxm.client.delete(f"{STREAMS}/c", headers=oxm.auth("ann"))
    assert deleted.status_code == 204
    assert [h["assetId"] for h in (await oxm.client.get(f"{STREAMS}/history", headers=oxm.auth("ann"))).json()] == ["a", "b"]
    assert (await oxm.client.get(f"{STREAMS}/c", headers=oxm.auth("ann"))).status_code == 404
    again = await oxm.client.delete(f"{STREAMS}/c", headers=oxm.auth("ann"))
    assert (again.status_code, again.json()["code"]) == (404, 1040)


async def test_unknown_progress_is_404(oxm_lite):
    oxm = oxm_lite
    r = await oxm.client.get(f"{STREAMS}/never-watched", headers=oxm.auth("ann"))
    assert (r.status_code, r.json()["code"]) == (404, 1040)


async def test_another_users_progress_is_forbidden_and_never_leaked(oxm):
    assert (await oxm.streaming("ann", "secret-film", device="tv", progress=4242)).status_code == 204
    for asset in ("secret-film", "nothing-here"):
        r = await oxm.client.get(f"{STREAMS}/{asset}", params={"userId": "ann"}, headers=oxm.auth("eve"))
        assert r.status_code == 403
        assert r.json()["code"] == 1003
        assert "4242" not in r.text and "secret-film" not in r.text
    history = await oxm.client.get(f"{STREAMS}/history", params={"userId": "ann"}, headers=oxm.auth("eve"))
    assert (history.status_code, history.json()["code"]) == (403, 1003)
    assert "secret-film" not in history.text
    delete = await oxm.client.delete(f"{STREAMS}/secret-film", params={"userId": "ann"}, headers=oxm.auth("eve"))
    assert (delete.status_code, delete.json()["code"]) == (403, 1004)
    # Eve's own view never shows Ann's data either.
    assert (await oxm.client.get(f"{STREAMS}/history", headers=oxm.auth("eve"))).json() == []
    assert (await oxm.client.get(f"{STREAMS}/secret-film", headers=oxm.auth("eve"))).status_code == 404
    # The same user id in another tenant is someone else.
    assert (await oxm.client.get(f"{STREAMS}/secret-film", headers=oxm.auth("ann", "globex"))).status_code == 404
    # Ann's progress is intact.
    assert (await oxm.client.get(f"{STREAMS}/secret-film", headers=oxm.auth("ann"))).json()["progress"] == 4242


async def test_progress_of_a_renewal_refused_after_the_policy_tightened_is_kept(oxm_lite):
    oxm = oxm_lite
    for asset in ("a", "b"):
        assert (await oxm.streaming("ann", asset, device="tv", progress=10)).status_code == 204
        oxm.clock.advance(1)
    assert (await oxm.set_policy(1, 0, 0)).status_code == 200
    assert (await oxm.streaming("ann", "b", device="tv", progress=95)).status_code == 409
    r = await oxm.client.get(f"{STREAMS}/b", headers=oxm.auth("ann"))
    assert (r.status_code, r.json()["progress"]) == (200, 95)


async def test_user_id_is_honoured_for_admins_everywhere_it_is_accepted(oxm_lite):
    oxm = oxm_lite
    admin, eve = oxm.auth("support", admin=True), oxm.auth("eve")
    assert (await oxm.streaming("ann", "film", device="tv")).status_code == 204
    r = await oxm.client.get(f"{STREAMS}/counts", params={"userId": "ann"}, headers=admin)
    assert (r.status_code, r.json()) == (200, {"film": 1})
    assert (await oxm.client.get(f"{STREAMS}/counts", headers=admin)).json() == {}
    r = await oxm.client.get(f"{STREAMS}/counts", params={"userId": "ann"}, headers=eve)
    assert (r.status_code, r.json()["code"]) == (403, 1003)
    assert (await oxm.client.put(f"{TOWATCH}/m9", params={"userId": "ann"}, headers=admin)).status_code == 200
    assert (await oxm.client.get(TOWATCH, headers=oxm.auth("ann"))).json()["assetIDs"] == ["m9"]
    assert (await oxm.client.get(TOWATCH, headers=admin)).json()["assetIDs"] == []
    r = await oxm.client.put(f"{TOWATCH}/m8", params={"userId": "ann"}, headers=eve)
    assert (r.status_code, r.json()["code"]) == (403, 1004)
    assert (await oxm.client.get(TOWATCH, headers=oxm.auth("ann"))).json()["assetIDs"] == ["m9"]
    # one's own id is always fine
    assert (await oxm.client.put(f"{TOWATCH}/m7", params={"userId": "eve"}, headers=eve)).status_code == 200


async def test_tenant_admin_reads_and_resets_a_users_progress(oxm_lite):
    oxm = oxm_lite
    assert (await oxm.streaming("ann", "film", device="tv", progress=77)).status_code == 204
    admin = oxm.auth("support", admin=True)
    r = await oxm.client.get(f"{STREAMS}/film", params={"userId": "ann"}, headers=admin)
    assert (r.status_code, r.json()["userId"], r.json()["progress"]) == (200, "ann", 77)
    assert (await oxm.client.delete(f"{STREAMS}/film", params={"userId": "ann"}, headers=admin)).status_code == 204
    assert (await oxm.client.get(f"{STREAMS}/film", headers=oxm.auth("ann"))).status_code == 404


async def test_watchlist_add_list_remove(oxm):
    for asset in ("m1", "m2", "m1", "m3"):
        r = await oxm.client.put(f"{TOWATCH}/{asset}", headers=oxm.auth("ann"))
        assert r.status_code == 200
        oxm.clock.advance(1)
    r = await oxm.client.get(TOWATCH, headers=oxm.auth("ann"))
    assert r.status_code == 200
    body = r.json()
    uuid.UUID(body["requestID"])
    assert RFC3339_NS.match(body["timestamp"])
    assert body["assetIDs"] == ["m1", "m2", "m3"]
    assert body["count"] == {"returned": 3}
    assert set(body) == {"requestID", "timestamp", "assetIDs", "count"}

    assert (await oxm.client.delete(f"{TOWATCH}/m2", headers=oxm.auth("ann"))).status_code == 200
    again = await oxm.client.delete(f"{TOWATCH}/m2", headers=oxm.auth("ann"))
    assert (again.status_code, again.json()["code"]) == (404, 1040)
    assert (await oxm.client.get(TOWATCH, headers=oxm.auth("ann"))).json()["assetIDs"] == ["m1", "m3"]
    # Another user's list is their own.
    assert (await oxm.client.get(TOWATCH, headers=oxm.auth("bob"))).json()["assetIDs"] == []
    forbidden = await oxm.client.get(TOWATCH, params={"userId": "ann"}, headers=oxm.auth("bob"))
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, 1003)
    remove = await oxm.client.delete(f"{TOWATCH}/m1", params={"userId": "ann"}, headers=oxm.auth("bob"))
    assert (remove.status_code, remove.json()["code"]) == (403, 1004)


async def test_full_watchlist_reports_assets_the_library_does_not_have(oxm_lite):
    oxm = oxm_lite
    for asset in ("a1", "a2"):
        assert (await oxm.client.put(f"{TOWATCH}/{asset}", headers=oxm.auth("ann"))).status_code == 200
    r = await oxm.client.get(TOWATCH, params={"full": "true"}, headers=oxm.auth("ann"))
    assert r.status_code == 200
    body = r.json()
    assert body["assetIDs"] == []
    assert body["assetIDsNotFound"] == ["a1", "a2"]
    assert body["assets"] == []
    assert body["count"] == {"acquired": 0, "notFound": 2, "returned": 0, "unwanted": 0}


async def test_full_watchlist_describes_videos_of_the_media_library(oxm):
    from streamkeeper.hmp.assets.service import create

    genre = [{"name": "calypso:category:Genre", "field": [{"fieldType": "STRING", "valueString": "Drama"},
                                                            {"fieldType": "STRING", "valueString": "Mystery"}]}]
    async with oxm.running.app.state.ctx.sessions() as db:
        video = await create(db, title="Known film", description="A film", now=oxm.clock.now, state="ready",
                             duration=5400.0, metadata=genre)
    for asset in ("unknown", video.id):
        assert (await oxm.client.put(f"{TOWATCH}/{asset}", headers=oxm.auth("ann"))).status_code == 200
        oxm.clock.advance(1)
    body = (await oxm.client.get(TOWATCH, params={"full": "true"}, headers=oxm.auth("ann"))).json()
    assert body["assetIDs"] == [video.id]
    assert body["assetIDsNotFound"] == ["unknown"]
    assert body["assets"] == [{"id": video.id, "name": "Known film", "description": "A film", "duration": 5400.0,
                               "genres": ["Drama", "Mystery"], "categories": {"Genre": ["Drama", "Mystery"]}}]
    assert body["count"] == {"acquired": 1, "notFound": 1, "returned": 1, "unwanted": 0}


async def test_unknown_oxm_path_and_method_answer_in_oxm_form(oxm_lite):
    oxm = oxm_lite
    r = await oxm.client.get("/oxm/v1/nothing-here", headers=oxm.auth("ann"))
    assert (r.status_code, r.json()["code"]) == (404, 1040)
    r = await oxm.client.post(f"{TOWATCH}/x", headers=oxm.auth("ann"))
    assert r.status_code == 405
    assert r.json()["code"] == 1101
    bad = await oxm.client.get(TOWATCH, params={"full": "maybe"}, headers=oxm.auth("ann"))
    assert (bad.status_code, bad.json()["code"]) == (400, 1100)


async def test_control_characters_in_ids_are_400_on_every_database(oxm):
    for method, path in (("GET", f"{STREAMS}/a%00b"), ("DELETE", f"{STREAMS}/a%00b"),
                         ("PUT", f"{STREAMS}/a%00b/streaming"), ("PUT", f"{STREAMS}/a%01b/stopped"),
                         ("PUT", f"{TOWATCH}/a%00b"), ("DELETE", f"{TOWATCH}/a%00b"),
                         ("PUT", f"{STREAMS}/a/streaming?device=t%00v"), ("GET", f"{TOWATCH}?userId=a%00b")):
        r = await oxm.client.request(method, path, headers=oxm.auth("ann", admin=True))
        assert (r.status_code, r.json()["code"]) == (400, 1100), (method, path)
    nul_user = oxm.token("ann", sub="a\x00b")
    r = await oxm.client.get(f"{STREAMS}/history", headers={"Authorization": f"Bearer {nul_user}"})
    assert (r.status_code, r.json()["code"]) == (401, 1001)
