"""The catalog database: SQLAlchemy async engine on SQLite (WAL) or PostgreSQL, and migrations."""

from __future__ import annotations

import asyncio
import fcntl
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from .settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
UNREACHABLE = "the catalog database cannot be reached; try again"


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
