"""Catalog changes reach every process within a second, whichever process or command made them.

Every change of tenants, policies, applications, OXM token keys and OXM stream policies bumps
one integer (`catalog_version`, a one-row table) in the same transaction. Each server process
reads that integer every `CHECK_SECONDS` (one primary-key SELECT, off the request path) and,
when it moved, rebuilds its in-memory catalog through the listeners subscribed here. On
PostgreSQL the change also sends a NOTIFY at commit, which wakes the watchers at once; the
periodic check stays as the safety net (a lost listening connection, SQLite). The process that
made a change republishes right after its commit; the watcher is what tells the others (other
workers, other servers, and the `streamkeeper admin` CLI writing to the database).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from .admin.models import CatalogVersionRow
from .database import ChangeProbe

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.25
ROW_ID = 1
CHANNEL = "streamkeeper_catalog"

Listener = Callable[[], Awaitable[None]]


async def bump(db: AsyncSession) -> None:
    """Mark the catalog changed; call inside the transaction that changes it, before commit."""
    await db.execute(
        update(CatalogVersionRow).where(CatalogVersionRow.id == ROW_ID)
        .values(version=CatalogVersionRow.version + 1)
    )
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text(f"NOTIFY {CHANNEL}"))  # delivered at commit, dropped on rollback


async def current(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(CatalogVersionRow.version).where(CatalogVersionRow.id == ROW_ID))).scalar_one()


class CatalogWatcher:
    """Runs the subscribed listeners (in subscription order) whenever the catalog version moves."""

    def __init__(self, engine: AsyncEngine, interval: float = CHECK_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._listeners: list[Listener] = []
        self._task: asyncio.Task | None = None
        self._failing = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._listening: AsyncConnection | None = None
        self._lost = False
        self._closing = False
        self._probe = ChangeProbe(engine)  # the periodic check reads the version only after a commit somewhere
        self.version: int | None = None

    async def subscribe(self, listener: Listener) -> None:
        """Run `listener` now (the first load) and after every later change. Under the same lock
        as the checks, so no change can fall between the first load and the subscription."""
        async with self._lock:
            await listener()
            self._listeners.append(listener)

    async def start(self) -> None:
        """Remember the version now: read it before the subscribers first read the catalog, so a
        change made in between is seen at the first check rather than lost."""
        self.version = await current(self._engine)
        await self._try_listen()
        self._task = asyncio.create_task(self._run(), name="catalog-watcher")

    async def refresh(self) -> bool:
        """Republish if the version moved; True when it did. Called every `interval`, and right
        after a change made here. One at a time, each reading the catalog after the version, so a
        slower, older read never overwrites a newer one. A listener that fails leaves the
        remembered version alone, so the next check tries again."""
        async with self._lock:
            version = await current(self._engine)
            if version == self.version:
                return False
            for listener in self._listeners:
                await listener()
            self.version = version
            return True

    async def _listen(self) -> None:
        """PostgreSQL: keep one connection LISTENing, so a commit anywhere wakes this watcher."""
        if self._engine.dialect.name != "postgresql" or (self._listening is not None and not self._lost):
            return
        await self._stop_listening()
        conn = await self._engine.connect()
        try:
            driver = (await conn.get_raw_connection()).driver_connection
            await driver.add_listener(CHANNEL, lambda *_: self._wake.set())
            driver.add_termination_listener(lambda *_: setattr(self, "_lost", True))
        except Exception:
            await conn.invalidate()
            raise
        self._listening, self._lost = conn, False

    async def _try_listen(self) -> None:
        try:
            await self._listen()
        except Exception:  # noqa: BLE001 - the periodic check still works
            log.debug("cannot LISTEN for catalog changes; polling only", exc_info=True)

    async def _stop_listening(self) -> None:
        conn, self._listening = self._listening, None
        if conn is not None:
            try:
                await conn.invalidate()  # a connection that LISTENed is not handed to anyone else
            except Exception:  # noqa: BLE001 - it is gone either way
                pass

    async def _run(self) -> None:
        while not self._closing:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the wake-up does, and then close() would wait for ever.
            try:
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            if self._closing:
                return
            if not self._wake.is_set() and not self._probe.changed():
                continue  # nothing was committed to the database since the last check
            self._wake.clear()
            await self._try_listen()
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - keep serving the catalog we have; say so once
                self._probe.forget()  # and check again next time, commit or not
                if not self._failing:
                    log.exception("cannot check the catalog version; serving the catalog already loaded")
                self._failing = True
            else:
                if self._failing:
                    log.warning("checking the catalog version works again")
                self._failing = False

    async def close(self) -> None:
        """Stop the watcher: it finishes the check it may be in (never cut off mid-query, which
        could leave a SQLite connection holding its lock) and ends at its next turn; cancelled
        only if that takes more than a few seconds."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            done, _ = await asyncio.wait({task}, timeout=5)
            if not done:
                task.cancel()
                await asyncio.wait({task}, timeout=1)
        await self._stop_listening()
        self._probe.close()
