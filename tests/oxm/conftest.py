"""Fixtures of the experience API: a configured app (two tenants, an HS256 and an ES256 key)
on SQLite and PostgreSQL, and tokens minted at the fake clock's time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from streamkeeper.oxm.tokens import TokenKey, mint
from tests.conftest import FakeClock, Running, make_settings

SECRET = "acme-shared-secret-of-at-least-32-bytes!"
ISSUER = "https://idp.example"
AUDIENCE = "oxm"


@pytest.fixture(scope="session")
def es_keys() -> tuple[str, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def write_config(directory: Path, public_pem: str, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "globex.pem").write_text(public_pem)
    path = directory / "config.toml"
    path.write_text(f"""
[[tenants]]
id = "acme"
name = "Acme"

[[tenants]]
id = "globex"
name = "Globex"

[[oxm.tokenKeys]]
id = "acme-hs"
tenant = "acme"
algorithm = "HS256"
secret = "{SECRET}"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"

[[oxm.tokenKeys]]
id = "globex-es"
tenant = "globex"
algorithm = "ES256"
publicKeyFile = "globex.pem"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
{extra}
""")
    return path


ACME_KEY = TokenKey("acme-hs", "acme", "HS256", SECRET, ISSUER, AUDIENCE)


@dataclass
class Oxm:
    client: httpx.AsyncClient
    clock: FakeClock
    es_private: str
    running: Running

    def token(self, user: str, tenant: str = "acme", *, admin: bool = False, ttl: float = 3600, **extra) -> str:
        if tenant == "acme":
            return mint(ACME_KEY, user, now=self.clock.now, ttl=ttl, admin=admin, extra=extra or None)
        key = TokenKey("globex-es", "globex", "ES256", "", ISSUER, AUDIENCE)
        return mint(key, user, signing_key=self.es_private, now=self.clock.now, ttl=ttl, admin=admin,
                    extra=extra or None)

    def auth(self, user: str, tenant: str = "acme", *, admin: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, tenant, admin=admin)}"}

    async def streaming(self, user: str, asset: str, device: str | None = None, progress: int | None = None,
                        tenant: str = "acme") -> httpx.Response:
        params = {}
        if device is not None:
            params["device"] = device
        if progress is not None:
            params["progress"] = str(progress)
        return await self.client.put(f"/oxm/v1/streams/{asset}/streaming", params=params,
                                     headers=self.auth(user, tenant))

    async def set_policy(self, per_user: int, per_asset: int, devices: int, tenant: str = "acme") -> httpx.Response:
        body = {"maxPerUser": per_user, "maxPerAsset": per_asset, "maxDevices": devices}
        return await self.client.put(f"/oxm/v1/streampolicy/{tenant}", json=body,
                                     headers=self.auth("boss", tenant, admin=True))


async def start_oxm(tmp_path: Path, clock: FakeClock, es_keys, db: dict, wire: str = "asgi", **settings):
    config = write_config(tmp_path / "conf", es_keys[1], settings.pop("config_extra", ""))
    running = Running(make_settings(tmp_path, config=config, **db, **settings), clock, wire)
    client = await running.__aenter__()
    return Oxm(client, clock, es_keys[0], running)


@pytest.fixture(params=["asgi", "lane"])
def wire(request) -> str:
    """Every OXM test runs over ASGI and over the uvicorn lane (the `streaming` hot route)."""
    return request.param


@pytest.fixture
async def oxm(tmp_path, clock, es_keys, catalog_db, wire):
    """The app on each catalog database, over each wire."""
    api = await start_oxm(tmp_path, clock, es_keys, catalog_db, wire, trusted_proxies="10.0.0.0/8")
    try:
        yield api
    finally:
        await api.running.__aexit__(None, None, None)


@pytest.fixture
async def oxm_stores(tmp_path, clock, es_keys, store, wire):
    """The app (SQLite catalog) on each session store: embedded, and Redis."""
    api = await start_oxm(tmp_path, clock, es_keys, {}, wire, **store)
    try:
        yield api
    finally:
        await api.running.__aexit__(None, None, None)


@pytest.fixture
async def oxm_lite(tmp_path, clock, es_keys, wire):
    """The app on SQLite only, for tests about the session store rather than the catalog."""
    api = await start_oxm(tmp_path, clock, es_keys, {}, wire, trusted_proxies="10.0.0.0/8")
    try:
        yield api
    finally:
        await api.running.__aexit__(None, None, None)
