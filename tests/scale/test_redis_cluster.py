"""The Redis store on a real (throw-away, three-node) Redis Cluster: every key of a viewer in
one slot, scripts routed by key, and reloaded on every node after SCRIPT FLUSH."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import time

import pytest

from tests.conftest import Running, basic, make_settings


DEMO = basic("demo-app")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server/redis-cli binaries not installed")
    workdir = tmp_path_factory.mktemp("cluster")
    ports = [cluster_port() for _ in range(3)]
    nodes = [
        subprocess.Popen(["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                          "--cluster-config-file", f"nodes-{p}.conf", "--save", "", "--appendonly", "no",
                          "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in ports
    ]
    try:
        for p in ports:
            _wait(lambda p=p: _cli(p, "PING") == "PONG")
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=30)
        for p in ports:
            _wait(lambda p=p: "cluster_state:ok" in _cli(p, "CLUSTER", "INFO"))
        yield ports
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.wait(timeout=10)


def cluster_port() -> int:
    """A free port whose cluster-bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if all(_free(p) for p in (port, port + 10000)):
            return port
    raise RuntimeError("no free port pair")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cli(port: int, *args: str) -> str:
    r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=10)
    return r.stdout.strip()


def _wait(ready, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.1)
    raise RuntimeError("Redis cluster did not come up")


async def test_concurrency_api_on_redis_cluster(cluster, tmp_path, clock):
    settings = make_settings(tmp_path, redis_url=f"redis+cluster://127.0.0.1:{cluster[0]}", redis_prefix="skc:")
    async with Running(settings, clock) as client:
        subjects = [s for s in ("ana", "bob", "cy{x}") for _ in range(5)]
        answers = await asyncio.gather(*(client.post(f"/v2/sessions/adobe/{s}", auth=DEMO) for s in subjects))
        assert [r.status_code for r in answers].count(202) == 9
        assert [r.status_code for r in answers].count(409) == 6
        owner, sid = next((s, r.headers["location"]) for s, r in zip(subjects, answers) if r.status_code == 202)
        for p in cluster:
            _cli(p, "SCRIPT", "FLUSH")
        assert (await client.post(f"/v2/sessions/adobe/{owner}/{sid}", auth=DEMO)).status_code == 202
        assert (await client.delete(f"/v2/sessions/adobe/{owner}/{sid}", auth=DEMO)).status_code == 202
        running = (await client.get(f"/v2/runningStreams/adobe/{owner}", auth=DEMO)).json()["runningStreams"]
        assert len(running) == 2 and sid not in {s["sessionId"] for s in running}
        assert (await client.get("/readyz")).json()["checks"]["redis"] == "ok"
        # No live index spans the cluster's slots: the live counts are not known (documented).
        store = client._transport.app.state.concurrency.store
        assert await store.count_live(clock()) is None and await store.live_by_application(clock()) is None
        for p in cluster:
            assert _cli(p, "KEYS", "skc:live*").strip() == ""
