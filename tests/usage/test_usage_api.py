"""`GET /admin/v1/usage` over HTTP on SQLite and PostgreSQL: what the recorder wrote, summed into
steps, as JSON and CSV; restarts keep it; bad queries answer in the `/admin/v1` error body."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import (ADMIN_KEY, REDIS_URL, Running, basic, drop_redis_keys, make_settings, redis_available,
                            redis_prefix_for_test)

KEY = {"X-Admin-Key": ADMIN_KEY}
DEMO = basic("demo-app")
T0 = 1_800_000_000  # the fake clock's start: a multiple of 60


@pytest.fixture
def usage_settings(tmp_path, catalog_db):
    return make_settings(tmp_path, **catalog_db)


async def record(running: Running) -> None:
    """What the recorder does every few seconds, now."""
    await running.app.state.usage.sample()
    await running.app.state.usage.flush()


async def some_traffic(client, subject: str, starts: int) -> list[int]:
    return [(await client.post(f"/v2/sessions/adobe/{subject}", auth=DEMO)).status_code for _ in range(starts)]


async def test_counts_and_peak_per_minute_then_per_hour_and_across_a_restart(usage_settings, clock):
    running = Running(usage_settings, clock)
    async with running as client:
        assert await some_traffic(client, "alice", 4) == [202, 202, 202, 409]  # 3 streams, the 4th denied
        await record(running)
        clock.advance(60)
        assert await some_traffic(client, "bob", 2) == [202, 202]
        await record(running)
    clock.advance(60)
    running = Running(usage_settings, clock)  # a restart: the rows are in the catalog database
    async with running as client:
        assert await some_traffic(client, "carol", 1) == [202]
        await record(running)
        r = await client.get("/admin/v1/usage", params={"from": T0, "to": T0 + 180}, headers=KEY)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert (body["from"], body["to"], body["step"], body["application"]) == \
            ("2027-01-15T08:00:00Z", "2027-01-15T08:03:00Z", 60, None)
        zero = {"denials": 0, "evictions": 0, "terminations": 0, "expiries": 0}
        assert body["rows"] == [
            {"time": "2027-01-15T08:00:00Z", "application": "demo-app", "admissions": 3, **zero, "denials": 1, "peak": 3},
            {"time": "2027-01-15T08:01:00Z", "application": "demo-app", "admissions": 2, **zero, "peak": 5},
            {"time": "2027-01-15T08:02:00Z", "application": "demo-app", "admissions": 1, **zero, "peak": 3},
        ]  # (alice's streams, never renewed, ran out after their minute)
        assert [t["admissions"] for t in body["total"]] == [3, 2, 1]
        assert [t["peak"] for t in body["total"]] == [3, 5, 3]  # the deployment's live sessions

        hourly = (await client.get("/admin/v1/usage", params={"from": "2027-01-15T08:00:00Z", "to": "2027-01-15T09:00:00",
                                                               "step": 3600, "application": "demo-app"},
                                   headers=KEY)).json()
        assert hourly["rows"] == [{"time": "2027-01-15T08:00:00Z", "application": "demo-app", "admissions": 6,
                                   **zero, "denials": 1, "peak": 5}]  # counts summed, the peak the largest
        assert hourly["total"] == [{"time": "2027-01-15T08:00:00Z", "admissions": 6, **zero, "denials": 1, "peak": 5}]

        other = (await client.get("/admin/v1/usage", params={"from": T0, "to": T0 + 180, "application": "demo-app-2"},
                                  headers=KEY)).json()
        assert other["rows"] == [] and [t["admissions"] for t in other["total"]] == [0, 0, 0]


async def test_csv_by_accept_header_or_format(usage_settings, clock):
    running = Running(usage_settings, clock)
    async with running as client:
        await some_traffic(client, "alice", 2)
        await record(running)
        query = {"from": T0, "to": T0 + 120}
        by_header = await client.get("/admin/v1/usage", params=query, headers={**KEY, "Accept": "text/csv"})
        by_format = await client.get("/admin/v1/usage", params={**query, "format": "csv"}, headers=KEY)
        for r in (by_header, by_format):
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/csv")
        assert by_header.text == by_format.text
        assert list(csv.reader(io.StringIO(by_header.text))) == [
            ["time", "application", "admissions", "denials", "evictions", "terminations", "expiries", "peak"],
            ["2027-01-15T08:00:00Z", "demo-app", "2", "0", "0", "0", "0", "2"],
        ]


async def test_evictions_and_expiries_are_counted(tmp_path, clock, catalog_db):
    running = Running(make_settings(tmp_path, **catalog_db), clock)
    async with running as client:
        policy = {"id": "one", "tenant": "adobe", "name": "One", "rules": [{"name": "1", "threshold": 1, "conflict": "FIFO"}]}
        assert (await client.post("/admin/v1/policies", json=policy, headers=KEY)).status_code == 201
        app = {"id": "fifo-app", "tenant": "adobe", "name": "FIFO", "heartbeatInterval": 60, "policies": ["one"]}
        assert (await client.post("/admin/v1/applications", json=app, headers=KEY)).status_code == 201
        for _ in range(2):
            assert (await client.post("/v2/sessions/adobe/dave", auth=basic("fifo-app"))).status_code == 202
        await record(running)
        clock.advance(3 * 3600)  # long past its expiry and the time ended records are kept
        await running.app.state.ctx.concurrency.store.transact(("adobe", "dave"), lambda v: v.forget_old(clock()))
        await record(running)
        body = (await client.get("/admin/v1/usage", params={"from": T0, "to": clock(), "step": 86400 // 4,
                                                            "application": "fifo-app"}, headers=KEY)).json()
        assert [(r["admissions"], r["evictions"], r["expiries"]) for r in body["rows"]] == [(2, 1, 1)]


@pytest.mark.parametrize("query, message", [
    ({"from": "yesterday"}, "from: 'yesterday' is not an ISO 8601 time"),
    ({"to": "2027-13-01T00:00:00Z"}, "to: '2027-13-01T00:00:00Z' is not an ISO 8601 time"),
    ({"from": T0, "to": T0}, "from: must be before to"),
    ({"from": T0 + 60, "to": T0}, "from: must be before to"),
    ({"step": "90"}, "step: 90 is not a multiple of 60"),
    ({"step": "0"}, "step: 0 is not a multiple of 60"),
    ({"step": "-60"}, "step: -60 is not a multiple of 60"),
    ({"step": "hourly"}, "step: 'hourly' is not a whole number of seconds"),
    ({"from": 0, "to": T0, "step": 60}, "at most 50000"),
    ({"application": "*"}, "application"),
    ({"format": "xml"}, "format"),
])
async def test_bad_query_is_400_in_the_admin_error_body(tmp_path, clock, query, message):
    async with Running(make_settings(tmp_path), clock) as client:
        r = await client.get("/admin/v1/usage", params=query, headers=KEY)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "invalid" and message in r.json()["message"]


async def test_unknown_application_is_404_and_the_key_is_required(tmp_path, clock):
    async with Running(make_settings(tmp_path), clock) as client:
        r = await client.get("/admin/v1/usage", params={"application": "nope"}, headers=KEY)
        assert r.status_code == 404
        assert r.json() == {"code": "not-found", "message": "no application 'nope'"}
        assert (await client.get("/admin/v1/usage")).status_code == 401


async def test_rows_older_than_30_days_are_pruned(tmp_path, clock):
    running = Running(make_settings(tmp_path), clock)
    async with running as client:
        await some_traffic(client, "old", 1)
        await record(running)
        clock.advance(29 * 86400)
        await some_traffic(client, "new", 1)
        await record(running)
        query = {"from": T0, "to": clock() + 60, "step": 86400}
        assert sum(r["admissions"] for r in (await client.get("/admin/v1/usage", params=query, headers=KEY)).json()["rows"]) == 2
        clock.advance(2 * 86400)
        assert await running.app.state.usage.prune() >= 1
        rows = (await client.get("/admin/v1/usage", params={**query, "to": clock()}, headers=KEY)).json()["rows"]
        assert sum(r["admissions"] for r in rows) == 1


async def test_on_redis_the_peak_is_per_application_and_the_deployments(tmp_path, clock):
    redis_available()
    prefix = redis_prefix_for_test()
    running = Running(make_settings(tmp_path, redis_url=REDIS_URL, redis_prefix=prefix), clock)
    try:
        await _on_redis(running, clock)
    finally:
        await drop_redis_keys(REDIS_URL, prefix)


async def _on_redis(running: Running, clock) -> None:
    async with running as client:
        assert await some_traffic(client, "red", 2) == [202, 202]
        await record(running)
        body = (await client.get("/admin/v1/usage", params={"from": T0, "to": T0 + 60}, headers=KEY)).json()
        assert [(r["application"], r["admissions"], r["peak"]) for r in body["rows"]] == [("demo-app", 2, 2)]
        assert [(t["admissions"], t["peak"]) for t in body["total"]] == [(2, 2)]
        csv_text = (await client.get("/admin/v1/usage", params={"from": T0, "to": T0 + 60, "format": "csv"},
                                     headers=KEY)).text
        assert csv_text.splitlines()[1].endswith(",demo-app,2,0,0,0,0,2")


async def test_times_with_an_offset_and_the_default_range(tmp_path, clock):
    running = Running(make_settings(tmp_path), clock)
    async with running as client:
        await some_traffic(client, "a", 1)
        await record(running)
        clock.advance(240)
        await some_traffic(client, "b", 1)
        await record(running)
        # 08:00Z written as 10:00+02:00; five-minute steps sum both minutes
        five = (await client.get("/admin/v1/usage", params={"from": "2027-01-15T10:00:00+02:00", "to": T0 + 300,
                                                            "step": 300}, headers=KEY)).json()
        assert [(t["time"], t["admissions"]) for t in five["total"]] == [("2027-01-15T08:00:00Z", 2)]
        default = (await client.get("/admin/v1/usage", headers=KEY)).json()  # 24 hours to this minute's end, per minute
        assert default["to"] == "2027-01-15T08:05:00Z"
        assert default["step"] == 60 and len(default["total"]) == 24 * 60
        assert sum(t["admissions"] for t in default["total"]) == 2


async def test_the_dashboard_counts_a_minute_written_after_its_request_began(usage_settings, clock):
    """A request that began just before a minute ends, while the recorder writes what it counted
    into the next minute before the request reads: the counts and the chart still hold it (they
    ended at the request's start and missed it: 0 admissions, seen in a CI run)."""
    from streamkeeper.console.dashboard import _counts
    from streamkeeper.console.timeseries import Ranges, Sample

    clock.now = T0 + 59.5
    running = Running(usage_settings, clock)
    async with running as client:
        assert await some_traffic(client, "dana", 4) == [202, 202, 202, 409]
        app = running.app
        current = Sample(at=clock.now, counts={}, live=None)  # the request's start
        clock.advance(1.0)  # the next minute: the recorder's write lands in it
        await record(running)
        counts, usage = await _counts(app, current)
        assert (counts["admissions"]["demo-app"], counts["denials"]["demo-app"]) == (3, 1)
        series = await Ranges(app.state.console_history, usage).read("1h", current.at, current, None)
        assert (sum(n or 0 for n in series["admissions"]), sum(n or 0 for n in series["denials"])) == (3, 1)
