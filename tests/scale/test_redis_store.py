"""What is particular to the Redis store: scripts surviving SCRIPT FLUSH, compare-and-set
retries, key layout (one hash tag per viewer, braces escaped), expiry of idle viewers, and
memory per session."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from urllib.parse import quote

import orjson
import pytest
import redis

from streamkeeper.concurrency.redis_store import RedisStore, encode, parse_url, tag
from streamkeeper.concurrency.session import GRACE_SECONDS, RETENTION_SECONDS, Ending, StreamSession
from tests.conftest import REDIS_URL, Running, basic, drop_redis_keys, make_settings, redis_prefix_for_test

DEMO = basic("demo-app")


@pytest.fixture
def redis_settings(tmp_path, request):
    from tests.conftest import redis_available

    redis_available()
    prefix = redis_prefix_for_test()
    request.addfinalizer(lambda: asyncio.run(drop_redis_keys(REDIS_URL, prefix)))
    return make_settings(tmp_path, redis_url=REDIS_URL, redis_prefix=prefix)


def session(sid: str, now: float, **meta) -> StreamSession:
    return StreamSession(id=sid, app_id="a", tenant="t", idp="i", subject="u", metadata=meta,
                         started=now, expires=now + 60, code="c" + sid)


# SCRIPT FLUSH empties the shared server's script cache: a test counting round trips that ran
# beside it would see the reload (NOSCRIPT, then EVAL). One xdist worker runs both (--dist loadgroup).
SCRIPT_CACHE = pytest.mark.xdist_group("redis-script-cache")


@SCRIPT_CACHE
async def test_scripts_are_reloaded_after_script_flush(redis_settings, clock, redis_client):
    async with Running(redis_settings, clock) as client:
        sid = (await client.post("/v2/sessions/adobe/flush", auth=DEMO)).headers["location"]
        await redis_client.script_flush()
        assert (await client.post(f"/v2/sessions/adobe/flush/{sid}", auth=DEMO)).status_code == 202
        await redis_client.script_flush()
        assert (await client.post("/v2/sessions/adobe/flush", auth=DEMO)).status_code == 202
        running = (await client.get("/v2/runningStreams/adobe/flush", auth=DEMO)).json()["runningStreams"]
        assert len(running) == 2


async def test_a_commit_that_lost_a_race_is_decided_again_on_fresh_data(redis_settings, clock):
    """Another process changes the viewer between our read and our commit: the commit is
    refused by the version check, and the decision is made again on what is there now."""
    store = RedisStore(REDIS_URL, prefix=redis_settings.redis_prefix, clock=clock)
    other = redis.Redis.from_url(REDIS_URL)
    await store.start()
    try:
        key = ("i", "u")
        first = session("first", clock.now)
        await store.transact(key, lambda v: v.put(first))
        seen: list[set[str]] = []

        def add_second(view):
            seen.append({sid for sid, s in view.sessions.items() if s.is_live(clock.now)})
            if len(seen) == 1:  # meanwhile, another process stops the first session
                ended = replace(first, ended=Ending("deleted", clock.now))
                other.hset(store.viewer_key(key), "first", encode(ended))
                other.hincrby(store.viewer_key(key), "", 1)
            view.put(session("second", clock.now))

        await store.transact(key, add_second)
        assert seen == [{"first"}, set()]  # decided twice, the second time without the stopped one
        after = await store.transact(key, lambda v: {sid: s.ended for sid, s in v.sessions.items()})
        assert after["first"] is not None and after["first"].reason == "deleted"  # not overwritten
        assert after["second"] is None
    finally:
        other.close()
        await store.close()


def test_hash_tags_are_unambiguous_and_brace_free():
    assert tag("a\x00b", "c") != tag("a", "b\x00c")
    assert tag("a{b", "c") != tag("a", "{b}c")
    for parts in (("x{y}", "z"), ("}{", "\\0"), ("plain", "ids")):
        inner = tag(*parts)[1:-1]
        assert "{" not in inner and "}" not in inner


async def test_viewer_with_braces_in_its_id_keeps_one_hash_tag(redis_settings, clock, redis_client):
    subject = "we{ird}\\sub"
    path = f"/v2/sessions/adobe/{quote(subject, safe='')}"
    async with Running(redis_settings, clock) as client:
        assert (await client.post(path, auth=DEMO)).status_code == 202
        running = await client.get(f"/v2/runningStreams/adobe/{quote(subject, safe='')}", auth=DEMO)
        assert len(running.json()["runningStreams"]) == 1
    keys = [k.decode() async for k in redis_client.scan_iter(match=redis_settings.redis_prefix + "{*")]
    assert keys, "the viewer has a hash"
    # Every key of the viewer (its hash, its rate-limit counters) carries the same single hash tag.
    for key in keys:
        assert key.count("{") == 1 and key.count("}") == 1
    assert len({key[key.index("{"): key.index("}") + 1] for key in keys}) == 1


async def test_idle_viewers_expire_after_their_sessions_stop_mattering(redis_settings, clock, redis_client):
    async with Running(redis_settings, clock) as client:
        assert (await client.post("/v2/sessions/adobe/idle", auth=DEMO)).status_code == 202
        store = client._transport.app.state.concurrency.store
        ttl = await redis_client.ttl(store.viewer_key(("adobe", "idle")))
    # Kept while a late heartbeat could still ask about the session, then dropped.
    assert 60 + GRACE_SECONDS + RETENTION_SECONDS <= ttl <= 60 + GRACE_SECONDS + RETENTION_SECONDS + 200


async def test_memory_per_active_session_stays_under_one_kib(redis_settings, clock, redis_client):
    """Everything the store keeps (viewer hashes, live index, rate-limit counters of inits and
    heartbeats), divided by the live sessions."""
    viewers, per_viewer = 100, 3
    async with Running(redis_settings, clock) as client:
        started = []
        for v in range(viewers):
            path = f"/v2/sessions/idp-{v % 7}/subscriber-{v:08d}"
            for n in range(per_viewer):
                meta = {"channel": f"channel-{n}", "assetId": f"urn:asset:{v:06d}-{n}", "platform": "android",
                        "deviceId": f"device-{v:06d}-{n}", "contentType": "live"}
                r = await client.post(path, auth=DEMO, data=meta)
                assert r.status_code == 202
                started.append(f"{path}/{r.headers['location']}")
        clock.advance(30)
        for path in started:
            assert (await client.post(path, auth=DEMO)).status_code == 202
    usage: dict[str, int] = {}
    prefix = redis_settings.redis_prefix.encode()
    async for key in redis_client.scan_iter(match=redis_settings.redis_prefix + "*"):
        kind = "rate" if b":rate:" in key else "index" if key.startswith(prefix + b"live") else "viewer"
        usage[kind] = usage.get(kind, 0) + await redis_client.memory_usage(key, samples=0)
    sessions = viewers * per_viewer
    per_session = sum(usage.values()) / sessions
    print(f"\nRedis memory per active session: {per_session:.0f} bytes ("
          + ", ".join(f"{kind} {n / sessions:.0f}" for kind, n in sorted(usage.items())) + ")")
    assert set(usage) == {"viewer", "index", "rate"}
    assert per_session <= 1024


async def test_unreachable_redis_stops_the_server_from_starting(tmp_path, clock):
    settings = make_settings(tmp_path, redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError, match="cannot reach Redis"):
        async with Running(settings, clock):
            pass


def test_cluster_is_chosen_by_the_url():
    assert parse_url("redis://h:6379/0") == ("redis://h:6379/0", False)
    assert parse_url("rediss+cluster://u:p@h:7000") == ("rediss://u:p@h:7000", True)
    assert parse_url("redis://h:7000?cluster=yes&socket_timeout=2") == ("redis://h:7000?socket_timeout=2", True)
    with pytest.raises(ValueError):
        parse_url("http://h")


async def commands_for(prefix: str, action) -> list[list[str]]:
    """The commands clients sent naming a key under `prefix` while `action` runs (MONITOR; the
    commands a script runs are left out: they are not round trips)."""
    import redis.asyncio as aioredis

    watcher = aioredis.Redis.from_url(REDIS_URL)
    marker = f"{prefix}end-of-watch"
    seen: list[list[str]] = []
    try:
        async with watcher.monitor() as monitor:
            await action()
            await aioredis.Redis.from_url(REDIS_URL).echo(marker)
            while True:
                command = await asyncio.wait_for(monitor.next_command(), 10)
                words = command["command"].split(" ")
                if marker in command["command"]:
                    return seen
                if command.get("client_type") != "lua" and any(prefix in w for w in words):
                    seen.append(words)
    finally:
        await watcher.aclose()


@SCRIPT_CACHE
async def test_a_heartbeat_is_one_round_trip_and_an_init_two(redis_settings, clock, redis_client):
    """Counted from a server started on an empty script cache: it loads its scripts at start, so
    not even the first call of each one costs a NOSCRIPT and a second trip."""
    prefix = redis_settings.redis_prefix
    await redis_client.script_flush()
    async with Running(redis_settings, clock) as client:
        sid = (await client.post("/v2/sessions/adobe/trips", auth=DEMO)).headers["location"]

        async def beat():
            assert (await client.post(f"/v2/sessions/adobe/trips/{sid}", auth=DEMO)).status_code == 202

        async def init():
            assert (await client.post("/v2/sessions/adobe/trips", auth=DEMO)).status_code == 202

        beat_commands = await commands_for(prefix, beat)
        init_commands = await commands_for(prefix, init)
    assert len(beat_commands) == 1, beat_commands
    assert len(init_commands) == 2, init_commands


async def test_records_of_the_previous_layout_are_converted_once_at_start(redis_settings, clock, redis_client):
    """Records of layout 1 (expiry in the middle, written by earlier versions) are converted at
    start, by several processes at once without converting one twice, into exactly the record
    the current version writes; the sessions then work as before, and a later start skips the
    walk."""
    prefix = redis_settings.redis_prefix
    async with Running(redis_settings, clock) as client:
        live = (await client.post("/v2/sessions/adobe/old", auth=DEMO)).headers["location"]
        stopped = (await client.post("/v2/sessions/adobe/old", auth=DEMO)).headers["location"]
        assert (await client.delete(f"/v2/sessions/adobe/old/{stopped}", auth=DEMO)).status_code == 202
        store = client._transport.app.state.concurrency.store
        hkey = store.viewer_key(("adobe", "old"))
        ended_hash = store.ended_keys(hkey)[0]
        current = {}
        for key, sid in ((hkey, live), (ended_hash, stopped)):
            body = current[sid] = await redis_client.hget(key, sid)
            record = orjson.loads(body)
            assert record[0] == 2
            layout1 = [record[1], record[2], record[3], record[4], record[9], record[5], record[6], record[7]]
            await redis_client.hset(key, sid, orjson.dumps(layout1))
        await redis_client.delete(prefix + "layout")

        processes = [RedisStore(REDIS_URL, prefix=prefix, clock=clock) for _ in range(3)]
        await asyncio.gather(*(p.start() for p in processes))
        try:
            assert await redis_client.hget(hkey, live) == current[live]
            assert await redis_client.hget(ended_hash, stopped) == current[stopped]
            assert await redis_client.get(prefix + "layout") == b"2"
            # Planted after the walk: the next start does not look (the walk is done once).
            await redis_client.hset(hkey, "planted", orjson.dumps(["a", "t", {}, 1.0, 2.0, "c", 60, None]))
            assert await processes[0].migrate() == 0
            await redis_client.hdel(hkey, "planted")
        finally:
            for p in processes:
                await p.close()

        clock.advance(30)
        assert (await client.post(f"/v2/sessions/adobe/old/{live}", auth=DEMO)).status_code == 202
        assert orjson.loads(await redis_client.hget(hkey, live))[9] == clock.now + 60
        gone = await client.post(f"/v2/sessions/adobe/old/{stopped}", auth=DEMO)
        assert gone.status_code == 410, gone.text
        running = await client.get("/v2/runningStreams/adobe/old", auth=DEMO)
        assert [s["sessionId"] for s in running.json()["runningStreams"]] == [live]


async def test_the_migration_counts_each_record_once_across_processes(redis_settings, clock, redis_client):
    """Many old records, three processes converting at once: each is converted exactly once."""
    prefix = redis_settings.redis_prefix
    processes = [RedisStore(REDIS_URL, prefix=prefix, clock=clock) for _ in range(3)]
    for p in processes:
        await p.start()
    hkeys = [processes[0].viewer_key(("idp", f"v{n}")) for n in range(50)]
    for hkey in hkeys:
        await redis_client.hset(hkey, mapping={
            f"s{m}": orjson.dumps(["a", "t", {"k": "v"}, 1.0, 2.0, "c", 60, None]) for m in range(4)})
    await redis_client.delete(prefix + "layout")
    try:
        assert sum(await asyncio.gather(*(p.migrate() for p in processes))) == 200
        for hkey in hkeys:
            for body in (await redis_client.hgetall(hkey)).values():
                assert orjson.loads(body) == [2, "a", "t", {"k": "v"}, 1.0, "c", 60, None, None, 2.0]
    finally:
        for p in processes:
            await p.close()


async def test_a_zapping_viewer_starts_by_reading_only_its_streams_that_have_not_ended(
        redis_settings, clock, redis_client):
    """Every channel change ends a stream that must still be answered for an hour. Those records
    move out of the hash a start reads, are still told apart from never-issued ids, and are
    forgotten once the hour is over."""
    path = "/v2/sessions/adobe/zapper"
    async with Running(redis_settings, clock) as client:
        store = client._transport.app.state.concurrency.store
        hkey = store.viewer_key(("adobe", "zapper"))
        ended_hash, forget = store.ended_keys(hkey)
        stopped = []
        for n in range(30):
            sid = (await client.post(path, auth=DEMO, data={"channel": f"c{n}"})).headers["location"]
            assert (await client.delete(f"{path}/{sid}", auth=DEMO)).status_code == 202
            stopped.append(sid)
            clock.advance(1)
        live = (await client.post(path, auth=DEMO)).headers["location"]
        # What a start reads: the version and the one live stream, not thirty ended ones.
        assert sorted(await redis_client.hkeys(hkey)) == sorted([b"", live.encode()])
        assert await redis_client.hlen(ended_hash) == 30 and await redis_client.zcard(forget) == 30
        assert 0 < await redis_client.ttl(ended_hash) <= RETENTION_SECONDS + 60
        # An ended stream is still gone (410), not unknown (404), on every call that names it.
        assert (await client.post(f"{path}/{stopped[0]}", auth=DEMO)).status_code == 410
        assert (await client.delete(f"{path}/{stopped[1]}", auth=DEMO)).status_code == 410
        assert (await client.post(f"{path}/{stopped[2]}", auth=DEMO, data={"platform": "web"})).status_code == 410
        running = (await client.get("/v2/runningStreams/adobe/zapper", auth=DEMO)).json()["runningStreams"]
        assert [s["sessionId"] for s in running] == [live]
        # An hour after the first ten ended (one a second), the next change forgets them.
        clock.advance(RETENTION_SECONDS - 21)
        sid = (await client.post(path, auth=DEMO)).headers["location"]
        assert (await client.delete(f"{path}/{sid}", auth=DEMO)).status_code == 202
        left = {k.decode() for k in await redis_client.hkeys(ended_hash)}
        assert left == {*stopped[-20:], sid}
        assert await redis_client.zcard(forget) == len(left)


def test_a_record_holds_the_fields_its_layout_names_where_it_names_them():
    """encode, decode and the Lua scripts share one list of fields (redis_record.FIELDS)."""
    from streamkeeper.concurrency.redis_record import FIELDS, LAYOUT, decode, lua_positions

    s = replace(session("s1", 1000.5, channel="c"), interval=45, extra={"x": 1},
                ended=Ending("deleted", 1010.25))
    record = orjson.loads(encode(s))
    expected = {"layout": LAYOUT, "ended": s.ended.to_dict(), **{name: getattr(s, name) for name in FIELDS
                                                                   if name not in ("layout", "ended")}}
    assert record == [expected[name] for name in FIELDS]
    assert decode(("i", "u"), "s1", encode(s)) == s
    assert lua_positions("expires") == f"local EXPIRES = {FIELDS.index('expires') + 1}\n"


async def test_sessions_live_before_the_per_application_indexes_are_indexed_once_at_start(
        redis_settings, clock, redis_client):
    """A keyspace written by a version without per-application indexes: the sessions live in it
    are put into them at start (several processes at once), ended and expired ones are not, and
    a later start skips the walk."""
    prefix = redis_settings.redis_prefix
    async with Running(redis_settings, clock) as client:
        for subject in ("old-1", "old-2"):
            assert (await client.post(f"/v2/sessions/adobe/{subject}", auth=DEMO)).status_code == 202
        stopped = (await client.post("/v2/sessions/adobe/old-1", auth=DEMO)).headers["location"]
        assert (await client.delete(f"/v2/sessions/adobe/old-1/{stopped}", auth=DEMO)).status_code == 202
        clock.advance(80)
        assert (await client.post("/v2/sessions/adobe/old-3", auth=DEMO)).status_code == 202
        clock.advance(20)  # the first two are past their expiry and grace
        assert (await client.post("/v2/sessions/adobe/old-4", auth=DEMO)).status_code == 202
    store = RedisStore(REDIS_URL, prefix=prefix, clock=clock)
    await redis_client.delete(store.apps_key, store.app_index_key("demo-app"), store.indexes_key)

    processes = [RedisStore(REDIS_URL, prefix=prefix, clock=clock) for _ in range(3)]
    await asyncio.gather(*(p.start() for p in processes))
    try:
        assert await processes[0].live_by_application(clock.now) == {"demo-app": 2}
        assert await redis_client.zcard(store.app_index_key("demo-app")) == 2
        assert await processes[0].index_applications() == 0  # done once
    finally:
        for p in processes:
            await p.close()
