"""Shared fixtures: an injectable clock, the app over HTTP (in process), and database targets.

PostgreSQL and Redis are real servers on localhost. Outside CI a missing server skips the
tests that need it; with CI=true it fails them, because a skipped test counts as missing.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx
import pytest

from streamkeeper.app import create_app
from streamkeeper.settings import Settings

PG_URL = os.environ.get("STREAMKEEPER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("STREAMKEEPER_TEST_REDIS", "redis://127.0.0.1:6379/0")
ADMIN_KEY = "test-admin-key"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _unavailable(what: str, exc: BaseException) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required in CI but unreachable: {exc}")
    pytest.skip(f"{what} unreachable: {exc}")


def run_pg(sql: str) -> None:
    """Run one statement on the test PostgreSQL server."""
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(scope="session")
def pg_schema():
    """A private PostgreSQL schema for this test process, dropped at the end."""
    schema = f"sk_{uuid.uuid4().hex[:12]}"

    try:
        run_pg(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # noqa: BLE001 - any connection problem
        _unavailable("PostgreSQL", exc)
    yield schema
    run_pg(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_db(request, tmp_path: Path):
    """Catalog settings for both supported databases (each PostgreSQL test gets a fresh schema)."""
    if request.param == "sqlite":
        return {}
    base = request.getfixturevalue("pg_schema")
    schema = f"{base}_{uuid.uuid4().hex[:6]}"
    run_pg(f'CREATE SCHEMA "{schema}"')
    request.addfinalizer(lambda: run_pg(f'DROP SCHEMA "{schema}" CASCADE'))
    return {"database_url": PG_URL, "database_schema": schema}


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = dict(data_dir=tmp_path / "data", admin_key=ADMIN_KEY, secret="s" * 32)
    values.update(overrides)
    return Settings(**values)


def redis_prefix_for_test() -> str:
    """A key prefix no other test (or test run) uses, so runs never collide on one Redis."""
    return f"skt:{uuid.uuid4().hex[:12]}:"


async def drop_redis_keys(url: str, prefix: str) -> None:
    """Delete only the keys under `prefix` (never FLUSHDB: others share the server)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        batch = []
        async for key in client.scan_iter(match=prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await client.unlink(*batch)
                batch = []
        if batch:
            await client.unlink(*batch)
    finally:
        await client.aclose()


def redis_available() -> None:
    """Skip (locally) or fail (in CI) when the test Redis does not answer."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - any connection problem
        _unavailable("Redis", exc)


@pytest.fixture(params=["embedded", "redis"])
def store(request) -> dict:
    """Session store settings: the embedded store, and Redis under a private key prefix."""
    if request.param == "embedded":
        return {}
    redis_available()
    prefix = redis_prefix_for_test()
    request.addfinalizer(lambda: asyncio.run(drop_redis_keys(REDIS_URL, prefix)))
    return {"redis_url": REDIS_URL, "redis_prefix": prefix}


@pytest.fixture
def settings(tmp_path: Path, store: dict) -> Settings:
    return make_settings(tmp_path, **store)


class Running:
    """An app started with its lifespan, and an HTTP client talking to it in process."""

    def __init__(self, settings: Settings, clock, wire: str = "asgi") -> None:
        self.settings = settings
        self.app = create_app(settings, clock=clock)
        self.wire = wire  # "asgi": httpx's ASGI transport; "lane": raw HTTP through the server's protocol
        self._lifespan = None
        self.client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        if self.wire == "lane":
            from tests.lane_transport import LaneTransport

            transport: httpx.AsyncBaseTransport = LaneTransport(self.app)
        else:
            transport = httpx.ASGITransport(app=self.app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://test")
        return self.client

    async def __aexit__(self, *exc) -> None:
        assert self.client is not None and self._lifespan is not None
        await self.client.aclose()
        await self._lifespan.__aexit__(*exc)


@pytest.fixture
def wire() -> str:
    """How test clients reach the app: over ASGI here; `/v2` and OXM tests override this to run
    over the uvicorn lane too (tests/lane_transport.py)."""
    return "asgi"


@pytest.fixture
async def client(settings: Settings, clock: FakeClock, wire: str):
    async with Running(settings, clock, wire) as c:
        yield c


def basic(app_id: str) -> tuple[str, str]:
    return (app_id, "")
