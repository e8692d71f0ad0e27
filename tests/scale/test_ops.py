"""Operations endpoints over HTTP: probes, Prometheus metrics, request ids and JSON logs."""

from __future__ import annotations

import logging
import uuid

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streamkeeper.ops.logs import JsonFormatter
from tests.conftest import Running, basic, make_settings
from tests.oxm.conftest import es_keys  # noqa: F401 - a fixture used here too

DEMO = basic("demo-app")
FIFO = basic("fifo-app")


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus text page, keyed by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_healthz_answers_while_the_process_runs(client):
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_reports_each_dependency(client, settings):
    r = await client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    expected = {"database": "ok", "redis": "ok"} if settings.redis_url else {"database": "ok"}
    assert body["checks"] == expected


async def test_readyz_says_503_and_names_redis_when_redis_refuses(tmp_path, clock, redis_user):
    settings = make_settings(tmp_path, redis_url=redis_user["url"], redis_prefix=redis_user["prefix"])
    async with Running(settings, clock) as client:
        started = await client.post("/v2/sessions/adobe/cut", auth=DEMO)
        assert started.status_code == 202
        redis_user["cut_off"]()
        r = await client.get("/readyz")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("error")
        # The concurrency API answers with a documented 503 too, not a 500.
        beat = await client.post(f"/v2/sessions/adobe/cut/{started.headers['location']}", auth=DEMO)
        assert beat.status_code == 503
        assert beat.json()["associatedAdvice"][0]["type"] == "service-unavailable"
        assert int(beat.headers["Retry-After"]) >= 1
        again = await client.post("/v2/sessions/adobe/cut", auth=DEMO)
        assert again.status_code == 503 and "Retry-After" in again.headers
        assert again.json()["associatedAdvice"][0]["type"] == "service-unavailable"
        assert (await client.get("/healthz")).status_code == 200


async def test_oxm_answers_503_when_the_session_store_is_unreachable(tmp_path, clock, redis_user, es_keys):
    """The experience API's stream calls keep their error body and say "try again" (503 with
    Retry-After) when Redis is gone, like `/v2`; never a 500."""
    from tests.oxm.conftest import ACME_KEY, write_config
    from streamkeeper.oxm.tokens import mint

    config = write_config(tmp_path / "conf", es_keys[1])
    settings = make_settings(tmp_path, config=config, redis_url=redis_user["url"], redis_prefix=redis_user["prefix"])
    async with Running(settings, clock) as client:
        auth = {"Authorization": f"Bearer {mint(ACME_KEY, 'ann', now=clock.now)}"}
        assert (await client.put("/oxm/v1/streams/film/streaming?device=tv", headers=auth)).status_code == 204
        redis_user["cut_off"]()
        for call in (client.put("/oxm/v1/streams/film/streaming?device=tv", headers=auth),
                     client.put("/oxm/v1/streams/other/streaming?device=tv", headers=auth),
                     client.put("/oxm/v1/streams/film/stopped?device=tv", headers=auth),
                     client.get("/oxm/v1/streams/counts", headers=auth)):
            r = await call
            assert r.status_code == 503, (r.request.url, r.status_code, r.text)
            assert int(r.headers["Retry-After"]) >= 1
            body = r.json()
            assert body["status"] == 503 and body["code"] == 1500 and body["message"]


async def test_metrics_count_requests_and_session_outcomes(fifo_settings, clock):
    async with Running(fifo_settings, clock) as client:
        for _ in range(4):
            await client.post("/v2/sessions/adobe/m1", auth=DEMO)
        first = (await client.post("/v2/sessions/adobe/m2", auth=FIFO)).headers["location"]
        await client.post("/v2/sessions/adobe/m2", auth=FIFO)  # evicts the first
        assert (await client.post(f"/v2/sessions/adobe/m2/{first}", auth=FIFO)).status_code == 409
        await client.get("/v2/runningStreams/adobe/m1", auth=DEMO)
        await client.get("/no/such/page")

        r = await client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        m = samples(r.text)
        init = "/v2/sessions/{idp}/{subject}"
        assert m[("streamkeeper_http_requests_total", (("method", "POST"), ("route", init), ("status", "202")))] == 5
        assert m[("streamkeeper_http_requests_total", (("method", "POST"), ("route", init), ("status", "409")))] == 1
        assert m[("streamkeeper_http_requests_total",
                  (("method", "GET"), ("route", "<unmatched>"), ("status", "404")))] == 1
        assert m[("streamkeeper_http_request_duration_seconds_count", (("method", "POST"), ("route", init)))] == 6
        buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in m.items()
                         if name == "streamkeeper_http_request_duration_seconds_bucket"
                         and dict(labels)["route"] == init)
        assert buckets[-1] == (float("inf"), 6)
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))  # cumulative
        assert m[("streamkeeper_admissions_total", (("application", "demo-app"),))] == 3
        assert m[("streamkeeper_admissions_total", (("application", "fifo-app"),))] == 2
        assert m[("streamkeeper_denials_total", (("application", "demo-app"),))] == 1
        assert m[("streamkeeper_evictions_total", (("application", "fifo-app"),))] == 1
        assert m[("streamkeeper_active_sessions", ())] == 4

        # A session nobody stopped counts as expired once the store forgets it.
        clock.advance(2 * 3600)
        assert (await client.post("/v2/sessions/adobe/m1", auth=DEMO)).status_code == 202
        m = samples((await client.get("/metrics")).text)
        assert m[("streamkeeper_expiries_total", (("application", "demo-app"),))] == 3
        assert m[("streamkeeper_active_sessions", ())] == 1


