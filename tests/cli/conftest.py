"""The real `streamkeeper` command in a subprocess, as a user runs it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

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
