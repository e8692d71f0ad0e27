"""A catalog change made anywhere (admin API of one process, the CLI) is honoured by every
process within a second: two uvicorn workers, two servers sharing PostgreSQL and Redis, and an
embedded server changed by `streamkeeper admin` on its data dir."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from streamkeeper.oxm.tokens import TokenKey, mint
from tests.conftest import PG_URL, REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test, run_pg

from .servers import Server
from .workers import Answer, everyone_answers, request

ADMIN = {"X-Admin-Key": "k"}
SECRET = "catalog-propagation-secret-of-32-bytes!!"


@pytest.fixture(scope="module", params=["two-workers", "two-servers"])
def fleet(request, tmp_path_factory):
    """Processes sharing one fresh PostgreSQL schema and one Redis prefix, started at the same
    moment: one server with two workers, or two servers of one worker each."""
    redis_available()
    schema = f"skprop_{uuid.uuid4().hex[:10]}"
    run_pg(f'CREATE SCHEMA "{schema}"')
    prefix = redis_prefix_for_test()
    env = {"STREAMKEEPER_DATABASE_URL": PG_URL, "STREAMKEEPER_DATABASE_SCHEMA": schema,
           "STREAMKEEPER_REDIS_URL": REDIS_URL, "STREAMKEEPER_REDIS_PREFIX": prefix,
           "STREAMKEEPER_ADMIN_KEY": "k", "STREAMKEEPER_SECRET": "d" * 32,
           "STREAMKEEPER_ADMIN_PASSWORD": "first-admin-password"}
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "two-workers":
        servers = [Server(root / "data", env, workers=2)]
    else:
        servers = [Server(root / "a", env), Server(root / "b", env)]
    try:
        for s in servers:
            s.spawn()
        for s in servers:
            s.wait_ready()
        yield servers
    finally:
        for s in servers:
            s.stop()
        asyncio.run(drop_redis_keys(REDIS_URL, prefix))
        run_pg(f'DROP SCHEMA "{schema}" CASCADE')


def admin(server: Server, method: str, path: str, body: dict | None = None) -> httpx.Response:
    if method == "PUT" and body is not None:
        body = {k: v for k, v in body.items() if k != "id"}  # the path names it
    r = httpx.request(method, f"{server.url}/admin/v1{path}", json=body, headers=ADMIN, timeout=30)
    assert r.status_code < 300, r.text
    return r


def metadata(app_id: str):
    return lambda server: request(server, "GET", "/v2/metadata", user=app_id)


def test_created_disabled_and_deleted_applications_everywhere(fleet):
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    assert metadata(app_id)(fleet[0]).status == 401
    spec = {"id": app_id, "tenant": "adobe", "name": "New", "policies": ["three-streams"]}
    admin(fleet[0], "POST", "/applications", spec)
    everyone_answers(fleet, metadata(app_id), 200, since=time.monotonic())

    admin(fleet[-1], "PUT", f"/applications/{app_id}", {**spec, "enabled": False})
    everyone_answers(fleet, metadata(app_id), 403, since=time.monotonic())

    admin(fleet[0], "DELETE", f"/applications/{app_id}")
    everyone_answers(fleet, metadata(app_id), 401, since=time.monotonic())


def test_tightened_policy_is_enforced_everywhere(fleet):
    policy_id, app_id = f"pol-{uuid.uuid4().hex[:8]}", f"app-{uuid.uuid4().hex[:8]}"
    policy = {"id": policy_id, "tenant": "adobe", "name": "Three",
              "rules": [{"name": "three", "threshold": 3}]}
    admin(fleet[0], "POST", "/policies", policy)
    admin(fleet[0], "POST", "/applications",
          {"id": app_id, "tenant": "adobe", "name": "Tight", "policies": [policy_id]})

    def second_stream(server: Server) -> Answer:
        """A subject's second stream: 202 under "3 streams", 409 under "1 stream"."""
        subject = uuid.uuid4().hex
        first = request(server, "POST", f"/v2/sessions/adobe/{subject}", user=app_id)
        assert first.status == 202, first
        return request(server, "POST", f"/v2/sessions/adobe/{subject}", user=app_id)

    everyone_answers(fleet, second_stream, 202, since=time.monotonic())
    admin(fleet[-1], "PUT", f"/policies/{policy_id}",
          {**policy, "rules": [{"name": "one", "threshold": 1}]})
    everyone_answers(fleet, second_stream, 409, since=time.monotonic())


