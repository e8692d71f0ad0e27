"""The embedded store keeps memory bounded: viewers who never come back are swept."""

from __future__ import annotations

from streamkeeper.concurrency.embedded import EmbeddedStore
from streamkeeper.concurrency.ids import SessionIds
from streamkeeper.concurrency.policy import Application, Policy, PolicyCatalog, Rule, Tenant
from streamkeeper.concurrency.service import ConcurrencyService
from streamkeeper.concurrency.session import GRACE_SECONDS, RETENTION_SECONDS
from tests.conftest import FakeClock

CATALOG = PolicyCatalog(
    tenants={"t": Tenant("t", "T")},
    policies={"p": Policy("p", "t", "p", (Rule("2", 2),))},
    applications={"a": Application("a", "t", "a", ("p",))},
)


async def test_sweep_forgets_dead_viewers_in_memory_and_in_the_journal(tmp_path):
    clock = FakeClock()
    store = EmbeddedStore(tmp_path / "sessions.db", clock=clock)
    await store.start()
    service = ConcurrencyService(store, SessionIds(b"k" * 32), CATALOG, clock=clock)
    app = CATALOG.applications["a"]
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

    reopened = EmbeddedStore(tmp_path / "sessions.db", clock=clock)
    await reopened.start()
    running = await ConcurrencyService(reopened, SessionIds(b"k" * 32), CATALOG, clock=clock).running(
        app, "idp", "still-here")
    assert [s.id for s in running.mine] == [kept.session.id]
    assert len(reopened._subjects) == 1
    await reopened.close()
