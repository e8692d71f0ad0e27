"""Credentials for every API of a real server started with `tests.process.Server`."""

from __future__ import annotations

import time

import httpx
import pytest

from streamkeeper.oxm.tokens import TokenKey, mint
from tests.process import Server

ADMIN_KEY = "k"  # what tests.process.Server configures
ADMIN_PASSWORD = "contract-admin-password"  # give it as STREAMKEEPER_ADMIN_PASSWORD


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real server process (uvicorn and its lane, as deployed) for the tests of one module."""
    srv = Server(tmp_path_factory.mktemp("contract") / "data", STREAMKEEPER_ADMIN_PASSWORD=ADMIN_PASSWORD)
    srv.start()
    yield srv
    srv.kill()


def hmp_cookie(url: str, password: str = ADMIN_PASSWORD) -> str:
    """A `Cookie` header of a fresh media-platform login of the administrator."""
    r = httpx.post(f"{url}/apis/authentication/login", json={"username": "admin", "password": password})
    assert r.status_code == 201, r.text
    return f"calypso-session-id={r.cookies['calypso-session-id']}"


def oxm_admin_token(url: str, tenant: str = "adobe") -> str:
    """A tenant administrator's viewer token, under a key added over the admin API."""
    key = TokenKey(f"contract-{tenant}", tenant, "HS256", "s" * 40, "contract-issuer", "contract")
    body = {"id": key.id, "tenant": key.tenant, "algorithm": key.algorithm, "secret": key.material,
            "issuer": key.issuer, "audience": key.audience}
    r = httpx.post(f"{url}/admin/v1/token-keys", json=body, headers={"X-Admin-Key": ADMIN_KEY})
    assert r.status_code in (201, 409), r.text
    return mint(key, "contract-admin", now=time.time(), ttl=3600, admin=True)
