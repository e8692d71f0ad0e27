"""The embedded store keeps memory bounded: viewers who never come back are swept."""

from __future__ import annotations

import pytest

from streamkeeper.concurrency.embedded import EmbeddedStore
from streamkeeper.concurrency.ids import SessionIds
from streamkeeper.concurrency.policy import Application, Policy, PolicyCatalog, Rule, Tenant
from streamkeeper.concurrency.service import ConcurrencyService, SessionGone
from streamkeeper.concurrency.session import GRACE_SECONDS, RETENTION_SECONDS
from tests.conftest import FakeClock

CATALOG = PolicyCatalog(
    tenants={"t": Tenant("t", "T")},
    policies={"p": Policy("p", "t", "p", (Rule("2", 2),))},
    applications={"a": Application("a", "t", "a", ("p",))},
)
APP = CATALOG.applications["a"]


async def opened(path, clock, **options) -> tuple[EmbeddedStore, ConcurrencyService]:
    """A started store at `path` and a service on it."""
    store = EmbeddedStore(path, clock=clock, **options)
    await store.start()
    return store, ConcurrencyService(store, SessionIds(b"k" * 32), CATALOG, clock=clock)


async def test_sweep_forgets_dead_viewers_in_memory_and_in_the_journal(tmp_path):
    clock = FakeClock()
    store, service = await opened(tmp_path / "sessions.db", clock)
    app = APP
    for n in range(50):
        await service.start(app, "idp", f"gone-{n}", {})
    kept = await service.start(app, "idp", "still-here", {})
    forgettable_at = clock.now + app.heartbeat_interval + GRACE_SECONDS + RETENTION_SECONDS
    while clock.now < forgettable_at:
        if clock.now > forgettable_at - 120:
            assert await store.sweep() == 0  # dead, but still remembered for late heartbeats
        clock.advance(app.heartbeat_interval)
        await service.heartbeat(app, "idp", "still-here", kept.session.id, {})
    assert await store.sweep() == 50
    assert await store.count_live(clock.now) == 1
    await store.close()

    reopened, again = await opened(tmp_path / "sessions.db", clock)
    running = await again.running(app, "idp", "still-here")
    assert [s.id for s in running.mine] == [kept.session.id]
    assert len({**reopened._subjects, **reopened._ended}) == 1
    await reopened.close()


async def _more_viewers_than_two_slices(tmp_path):
    """A store whose deferred writes wait for an explicit flush, with more viewers started than
    two of its flush slices hold, 30 s ago."""
    from streamkeeper.concurrency import journal

    clock = FakeClock()
    store, service = await opened(tmp_path / "sessions.db", clock, lazy_flush_seconds=1e6)
    count = journal.DEFERRED_SLICE * 2 + 7
    started = [await service.start(APP, "idp", f"viewer-{n}", {}) for n in range(count)]
    clock.advance(30)
    return clock, store, service, APP, count, started


async def test_deferred_heartbeats_are_written_in_slices_and_never_undo_a_later_stop(tmp_path):
    """More deferred heartbeats than one slice: every one is written; a stop decided while the
    flush is between slices stays stopped after a kill, though its older heartbeat is in a later
    slice."""
    import asyncio

    clock, store, service, app, count, started = await _more_viewers_than_two_slices(tmp_path)
    for n, s in enumerate(started):
        await service.heartbeat(app, "idp", f"viewer-{n}", s.session.id, {})
    renewed_expiry = clock.now + app.heartbeat_interval
    flush = asyncio.ensure_future(store.flush_deferred())
    await asyncio.sleep(0)  # the first slice is written, the flush waits for the next turn
    assert not flush.done()
    last = count - 1  # its heartbeat is in the last slice
    await service.stop(app, "idp", f"viewer-{last}", started[last].session.id)
    await flush
    await store.abandon()  # as kill -9: only what was committed counts

    reopened, _ = await opened(tmp_path / "sessions.db", clock)
    for n in range(count - 1):
        (session,) = reopened.records(("idp", f"viewer-{n}")).values()
        assert session.expires == renewed_expiry
    (stopped,) = reopened.records(("idp", f"viewer-{last}")).values()
    assert stopped.ended is not None and stopped.ended.reason == "deleted"
    await reopened.close()


