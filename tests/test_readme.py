"""The README's shell examples run as written, top to bottom, against a fresh server, and
answer what the README shows (see tests/readme_runner.py for the conventions)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests import readme_runner
from tests.process import free_port, free_udp_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BASE = "http://127.0.0.1:8080"
#: The UDP port of the README's source; the test gives it a free one, as tests running side by side
#: (a multicast source of tests/hmp binds the same number) must not share it.
SOURCE_PORT = re.compile(r"\b4900\b")


def _clean_env() -> dict[str, str]:
    """This environment without STREAMKEEPER_* settings, with the venv's bin first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKEEPER_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"  # curl talks to the test server directly
    return env


def _admin_password(markdown: str) -> str:
    """The first administrator's password, as the README has the user set it."""
    found = re.search(r"^export STREAMKEEPER_ADMIN_PASSWORD=(\S+)", markdown, re.M)
    assert found, "the README sets STREAMKEEPER_ADMIN_PASSWORD before the first start"
    return found.group(1).strip("'\"")


@pytest.fixture
def readme_server(tmp_path: Path):
    """A fresh server on a free port with its data in `<tmp>/data`, started the way the
    README's quick start starts one (from the directory the examples run in)."""
    markdown = README.read_text()
    port = free_port()
    env = _clean_env()
    env["STREAMKEEPER_ADMIN_PASSWORD"] = _admin_password(markdown)
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamkeeper", "serve", "--port", str(port), "--data-dir", "data"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not start:\n{(tmp_path / 'server.log').read_text()[-3000:]}")
        time.sleep(0.1)
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def test_readme_examples_name_the_server_by_one_variable():
    """Every example reaches the server through `$B`, set once in the quick start."""
    cmds = readme_runner.commands(README.read_text())
    literal = [c for c in cmds if "http://" in c.text or "https://" in c.text]
    assert [c.text.split("#")[0].strip() for c in literal] == [f"B={BASE}"]
    assert not [c.text for c in cmds if "$H" in c.text]


def test_readme_examples_run_and_answer_as_shown(readme_server: str, tmp_path: Path):
    markdown = README.read_text()
    assert shutil.which("jq"), "the README's examples read answers with jq (`apt-get install jq`)"
    venv = Path(sys.prefix)
    assert (venv / "bin" / "activate").exists(), "the tests run from the venv `make venv` made"
    (tmp_path / ".venv").symlink_to(venv)  # the quick start activates ./.venv
    env = _clean_env()
    env["TMPDIR"] = str(tmp_path)  # the scratch directory the quick start makes
    runnable = SOURCE_PORT.sub(str(free_udp_port()), markdown.replace(BASE, readme_server))
    problems = readme_runner.run(runnable, tmp_path, env)
    server_log = (tmp_path / "server.log").read_text()
    assert not problems, "\n\n".join(problems) + f"\n\nserver log (tail):\n{server_log[-3000:]}"
    assert len(readme_runner.commands(markdown)) > 40


def test_the_runner_fails_on_a_wrong_answer_or_a_failing_command(tmp_path: Path):
    """The checks above can fail: a different status, field or text, and a command that fails."""
    doc = "\n".join([
        "```sh",
        "printf 'HTTP/1.1 404 Not Found\\r\\nA: b\\r\\n\\r\\n{\"a\": [1, 2], \"b\": \"x-1\"}'",
        "# -> 202",
        "# => {\"a\": [1, \"...\"], \"b\": \"y-...\"}",
        "echo 'one two'",
        "# -> one ... three",
        "```",
        "<!-- readme-test: skip -->",
        "```sh",
        "exit 1",
        "```",
        "```sh",
        "cat <<'EOF' > f.txt",
        "# -> not an answer inside a here-document",
        "EOF",
        "echo '{\"n\": 1}'",
        "# => {\"n\": 1}",
        "false",
        "echo never",
        "```",
    ])
    problems = readme_runner.run(doc, tmp_path, _clean_env())
    assert len(problems) == 3, problems
    assert "status 404, the README shows 202" in problems[0]
    assert "one ... three" in problems[1]
    assert "stopped with status 1" in problems[2] and "$ false" in problems[2]
    assert (tmp_path / "f.txt").read_text() == "# -> not an answer inside a here-document\n"


def test_a_loop_over_several_lines_is_refused():
    """Markers between commands would land inside the loop's body."""
    with pytest.raises(ValueError, match="one line"):
        readme_runner.commands("```sh\nfor i in 1 2; do\n  echo $i\ndone\n```\n")
    assert len(readme_runner.commands("```sh\nfor i in 1 2; do echo $i; done\n```\n")) == 1


def test_json_answers_match_by_the_fields_shown():
    match = readme_runner.json_matches
    assert match({"a": 1}, {"a": 1, "b": 2})
    assert not match({"a": 1}, {"a": True})
    assert not match({"a": [1]}, {"a": [1, 2]})
    assert match({"a": [1, "..."]}, {"a": [1, 2]})
    assert match({"t": "Lobby - ..."}, {"t": "Lobby - 07/12/2026"})
    assert not match({"t": "..."}, {"t": 3})
    assert match({"...": [{"id": 2}]}, {"x": [{"id": 1}], "y": [{"id": 2}]})
    assert not match({"...": [{"id": 3}]}, {"x": [{"id": 1}], "y": [{"id": 2}]})
