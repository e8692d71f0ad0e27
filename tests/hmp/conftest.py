"""Fixtures for the media-platform API: a running app on SQLite and PostgreSQL, and logged-in users."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from streamkeeper.hmp.accounts import passwords
from tests.conftest import ADMIN_KEY, Running, make_settings

ADMIN_PASSWORD = "admin-password-1"
PASSWORD = "password-123"


class Hmp:
    """The app under test, an administrator's client, and a way to add users and log them in."""

    def __init__(self, running: Running, admin: httpx.AsyncClient) -> None:
        self.running = running
        self.app = running.app
        self.admin = admin  # logged in as the first administrator
        self._clients: list[httpx.AsyncClient] = []

    def new_client(self) -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://test")
        self._clients.append(c)
        return c

    async def manage(self, method: str, path: str, json=None) -> httpx.Response:
        """Call `/admin/v1` with the admin key."""
        return await self.admin.request(method, "/admin/v1" + path, json=json, headers={"X-Admin-Key": ADMIN_KEY})

    async def add_user(self, username: str, roles=("viewer",), groups=(), password: str = PASSWORD) -> dict:
        r = await self.manage("POST", "/users", {"username": username, "password": password, "roles": list(roles),
                                                 "groups": list(groups), "displayName": username.title()})
        assert r.status_code == 201, r.text
        return r.json()

    async def login(self, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
        client = self.new_client()
        r = await client.post("/apis/authentication/login", json={"username": username, "password": password})
        assert r.status_code == 201, r.text
        return client

    async def user(self, username: str, roles=("viewer",), groups=()) -> httpx.AsyncClient:
        await self.add_user(username, roles, groups)
        return await self.login(username)

    async def close(self) -> None:
        for c in self._clients:
            await c.aclose()


async def start(tmp_path: Path, clock, catalog_db: dict):
    settings = make_settings(tmp_path, admin_password=ADMIN_PASSWORD, **catalog_db)
    running = Running(settings, clock)
    await running.__aenter__()
    hmp = Hmp(running, running.client)
    r = await hmp.admin.post("/apis/authentication/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 201, r.text
    return hmp


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing():
    """Argon2 at its production cost takes most of a test's time; the tests are about behaviour."""
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
async def hmp(tmp_path, clock, catalog_db):
    api = await start(tmp_path, clock, catalog_db)
    try:
        yield api
    finally:
        await api.close()
        await api.running.__aexit__(None, None, None)


def assert_error(response: httpx.Response, status: int, code: str, name: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["name"] == name, body
    assert body["httpStatusCode"] == status and isinstance(body["message"], str) and body["message"]
    return body
