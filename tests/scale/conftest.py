"""Fixtures of the scale-out tests: a configuration with a FIFO rule, and raw Redis access."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, make_settings, redis_available

CONFIG = """
[[tenants]]
id = "adobe"
name = "Adobe"

[[policies]]
id = "three-streams"
tenant = "adobe"
name = "3 streams policy"
  [[policies.rules]]
  name = "3 streams"
  threshold = 3

[[policies]]
id = "newest-wins"
tenant = "adobe"
name = "newest wins"
  [[policies.rules]]
  name = "1 stream"
  threshold = 1
  conflict = "FIFO"

[[applications]]
id = "demo-app"
tenant = "adobe"
name = "Demo application"
policies = ["three-streams"]

[[applications]]
id = "fifo-app"
tenant = "adobe"
name = "FIFO application"
policies = ["newest-wins"]
"""


@pytest.fixture
def fifo_settings(tmp_path: Path, store: dict):
    """Settings whose catalog has `demo-app` (3 streams) and `fifo-app` (1 stream, FIFO)."""
    path = tmp_path / "catalog.toml"
    path.write_text(CONFIG)
    return make_settings(tmp_path, config=path, **store)


@pytest.fixture
async def redis_client():
    """A raw client on the test Redis, for looking at what the store wrote."""
    import redis.asyncio as aioredis

    redis_available()
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def redis_user(request):
    """A Redis ACL user allowed only under a private prefix, deleted at the end; lets a
    test cut one client off the server without disturbing anybody else."""
    import redis

    redis_available()
    name = f"skt-{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    prefix = f"skt:{uuid.uuid4().hex[:12]}:"
    admin = redis.Redis.from_url(REDIS_URL)
    admin.execute_command("ACL", "SETUSER", name, "on", f">{password}", f"~{prefix}*", "+@all")
    host_part = REDIS_URL.split("://", 1)[1]

    def cut_off() -> None:
        admin.execute_command("ACL", "SETUSER", name, "off")
        admin.execute_command("CLIENT", "KILL", "USER", name)

    def cleanup() -> None:
        admin.execute_command("ACL", "DELUSER", name)
        keys = list(admin.scan_iter(match=prefix + "*"))
        if keys:
            admin.unlink(*keys)
        admin.close()

    request.addfinalizer(cleanup)
    return {"url": f"redis://{name}:{password}@{host_part}", "prefix": prefix, "cut_off": cut_off}
