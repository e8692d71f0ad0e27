"""First start on an empty database with several processes: the one-time set-up (schema,
demo catalog, default roles, first administrator, generated secrets) happens once and every
process comes up; a start that cannot succeed exits non-zero, so supervisors notice."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import PG_URL, REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test, run_pg

from .servers import Server
from .workers import everyone_answers, request

STARTUP_FAILED = 3


def database_url(name: str) -> str:
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def fresh_databases():
    """Makes empty PostgreSQL databases on demand; drops them at the end."""
    made: list[str] = []

    def make() -> str:
        name = f"skfresh_{uuid.uuid4().hex[:12]}"
        run_pg(f'CREATE DATABASE "{name}"')
        made.append(name)
        return database_url(name)

    yield make
    for name in made:
        run_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_env():
    redis_available()
    prefix = redis_prefix_for_test()
    yield {"STREAMKEEPER_REDIS_URL": REDIS_URL, "STREAMKEEPER_REDIS_PREFIX": prefix,
           "STREAMKEEPER_ADMIN_KEY": "k", "STREAMKEEPER_SECRET": "d" * 32}
    asyncio.run(drop_redis_keys(REDIS_URL, prefix))


def all_up(servers: list[Server]) -> None:
    """Every worker of every server answers, and the demo catalog was loaded exactly once."""
    everyone_answers(servers, lambda s: request(s, "GET", "/v2/metadata", user="demo-app"), 200,
                     since=time.monotonic() - 10)
    apps = httpx.get(f"{servers[0].url}/admin/v1/applications", headers={"X-Admin-Key": "k"}).json()
    assert [a["id"] for a in apps] == ["demo-app", "demo-app-2"]
    for s in servers:
        assert "startup failed" not in s.log.read_text()


def test_repeated_fresh_starts_with_two_workers_on_new_databases(tmp_path, fresh_databases, redis_env):
    for n in range(6):  # six starts from nothing: a start-up race shows as one failing
        env = {**redis_env, "STREAMKEEPER_DATABASE_URL": fresh_databases()}
        server = Server(tmp_path / f"data{n}", env, workers=2).spawn()
        try:
            server.wait_ready()
            all_up([server])
        finally:
            server.stop()


@pytest.mark.parametrize("catalog", ["postgresql", "sqlite"])
def test_two_servers_started_together_on_one_empty_catalog(tmp_path, fresh_databases, redis_env, catalog):
    """No `serve --workers` preparation step here: each process does the set-up in its own start,
    and they take turns under the set-up lock (a PostgreSQL advisory lock, or a lock file in the
    shared data dir, where the generated admin key and HMAC secret are also created only once)."""
    env = dict(redis_env)
    if catalog == "postgresql":
        env["STREAMKEEPER_DATABASE_URL"] = fresh_databases()
    else:
        del env["STREAMKEEPER_ADMIN_KEY"], env["STREAMKEEPER_SECRET"]  # generated, by one of them
    data = tmp_path / "data"
    servers = [Server(data, env) for _ in range(2)]
    try:
        for s in servers:
            s.spawn()
        for s in servers:
            s.wait_ready()
        if catalog == "sqlite":
            key = (data / "admin.key").read_text().strip()
            for s in servers:
                r = httpx.get(f"{s.url}/admin/v1/applications", headers={"X-Admin-Key": key})
                assert [a["id"] for a in r.json()] == ["demo-app", "demo-app-2"]
            # Sessions started on one are known (same HMAC secret) on the other.
            started = httpx.post(f"{servers[0].url}/v2/sessions/adobe/u1", auth=("demo-app", ""))
            assert started.status_code == 202
            beat = httpx.post(f"{servers[1].url}/v2/sessions/adobe/u1/{started.headers['location']}",
                              auth=("demo-app", ""))
            assert beat.status_code == 202
        else:
            all_up(servers)
    finally:
        for s in servers:
            s.stop()


def _exit_status(server: Server, timeout: float = 120) -> int:
    assert server.proc is not None
    try:
        return server.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        raise AssertionError(f"still running after {timeout}s:\n{server.log.read_text()[-2000:]}") from None


@pytest.mark.parametrize("workers", [1, 2])
def test_unreachable_database_exits_non_zero(tmp_path, redis_env, workers):
    env = {**redis_env, "STREAMKEEPER_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    server = Server(tmp_path / "data", env, workers=workers).spawn()
    assert _exit_status(server) == STARTUP_FAILED, server.log.read_text()[-2000:]


def test_worker_that_cannot_start_makes_the_server_exit_non_zero(tmp_path):
    """Redis is first needed inside the workers: uvicorn's supervisor stops when they fail, and
    the exit status says so."""
    env = {"STREAMKEEPER_REDIS_URL": "redis://127.0.0.1:1/0", "STREAMKEEPER_ADMIN_KEY": "k"}
    server = Server(tmp_path / "data", env, workers=2).spawn()
    assert _exit_status(server) == STARTUP_FAILED, server.log.read_text()[-2000:]
