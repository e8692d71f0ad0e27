"""Who may do what to someone else's objects: every actor tries every call (table-driven).

The objects belong to `owner` (Content Creator). The actors:
- viewer:   Viewer role, WATCH share on every object
- creator:  Content Creator role, EDIT share on every object
- watcher:  Content Creator role, WATCH share on every object
- stranger: Content Creator role, no share at all
- admin:    the administrator
"""

from __future__ import annotations

from tests.process import free_udp_port

ACTORS = ("viewer", "creator", "watcher", "stranger", "admin")
SHARES = {"viewer": "WATCH", "creator": "EDIT", "watcher": "WATCH"}


def row(method, path, body, viewer, creator, watcher, stranger, admin):
    return method, path, body, dict(zip(ACTORS, (viewer, creator, watcher, stranger, admin)))


def hotmark(actor):
    return {"title": f"by {actor}", "timestamp": 1000 * (1 + ACTORS.index(actor))}


TABLE = [
    # lists show only what the caller may see (404 NoResults when that is nothing)
    row("GET", "/apis/sources", None, 403, 200, 200, 404, 200),
    row("GET", "/apis/sessions", None, 200, 200, 200, 404, 200),
    row("GET", "/apis/assets", None, 200, 200, 200, 404, 200),
    # sources
    row("GET", "/apis/sources/{source}", None, 403, 200, 200, 404, 200),
    row("GET", "/apis/sources/{source}/metadata", None, 403, 200, 200, 404, 200),
    row("PUT", "/apis/sources/{source}", {"description": "changed"}, 403, 200, 403, 404, 200),
    row("PUT", "/apis/sources/{source}/metadata", [], 403, 200, 403, 404, 200),
    row("GET", "/apis/sources/{source}/shares", None, 403, 200, 200, 404, 200),
    row("POST", "/apis/sources/{source}/shares", {"shareType": "USER", "name": "extra", "permission": "WATCH"},
        403, 403, 403, 404, 201),
    # sessions
    row("GET", "/apis/sessions/{session}", None, 200, 200, 200, 404, 200),
    row("PUT", "/apis/sessions/{session}", {"description": "changed"}, 403, 200, 403, 404, 200),
    row("GET", "/apis/sessions/{session}/metadata", None, 200, 200, 200, 404, 200),
    row("PUT", "/apis/sessions/{session}/metadata", [], 403, 200, 403, 404, 200),
    row("POST", "/apis/sessions/{session}/sources", {"sourceId": "{source}"}, 403, 403, 403, 404, 201),
    row("GET", "/apis/sessions/{session}/sources", None, 200, 200, 200, 404, 200),
    row("GET", "/apis/sessions/{session}/shares", None, 200, 200, 200, 404, 200),
    row("POST", "/apis/sessions/{session}/shares", {"shareType": "USER", "name": "extra", "permission": "WATCH"},
        403, 403, 403, 404, 201),
    row("GET", "/apis/sessions/{session}/publicshare", None, 403, 403, 403, 404, 404),
    row("GET", "/apis/sessions/{session}/events", None, 404, 404, 404, 404, 404),
    row("POST", "/apis/sessions/{session}/events",
        {"startTime": 1, "type": "one-time", "command": "set-live", "parameters": {"record": False}},
        403, 201, 403, 404, 201),
    row("GET", "/apis/sessions/{session}/events", None, 200, 200, 200, 404, 200),
    row("GET", "/apis/events", None, 200, 200, 200, 404, 200),
    row("GET", "/apis/sessions/{session}/assets", None, 404, 404, 404, 404, 404),  # NoResults / SessionNotFound
    # videos
    row("GET", "/apis/assets/{asset}", None, 200, 200, 200, 404, 200),
    row("PUT", "/apis/assets/{asset}", {"title": "changed"}, 403, 200, 403, 404, 200),
    row("GET", "/apis/assets/{asset}/metadata", None, 200, 200, 200, 404, 200),
    row("PUT", "/apis/assets/{asset}/metadata", [], 403, 200, 403, 404, 200),
    row("GET", "/apis/assets/{asset}/related", None, 404, 404, 404, 404, 404),
    row("GET", "/apis/assets/{asset}/hotmarks", None, 404, 404, 404, 404, 404),
    row("POST", "/apis/assets/{asset}/hotmarks", hotmark, 403, 201, 403, 404, 201),
    row("GET", "/apis/assets/{asset}/shares", None, 200, 200, 200, 404, 200),
    row("POST", "/apis/assets/{asset}/shares", {"shareType": "USER", "name": "extra", "permission": "WATCH"},
        403, 403, 403, 404, 201),
    # WATCH is enough to make a video public; once public, everyone may watch it (the stranger too)
    row("POST", "/apis/assets/{asset}/publicshare", {"permission": "WATCH"}, 201, 201, 201, 201, 201),
    row("GET", "/apis/assets/{asset}", None, 200, 200, 200, 200, 200),
    row("PUT", "/apis/assets/{asset}", {"title": "again"}, 403, 200, 403, 403, 200),
    row("GET", "/apis/assets/{asset}/publicshare", None, 403, 403, 403, 403, 200),
    row("DELETE", "/apis/assets/{asset}/publicshare", None, 403, 403, 403, 403, 200),
    row("GET", "/apis/assets/{asset}", None, 200, 200, 200, 404, 200),
    # creating needs the role's CREATE permission
    row("POST", "/apis/sources", {"name": "mine", "type": "SRT", "mode": "CALLER", "host": "h.example", "port": 1},
        403, 201, 201, 201, 201),
    row("POST", "/apis/sessions", {"title": "mine"}, 403, 201, 201, 201, 201),
    # deleting is for owners (and administrators)
    row("DELETE", "/apis/sessions/{session}", None, 403, 403, 403, 404, 200),
    row("DELETE", "/apis/assets/{asset}", None, 403, 403, 403, 404, 200),
    row("DELETE", "/apis/sources/{source}", None, 403, 403, 403, 404, 200),
]


