"""The console over plain HTTP: sign-in, role rules on pages, and `/admin/v1` with the login cookie."""

from __future__ import annotations

from streamkeeper.console.timeseries import History, Sample
from tests.hmp.conftest import ADMIN_PASSWORD
from tests.conftest import basic


async def test_admin_api_accepts_an_administrators_cookie(hmp):
    r = await hmp.admin.get("/admin/v1/tenants")
    assert r.status_code == 200 and {t["id"] for t in r.json()} == {"adobe"}
    r = await hmp.admin.post("/admin/v1/tenants", json={"id": "acme", "name": "Acme"})
    assert r.status_code == 201
    r = await hmp.admin.get("/admin/v1/users")
    assert r.status_code == 200


async def test_admin_api_refuses_other_users_and_strangers(hmp):
    viewer = await hmp.user("vera")
    r = await viewer.get("/admin/v1/tenants")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert (await viewer.get("/admin/v1/token-keys")).status_code == 403
    stranger = hmp.new_client()
    assert (await stranger.get("/admin/v1/tenants")).status_code == 401
    stranger.cookies.set("calypso-session-id", "not-a-session")
    assert (await stranger.get("/admin/v1/tenants")).status_code == 401
    # the key still works, and a wrong key is not rescued by a valid cookie
    assert (await stranger.get("/admin/v1/tenants", headers={"X-Admin-Key": "test-admin-key"})).status_code == 200
    assert (await hmp.admin.get("/admin/v1/tenants", headers={"X-Admin-Key": "wrong"})).status_code == 401


