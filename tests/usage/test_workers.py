"""Real processes: one server with two workers on Redis and PostgreSQL. Every worker adds to one
usage figure, which survives a restart (what was counted just before SIGTERM included), and
`/metrics` answers the same totals whichever worker takes the scrape."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PG_URL, REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test, run_pg
from tests.scale.servers import Server

ADMIN = {"X-Admin-Key": "k"}


@pytest.fixture
def env():
    redis_available()
    schema = f"skusage_{uuid.uuid4().hex[:10]}"
    run_pg(f'CREATE SCHEMA "{schema}"')
    prefix = redis_prefix_for_test()
    yield {"STREAMKEEPER_DATABASE_URL": PG_URL, "STREAMKEEPER_DATABASE_SCHEMA": schema,
           "STREAMKEEPER_REDIS_URL": REDIS_URL, "STREAMKEEPER_REDIS_PREFIX": prefix,
           "STREAMKEEPER_ADMIN_KEY": "k", "STREAMKEEPER_SECRET": "d" * 32}
    asyncio.run(drop_redis_keys(REDIS_URL, prefix))
    run_pg(f'DROP SCHEMA "{schema}" CASCADE')


def start_streams(server: Server, subject: str, n: int) -> list[int]:
    """`n` starts, each on a connection of its own (so the kernel hands them to either worker)."""
    return [httpx.post(f"{server.url}/v2/sessions/adobe/{subject}-{i}", auth=("demo-app", ""), timeout=10).status_code
            for i in range(n)]


def usage_admissions(server: Server) -> int:
    r = httpx.get(f"{server.url}/admin/v1/usage", params={"application": "demo-app"}, headers=ADMIN, timeout=10)
    assert r.status_code == 200, r.text
    return sum(row["admissions"] for row in r.json()["rows"])


def scraped_admissions(server: Server) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text  # a new connection each time
    return sum(s.value for f in text_string_to_metric_families(text) if f.name == "streamkeeper_admissions"
               for s in f.samples if s.labels.get("application") == "demo-app" and s.name.endswith("_total"))


def eventually(read, expected, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def test_usage_summed_over_two_workers_and_a_restart_and_one_metrics_total(tmp_path, env):
    server = Server(tmp_path / "data", env, workers=2).spawn().wait_ready()
    try:
        assert start_streams(server, "u", 12) == [202] * 12
        # every scrape, whichever worker answers it, counts the admissions of both
        assert eventually(lambda: scraped_admissions(server), 12, timeout=10) == 12
        assert [scraped_admissions(server) for _ in range(10)] == [12] * 10
        assert eventually(lambda: usage_admissions(server), 12) == 12
        assert start_streams(server, "v", 5) == [202] * 5
    finally:
        server.stop()  # SIGTERM: each worker writes what it has not written yet
    server = Server(tmp_path / "data", env, workers=2).spawn().wait_ready()
    try:
        assert usage_admissions(server) == 17
        assert start_streams(server, "w", 3) == [202] * 3
        assert eventually(lambda: usage_admissions(server), 20) == 20
        # the metrics count from this start (Prometheus counters start at zero with a server)
        assert eventually(lambda: scraped_admissions(server), 3, timeout=10) == 3
        csv = httpx.get(f"{server.url}/admin/v1/usage", params={"format": "csv", "application": "demo-app"},
                        headers=ADMIN, timeout=10).text
        assert sum(int(line.split(",")[2]) for line in csv.splitlines()[1:]) == 20
    finally:
        server.stop()