async def test_request_id_is_echoed_or_generated_and_logged(client, caplog):
    caplog.set_level(logging.INFO, logger="streamkeeper.access")
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    generated = (await client.get("/healthz")).headers["x-request-id"]
    other = (await client.get("/healthz")).headers["x-request-id"]
    assert generated and other and generated != other
    bad = await client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert bad.headers["x-request-id"] != "x" * 500

    lines = [orjson.loads(JsonFormatter().format(rec)) for rec in caplog.records if rec.name == "streamkeeper.access"]
    first = lines[0]
    assert first["request_id"] == "abc-123"
    assert first["status"] == 200 and first["route"] == "/healthz" and first["method"] == "GET"
    assert {line["request_id"] for line in lines[1:3]} == {generated, other}


async def pg(sql: str) -> None:
    import asyncpg

    from tests.conftest import PG_URL

    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_readyz_says_503_and_names_the_database_when_it_refuses(tmp_path, clock, es_keys):
    """A catalog role that may no longer log in (its connections cut): the database check fails,
    and the APIs' calls that need the catalog answer 503, not 500."""
    from streamkeeper.oxm.tokens import mint
    from tests.conftest import ADMIN_KEY, PG_URL, _unavailable
    from tests.oxm.conftest import ACME_KEY, write_config

    role = f"skt_{uuid.uuid4().hex[:8]}"
    try:
        await pg(f'CREATE ROLE "{role}" LOGIN')
    except Exception as exc:  # noqa: BLE001 - any connection problem
        _unavailable("PostgreSQL", exc)
    cut = f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
    try:
        await pg(f'CREATE SCHEMA "{role}" AUTHORIZATION "{role}"')
        url = PG_URL.replace("://postgres@", f"://{role}@")
        assert role in url, "STREAMKEEPER_TEST_PG must name the postgres user"
        settings = make_settings(tmp_path, database_url=url, database_schema=role,
                                 config=write_config(tmp_path / "conf", es_keys[1]))
        async with Running(settings, clock) as client:
            assert (await client.get("/readyz")).status_code == 200
            await pg(f'ALTER ROLE "{role}" NOLOGIN')
            await pg(cut)
            r = await client.get("/readyz")
            assert r.status_code == 503
            assert r.json()["checks"]["database"].startswith("error")
            assert (await client.get("/healthz")).status_code == 200
            # Calls that need the catalog say "try again" in their own API's error body.
            bearer = {"Authorization": f"Bearer {mint(ACME_KEY, 'ann', now=clock.now)}"}
            login = {"username": "admin", "password": "whatever"}
            for r in (await client.post("/apis/authentication/login", json=login),
                      await client.get("/admin/v1/tenants", headers={"Authorization": f"Bearer {ADMIN_KEY}"}),
                      await client.get("/oxm/v1/towatch", headers=bearer),
                      await client.put("/oxm/v1/streams/film/streaming?device=tv&progress=30", headers=bearer)):
                assert r.status_code == 503, (r.request.url, r.status_code, r.text)
                assert int(r.headers["Retry-After"]) >= 1
                body = r.json()
                assert body.get("code") in ("090002", "unavailable", 1500), body
            await pg(f'ALTER ROLE "{role}" LOGIN')
            assert (await client.get("/readyz")).status_code == 200  # ready again once it answers
    finally:
        await pg(cut)
        await pg(f'DROP SCHEMA IF EXISTS "{role}" CASCADE')
        await pg(f'DROP ROLE "{role}"')
