"""The catalog database: SQLAlchemy async engine on SQLite (WAL) or PostgreSQL, and migrations."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from .settings import Settings

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"
UNREACHABLE = "the catalog database cannot be reached; try again"


class ChangeProbe:
    """Says, without leaving the event loop's thread, whether anyone may have committed to the
    catalog database since the last look, so that periodic checks can skip their query.

    A query through aiosqlite hands each step to its worker thread and back; on this 2-core VM
    one `select 1` took 11 ms and left the event loop late by up to 20 ms (two threads trading
    the GIL), and the periodic checks did that six times a second, in every server. On SQLite,
    `PRAGMA data_version` on a connection of the probe's own changes whenever another
    connection, of any process, commits; reading it takes microseconds. Elsewhere (PostgreSQL,
    an in-memory database) the probe always answers "maybe"."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._conn: sqlite3.Connection | None = None
        self._seen: int | None = None
        path = engine.url.database if engine.dialect.name == "sqlite" else None
        if path and path != ":memory:" and not path.startswith("file:"):
            try:
                # timeout=0: never wait on a lock here (a busy database just counts as changed)
                self._conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
            except sqlite3.Error:
                pass  # no probe: every check queries

    def changed(self) -> bool:
        if self._conn is None:
            return True
        try:
            (version,), = self._conn.execute("PRAGMA data_version").fetchall()  # (read to the end: no open read)
        except sqlite3.Error:
            return True
        if version == self._seen:
            return False
        self._seen = version
        return True

    def forget(self) -> None:
        """The check after the last "changed" failed: answer "changed" next time too."""
        self._seen = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def unreachable(exc: DBAPIError) -> bool:
    """True for a database error that says the database cannot be reached or used right now (a
    connection refused, lost or not allowed), not that the statement was wrong: worth a 503."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return exc.connection_invalidated or exc.statement is None  # no statement: failed to connect


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.catalog_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _sqlite_whole_transactions(engine)
        return engine
    connect_args = {}
    if settings.database_schema:
        connect_args["server_settings"] = {"search_path": settings.database_schema}
    return create_async_engine(url, connect_args=connect_args, pool_pre_ping=True)


def _sqlite_whole_transactions(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so a transaction takes the write lock up front
    instead of failing half way when it upgrades from a read."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver glue
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver glue
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@asynccontextmanager
async def setup_lock(settings: Settings, engine: AsyncEngine) -> AsyncIterator[None]:
    """Held while a process does the one-time set-up, so processes starting together take turns:
    a PostgreSQL advisory lock (per database and schema), or a lock file in the data dir."""
    if engine.dialect.name == "postgresql":
        key = text("SELECT hashtext('streamkeeper-setup:' || coalesce(current_schema(), ''))")
        async with engine.connect() as conn:
            lock_id = (await conn.execute(key)).scalar_one()
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            await conn.commit()  # the session-level lock outlives the transaction
            try:
                yield
            finally:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                    await conn.commit()
                except Exception:  # noqa: BLE001 - a broken connection: ending it releases the lock
                    await conn.invalidate()
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.data_dir / "setup.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """Bring the catalog schema to the newest revision (run at every start; cheap when current)."""

    def upgrade(sync_conn) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "heads")

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several processes may start at once on one schema: one migrates, the others wait.
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema()))"))
        await conn.run_sync(upgrade)


async def on_catalog(settings: Settings, fn: Callable[[async_sessionmaker], Awaitable[T]], *,
                     migrated: bool = True) -> T:
    """``fn(sessions)`` on the catalog database, for a command run outside the server: the engine
    is made for the call (the schema brought up to date first, unless ``migrated`` is False) and
    disposed of after it."""
    engine = create_engine(settings)
    try:
        if migrated:
            await migrate(engine)
        return await fn(sessionmaker(engine))
    finally:
        await engine.dispose()
