"""`streamkeeper admin` as a user runs it: which data dir it uses, what it prints."""

from __future__ import annotations

import json

import httpx

from tests.scale.servers import Server

from .conftest import run, run_on_terminal


def test_a_missing_data_dir_is_refused_not_created(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run("admin", "key", cwd=elsewhere)
    assert done.returncode == 1 and done.stdout == ""
    assert f"no data dir at {elsewhere / 'data'} (the default ./data, in {elsewhere})" in done.stderr
    for args in (["app", "list"], ["user", "list"], ["token-key", "list"]):
        assert run("admin", *args, cwd=elsewhere).returncode == 1
    assert list(elsewhere.iterdir()) == []


def test_the_key_printed_is_the_running_servers(tmp_path):
    """The server made its data dir and generated its admin key; the CLI, run from another
    directory, finds it through STREAMKEEPER_DATA_DIR or --data-dir and says which it used."""
    data = tmp_path / "data"
    server = Server(data, {"STREAMKEEPER_ADMIN_PASSWORD": "first-password-1"}).spawn().wait_ready()
    try:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        by_variable = run("admin", "key", cwd=elsewhere, env={"STREAMKEEPER_DATA_DIR": str(data)})
        assert by_variable.returncode == 0, by_variable.stderr
        assert by_variable.stderr == f"streamkeeper: data dir {data} (from STREAMKEEPER_DATA_DIR)\n"
        key = json.loads(by_variable.stdout)["adminKey"]
        by_flag = run("admin", "--data-dir", str(data), "key", cwd=elsewhere)
        assert json.loads(by_flag.stdout)["adminKey"] == key and "(from --data-dir)" in by_flag.stderr
        r = httpx.get(f"{server.url}/admin/v1/applications", headers={"X-Admin-Key": key})
        assert r.status_code == 200 and [a["id"] for a in r.json()] == ["demo-app", "demo-app-2"]
    finally:
        server.stop()


def login(server: Server, password: str) -> int:
    return httpx.post(f"{server.url}/apis/authentication/login",
                      json={"username": "admin", "password": password}).status_code


def test_admin_password_of_a_later_start_is_ignored_with_a_word_and_changed_by_the_cli(tmp_path):
    data = tmp_path / "data"
    text = {"STREAMKEEPER_LOG_FORMAT": "text"}
    first = Server(data, {**text, "STREAMKEEPER_ADMIN_PASSWORD": "first-password-1"}).spawn().wait_ready()
    first.stop()
    assert "is ignored" not in first.log.read_text()

    later = Server(data, {**text, "STREAMKEEPER_ADMIN_PASSWORD": "second-password-2"}).spawn().wait_ready()
    try:
        assert ("WARNING streamkeeper: STREAMKEEPER_ADMIN_PASSWORD is ignored: the media-platform administrator "
                "exists already (to change a password: streamkeeper admin user update admin --password ...)"
                ) in later.log.read_text()
        assert login(later, "second-password-2") == 401
        assert login(later, "first-password-1") == 201
        changed = run("admin", "--data-dir", str(data), "user", "update", "admin", "--password", "third-password-3")
        assert changed.returncode == 0, changed.stderr
        assert json.loads(changed.stdout)["username"] == "admin"
        assert login(later, "third-password-3") == 201
        assert login(later, "first-password-1") == 401
    finally:
        later.stop()


def test_lists_are_tables_on_a_terminal_and_json_when_piped_or_asked(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    piped = run("admin", "--data-dir", str(data), "role", "list")
    assert piped.returncode == 0, piped.stderr
    roles = json.loads(piped.stdout)
    assert {"Administrator", "Viewer"} <= {r["name"] for r in roles}

    table = run("admin", "--data-dir", str(data), "role", "list", "--table").stdout.splitlines()
    assert table[0].split() == ["NAME", "ID", "ADMIN", "BUILTIN"]
    assert table[1].split() == ["Administrator", "admin", "yes", "yes"]
    assert len(table) == len(roles) + 1

    status, shown = run_on_terminal("admin", "--data-dir", str(data), "role", "list", stream="stdout")
    assert status == 0 and shown.splitlines() == table
    status, shown = run_on_terminal("admin", "--data-dir", str(data), "role", "list", "--json", stream="stdout")
    assert json.loads(shown) == roles

    assert json.loads(run("admin", "--data-dir", str(data), "tenant", "list", "--json").stdout) == []
    apps = run("admin", "--data-dir", str(data), "app", "list", "--table").stdout.splitlines()
    assert apps == ["ID  TENANT  NAME  HEARTBEATINTERVAL  ENABLED  POLICIES"]
