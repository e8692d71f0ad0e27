"""Playback tokens: what a `/play/<token>/...` URL may play, for which live session, until when.

A token is opaque to the player. Its claims (the session's store key, the session id, the
application or tenant, the asset, the expiry) are encrypted, so no subject is ever in clear in a
URL, a proxy log or a CDN report, and signed, so none can be made up or changed:

    version (1 byte) | key id length (1) | key id | nonce (16) | AES-256-CTR(claims) | HMAC-SHA256 (16)

the whole in unpadded base64url. The MAC covers every byte before it (encrypt-then-MAC); both
the cipher key and the MAC key are derived from one secret per key id. The newest key signs,
every listed key verifies: a new key is rolled out first, the old one kept until the tokens it
signed have expired, and no viewer is cut off (see docs/playback.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Iterable, Literal

import orjson
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..caches import make_room

VERSION = 1
NONCE = 16
TAG = 16
MIN_SECRET = 16
MAX_TOKEN = 2048  # characters: anything longer is refused without decoding
Kind = Literal["v2", "oxm"]
KINDS = ("v2", "oxm")


class BadToken(Exception):
    """The token was not made by this service with a key it knows (or was altered)."""


@dataclass(frozen=True, slots=True)
class Claims:
    """What a genuine token says. `key` is the session's store key ((idp, subject) for `/v2`,
    ("oxm:<tenant>", user) for OXM), `owner` the application id (`/v2`) or tenant (OXM) whose
    grant lets it play `asset` ("video:<id>" or "source:<id>")."""

    kind: Kind
    key: tuple[str, str]
    session: str
    owner: str
    asset: str
    expires: float


@dataclass(frozen=True, slots=True)
class SigningKey:
    id: str
    secret: bytes

    def __post_init__(self) -> None:
        if not self.id or len(self.id.encode()) > 64 or not self.id.isascii():
            raise ValueError("a playback key id is 1 to 64 ASCII characters")
        if len(self.secret) < MIN_SECRET:
            raise ValueError(f"the playback key {self.id!r} is shorter than {MIN_SECRET} bytes")


class _Derived:
    __slots__ = ("id", "raw_id", "cipher", "mac")

    def __init__(self, key: SigningKey) -> None:
        self.id = key.id
        self.raw_id = key.id.encode()
        self.cipher = hmac.digest(key.secret, b"streamkeeper playback cipher", hashlib.sha256)
        # Keyed once: each MAC starts from a copy instead of hashing the key again.
        self.mac = hmac.new(hmac.digest(key.secret, b"streamkeeper playback mac", hashlib.sha256),
                            digestmod=hashlib.sha256)

    def crypt(self, nonce: bytes, data: bytes) -> bytes:
        """AES-CTR both ways."""
        box = Cipher(algorithms.AES(self.cipher), modes.CTR(nonce)).encryptor()
        return box.update(data) + box.finalize()

    def tag(self, signed: bytes) -> bytes:
        mac = self.mac.copy()
        mac.update(signed)
        return mac.digest()[:TAG]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TokenCodec:
    """Makes and reads tokens with a key ring: `keys[0]` signs, all of them verify."""

    #: Tokens already found genuine: a player fetches a segment every few seconds with the same
    #: token, so its MAC and cipher run once. Bounded; forgetting only costs recomputing.
    KNOWN_MAX = 100_000

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        ring = [_Derived(k) for k in keys]
        if not ring:
            raise ValueError("at least one playback key is needed")
        if len({k.id for k in ring}) != len(ring):
            raise ValueError("playback key ids must differ")
        self._signer = ring[0]
        self._ring = {k.raw_id: k for k in ring}
        self._known: dict[str, Claims] = {}

    @property
    def key_ids(self) -> list[str]:
        return [k.id for k in self._ring.values()]

    def issue(self, claims: Claims) -> str:
        key = self._signer
        plain = orjson.dumps([claims.kind, claims.key[0], claims.key[1], claims.session, claims.owner,
                              claims.asset, int(claims.expires)])
        nonce = os.urandom(NONCE)
        signed = bytes((VERSION, len(key.raw_id))) + key.raw_id + nonce + key.crypt(nonce, plain)
        return _b64(signed + key.tag(signed))

    def read(self, token: str) -> Claims:
        """The token's claims, whatever its expiry (the caller compares it with its clock);
        :class:`BadToken` for anything not signed by a key of the ring."""
        known = self._known.get(token)
        if known is not None:
            return known
        if not 0 < len(token) <= MAX_TOKEN:
            raise BadToken("no token")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise BadToken("not base64url") from None
        if len(raw) < 2 + NONCE + TAG or raw[0] != VERSION:
            raise BadToken("not a playback token")
        end_id = 2 + raw[1]
        key = self._ring.get(raw[2:end_id])
        if key is None:
            raise BadToken("signed with an unknown key")
        signed, tag = raw[:-TAG], raw[-TAG:]
        if not hmac.compare_digest(tag, key.tag(signed)):
            raise BadToken("bad signature")
        nonce = raw[end_id:end_id + NONCE]
        try:
            kind, k0, k1, session, owner, asset, expires = orjson.loads(key.crypt(nonce, signed[end_id + NONCE:]))
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise BadToken("unreadable claims") from None  # (a key shared with something else)
        if kind not in KINDS:
            raise BadToken("unknown kind")
        claims = Claims(kind, (k0, k1), session, owner, asset, float(expires))
        make_room(self._known, self.KNOWN_MAX)
        self._known[token] = claims
        return claims


def parse_keys(text: str) -> list[SigningKey]:
    """Keys written as ``id:secret`` separated by commas or new lines (the first one signs)."""
    keys = []
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part or part.startswith("#"):
            continue
        kid, sep, secret = part.partition(":")
        if not sep:
            raise ValueError("playback keys are written id:secret, comma-separated, the signing key first")
        keys.append(SigningKey(kid.strip(), secret.strip().encode()))
    if not keys:
        raise ValueError("no playback key given")
    return keys