def test_oxm_token_keys_and_stream_policies_everywhere(fleet):
    key_id = f"key-{uuid.uuid4().hex[:8]}"
    key = TokenKey(key_id, "adobe", "HS256", SECRET, "streamkeeper", "streamkeeper-oxm")

    def counts(server: Server) -> Answer:
        return request(server, "GET", "/oxm/v1/streams/counts", bearer=mint(key, "viewer"))

    assert counts(fleet[0]).status == 401
    admin(fleet[0], "POST", "/token-keys", {"id": key_id, "tenant": "adobe", "algorithm": "HS256",
                                            "secret": SECRET})
    everyone_answers(fleet, counts, 200, since=time.monotonic())

    boss = mint(key, "boss", admin=True)
    changed = httpx.put(f"{fleet[-1].url}/oxm/v1/streampolicy/adobe", json={"maxPerUser": 1, "maxPerAsset": 0, "maxDevices": 0},
                        headers={"Authorization": f"Bearer {boss}"}, timeout=30)
    assert changed.status_code == 200, changed.text
    since = time.monotonic()

    def second_asset(server: Server) -> Answer:
        """A viewer's second asset at once: refused under maxPerUser 1."""
        token = mint(key, f"viewer-{uuid.uuid4().hex[:8]}")
        first = request(server, "PUT", "/oxm/v1/streams/a/streaming?device=tv", bearer=token)
        assert first.status == 204, first
        return request(server, "PUT", "/oxm/v1/streams/b/streaming?device=tv", bearer=token)

    everyone_answers(fleet, second_asset, 409, since=since)

    admin(fleet[0], "DELETE", f"/token-keys/{key_id}")
    everyone_answers(fleet, counts, 401, since=time.monotonic())


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKEEPER_")}
    done = subprocess.run([sys.executable, "-m", "streamkeeper", "admin", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def embedded(tmp_path):
    server = Server(tmp_path / "data", {"STREAMKEEPER_ADMIN_KEY": "k", "STREAMKEEPER_SECRET": "d" * 32})
    try:
        yield server.spawn().wait_ready()
    finally:
        server.stop()


def test_cli_changes_reach_a_running_embedded_server(embedded, tmp_path):
    fleet = [embedded]
    assert metadata("demo-app-2")(embedded).status == 200

    cli(embedded.data_dir, "app", "update", "demo-app-2", "--disable")
    everyone_answers(fleet, metadata("demo-app-2"), 403, since=time.monotonic())
    cli(embedded.data_dir, "app", "update", "demo-app-2", "--enable")
    everyone_answers(fleet, metadata("demo-app-2"), 200, since=time.monotonic())

    config = tmp_path / "more.toml"
    config.write_text('[[applications]]\nid = "from-file"\ntenant = "adobe"\nname = "From a file"\n'
                      'policies = ["three-streams"]\n\n'
                      '[[oxm.tokenKeys]]\nid = "file-key"\ntenant = "adobe"\nalgorithm = "HS256"\n'
                      f'secret = "{SECRET}"\n\n'
                      '[[oxm.streamPolicies]]\ntenant = "adobe"\nmaxPerUser = 1\n')
    cli(embedded.data_dir, "apply", str(config))
    since = time.monotonic()
    everyone_answers(fleet, metadata("from-file"), 200, since=since)
    key = TokenKey("file-key", "adobe", "HS256", SECRET, "streamkeeper", "streamkeeper-oxm")
    token = mint(key, "viewer")
    assert request(embedded, "PUT", "/oxm/v1/streams/a/streaming?device=tv", bearer=token).status == 204
    assert request(embedded, "PUT", "/oxm/v1/streams/b/streaming?device=tv", bearer=token).status == 409

    created = json.loads(cli(embedded.data_dir, "policy", "create", "one", "--json", json.dumps(
        {"tenant": "adobe", "name": "One", "rules": [{"name": "one", "threshold": 1}]})).stdout)
    assert created["id"] == "one"
    cli(embedded.data_dir, "app", "update", "from-file", "--policies", "one")
    subject = uuid.uuid4().hex
    assert request(embedded, "POST", f"/v2/sessions/adobe/{subject}", user="from-file").status == 202
    everyone_answers(fleet, lambda s: request(s, "POST", f"/v2/sessions/adobe/{subject}", user="from-file"),
                     409, since=time.monotonic())
