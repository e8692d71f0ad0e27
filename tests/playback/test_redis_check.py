"""The playback check on Redis (playback/redis_check.py): one round trip per check once the session
was judged, the fetch written in the same step, and every change another process makes seen at
the next check (a renewal, a write of its own, the end of the session)."""

from __future__ import annotations

import asyncio

import pytest

from streamkeeper.concurrency.redis_store import RedisStore
from streamkeeper.concurrency.session import GRACE_SECONDS
from streamkeeper.playback.service import EXTRA, RENEW_EVERY
from tests.conftest import REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test
from tests.playback.conftest import APP, open_stage


@pytest.fixture
async def redis_stage(tmp_path, clock, clip):
    redis_available()
    prefix = redis_prefix_for_test()
    s = await open_stage(tmp_path, clock, {"redis_url": REDIS_URL, "redis_prefix": prefix}, clip)
    other = RedisStore(REDIS_URL, prefix=prefix, clock=clock)  # another process on the same keys
    await other.start()
    try:
        yield s, other
    finally:
        await other.close()
        await s.running.__aexit__(None, None, None)
        await drop_redis_keys(REDIS_URL, prefix)


class Trips:
    """Counts the store's round trips (the real store does the work)."""

    def __init__(self, store: RedisStore) -> None:
        self.n = 0
        for name in ("run_script", "_run", "_hgetall"):
            real = getattr(store, name)

            async def counted(*args, real=real, **kwargs):
                self.n += 1
                return await real(*args, **kwargs)

            setattr(store, name, counted)

    def take(self) -> int:
        n, self.n = self.n, 0
        return n


async def test_a_check_is_one_round_trip_and_sees_what_other_processes_did(redis_stage, clock):
    stage, other = redis_stage
    service = stage.app.state.playback
    store = service.store
    assert type(store) is RedisStore
    sid = await stage.session("alice")
    token = (await stage.playback("alice", sid)).json()["token"]
    key = ("adobe", "alice")
    trips = Trips(store)

    async def check() -> str:
        verdict = await service.check(token, None, clock())
        return "ok" if verdict.ok else verdict.reason

    assert await check() == "ok"  # the first: judged under the policy (the whole viewer read)
    trips.take()
    assert await check() == "ok"
    assert trips.take() == 1

    # the fetch is written every RENEW_EVERY seconds, in the same round trip
    clock.advance(RENEW_EVERY + 1)
    assert await check() == "ok"
    assert trips.take() == 1
    record = (await other.snapshot(key))[sid]
    assert record.extra[EXTRA]["fetched"] == clock()
    assert record.expires == clock() + record.interval  # a fetch is a heartbeat
    score = await other.client.zscore(other.index_key, sid)
    assert score == pytest.approx(record.expires + GRACE_SECONDS)

    # another process renews the session (a /v2 heartbeat): the record this process saw is old
    clock.advance(1)
    assert (await other.renew(key, sid, clock(), app_id=APP))[0]
    assert await check() == "ok"
    assert trips.take() == 1  # nothing to write: the stored record is read and found live
    clock.advance(RENEW_EVERY + 1)
    assert (await other.renew(key, sid, clock(), app_id=APP))[0]
    renewed = (await other.snapshot(key))[sid]
    clock.advance(1)
    assert await check() == "ok"
    assert trips.take() == 2  # the record changed: read, then written over the one read
    record = (await other.snapshot(key))[sid]
    assert record.extra[EXTRA]["fetched"] == clock() and record.expires == clock() + record.interval
    assert record.expires > renewed.expires

    # another process ends it: refused at the next check, with the reason
    r = await stage.c.delete(f"/v2/sessions/adobe/alice/{sid}", auth=(APP, ""))
    assert r.status_code == 202
    assert await check() == "session ended: stopped by its player"
    assert await check() == "session ended: stopped by its player"


async def test_checks_of_many_players_at_once_all_pass_and_write_their_fetch(redis_stage, clock):
    """Checks in flight together (the pipelined connection carries them in one write) and a
    viewer whose three streams are fetched at once: each one is written, none is lost."""
    stage, other = redis_stage
    service = stage.app.state.playback
    tokens = {}
    for subject in ("a", "b", "c"):
        for _ in range(3):
            sid = await stage.session(subject)
            tokens[(subject, sid)] = (await stage.playback(subject, sid)).json()["token"]
    for _ in range(3):
        verdicts = await asyncio.gather(*(service.check(t, None, clock()) for t in tokens.values() for _ in range(4)))
        assert all(v.ok for v in verdicts)
        clock.advance(RENEW_EVERY + 1)
    clock.advance(-(RENEW_EVERY + 1))
    for (subject, sid) in tokens:
        record = (await other.snapshot(("adobe", subject)))[sid]
        assert record.extra[EXTRA]["fetched"] == clock(), (subject, sid)
