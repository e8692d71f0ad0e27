"""`serve --server granian`: the app's lifespan runs, the hot paths answer, SIGTERM stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.scale.servers import free_port


def test_granian_serves_the_app_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKEEPER_")}
    env.update(STREAMKEEPER_SECRET="s" * 32, STREAMKEEPER_ADMIN_KEY="k" * 24)
    log = tmp_path / "granian.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamkeeper", "serve", "--server", "granian", "--port",
                                 str(port), "--data-dir", str(tmp_path / "data")], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:  # lifespan ran
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        init = httpx.post(f"{url}/v2/sessions/adobe/g", auth=("demo-app", ""))
        assert init.status_code == 202
        beat = httpx.post(f"{url}/v2/sessions/adobe/g/{init.headers['location']}", auth=("demo-app", ""))
        assert beat.status_code == 202 and beat.headers["x-request-id"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert b'"logger"' in log.read_bytes()  # JSON log lines, as under uvicorn
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
