"""Stream concurrency over HTTP: the tenant stream policy enforced by `streaming`, `stopped`
ending streams, counts, expiry, and policy changes taking effect at the next heartbeat."""

from __future__ import annotations

import asyncio

import httpx
import pytest


STREAMS = "/oxm/v1/streams"


@pytest.fixture
async def oxm(oxm_lite):
    """Streams live in the session store; the catalog database only holds the policy, which
    test_policy.py covers on both databases."""
    return oxm_lite


async def test_a_stream_starts_and_renews_with_204(oxm):
    r = await oxm.streaming("ann", "movie-1", device="tv")
    assert r.status_code == 204
    assert r.content == b""
    oxm.clock.advance(100)
    assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 204
    counts = await oxm.client.get(f"{STREAMS}/counts", headers=oxm.auth("ann"))
    assert counts.status_code == 200
    assert counts.json() == {"movie-1": 1}


async def test_third_device_is_refused_against_max_devices_2(oxm):
    assert (await oxm.set_policy(0, 0, 2)).status_code == 200
    assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 204
    assert (await oxm.streaming("ann", "movie-2", device="phone")).status_code == 204
    # A second stream on a device already in use is no new device.
    assert (await oxm.streaming("ann", "movie-3", device="tv")).status_code == 204
    r = await oxm.streaming("ann", "movie-4", device="tablet")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == 1203
    assert body["limit"] == "maxDevices"
    assert body["max"] == 2
    assert body["current"] == 3
    assert {s["deviceId"] for s in body["streams"]} == {"tv", "phone"}
    assert {s["assetId"] for s in body["streams"]} == {"movie-1", "movie-2", "movie-3"}
    assert body["streams"][0]["startedAt"].endswith("Z")
    # Another viewer of the tenant has limits of their own.
    assert (await oxm.streaming("bob", "movie-4", device="tablet")).status_code == 204


async def test_second_stream_of_one_asset_is_refused_against_max_per_asset_1(oxm):
    assert (await oxm.set_policy(3, 1, 0)).status_code == 200
    assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 204
    r = await oxm.streaming("ann", "movie-1", device="phone")
    assert r.status_code == 409
    body = r.json()
    assert (body["code"], body["limit"], body["max"]) == (1202, "maxPerAsset", 1)
    assert body["streams"] == [{"assetId": "movie-1", "deviceId": "tv", "startedAt": body["streams"][0]["startedAt"]}]
    assert (await oxm.streaming("ann", "movie-2", device="phone")).status_code == 204


async def test_max_per_user_counts_every_stream_of_the_user(oxm):
    assert (await oxm.set_policy(2, 0, 0)).status_code == 200
    for asset in ("a", "b"):
        assert (await oxm.streaming("ann", asset, device="tv")).status_code == 204
    r = await oxm.streaming("ann", "c", device="tv")
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["limit"]) == (1201, "maxPerUser")


async def test_stopped_frees_the_slot_and_records_progress(oxm):
    assert (await oxm.set_policy(1, 1, 0)).status_code == 200
    assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 204
    assert (await oxm.streaming("ann", "movie-2", device="tv")).status_code == 409
    stop = await oxm.client.put(f"{STREAMS}/movie-1/stopped", params={"device": "tv", "progress": "321"},
                                headers=oxm.auth("ann"))
    assert stop.status_code == 204
    assert (await oxm.client.get(f"{STREAMS}/counts", headers=oxm.auth("ann"))).json() == {}
    assert (await oxm.streaming("ann", "movie-2", device="tv")).status_code == 204
    progress = await oxm.client.get(f"{STREAMS}/movie-1", headers=oxm.auth("ann"))
    assert progress.json()["progress"] == 321


async def test_a_stream_is_gone_after_two_minutes_plus_grace(oxm_stores):
    oxm = oxm_stores
    assert (await oxm.set_policy(1, 0, 0)).status_code == 200
    assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 204
    oxm.clock.advance(149)
    assert (await oxm.streaming("ann", "movie-2", device="tv")).status_code == 409
    assert (await oxm.client.get(f"{STREAMS}/counts", headers=oxm.auth("ann"))).json() == {"movie-1": 1}
    oxm.clock.advance(2)
    assert (await oxm.client.get(f"{STREAMS}/counts", headers=oxm.auth("ann"))).json() == {}
    assert (await oxm.streaming("ann", "movie-2", device="tv")).status_code == 204


