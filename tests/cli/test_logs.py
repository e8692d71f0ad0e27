"""Logs for people on a terminal, JSON lines for machines: chosen by whether stderr is a
terminal, or by --log-format / STREAMKEEPER_LOG_FORMAT."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import REDIS_URL, redis_available, redis_prefix_for_test
from tests.process import free_port

from .conftest import run, run_on_terminal

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +[\w.]+: \S")
STARTUP_FAILED = 3


@pytest.fixture
def failing_inside_the_app(tmp_path):
    """A start that passes the checks made before the server starts and fails inside the app
    (a Redis key prefix it refuses): uvicorn logs the exception with its traceback."""
    redis_available()
    args = ["serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port())]
    env = {"STREAMKEEPER_REDIS_URL": REDIS_URL, "STREAMKEEPER_REDIS_PREFIX": "{" + redis_prefix_for_test() + "}",
           "STREAMKEEPER_ADMIN_KEY": "k"}
    return args, env


def assert_text(shown: str) -> None:
    lines = shown.splitlines()
    assert not any(line.startswith("{") for line in lines), shown
    assert any("INFO    streamkeeper: data dir" in line for line in lines), shown
    # A traceback reads as Python prints it: its own lines, not an escaped string.
    start = next(n for n, line in enumerate(lines) if line.endswith(": Traceback (most recent call last):"))
    assert TEXT_LINE.match(lines[start]) and " ERROR " in lines[start], shown
    assert lines[start + 1].startswith('  File "')
    assert "ValueError: the Redis key prefix must not contain braces" in lines
    assert TEXT_LINE.match(lines[0]) and TEXT_LINE.match(lines[-1]), shown


def assert_json(shown: str) -> None:
    entries = [json.loads(line) for line in shown.splitlines() if line.strip()]
    assert {"ts", "level", "logger", "msg"} <= set(entries[0])
    assert all({"ts", "level", "logger", "msg"} <= set(e) for e in entries)
    failed = [e for e in entries if "ValueError: the Redis key prefix" in e.get("exc", e["msg"])]
    assert failed and failed[0]["level"] == "error"


def test_text_on_a_terminal(failing_inside_the_app):
    args, env = failing_inside_the_app
    status, shown = run_on_terminal(*args, env=env)
    assert status == STARTUP_FAILED
    assert_text(shown)


def test_json_when_piped(failing_inside_the_app):
    args, env = failing_inside_the_app
    done = run(*args, env=env)
    assert done.returncode == STARTUP_FAILED
    assert_json(done.stderr)


def test_forced_by_flag_or_variable(failing_inside_the_app):
    args, env = failing_inside_the_app
    assert_text(run(*args, "--log-format", "text", env=env).stderr)
    status, shown = run_on_terminal(*args, env={**env, "STREAMKEEPER_LOG_FORMAT": "json"})
    assert_json(shown)
    # the flag wins over the variable
    assert_text(run(*args, "--log-format", "text", env={**env, "STREAMKEEPER_LOG_FORMAT": "json"}).stderr)
