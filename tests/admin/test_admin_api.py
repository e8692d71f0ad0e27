"""`/admin/v1` over HTTP, on SQLite and PostgreSQL: tenants, policies, applications, and their
effect on `/v2` without a restart."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_KEY, Running, basic, make_settings

KEY = {"X-Admin-Key": ADMIN_KEY}


@pytest.fixture
async def admin(tmp_path, clock, catalog_db):
    async with Running(make_settings(tmp_path, **catalog_db), clock) as c:
        yield c


async def test_requires_the_admin_key(admin):
    assert (await admin.get("/admin/v1/tenants")).status_code == 401
    wrong = await admin.get("/admin/v1/tenants", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "unauthorized"
    ok = await admin.get("/admin/v1/tenants", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert ok.status_code == 200


async def test_demo_configuration_is_loaded(admin):
    tenants = (await admin.get("/admin/v1/tenants", headers=KEY)).json()
    assert tenants == [{"id": "adobe", "name": "Adobe"}]
    apps = {a["id"]: a for a in (await admin.get("/admin/v1/applications", headers=KEY)).json()}
    assert apps["demo-app"]["policies"] == ["three-streams"]
    assert apps["demo-app"]["heartbeatInterval"] == 60
    policy = (await admin.get("/admin/v1/policies/two-per-channel", headers=KEY)).json()
    assert policy["rules"][0]["scope"] == ["channel"]


async def test_full_lifecycle_changes_v2_behaviour_live(admin):
    assert (await admin.post("/admin/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=KEY)).status_code == 201
    dup = await admin.post("/admin/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=KEY)
    assert dup.status_code == 409 and dup.json()["code"] == "already-exists"
    policy = {
        "id": "one-device", "tenant": "acme", "name": "One device",
        "rules": [{"name": "1 device", "threshold": 1, "distinct": "deviceId", "conflict": "FIFO",
                   "condition": "contentType = live"}],
    }
    created = await admin.post("/admin/v1/policies", json=policy, headers=KEY)
    assert created.status_code == 201, created.text
    app = {"id": "acme-tv", "tenant": "acme", "name": "Acme TV", "heartbeatInterval": 30,
           "policies": ["one-device"]}
    assert (await admin.post("/admin/v1/applications", json=app, headers=KEY)).status_code == 201
    assert (await admin.get("/v2/metadata", auth=basic("acme-tv"))).json() == ["contentType", "deviceId"]

    first = await admin.post("/v2/sessions/acme/u1", auth=basic("acme-tv"),
                             data={"contentType": "live", "deviceId": "a"})
    assert first.status_code == 202
    second = await admin.post("/v2/sessions/acme/u1", auth=basic("acme-tv"),
                              data={"contentType": "live", "deviceId": "b"})
    assert second.status_code == 202
    # FIFO: the older device was evicted and learns it at its next heartbeat.
    evicted = await admin.post(f"/v2/sessions/acme/u1/{first.headers['location']}", auth=basic("acme-tv"))
    assert evicted.status_code == 409
    advice = evicted.json()["associatedAdvice"][0]
    assert advice["ruleName"] == "1 device"
    assert advice["terminator"]["sessionId"] == second.headers["location"]

    # Raising the limit takes effect at once.
    policy["rules"][0]["threshold"] = 5
    del policy["id"]
    assert (await admin.put("/admin/v1/policies/one-device", json=policy, headers=KEY)).status_code == 200
    third = await admin.post("/v2/sessions/acme/u1", auth=basic("acme-tv"),
                             data={"contentType": "live", "deviceId": "c"})
    assert third.status_code == 202

    in_use = await admin.delete("/admin/v1/policies/one-device", headers=KEY)
    assert in_use.status_code == 409 and in_use.json()["code"] == "in-use"
    assert (await admin.delete("/admin/v1/tenants/acme", headers=KEY)).status_code == 409
    assert (await admin.delete("/admin/v1/applications/acme-tv", headers=KEY)).status_code == 204
    assert (await admin.get("/v2/metadata", auth=basic("acme-tv"))).status_code == 401
    assert (await admin.delete("/admin/v1/policies/one-device", headers=KEY)).status_code == 204
    assert (await admin.delete("/admin/v1/tenants/acme", headers=KEY)).status_code == 204
    assert (await admin.get("/admin/v1/tenants/acme", headers=KEY)).status_code == 404


@pytest.mark.parametrize(
    "path,body",
    [
        ("/admin/v1/policies", {"id": "p", "tenant": "adobe", "name": "x",
                                "rules": [{"name": "r", "threshold": 1, "condition": "nonsense"}]}),
        ("/admin/v1/policies", {"id": "p", "tenant": "adobe", "name": "x",
                                "rules": [{"name": "r", "threshold": -1}]}),
        ("/admin/v1/policies", {"id": "p", "tenant": "nobody", "name": "x", "rules": []}),
        ("/admin/v1/policies", {"id": "p", "tenant": "adobe", "name": "x", "rules": [], "extra": 1}),
        ("/admin/v1/applications", {"id": "a", "tenant": "adobe", "name": "x", "policies": ["missing"]}),
        ("/admin/v1/applications", {"id": "a", "tenant": "adobe", "name": "x", "heartbeatInterval": 0}),
        ("/admin/v1/tenants", {"id": "bad id!", "name": "x"}),
        ("/admin/v1/tenants", {"id": "t"}),
    ],
)
async def test_invalid_input_is_400_with_a_message(admin, path, body):
    r = await admin.post(path, json=body, headers=KEY)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "invalid" and r.json()["message"]


async def test_unknown_objects_are_404(admin):
    for path in ("/admin/v1/tenants/x", "/admin/v1/policies/x", "/admin/v1/applications/x"):
        assert (await admin.get(path, headers=KEY)).status_code == 404
        assert (await admin.delete(path, headers=KEY)).status_code == 404
    r = await admin.put("/admin/v1/tenants/x", json={"name": "n"}, headers=KEY)
    assert r.status_code == 404


async def test_changes_persist_across_restart(tmp_path, clock, catalog_db):
    settings = make_settings(tmp_path, **catalog_db)
    async with Running(settings, clock) as c:
        app = (await c.get("/admin/v1/applications/demo-app", headers=KEY)).json()
        del app["id"]
        app["heartbeatInterval"] = 120
        assert (await c.put("/admin/v1/applications/demo-app", json=app, headers=KEY)).status_code == 200
    async with Running(settings, clock) as c:
        r = await c.post("/v2/sessions/adobe/p", auth=basic("demo-app"))
        assert r.status_code == 202
        from email.utils import parsedate_to_datetime

        gap = parsedate_to_datetime(r.headers["expires"]) - parsedate_to_datetime(r.headers["date"])
        assert gap.total_seconds() == 120
