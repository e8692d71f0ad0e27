"""`streamkeeper admin user|group|role`: accounts managed from the command line, then used over HTTP."""

from __future__ import annotations

import asyncio
import json

from streamkeeper.cli import main
from tests.hmp.conftest import assert_error
from tests.conftest import Running, make_settings


def test_cli_creates_users_and_groups_that_can_log_in(tmp_path, clock, capsys, monkeypatch):
    monkeypatch.setenv("STREAMKEEPER_ADMIN_PASSWORD", "admin-password-1")
    (tmp_path / "data").mkdir()
    data = str(tmp_path / "data")
    assert main(["admin", "--data-dir", data, "group", "create", "staff", "--roles", "Content Creator"]) == 0
    assert main(["admin", "--data-dir", data, "user", "create", "alice", "--password", "alice-pass-1",
                 "--groups", "staff", "--display-name", "Alice"]) == 0
    capsys.readouterr()
    assert main(["admin", "--data-dir", data, "user", "show", "alice"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["displayName"] == "Alice" and len(shown["groups"]) == 1
    assert main(["admin", "--data-dir", data, "user", "show", "nobody"]) == 1
    assert main(["admin", "--data-dir", data, "user", "create", "alice"]) == 1  # exists
    assert main(["admin", "--data-dir", data, "role", "list"]) == 0
    assert "Content Contributor" in capsys.readouterr().out

    r = asyncio.run(login(tmp_path, clock, "alice", "alice-pass-1"))
    assert r.status_code == 201 and r.json()["data"]["roleIds"] == ["content-creator"]
    assert main(["admin", "--data-dir", data, "user", "update", "alice", "--disable"]) == 0
    assert_error(asyncio.run(login(tmp_path, clock, "alice", "alice-pass-1")), 401, "020002", "InvalidCredentials")


async def login(tmp_path, clock, username, password):
    async with Running(make_settings(tmp_path), clock) as client:
        return await client.post("/apis/authentication/login", json={"username": username, "password": password})
