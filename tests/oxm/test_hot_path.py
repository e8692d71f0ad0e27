"""OXM `streaming` answered by its bare ASGI handler: same answers, still counted and traced."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.oxm.conftest import start_oxm

STREAMING = "/oxm/v1/streams/{assetID}/streaming"


async def test_streaming_keeps_request_ids_metrics_and_form_parameters(oxm_lite):
    oxm = oxm_lite
    r = await oxm.client.put("/oxm/v1/streams/movie-1/streaming", headers={**oxm.auth("ann"), "X-Request-Id": "abc-1"},
                             data={"device": "tv", "progress": "12"})
    assert r.status_code == 204 and r.content == b""
    assert r.headers["x-request-id"] == "abc-1"
    progress = await oxm.client.get("/oxm/v1/streams/movie-1", headers=oxm.auth("ann"))
    assert progress.status_code == 200
    assert "12" in progress.text
    bad = await oxm.client.put("/oxm/v1/streams/movie-1/streaming?progress=soon", headers=oxm.auth("ann"))
    assert bad.status_code == 400 and bad.json()["code"] == 1100
    anonymous = await oxm.client.put("/oxm/v1/streams/movie-1/streaming")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    page = (await oxm.client.get("/metrics")).text
    counted = {
        int(s.labels["status"]): s.value
        for family in text_string_to_metric_families(page) for s in family.samples
        if s.name == "streamkeeper_http_requests_total" and s.labels.get("route") == STREAMING
    }
    assert counted == {204: 1, 400: 1, 401: 1}


async def test_a_streaming_form_over_the_body_limit_is_refused_with_413(tmp_path, clock, es_keys, wire):
    oxm = await start_oxm(tmp_path, clock, es_keys, {}, wire, max_body_bytes=100)
    try:
        r = await oxm.client.put("/oxm/v1/streams/movie-1/streaming", headers=oxm.auth("ann"),
                                 data={"device": "tv", "pad": "x" * 500})
        assert r.status_code == 413
        assert r.json()["status"] == 413
    finally:
        await oxm.running.__aexit__(None, None, None)


async def test_progress_reaches_the_database_when_the_pool_must_open_a_connection(oxm):
    """Over the lane a renewal starts outside any asyncio task; the progress write must still be
    able to open a database connection (asyncpg's connect runs under `asyncio.timeout`, which
    wants a task)."""
    assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 204
    await oxm.running.app.state.ctx.engine.dispose()  # the pool is empty: the write connects anew
    assert (await oxm.streaming("ann", "movie-1", device="tv", progress=42)).status_code == 204
    r = await oxm.client.get("/oxm/v1/streams/movie-1", headers=oxm.auth("ann"))
    assert r.status_code == 200 and r.json()["progress"] == 42
