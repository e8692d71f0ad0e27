"""The catalog version: bumped by every kind of catalog change, and on PostgreSQL announced
with NOTIFY so a watcher wakes without waiting for its periodic check."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from streamkeeper.admin import schemas
from streamkeeper.admin.service import AdminService
from streamkeeper.catalog_version import CatalogWatcher, current
from streamkeeper.database import create_engine, migrate, sessionmaker
from streamkeeper.oxm.keys import TokenKeys, TokenKeySpec
from streamkeeper.oxm.limits import StreamLimits
from streamkeeper.oxm.service import OxmService
from tests.conftest import PG_URL, make_settings, run_pg


@pytest.fixture
async def engine(tmp_path, catalog_db):
    engine = create_engine(make_settings(tmp_path, **catalog_db))
    await migrate(engine)
    yield engine
    await engine.dispose()


async def test_every_kind_of_change_bumps_the_version(engine):
    sessions = sessionmaker(engine)
    admin = AdminService(sessions)
    seen = [await current(engine)]

    async def changed() -> None:
        seen.append(await current(engine))
        assert seen[-1] > seen[-2]

    await admin.save_tenant(schemas.Tenant(id="acme", name="Acme"))
    await changed()
    await admin.save_policy(schemas.Policy(id="p", tenant="acme", name="P",
                                           rules=[schemas.RuleSpec(name="r", threshold=2)]))
    await changed()
    await admin.save_application(schemas.Application(id="a", tenant="acme", name="A", policies=["p"]))
    await changed()
    keys = TokenKeys(sessions)
    await keys.save(TokenKeySpec(id="k", tenant="acme", algorithm="HS256", secret="s" * 32))
    await changed()
    oxm = OxmService(None, sessions, lambda: {}, dialect=engine.dialect.name)  # type: ignore[arg-type]
    await oxm.save_stream_policy("acme", StreamLimits(1, 1, 0))
    await changed()
    await keys.delete("k")
    await changed()
    await admin.delete_application("a")
    await changed()
    # A refused change leaves the version alone.
    with pytest.raises(Exception):
        await admin.save_application(schemas.Application(id="b", tenant="acme", name="B", policies=["nope"]))
    assert await current(engine) == seen[-1]


@pytest.fixture
def schema(pg_schema):
    name = f"{pg_schema}_{uuid.uuid4().hex[:6]}"
    run_pg(f'CREATE SCHEMA "{name}"')
    yield name
    run_pg(f'DROP SCHEMA "{name}" CASCADE')


async def test_a_watcher_wakes_on_notify_without_waiting_for_its_check(tmp_path, schema):
    engine = create_engine(make_settings(tmp_path, database_url=PG_URL, database_schema=schema))
    watcher = CatalogWatcher(engine, interval=3600)  # the periodic check would never come in time
    woke = asyncio.Event()

    async def listener() -> None:
        woke.set()

    try:
        await migrate(engine)
        await watcher.start()
        await watcher.subscribe(listener)  # runs it once now: the first load
        assert woke.is_set()
        woke.clear()
        # Another connection of the pool makes the change, as another process would.
        await AdminService(sessionmaker(engine)).save_tenant(schemas.Tenant(id="acme", name="Acme"))
        await asyncio.wait_for(woke.wait(), 30)
        assert watcher.version == await current(engine)
    finally:
        await watcher.close()
        await engine.dispose()


async def test_a_watcher_always_stops_whenever_it_is_closed(engine):
    """Closing lands at every point of the watcher's wait (timeouts firing, wake-ups); it must
    never be lost, or the server's shutdown would wait for ever."""
    for n in range(150):
        watcher = CatalogWatcher(engine, interval=0.001)
        await watcher.start()
        await asyncio.sleep(0.0005 * (n % 7))
        if n % 3 == 0:
            watcher._wake.set()
        await asyncio.wait_for(watcher.close(), 2)
        assert watcher._task is None


async def test_a_sqlite_watcher_reads_the_version_only_after_a_commit(tmp_path):
    """On SQLite the periodic check first asks `PRAGMA data_version` on the loop's thread: with
    nothing committed it runs no query; a commit by another engine (another process, the CLI)
    is still seen at the next check, and a failed check is tried again without a new commit."""
    from streamkeeper.database import ChangeProbe

    settings = make_settings(tmp_path)
    engine, other = create_engine(settings), create_engine(settings)
    await migrate(engine)
    probe = ChangeProbe(engine)
    assert probe.changed()  # the first look
    assert not probe.changed()
    await AdminService(sessionmaker(other)).save_tenant(schemas.Tenant(id="t1", name="T1"))
    assert probe.changed() and not probe.changed()
    probe.forget()
    assert probe.changed()
    probe.close()

    watcher = CatalogWatcher(engine, interval=0.01)
    reads = []
    seen = []

    async def read() -> int:
        reads.append(1)
        return await current(engine)

    import streamkeeper.catalog_version as catalog_version

    original = catalog_version.current
    catalog_version.current = lambda _engine: read()
    try:
        await watcher.subscribe(lambda: asyncio.sleep(0, seen.append(1)))
        await watcher.start()
        await asyncio.sleep(0.2)  # twenty checks, nothing committed
        quiet = len(reads)
        assert quiet <= 3, reads
        await AdminService(sessionmaker(other)).save_tenant(schemas.Tenant(id="t2", name="T2"))
        for _ in range(100):
            if len(seen) > 1:
                break
            await asyncio.sleep(0.01)
        assert len(seen) == 2  # the first load, then the change
    finally:
        catalog_version.current = original
        await watcher.close()
        await engine.dispose()
        await other.dispose()