async def test_renewals_keep_a_stream_counted_long_past_its_first_expiry(oxm_stores):
    oxm = oxm_stores
    assert (await oxm.set_policy(0, 0, 1)).status_code == 200
    assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 204
    for _ in range(4):
        oxm.clock.advance(100)
        assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 204
    # 400 s after the start, each renewal moved the expiry: still one live stream on one device.
    assert (await oxm.client.get(f"{STREAMS}/counts", headers=oxm.auth("ann"))).json() == {"movie-1": 1}
    assert (await oxm.streaming("ann", "movie-2", device="phone")).status_code == 409
    # A renewal that comes after the stream ran out starts it again, judged like any start.
    oxm.clock.advance(151)
    assert (await oxm.client.get(f"{STREAMS}/counts", headers=oxm.auth("ann"))).json() == {}
    assert (await oxm.streaming("ann", "movie-2", device="phone")).status_code == 204
    assert (await oxm.streaming("ann", "movie-1", device="tv")).status_code == 409


async def test_policy_tightened_mid_stream_refuses_the_newest_at_its_next_heartbeat(oxm_stores):
    oxm = oxm_stores
    for asset, device in (("a", "tv"), ("b", "phone"), ("c", "tablet")):
        assert (await oxm.streaming("ann", asset, device=device)).status_code == 204
        oxm.clock.advance(1)
    assert (await oxm.set_policy(0, 0, 2)).status_code == 200
    # The oldest two keep running; the newest is refused at its next heartbeat and ended.
    assert (await oxm.streaming("ann", "c", device="tablet")).status_code == 409
    assert (await oxm.streaming("ann", "a", device="tv")).status_code == 204
    assert (await oxm.streaming("ann", "b", device="phone")).status_code == 204
    counts = await oxm.client.get(f"{STREAMS}/counts", params={"include": "device"}, headers=oxm.auth("ann"))
    assert counts.json() == {"a": {"tv": 1}, "b": {"phone": 1}}
    # Loosened again: the refused device may come back.
    assert (await oxm.set_policy(0, 0, 3)).status_code == 200
    assert (await oxm.streaming("ann", "c", device="tablet")).status_code == 204


async def test_counts_by_device(oxm):
    for asset, device in (("a", "tv"), ("a", "phone"), ("b", "tv")):
        assert (await oxm.streaming("ann", asset, device=device)).status_code == 204
    plain = await oxm.client.get(f"{STREAMS}/counts", headers=oxm.auth("ann"))
    assert plain.json() == {"a": 2, "b": 1}
    detailed = await oxm.client.get(f"{STREAMS}/counts?include=device", headers=oxm.auth("ann"))
    assert detailed.json() == {"a": {"tv": 1, "phone": 1}, "b": {"tv": 1}}
    bad = await oxm.client.get(f"{STREAMS}/counts?include=everything", headers=oxm.auth("ann"))
    assert bad.status_code == 400
    assert bad.json()["code"] == 1100


async def test_device_defaults_to_client_address_and_trusts_only_configured_proxies(oxm):
    assert (await oxm.set_policy(0, 0, 1)).status_code == 200
    # The in-process client connects from 127.0.0.1, which is no trusted proxy: X-Forwarded-For is ignored.
    spoofed = {**oxm.auth("ann"), "X-Forwarded-For": "203.0.113.7"}
    assert (await oxm.client.put(f"{STREAMS}/a/streaming", headers=spoofed)).status_code == 204
    counts = await oxm.client.get(f"{STREAMS}/counts?include=device", headers=oxm.auth("ann"))
    assert counts.json() == {"a": {"127.0.0.1": 1}}

    behind_proxy = httpx.AsyncClient(transport=httpx.ASGITransport(app=oxm.running.app, client=("10.1.2.3", 4000)),
                                     base_url="http://test")
    async with behind_proxy:
        forwarded = {**oxm.auth("bob"), "X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.0.0.5"}
        assert (await behind_proxy.put(f"{STREAMS}/a/streaming", headers=forwarded)).status_code == 204
        # Same viewer address through the proxy is the same device; another address is a second one.
        again = {**oxm.auth("bob"), "X-Forwarded-For": "203.0.113.9"}
        assert (await behind_proxy.put(f"{STREAMS}/b/streaming", headers=again)).status_code == 204
        other = {**oxm.auth("bob"), "X-Forwarded-For": "203.0.113.10"}
        assert (await behind_proxy.put(f"{STREAMS}/c/streaming", headers=other)).status_code == 409
    counts = await oxm.client.get(f"{STREAMS}/counts?include=device", headers=oxm.auth("bob"))
    assert counts.json() == {"a": {"203.0.113.9": 1}, "b": {"203.0.113.9": 1}}


