"""Token keys through `/admin/v1/token-keys` and the CLI, and `streamkeeper admin token` minting
a token the server accepts."""

from __future__ import annotations

import asyncio
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from streamkeeper.cli import main
from streamkeeper.oxm.tokens import TokenKey, mint
from tests.conftest import ADMIN_KEY, FakeClock, Running, make_settings

from .conftest import write_config

KEYS = "/admin/v1/token-keys"
ADMIN = {"X-Admin-Key": ADMIN_KEY}
COUNTS = "/oxm/v1/streams/counts"


def rsa_pair() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode(),
        private.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
    )


async def test_keys_managed_over_the_admin_api_take_effect_at_once(oxm):
    client = oxm.client
    private, public = rsa_pair()
    body = {"id": "acme-rs", "tenant": "acme", "algorithm": "RS256", "publicKey": public,
            "issuer": "corp", "audience": "players"}
    assert (await client.post(KEYS, json=body)).status_code == 401
    created = await client.post(KEYS, json=body, headers=ADMIN)
    assert created.status_code == 201
    assert created.json() == {"id": "acme-rs", "tenant": "acme", "algorithm": "RS256", "publicKey": public,
                              "hasSecret": False, "issuer": "corp", "audience": "players"}
    assert (await client.post(KEYS, json=body, headers=ADMIN)).status_code == 409

    key = TokenKey("acme-rs", "acme", "RS256", public, "corp", "players")
    token = mint(key, "ann", signing_key=private, now=oxm.clock.now)
    assert (await client.get(COUNTS, headers={"Authorization": f"Bearer {token}"})).status_code == 200

    listed = (await client.get(KEYS, headers=ADMIN)).json()
    assert {k["id"] for k in listed} == {"acme-hs", "globex-es", "acme-rs"}
    hs = next(k for k in listed if k["id"] == "acme-hs")
    assert hs["hasSecret"] is True and hs["publicKey"] is None
    assert "secret" not in json.dumps(listed).replace("hasSecret", "")

    assert (await client.delete(f"{KEYS}/acme-rs", headers=ADMIN)).status_code == 204
    r = await client.get(COUNTS, headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["code"]) == (401, 1001)
    assert (await client.get(f"{KEYS}/acme-rs", headers=ADMIN)).status_code == 404


async def test_unusable_keys_are_refused(oxm):
    private, public = rsa_pair()
    bad = [
        {"id": "k", "tenant": "acme", "algorithm": "HS256", "secret": "short"},
        {"id": "k", "tenant": "acme", "algorithm": "HS256", "publicKey": public},
        {"id": "k", "tenant": "acme", "algorithm": "RS256", "publicKey": "not a pem"},
        {"id": "k", "tenant": "acme", "algorithm": "RS256", "publicKey": private},
        {"id": "k", "tenant": "acme", "algorithm": "ES256", "publicKey": public},
        {"id": "k", "tenant": "nobody", "algorithm": "HS256", "secret": "s" * 40},
        {"id": "k", "tenant": "acme", "algorithm": "none", "secret": "s" * 40},
    ]
    for body in bad:
        r = await oxm.client.post(KEYS, json=body, headers=ADMIN)
        assert r.status_code == 400, body
    assert (await oxm.client.put(f"{KEYS}/missing", headers=ADMIN,
                                 json={"tenant": "acme", "algorithm": "HS256", "secret": "s" * 40})).status_code == 404


def test_cli_creates_a_key_and_mints_a_token_the_server_accepts(tmp_path, es_keys, capsys, monkeypatch):
    for var in ("STREAMKEEPER_DATABASE_URL", "STREAMKEEPER_REDIS_URL", "STREAMKEEPER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    data = str(tmp_path / "data")
    config = write_config(tmp_path / "conf", es_keys[1])
    assert main(["admin", "--data-dir", data, "apply", str(config)]) == 0
    capsys.readouterr()

    assert main(["admin", "--data-dir", data, "token-key", "create", "cli-hs", "--tenant", "acme"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["algorithm"] == "HS256" and len(created["secret"]) >= 32

    assert main(["admin", "--data-dir", data, "token", "cli-hs", "ann", "--admin", "--ttl", "600"]) == 0
    hs_token = capsys.readouterr().out.strip()
    es_private = tmp_path / "es.pem"
    es_private.write_text(es_keys[0])
    assert main(["admin", "--data-dir", data, "token", "globex-es", "gil", "--private-key", str(es_private)]) == 0
    es_token = capsys.readouterr().out.strip()
    assert main(["admin", "--data-dir", data, "token", "globex-es", "gil"]) == 1
    assert main(["admin", "--data-dir", data, "token", "no-such-key", "gil"]) == 1

    assert main(["admin", "--data-dir", data, "token-key", "list"]) == 0
    assert {k["id"] for k in json.loads(capsys.readouterr().out)} == {"acme-hs", "globex-es", "cli-hs"}

    async def use() -> None:
        import time

        async with Running(make_settings(tmp_path), FakeClock(time.time())) as client:
            r = await client.put("/oxm/v1/streampolicy/acme", headers={"Authorization": f"Bearer {hs_token}"},
                                 json={"maxPerUser": 2, "maxPerAsset": 1, "maxDevices": 0})
            assert r.status_code == 200
            r = await client.get(COUNTS, headers={"Authorization": f"Bearer {es_token}"})
            assert r.status_code == 200

    asyncio.run(use())
    assert main(["admin", "--data-dir", data, "token-key", "delete", "cli-hs"]) == 0


async def test_deleting_a_tenant_takes_its_keys_and_data_with_it(oxm):
    assert (await oxm.streaming("gil", "a", device="tv", progress=5, tenant="globex")).status_code == 204
    assert (await oxm.client.put("/oxm/v1/towatch/a", headers=oxm.auth("gil", "globex"))).status_code == 200
    token = oxm.token("gil", "globex")
    assert (await oxm.client.delete("/admin/v1/tenants/globex", headers=ADMIN)).status_code == 204
    r = await oxm.client.get("/oxm/v1/streams/history", headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["code"]) == (401, 1001)
    assert {k["id"] for k in (await oxm.client.get(KEYS, headers=ADMIN)).json()} == {"acme-hs"}
    # Re-created, the tenant starts empty: no key, so no token of the old key works either.
    assert (await oxm.client.post("/admin/v1/tenants", json={"id": "globex", "name": "Globex"},
                                  headers=ADMIN)).status_code == 201
    r = await oxm.client.get("/oxm/v1/streams/history", headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["code"]) == (401, 1001)
