"""A real server process killed with SIGKILL and restarted still knows every acknowledged session."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

AUTH = ("demo-app", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "STREAMKEEPER_SECRET": "d" * 32, "STREAMKEEPER_ADMIN_KEY": "k"}
        env.pop("STREAMKEEPER_REDIS_URL", None)
        env.pop("STREAMKEEPER_DATABASE_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamkeeper", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v2/metadata", auth=AUTH, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path / "data")
    yield srv
    if srv.proc and srv.proc.poll() is None:
        srv.kill()


async def test_sessions_survive_kill_and_restart(server):
    server.start()
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH) as c:
        kept = [(await c.post("/v2/sessions/adobe/viewer")).headers["location"] for _ in range(2)]
        stopped = (await c.post("/v2/sessions/adobe/viewer")).headers["location"]
        assert (await c.delete(f"/v2/sessions/adobe/viewer/{stopped}")).status_code == 202
        # A heartbeat that adds metadata is a durable change too.
        beat = await c.post(f"/v2/sessions/adobe/viewer/{kept[0]}", data={"deviceId": "tv-1"})
        assert beat.status_code == 202
    server.kill()
    server.start()
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH) as c:
        running = (await c.get("/v2/runningStreams/adobe/viewer")).json()["runningStreams"]
        assert {s["sessionId"] for s in running} == set(kept)
        assert next(s for s in running if s["sessionId"] == kept[0])["metadata"] == {"deviceId": "tv-1"}
        assert (await c.post(f"/v2/sessions/adobe/viewer/{stopped}")).status_code == 410
        # The policy still counts the restored sessions: two live, so one more fits and then no more.
        assert (await c.post("/v2/sessions/adobe/viewer")).status_code == 202
        assert (await c.post("/v2/sessions/adobe/viewer")).status_code == 409


async def test_kill_during_load_loses_no_acknowledged_init(server):
    server.start()
    acknowledged: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH, timeout=5,
                                 limits=httpx.Limits(max_connections=20)) as c:
        async def init(n: int) -> None:
            subject = f"s{n % 50}"
            try:
                r = await c.post(f"/v2/sessions/adobe/{subject}")
            except httpx.HTTPError:
                return
            if r.status_code == 202:
                acknowledged.append((subject, r.headers["location"]))

        tasks = [asyncio.create_task(init(n)) for n in range(400)]
        while len(acknowledged) < 40:
            await asyncio.sleep(0.005)
        server.kill()
        await asyncio.gather(*tasks)
    assert len(acknowledged) >= 40
    server.start()
    async with httpx.AsyncClient(base_url=server.url, auth=AUTH) as c:
        for subject, sid in acknowledged:
            r = await c.post(f"/v2/sessions/adobe/{subject}/{sid}")
            assert r.status_code == 202, (subject, sid, r.status_code)
