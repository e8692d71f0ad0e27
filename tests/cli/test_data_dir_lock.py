"""Two servers on one embedded data dir would each keep their own sessions and fight over one
journal: the second is refused at start, and a `kill -9` of the first leaves no stale lock."""

from __future__ import annotations

import httpx

from tests.process import Server, free_port

from .conftest import run
from .test_start_failures import STARTUP_FAILED, failed


def test_second_server_on_one_data_dir_is_refused_and_kill_leaves_no_lock(tmp_path):
    data = tmp_path / "data"
    first = Server(data)
    first.start()
    try:
        done = run("serve", "--data-dir", str(data), "--log-format", "text", "--port", str(free_port()),
                   env={"STREAMKEEPER_ADMIN_KEY": "k", "STREAMKEEPER_SECRET": "d" * 32})
        failed(done, STARTUP_FAILED, f"cannot start: the data dir {data.resolve()} is in use by another "
                                     f"server (pid {first.proc.pid}): give each server its own --data-dir")
        # the first one is untouched and still starts streams
        answer = httpx.post(f"{first.url}/v2/sessions/adobe/alice", auth=("demo-app", ""), timeout=10)
        assert answer.status_code == 202, answer.text
    finally:
        first.kill()  # kill -9: the kernel drops the lock with the process
    second = Server(data)
    second.start()
    try:
        answer = httpx.post(f"{second.url}/v2/sessions/adobe/bob", auth=("demo-app", ""), timeout=10)
        assert answer.status_code == 202, answer.text
    finally:
        second.stop()