async def test_the_journal_wal_is_checkpointed_while_the_store_runs(tmp_path):
    """Commits never checkpoint themselves (that would stall the event loop); a thread does, so
    the WAL file starts over instead of growing with every commit."""
    import asyncio

    clock = FakeClock()
    path = tmp_path / "sessions.db"
    store, service = await opened(path, clock)
    app = APP
    wal = path.with_name(path.name + "-wal")
    viewers = iter(range(100_000))

    async def commits(n: int) -> None:
        for _ in range(n):
            await service.start(app, "idp", f"viewer-{next(viewers)}", {})

    await commits(300)
    size = wal.stat().st_size
    for _ in range(20):
        await asyncio.sleep(0.3)  # time for a checkpoint; after it, commits reuse the file
        await commits(50)
        if wal.stat().st_size <= size:
            break
        size = wal.stat().st_size
    else:
        raise AssertionError("the WAL file kept growing: nothing checkpointed it")
    await store.close()


async def test_a_journal_written_before_row_numbers_is_upgraded_with_its_sessions(tmp_path):
    """A journal of the schema before row numbers (sessions keyed by id) opens with every session
    it held; a stop and a new start written afterwards survive a kill and a restart."""
    import sqlite3

    import orjson

    from streamkeeper.concurrency import journal

    clock = FakeClock()
    path = tmp_path / "sessions.db"
    store, service = await opened(path, clock)
    app = APP
    old = [(await service.start(app, "idp", "v", {})).session for _ in range(2)]
    await store.close()
    # The same sessions as the older schema held them.
    conn = sqlite3.connect(path.with_name("old.db"), isolation_level=None)
    for script in journal.JOURNAL_MIGRATIONS[:2]:
        for statement in filter(str.strip, script.split(";")):
            conn.execute(statement)
    conn.execute("PRAGMA user_version=2")
    conn.executemany("INSERT INTO sessions (id, idp, subject, body, expires) VALUES (?, ?, ?, ?, ?)",
                     [(s.id, s.idp, s.subject, orjson.dumps(s.to_dict()), s.expires) for s in old])
    conn.close()
    path.unlink()
    path.with_name("old.db").rename(path)

    upgraded, service = await opened(path, clock)
    assert sorted(upgraded.records(("idp", "v"))) == sorted(s.id for s in old)
    await service.stop(app, "idp", "v", old[0].id)
    new = (await service.start(app, "idp", "v", {})).session
    await upgraded.abandon()  # as kill -9: only what was committed counts

    reopened, _ = await opened(path, clock)
    sessions = reopened.records(("idp", "v"))
    assert set(sessions) == {old[0].id, old[1].id, new.id}
    assert sessions[old[0].id].ended is not None and sessions[old[0].id].ended.reason == "deleted"
    assert sessions[old[1].id].ended is None and sessions[new.id].ended is None
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(journal.JOURNAL_MIGRATIONS)
    await reopened.close()


async def test_live_counts_are_exact_and_let_other_work_run_between_slices(tmp_path):
    """The dashboard's live counts walk every viewer: a slice per turn of the loop, so requests
    are answered in between, and still every live session counted once."""
    import asyncio

    from streamkeeper.concurrency import embedded

    clock = FakeClock()
    store, service = await opened(tmp_path / "sessions.db", clock)
    viewers = embedded.SWEEP_SLICE * 2 + 5
    for n in range(viewers):
        await service.start(APP, "idp", f"viewer-{n}", {})
    ended = await service.start(APP, "idp", "viewer-0", {})
    await service.stop(APP, "idp", "viewer-0", ended.session.id)
    turns = 0

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(other_work())
    await asyncio.sleep(0)
    before = turns
    assert await store.count_live(clock.now) == viewers
    assert turns - before >= 2  # it ran between the slices
    assert await store.live_by_application(clock.now) == {"a": viewers}
    task.cancel()
    await store.close()


async def test_a_zapping_viewer_starts_with_only_its_streams_that_have_not_ended(tmp_path):
    """Every channel change ends a stream that is remembered for an hour. A start copies and scans
    only the streams that have not ended; the ended ones still answer (410), survive a restart,
    and are forgotten by the sweep once the hour is over."""
    clock = FakeClock()
    path = tmp_path / "sessions.db"
    store, service = await opened(path, clock)
    key = ("idp", "zapper")
    stopped = []
    for n in range(30):
        sid = (await service.start(APP, *key, {"channel": f"c{n}"})).session.id
        await service.stop(APP, *key, sid)
        stopped.append(sid)
        clock.advance(1)
    replaced = (await service.start(APP, *key, {})).session
    live = (await service.start(APP, *key, {}, terminate=[replaced.code])).session.id
    seen = []
    await store.transact(key, lambda view: seen.append(sorted(view.sessions)), live_only=True)
    assert seen == [[live]]
    stopped.append(replaced.id)
    assert set(store.records(key)) == {*stopped, live}
    # The ended record is still found: a heartbeat learns who ended its stream.
    with pytest.raises(SessionGone) as gone:
        await service.heartbeat(APP, *key, replaced.id, {})
    ending = gone.value.ending
    assert ending is not None and ending.reason == "terminated" and ending.by == live
    await store.close()

    store, service = await opened(path, clock)
    assert set(store.records(key)) == {*stopped, live}
    assert [s.id for s in (await service.running(APP, *key)).mine] == [live]
    clock.advance(RETENTION_SECONDS - 21)  # an hour after the first ten ended (one a second)
    assert await store.sweep() == 10
    assert set(store.records(key)) == {*stopped[10:], live}
    await store.close()


