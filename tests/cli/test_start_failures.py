"""A server that cannot start says why in one line and exits with its documented status:
2 for an invalid option or variable (nothing started), 3 for a start that failed."""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import redis_available
from tests.process import free_port

from .conftest import run

USAGE, STARTUP_FAILED = 2, 3

TENANT = """\
[[tenants]]
id = "acme"
name = "Acme"

[[applications]]
id = "web"
tenant = "acme"
"""
TYPO = TENANT + 'heartbeatIntervall = 30\nname = "Web"\n'
UNKNOWN_POLICY = TENANT + 'name = "Web"\npolicies = ["famliy"]\n'


def serve(tmp_path, *args: str, **env: str):
    return run("serve", "--data-dir", str(tmp_path / "data"), "--log-format", "text", *args,
               env={"STREAMKEEPER_ADMIN_KEY": "k", **env})


def failed(done, status: int, cause: str) -> None:
    """Exited with `status`, and the cause is in exactly one error line, with no traceback."""
    assert done.returncode == status, done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and cause in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "Uvicorn running" not in done.stderr


def test_config_file_typo_names_file_line_and_key(tmp_path):
    config = tmp_path / "streamkeeper.toml"
    config.write_text(TYPO)
    done = serve(tmp_path, "--config", str(config), "--port", str(free_port()))
    failed(done, STARTUP_FAILED, f"cannot start: {config}:8: applications[0].heartbeatIntervall: unknown key")
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_unknown_policy_of_an_application(tmp_path):
    config = tmp_path / "streamkeeper.toml"
    config.write_text(UNKNOWN_POLICY)
    done = serve(tmp_path, "--config", str(config), "--port", str(free_port()))
    failed(done, STARTUP_FAILED, f"cannot start: {config}: application 'web': no policy 'famliy'")


def test_too_short_secret(tmp_path):
    done = serve(tmp_path, "--port", str(free_port()), STREAMKEEPER_SECRET="short")
    assert done.returncode == USAGE
    assert done.stderr.strip() == ("streamkeeper serve: STREAMKEEPER_SECRET is too short: 5 bytes, "
                                   "at least 16 are needed")


def test_unreachable_redis(tmp_path):
    done = serve(tmp_path, "--port", str(free_port()), STREAMKEEPER_REDIS_URL="redis://127.0.0.1:1/0")
    failed(done, STARTUP_FAILED, "cannot start: cannot reach Redis at redis://127.0.0.1:1/0: ")


def test_unreachable_database(tmp_path):
    url = "postgresql://postgres:hidden@127.0.0.1:1/nowhere"
    done = serve(tmp_path, "--port", str(free_port()), STREAMKEEPER_DATABASE_URL=url)
    failed(done, STARTUP_FAILED, "cannot start: cannot reach the catalog database postgresql://postgres:***@127.0.0.1:1/nowhere: ")
    assert "hidden" not in done.stderr


def test_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve(tmp_path, "--port", str(port))
    failed(done, STARTUP_FAILED, f"cannot start: cannot listen on 127.0.0.1:{port}: Address already in use")


def test_failure_is_one_json_line_when_logs_are_json(tmp_path):
    """Piped logs are JSON lines; the cause is the message itself, not the end of a traceback."""
    redis_available()
    done = run("serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port()),
               env={"STREAMKEEPER_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert done.returncode == STARTUP_FAILED
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    errors = [e for e in entries if e["level"] == "error"]
    assert len(errors) == 1 and errors[0]["msg"].startswith("cannot start: cannot reach Redis")
    assert "exc" not in errors[0]


@pytest.mark.parametrize("args, env, message", [
    (["--port", "99999"], {}, "--port = 99999: a port is between 1 and 65535"),
    (["--port", "0"], {}, "--port = 0: a port is between 1 and 65535"),
    ([], {"STREAMKEEPER_PORT": "70000"}, "STREAMKEEPER_PORT = 70000: a port is between 1 and 65535"),
    ([], {"STREAMKEEPER_PORT": "http"}, "STREAMKEEPER_PORT: 'http' is not a whole number"),
    (["--host", "my host"], {}, "--host = 'my host': not an IP address or host name"),
    (["--workers", "0"], {}, "--workers = 0: at least 1"),
    (["--log-format", "yaml"], {}, "argument --log-format: invalid choice: 'yaml'"),
    ([], {"STREAMKEEPER_LOG_FORMAT": "yaml"}, "STREAMKEEPER_LOG_FORMAT = 'yaml': one of auto, text, json"),
])
def test_invalid_settings_are_refused_before_anything_starts(tmp_path, args, env, message):
    done = run("serve", "--data-dir", str(tmp_path / "data"), *args, env=env)
    assert done.returncode == USAGE
    assert message in done.stderr.strip().splitlines()[-1], done.stderr  # the last line (after argparse's usage)
    assert not (tmp_path / "data").exists()