def fill(value, ids, actor):
    if callable(value):
        value = value(actor)
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids, actor) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids, actor) for v in value]
    return value


async def test_every_actor_gets_exactly_what_roles_and_shares_allow(hmp):
    from tests.hmp.test_assets import add_video

    owner = await hmp.user("owner", roles=("content-creator",))
    await hmp.add_user("extra", roles=("viewer",))
    clients = {"admin": hmp.admin}
    for actor in ACTORS[:-1]:
        clients[actor] = await hmp.user(actor, roles=("viewer",) if actor == "viewer" else ("content-creator",))
    ids = {
        "source": (await owner.post("/apis/sources", json={"name": "s", "type": "UDP", "port": free_udp_port(),
                                                           "multicast": False})).json()["data"]["id"],
        "session": (await owner.post("/apis/sessions", json={"title": "live", "active": True})).json()["data"]["id"],
        "asset": await add_video(hmp, "video", owner="owner"),
    }
    for kind, object_id in (("sources", ids["source"]), ("sessions", ids["session"]), ("assets", ids["asset"])):
        for actor, level in SHARES.items():
            r = await owner.post(f"/apis/{kind}/{object_id}/shares",
                                 json={"shareType": "USER", "name": actor, "permission": level})
            assert r.status_code == 201, r.text

    failures = []
    for method, path, body, expected in TABLE:
        for actor in ACTORS:
            url = path.format(**ids)
            r = await clients[actor].request(method, url, json=fill(body, ids, actor) if body is not None else None)
            if r.status_code != expected[actor]:
                failures.append(f"{actor:8} {method} {path}: {r.status_code} (expected {expected[actor]}) {r.text[:90]}")
            elif r.status_code >= 400:
                assert r.json()["httpStatusCode"] == r.status_code
    assert not failures, "\n".join(failures)
