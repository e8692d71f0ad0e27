"""The real `streamkeeper` command in a subprocess, as a user runs it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.process import free_port

COMMAND = [sys.executable, "-m", "streamkeeper"]


def environment(**env: str) -> dict[str, str]:
    """This process's environment without any STREAMKEEPER_* setting, plus `env`; wide
    enough that help texts are not wrapped."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKEEPER_")}
    return {**clean, "COLUMNS": "300", **env}


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout,
                          env=environment(**(env or {})), cwd=cwd)


def run_on_terminal(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                    stream: str = "stderr", timeout: float = 120) -> tuple[int, str]:
    """Run with stderr (or stdout) on a pseudo-terminal, as in an interactive shell; returns the
    exit status and what the terminal showed."""
    main, secondary = pty.openpty()
    where = {"stderr": subprocess.PIPE, "stdout": subprocess.PIPE, stream: secondary}
    proc = subprocess.Popen([*COMMAND, *args], env=environment(**(env or {})), cwd=cwd,
                            stdin=subprocess.DEVNULL, **where)
    os.close(secondary)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # EIO: the other side is closed
                    break
                if not chunk:
                    break
                shown += chunk
            elif proc.poll() is not None:
                break
        status = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    return status, shown.decode().replace("\r\n", "\n")


class Serving:
    """A `streamkeeper serve` process on a free port, its stderr kept in a file."""

    def __init__(self, data_dir: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log = data_dir.parent / f"serve-{self.port}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [*COMMAND, "serve", "--port", str(self.port), "--data-dir", str(data_dir), *args],
                env=environment(**env), stdout=subprocess.DEVNULL, stderr=log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 90) -> "Serving":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> str:
        """SIGTERM and wait; returns the log."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log.read_text()