async def test_sign_in_form_sets_the_apis_cookie(hmp):
    browser = hmp.new_client()
    r = await browser.get("/console/dashboard")
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/dashboard"
    r = await browser.post("/console/login", data={"username": "admin", "password": "wrong-password",
                                                   "next": "/console/dashboard"})
    assert r.status_code == 401 and "Sign in" in r.text and "calypso-session-id" not in r.headers.get("set-cookie", "")
    r = await browser.post("/console/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                                   "next": "//evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    # the same cookie opens /apis
    assert (await browser.get("/apis/authentication/login")).json()["data"]["username"] == "admin"
    r = await browser.get("/console/dashboard")
    assert r.status_code == 200 and "Concurrency dashboard" in r.text
    r = await browser.post("/console/logout")
    assert r.status_code == 303
    assert (await browser.get("/apis/authentication/login")).status_code == 401


async def test_pages_follow_the_role(hmp):
    viewer = await hmp.user("vic")
    for path in ("/console/dashboard", "/console/playground", "/console/admin/users", "/console/viewers",
                 "/console/api/stats"):
        r = await viewer.get(path)
        assert r.status_code == 403, path
    r = await viewer.get("/console/library")
    assert r.status_code == 200
    assert "Administration" not in r.text and "Dashboard" not in r.text and "Library" in r.text
    r = await hmp.admin.get("/console/library")
    assert "Administration" in r.text and "Dashboard" in r.text


async def test_dashboard_stats_count_what_v2_did(hmp):
    client = hmp.admin
    for _ in range(3):
        assert (await client.post("/v2/sessions/adobe/dash", auth=basic("demo-app"))).status_code == 202
    assert (await client.post("/v2/sessions/adobe/dash", auth=basic("demo-app"))).status_code == 409
    stats = (await client.get("/console/api/stats")).json()
    row = next(a for a in stats["applications"] if a["application"] == "demo-app")
    assert (row["live"], row["admissions"], row["denials"]) == (3, 3, 1)
    assert stats["live"] == 3
    # steps before the process started have no value (a gap in the chart, not a flat zero)
    assert sum(n or 0 for n in stats["series"]["admissions"]) == 3
    assert sum(n or 0 for n in stats["series"]["denials"]) == 1
    subject = (await client.get("/console/api/subjects/adobe/dash")).json()["runningStreams"]
    assert len(subject) == 3
    victim = subject[0]
    r = await client.post(f"/console/api/subjects/adobe/dash/{victim['sessionId']}/end",
                          params={"application": "demo-app"})
    assert r.status_code == 200
    r = await client.post(f"/v2/sessions/adobe/dash/{victim['sessionId']}", auth=basic("demo-app"))
    assert r.status_code == 410  # and the player is told who ended it
    advice = r.json()["associatedAdvice"][0]
    assert (advice["type"], advice["operator"]) == ("operator-termination", "admin")
    assert r.json()["evaluationResult"]["associatedAdvice"][0]["attributes"]["operator"] == "admin"
    assert len((await client.get("/console/api/subjects/adobe/dash")).json()["runningStreams"]) == 2
    stats = (await client.get("/console/api/stats")).json()
    assert next(a for a in stats["applications"] if a["application"] == "demo-app")["terminations"] == 1
    # a stream its own player stopped still answers 410 with no body
    other = subject[1]["sessionId"]
    assert (await client.delete(f"/v2/sessions/adobe/dash/{other}", auth=basic("demo-app"))).status_code == 202
    r = await client.post(f"/v2/sessions/adobe/dash/{other}", auth=basic("demo-app"))
    assert (r.status_code, r.content) == (410, b"")


def test_history_gives_per_minute_increases():
    h = History()
    h.add(Sample(1000.0, {"admissions": {"a": 0}}, 0))
    h.add(Sample(1030.0, {"admissions": {"a": 2, "b": 1}}, 3))
    h.add(Sample(1100.0, {"admissions": {"a": 5, "b": 1}}, 1))
    now = Sample(1125.0, {"admissions": {"a": 6, "b": 1}}, 1)
    out = h.per_minute(1125.0, now, minutes=3)
    # minutes ending at 1005, 1065, 1125
    assert out["admissions"] == [0, 3, 4]
    assert h.per_minute(1125.0, now, application="b", minutes=3)["admissions"] == [0, 1, 0]
    assert out["live"] == [0, 3, 1]


def test_history_keeps_a_day_of_minutes_and_has_no_values_before_it_started():
    from streamkeeper.console.timeseries import RANGES, Ranges

    h = History()
    start = 100_000.0
    for i in range(0, 26 * 3600, 5):  # 26 hours of samples, one admission a minute
        t = start + i
        h.add(Sample(t, {"admissions": {"a": float(i // 60)}}, 1))
    assert len(h.samples) <= 3600 // 5 + 30 and len(h.minutes) <= 24 * 60 + 5  # small, whatever the uptime
    now_t = start + 26 * 3600
    now = Sample(now_t, {"admissions": {"a": float(26 * 60)}}, 1)
    day = Ranges(h).series("24h", now_t, now, None)
    assert day["range"] == "24h" and len(day["times"]) == RANGES["24h"].points == 96
    assert all(abs(n - 15) <= 1 for n in day["admissions"])  # 15 minutes a step, one admission each
    five = Ranges(h).series("5m", now_t, now, None)
    assert len(five["times"]) == 60 and sum(five["admissions"]) == 5
    fresh = History()
    fresh.add(Sample(start, {"admissions": {"a": 0.0}}, 0))
    out = Ranges(fresh).series("1h", start + 120, Sample(start + 120, {"admissions": {"a": 2.0}}, 0), None)
    assert out["admissions"][:57] == [None] * 57 and sum(out["admissions"][57:]) == 2


async def test_dashboard_on_redis_counts_the_total_and_per_application(tmp_path, clock):
    """Redis counts live sessions in all and per application (its per-application indexes)."""
    from tests.conftest import (REDIS_URL, Running, drop_redis_keys, make_settings, redis_available,
                                redis_prefix_for_test)

    redis_available()
    prefix = redis_prefix_for_test()
    settings = make_settings(tmp_path, admin_password=ADMIN_PASSWORD, redis_url=REDIS_URL, redis_prefix=prefix)
    try:
        async with Running(settings, clock) as client:
            r = await client.post("/apis/authentication/login", json={"username": "admin", "password": ADMIN_PASSWORD})
            assert r.status_code == 201
            assert (await client.post("/v2/sessions/adobe/red", auth=basic("demo-app"))).status_code == 202
            stats = (await client.get("/console/api/stats")).json()
            row = next(a for a in stats["applications"] if a["application"] == "demo-app")
            assert stats["live"] == 1 and row["live"] == 1 and row["admissions"] == 1
            assert len((await client.get("/console/api/subjects/adobe/red")).json()["runningStreams"]) == 1
    finally:
        await drop_redis_keys(REDIS_URL, prefix)


async def test_console_lists_answer_an_empty_list_where_apis_says_no_results(hmp):
    """The pages ask /console/api/lists/...: the same /apis request and checks, empty is 200."""
    admin = hmp.admin
    r = await admin.get("/apis/recordings")
    assert r.status_code == 404 and r.json()["code"] == "040012"  # the /apis contract, unchanged
    r = await admin.get("/console/api/lists/recordings", params={"pageSize": "5"})
    assert r.status_code == 200 and r.json() == {"data": [], "paging": {"results": 0, "pageSize": 5}}
    r = await admin.post("/apis/sessions", json={"title": "Lobby", "active": True})
    assert r.status_code == 201, r.text
    direct, listed = await admin.get("/apis/sessions"), await admin.get("/console/api/lists/sessions")
    assert listed.status_code == 200 and listed.json() == direct.json()
    # a bad query is answered as /apis answers it, and the caller's rights are the same
    r = await admin.get("/console/api/lists/assets", params={"filter": "category::"})
    assert r.status_code == 400 and r.json() == (await admin.get("/apis/assets", params={"filter": "category::"})).json()
    viewer = await hmp.user("vicky")
    assert (await viewer.get("/console/api/lists/sources")).status_code == (await viewer.get("/apis/sources")).status_code
    assert (await viewer.get("/console/api/lists/sessions")).json()["data"] == []
    assert (await hmp.new_client().get("/console/api/lists/sessions")).status_code == 401
    assert (await admin.get("/console/api/lists/../admin/v1/users")).status_code == 404


async def test_favicon(hmp):
    r = await hmp.new_client().get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and b"<svg" in r.content