async def test_bad_stream_parameters_are_400(oxm):
    for params in ({"progress": "-1"}, {"progress": "ten"}, {"progress": "1e3"}, {"device": "d" * 257}):
        r = await oxm.client.put(f"{STREAMS}/a/streaming", params=params, headers=oxm.auth("ann"))
        assert r.status_code == 400, params
        assert r.json()["code"] == 1100
        r = await oxm.client.put(f"{STREAMS}/a/stopped", params=params, headers=oxm.auth("ann"))
        assert r.status_code == 400, params
    long_asset = "x" * 257
    assert (await oxm.client.put(f"{STREAMS}/{long_asset}/streaming", headers=oxm.auth("ann"))).status_code == 400


async def test_streams_are_kept_apart_per_tenant(oxm):
    assert (await oxm.set_policy(1, 0, 0)).status_code == 200
    assert (await oxm.streaming("ann", "a", device="tv")).status_code == 204
    # Same user id in another tenant: a different viewer, under that tenant's (empty) policy.
    assert (await oxm.streaming("ann", "b", device="tv", tenant="globex")).status_code == 204
    assert (await oxm.streaming("ann", "c", device="tv", tenant="globex")).status_code == 204
    acme = await oxm.client.get(f"{STREAMS}/counts", headers=oxm.auth("ann"))
    assert acme.json() == {"a": 1}


async def test_200_racing_devices_against_max_devices_2_admit_exactly_2(oxm_stores):
    oxm = oxm_stores
    assert (await oxm.set_policy(0, 0, 2)).status_code == 200
    headers = oxm.auth("racer")

    async def one(i: int) -> int:
        r = await oxm.client.put(f"{STREAMS}/movie/streaming", params={"device": f"dev-{i}"}, headers=headers)
        return r.status_code

    statuses = await asyncio.gather(*(one(i) for i in range(200)))
    assert sorted(set(statuses)) == [204, 409]
    assert statuses.count(204) == 2
    counts = await oxm.client.get(f"{STREAMS}/counts?include=device", headers=headers)
    assert sum(counts.json()["movie"].values()) == 2


@pytest.mark.parametrize("store", ["redis"], indirect=True)
async def test_a_renewal_never_revives_a_stream_another_server_ended(tmp_path, clock, es_keys, store, wire):
    """Two servers on one Redis. This server renews the streams it allowed in one step, but a
    stream that the other server stopped meanwhile is not renewed: the call is judged as a new
    start, here refused because the slot went to another device."""
    from .conftest import start_oxm

    one = await start_oxm(tmp_path, clock, es_keys, {}, wire, **store)
    two = await start_oxm(tmp_path, clock, es_keys, {}, wire, **store)
    try:
        assert (await one.set_policy(0, 0, 1)).status_code == 200
        await two.running.app.state.oxm.reload()  # (the other server learns the policy within seconds)
        assert (await one.streaming("ann", "movie-1", device="tv")).status_code == 204
        clock.advance(60)
        assert (await one.streaming("ann", "movie-1", device="tv")).status_code == 204  # renewed
        stopped = await two.client.put(f"{STREAMS}/movie-1/stopped", params={"device": "tv"},
                                       headers=two.auth("ann"))
        assert stopped.status_code in (200, 204)
        assert (await two.streaming("ann", "movie-2", device="phone")).status_code == 204
        refused = await one.streaming("ann", "movie-1", device="tv")
        assert refused.status_code == 409, refused.text
        counts = await one.client.get(f"{STREAMS}/counts", params={"include": "device"}, headers=one.auth("ann"))
        assert counts.json() == {"movie-2": {"phone": 1}}
    finally:
        await two.running.__aexit__(None, None, None)
        await one.running.__aexit__(None, None, None)