async def test_an_ending_is_appended_beside_its_row_and_read_back_after_a_kill(tmp_path):
    """Ending a stream (X-Terminate, delete) appends the ended record to the endings table instead
    of rewriting the session's row; after a kill the latest ending is the session's state, and
    forgetting the session removes both."""
    import sqlite3

    import orjson

    clock = FakeClock()
    path = tmp_path / "sessions.db"
    store, service = await opened(path, clock)
    key = ("idp", "v")
    first = (await service.start(APP, *key, {})).session
    second = (await service.start(APP, *key, {}, terminate=[first.code])).session
    await service.stop(APP, *key, second.id)
    db = sqlite3.connect(path)
    rows = {orjson.loads(b)["id"]: orjson.loads(b) for (b,) in db.execute("SELECT body FROM sessions")}
    assert rows[first.id]["ended"] is None and rows[second.id]["ended"] is None  # written once
    endings = [orjson.loads(b) for (b,) in db.execute("SELECT body FROM endings ORDER BY eid")]
    assert [(e["id"], e["ended"]["reason"]) for e in endings] == [(first.id, "terminated"), (second.id, "deleted")]
    await store.abandon()  # as kill -9

    store, service = await opened(path, clock)
    records = store.records(key)
    assert records[first.id].ended.reason == "terminated" and records[first.id].ended.by == second.id
    assert records[second.id].ended.reason == "deleted"
    with pytest.raises(SessionGone) as gone:
        await service.heartbeat(APP, *key, first.id, {})
    assert gone.value.ending is not None and gone.value.ending.by == second.id
    assert (await service.running(APP, *key)).mine == []
    clock.advance(RETENTION_SECONDS + 1)
    assert await store.sweep() == 2
    await store.close()
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM endings").fetchone()[0] == 0


async def test_deferred_heartbeats_come_in_any_order_and_one_renewed_during_a_flush_is_written_next(tmp_path):
    """The flush writes in the order of the journal's rows, not of arrival: heartbeats that came
    newest row first are all written, and a viewer renewed again after its slice was written
    (between two slices) has that later expiry written by the next flush."""
    import asyncio

    clock, store, service, app, count, started = await _more_viewers_than_two_slices(tmp_path)
    for n in reversed(range(count)):
        await service.heartbeat(app, "idp", f"viewer-{n}", started[n].session.id, {})
    flush = asyncio.ensure_future(store.flush_deferred())
    await asyncio.sleep(0)  # the first slice (the oldest rows) is written
    assert not flush.done()
    clock.advance(5)
    await service.heartbeat(app, "idp", "viewer-0", started[0].session.id, {})
    later_expiry = clock.now + app.heartbeat_interval
    await flush
    await store.flush_deferred()
    await store.abandon()

    reopened, _ = await opened(tmp_path / "sessions.db", clock)
    for n in range(1, count):
        (session,) = reopened.records(("idp", f"viewer-{n}")).values()
        assert session.expires == later_expiry - 5
    (first,) = reopened.records(("idp", "viewer-0")).values()
    assert first.expires == later_expiry
    await reopened.close()


async def test_a_refused_start_writes_nothing_to_the_journal(tmp_path):
    """Most starts of a busy service are refusals: they leave the journal file as it was (no
    commit, not even an empty one)."""
    import asyncio

    from streamkeeper.concurrency.service import PolicyDenied

    clock = FakeClock()
    store, service = await opened(tmp_path / "sessions.db", clock)
    for _ in range(2):
        await service.start(APP, "idp", "full", {})
    await asyncio.sleep(0.01)
    wal = tmp_path / "sessions.db-wal"
    before = wal.read_bytes()
    for _ in range(5):
        with pytest.raises(PolicyDenied):
            await service.start(APP, "idp", "full", {})
    await asyncio.sleep(0.01)
    assert wal.read_bytes() == before
    await store.close()
