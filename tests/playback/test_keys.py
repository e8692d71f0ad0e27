"""Playback token keys: rotated without cutting anyone off, never leaking the subject."""

from __future__ import annotations

import asyncio
import base64

import pytest

from streamkeeper.playback.keys import FILE, rotate
from streamkeeper.playback.tokens import BadToken, Claims, SigningKey, TokenCodec, parse_keys


def _key_id(token: str) -> str:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return raw[2:2 + raw[1]].decode()


async def _until_signed_by(stage, sid: str, key_id: str) -> str:
    """A new URL once the server took up the rotated key file (it looks every 2 s)."""
    for _ in range(60):
        r = await stage.playback("alice", sid)
        assert r.status_code == 201, r.text
        if _key_id(r.json()["token"]) == key_id:
            return r.json()["path"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the server never signed with {key_id}")


async def test_a_rotated_key_signs_new_urls_while_the_urls_of_the_previous_one_play_on(stage):
    settings = stage.running.settings
    sid = await stage.session("alice")
    first = await stage.url("alice", sid)
    first_key = (settings.data_dir / FILE).read_text().split(":")[0]
    assert _key_id(first.split("/")[2]) == first_key

    newer, previous = rotate(settings)
    assert previous == first_key
    second = await _until_signed_by(stage, sid, newer)
    assert (await stage.fetch(first)).status_code == 200  # the previous key still verifies
    assert (await stage.fetch(second)).status_code == 200

    newest, kept = rotate(settings)
    assert kept == newer
    third = await _until_signed_by(stage, sid, newest)
    assert await stage.refused(first) == "forged token"  # two rotations ago: no longer known
    assert (await stage.fetch(second)).status_code == 200
    assert (await stage.fetch(third)).status_code == 200


def test_a_token_hides_its_claims_and_any_change_breaks_it():
    codec = TokenCodec([SigningKey("k1", b"x" * 32)])
    claims = Claims("v2", ("adobe", "alice@example.com"), "session-id-123", "demo-app", "video:v1", 2e9)
    token = codec.issue(claims)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for secret in (b"alice", b"adobe", b"session-id-123", b"demo-app", b"video:v1"):
        assert secret not in raw
    assert codec.read(token) == claims
    assert codec.issue(claims) != token  # a fresh nonce each time
    fresh = TokenCodec([SigningKey("k1", b"x" * 32)])  # (no memory of genuine tokens)
    for i in range(len(raw)):
        changed = bytearray(raw)
        changed[i] ^= 1
        with pytest.raises(BadToken):
            fresh.read(base64.urlsafe_b64encode(bytes(changed)).rstrip(b"=").decode())
    with pytest.raises(BadToken):
        TokenCodec([SigningKey("k1", b"y" * 32)]).read(token)  # same id, another secret
    both = TokenCodec([SigningKey("k2", b"z" * 32), SigningKey("k1", b"x" * 32)])
    assert both.read(token) == claims and _key_id(both.issue(claims)) == "k2"


def test_keys_given_in_the_environment_are_parsed_and_checked():
    keys = parse_keys("new:" + "n" * 20 + ", old:" + "o" * 20)
    assert [k.id for k in keys] == ["new", "old"]
    for bad in ("", "no-colon", "short:abc"):
        with pytest.raises(ValueError):
            parse_keys(bad)
