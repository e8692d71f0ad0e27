"""A real nginx for the edge tests (and bench/playback.py): Debian's binary, run as a foreground
process on a free port with a configuration generated under a private directory.

The main configuration (pid file, logs, temp paths, one worker) is made here; what goes inside
`http {}` is given by the caller, in the tests the server blocks of docs/nginx/*.conf with their
example values replaced (so that what the docs show is what is tested).

Missing nginx: skipped with a message locally, failed in CI (`make test` installs it as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

NGINX = os.environ.get("STREAMKEEPER_TEST_NGINX", "/usr/sbin/nginx")

MAIN = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {root}/nginx.pid;
error_log {root}/error.log {level};

events {{
    worker_connections 1024;
}}

http {{
    types {{
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
        video/mp4 mp4 m4s;
    }}
    default_type application/octet-stream;
    access_log {access_log};
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;

{http}
}}
"""


def nginx_path() -> str | None:
    """The nginx binary, or None when it is not installed."""
    if os.path.exists(NGINX):
        return NGINX
    return shutil.which(NGINX) or shutil.which("nginx")


def need_nginx() -> str:
    """The nginx binary; skips the test (fails it with CI=true) when there is none."""
    import pytest

    from tests.conftest import IN_CI

    found = nginx_path()
    if found is None:
        message = f"no nginx at {NGINX} (apt-get install nginx; `make test` does it as root)"
        if IN_CI:
            pytest.fail(f"edge tests need nginx: {message}")
        pytest.skip(f"edge tests skipped: {message}")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NginxFailed(RuntimeError):
    """nginx refused its configuration or did not come up; the message carries its error log."""


class Nginx:
    """One nginx master and one worker, in the foreground, under `root` (a private directory).

    `http` is the text inside `http {}`; `{port}` in it is replaced by the port chosen here."""

    def __init__(self, root: Path, http: str, binary: str | None = None, access_log: bool = False,
                 level: str = "info") -> None:
        self.root = root
        self.binary = binary or nginx_path() or NGINX
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "logs"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        # As root, nginx's workers take the `user` of its configuration (nobody by default), who
        # cannot read a test's private directory: keep the workers as the current user.
        user = "user root;" if os.geteuid() == 0 else ""
        self.conf = root / "nginx.conf"
        self.conf.write_text(MAIN.format(
            root=root, user=user, level=level, http=http.replace("{port}", str(self.port)),
            access_log=f"{root}/access.log" if access_log else "off"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check(self) -> None:
        """`nginx -t` on the configuration: NginxFailed with nginx's words when it is refused."""
        run = subprocess.run([self.binary, "-t", "-q", "-p", str(self.root), "-e", str(self.root / "error.log"),
                              "-c", str(self.conf)], capture_output=True, text=True)
        if run.returncode != 0:
            raise NginxFailed(f"nginx refused its configuration: {run.stderr.strip()}")

    def start(self, timeout: float = 10.0) -> "Nginx":
        self.check()
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(self.root), "-e", str(self.root / "error.log"), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise NginxFailed(f"nginx exited with {self.proc.returncode}: {err}\n{self.error_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise NginxFailed(f"nginx did not listen on {self.port} in {timeout:.0f} s\n{self.error_log()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        """Fast shutdown (SIGTERM to the master, which stops its worker), then wait."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()

    def __enter__(self) -> "Nginx":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def from_template(template: Path, values: dict[str, str]) -> str:
    """The text of a documented configuration with its example values replaced. Every example
    value must occur: a documented file that drifts from the test fails here, not silently."""
    text = template.read_text()
    for example, actual in values.items():
        if example not in text:
            raise AssertionError(f"{template.name} no longer contains {example!r}")
        text = text.replace(example, actual)
    return text
