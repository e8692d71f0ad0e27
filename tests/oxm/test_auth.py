"""Bearer tokens: missing, malformed, forged, expired, not yet valid, wrong issuer or audience,
and tokens of another tenant's key; HS256 and ES256 keys both verify."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from streamkeeper.oxm.tokens import TokenKey, mint

from .conftest import ACME_KEY, AUDIENCE, ISSUER, SECRET

COUNTS = "/oxm/v1/streams/counts"


@pytest.fixture
async def oxm(oxm_lite):
    """Token checks never touch the catalog database: SQLite is enough."""
    return oxm_lite


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def assert_401(response, code: int) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == code
    assert body["status"] == 401
    assert body["message"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_token_is_1000_on_every_route(oxm):
    for method, path in (("GET", COUNTS), ("PUT", "/oxm/v1/streams/a/streaming"), ("PUT", "/oxm/v1/streams/a/stopped"),
                         ("GET", "/oxm/v1/streams/history"), ("GET", "/oxm/v1/streams/a"),
                         ("DELETE", "/oxm/v1/streams/a"), ("GET", "/oxm/v1/towatch"), ("PUT", "/oxm/v1/towatch/a"),
                         ("DELETE", "/oxm/v1/towatch/a"), ("GET", "/oxm/v1/streampolicy/acme"),
                         ("PUT", "/oxm/v1/streampolicy/acme")):
        await assert_401(await oxm.client.request(method, path), 1000)
    await assert_401(await oxm.client.get(COUNTS, headers={"Authorization": "Basic abc"}), 1000)


async def test_valid_hs256_and_es256_tokens_are_accepted(oxm):
    assert (await oxm.client.get(COUNTS, headers=oxm.auth("ann"))).status_code == 200
    assert (await oxm.client.get(COUNTS, headers=oxm.auth("ann", "globex"))).status_code == 200


async def test_expired_token_is_1002(oxm):
    token = oxm.token("ann", ttl=60)
    assert (await oxm.client.get(COUNTS, headers=bearer(token))).status_code == 200
    oxm.clock.advance(61)
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(token)), 1002)
    await assert_401(await oxm.client.put("/oxm/v1/streams/a/streaming", headers=bearer(token)), 1002)


async def test_forged_tokens_are_1001(oxm):
    good = oxm.token("ann")
    header, payload, signature = good.split(".")
    tampered_sig = f"{header}.{payload}.{signature[:-4]}AAAA"
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(tampered_sig)), 1001)
    # Signed with a secret the server does not know, otherwise perfect.
    wrong = TokenKey("acme-hs", "acme", "HS256", "x" * 40, ISSUER, AUDIENCE)
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(mint(wrong, "ann", now=oxm.clock.now))), 1001)
    # An admin role claimed in a token the real key never signed.
    admin = jwt.encode({"sub": "mallory", "tenant": "acme", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE,
                        "exp": oxm.clock.now + 60}, "y" * 40, algorithm="HS256")
    r = await oxm.client.put("/oxm/v1/streampolicy/acme", json={"maxPerUser": 0, "maxPerAsset": 0, "maxDevices": 0},
                             headers=bearer(admin))
    await assert_401(r, 1001)
    # Unsigned ("alg": "none") tokens are never accepted.
    unsigned = jwt.encode({"sub": "ann", "tenant": "acme", "iss": ISSUER, "aud": AUDIENCE,
                           "exp": oxm.clock.now + 60}, None, algorithm="none")
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(unsigned)), 1001)
    for garbage in ("abc", "a.b.c", "x" * 9000):
        await assert_401(await oxm.client.get(COUNTS, headers=bearer(garbage)), 1001)


async def test_expired_forgery_is_invalid_not_expired(oxm):
    wrong = TokenKey("acme-hs", "acme", "HS256", "z" * 40, ISSUER, AUDIENCE)
    token = mint(wrong, "ann", now=oxm.clock.now - 7200, ttl=60)
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(token)), 1001)


async def test_es256_token_signed_by_another_key_is_1001(oxm):
    stranger = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key = TokenKey("globex-es", "globex", "ES256", "", ISSUER, AUDIENCE)
    token = mint(key, "ann", signing_key=stranger, now=oxm.clock.now)
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(token)), 1001)


async def test_issuer_audience_and_claims_are_checked(oxm):
    for key in (TokenKey("acme-hs", "acme", "HS256", SECRET, "https://other.example", AUDIENCE),
                TokenKey("acme-hs", "acme", "HS256", SECRET, ISSUER, "someone-else")):
        await assert_401(await oxm.client.get(COUNTS, headers=bearer(mint(key, "ann", now=oxm.clock.now))), 1001)
    no_exp = jwt.encode({"sub": "ann", "tenant": "acme", "iss": ISSUER, "aud": AUDIENCE}, SECRET, algorithm="HS256")
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(no_exp)), 1001)
    no_sub = jwt.encode({"tenant": "acme", "iss": ISSUER, "aud": AUDIENCE, "exp": oxm.clock.now + 60}, SECRET,
                        algorithm="HS256")
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(no_sub)), 1001)


async def test_token_not_valid_before_nbf(oxm):
    token = mint(ACME_KEY, "ann", now=oxm.clock.now, extra={"nbf": int(oxm.clock.now) + 100})
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(token)), 1001)
    oxm.clock.advance(101)
    assert (await oxm.client.get(COUNTS, headers=bearer(token))).status_code == 200


async def test_a_tenant_key_cannot_vouch_for_another_tenant(oxm):
    # Signed with acme's key but claiming to be a globex user.
    token = mint(ACME_KEY, "ann", now=oxm.clock.now, extra={"tenant": "globex"})
    await assert_401(await oxm.client.get(COUNTS, headers=bearer(token)), 1001)
