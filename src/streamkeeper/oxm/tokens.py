"""Viewer tokens: JWTs signed by a tenant's key, verified against the keys configured for it.

A token names its tenant (claim ``tenant``), its user (``sub``) and may carry roles
(``roles``); the role ``admin`` lets a tenant administrator change the tenant stream policy
and read or reset any viewer's progress and watchlist of that tenant. ``iss`` and ``aud`` must
match the key's configuration; ``exp`` is required and ``nbf`` honoured, both against the
server's clock (injectable, so tests can move time).

Verified tokens are remembered (bounded), so the hot path pays for a signature check once per
token rather than once per heartbeat.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Container, Iterable

import jwt
from jwt.algorithms import get_default_algorithms

from ..caches import make_room
from . import errors

ALGORITHMS = ("HS256", "RS256", "ES256")
TENANT_CLAIM = "tenant"
ROLES_CLAIM = "roles"
ADMIN_ROLE = "admin"
MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 8192
_CACHE_SIZE = 100_000  # verified tokens remembered until they expire (a few hundred bytes each)
_USER = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
_DECODE_OPTIONS: Any = {
    "verify_exp": False,  # checked against our clock below
    "verify_nbf": False,
    "verify_iat": False,
    "require": ["exp", "sub", "iss", "aud"],
}


class KeyError_(ValueError):
    """Key material that cannot verify tokens with the algorithm it is configured for."""


@dataclass(frozen=True, slots=True)
class TokenKey:
    id: str
    tenant: str
    algorithm: str
    material: str  # the HS256 secret, or a PEM public key
    issuer: str
    audience: str

    def verifier(self) -> Any:
        """The key object PyJWT verifies with, prepared once."""
        if self.algorithm not in ALGORITHMS:
            raise KeyError_(f"algorithm must be one of {', '.join(ALGORITHMS)}")
        if self.algorithm == "HS256":
            if len(self.material.encode()) < MIN_SECRET_BYTES:
                raise KeyError_(f"an HS256 secret needs at least {MIN_SECRET_BYTES} bytes")
            return self.material.encode()
        try:
            prepared = get_default_algorithms()[self.algorithm].prepare_key(self.material)
        except Exception as exc:  # noqa: BLE001 - any parse failure of the PEM
            raise KeyError_(f"not a usable {self.algorithm} public key: {exc}") from None
        if not hasattr(prepared, "verify") or hasattr(prepared, "sign"):
            raise KeyError_(f"{self.algorithm} needs a public key (PEM), not a private key")
        return prepared


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user of a tenant, possibly that tenant's administrator."""

    tenant: str
    user: str
    admin: bool
    expires: float
    not_before: float | None


class KeyRing:
    """The keys of every tenant, replaced wholesale when the configuration changes."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._by_id: dict[str, tuple[TokenKey, Any]] = {}
        self._by_tenant: dict[str, list[tuple[TokenKey, Any]]] = {}
        self._verified: dict[str, Principal] = {}

    def load(self, keys: Iterable[TokenKey]) -> None:
        by_id: dict[str, tuple[TokenKey, Any]] = {}
        by_tenant: dict[str, list[tuple[TokenKey, Any]]] = {}
        for key in keys:
            try:
                entry = (key, key.verifier())
            except KeyError_:
                continue  # validated when stored; a bad row never breaks the others
            by_id[key.id] = entry
            by_tenant.setdefault(key.tenant, []).append(entry)
        self._by_id, self._by_tenant, self._verified = by_id, by_tenant, {}

    def retain(self, tenants: Container[str]) -> None:
        """Forget the keys of tenants that are gone (the database dropped them with the tenant)."""
        if all(key.tenant in tenants for key, _ in self._by_id.values()):
            return
        self.load(key for key, _ in self._by_id.values() if key.tenant in tenants)

    def authenticate(self, header: str | None) -> Principal:
        """The caller named by an ``Authorization: Bearer`` header, or a 401 OxmError."""
        if not header:
            raise errors.unauthorized(errors.TOKEN_MISSING, "an Authorization: Bearer token is required")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.unauthorized(errors.TOKEN_MISSING, "an Authorization: Bearer token is required")
        principal = self._verified.get(token)
        if principal is None:
            principal = self._verify(token)
            if len(self._verified) >= _CACHE_SIZE:
                self._make_room()
            self._verified[token] = principal
        now = self.clock()
        if now >= principal.expires:
            raise errors.unauthorized(errors.TOKEN_EXPIRED, "the token has expired")
        if principal.not_before is not None and now < principal.not_before:
            raise errors.unauthorized(errors.TOKEN_INVALID, "the token is not valid yet")
        return principal

    def _make_room(self) -> None:
        """Forget expired tokens first; only if that frees too little, the oldest (a renewal of a
        token still cached costs a dict lookup, a re-verification up to ~100 µs for RS/ES256)."""
        now = self.clock()
        self._verified = {t: p for t, p in self._verified.items() if p.expires > now}
        make_room(self._verified, _CACHE_SIZE * 9 // 10)

    def _verify(self, token: str) -> Principal:
        invalid = errors.unauthorized(errors.TOKEN_INVALID, "the token is invalid")
        if len(token) > MAX_TOKEN_CHARS:
            raise invalid
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise invalid from None
        tenant = unverified.get(TENANT_CLAIM)
        if not isinstance(tenant, str):
            raise invalid
        kid = header.get("kid")
        if kid is not None:
            entry = self._by_id.get(kid) if isinstance(kid, str) else None
            candidates = [entry] if entry is not None and entry[0].tenant == tenant else []
        else:
            candidates = self._by_tenant.get(tenant, [])
        alg = header.get("alg")
        for key, verifier in candidates:
            if key.algorithm != alg:
                continue
            try:
                claims = jwt.decode(token, verifier, algorithms=[key.algorithm], audience=key.audience,
                                    issuer=key.issuer, options=_DECODE_OPTIONS)
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise invalid from None
            return _principal(claims, invalid)
        raise invalid


def _principal(claims: dict[str, Any], invalid: errors.OxmError) -> Principal:
    user, tenant, roles = claims.get("sub"), claims.get(TENANT_CLAIM), claims.get(ROLES_CLAIM, [])
    if not isinstance(user, str) or not _USER.match(user):
        raise invalid
    if isinstance(roles, str):
        roles = roles.split()
    if not isinstance(roles, list):
        raise invalid
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not _number(exp) or (nbf is not None and not _number(nbf)):
        raise invalid
    return Principal(tenant=tenant, user=user, admin=ADMIN_ROLE in roles, expires=float(exp),
                     not_before=float(nbf) if nbf is not None else None)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def mint(
    key: TokenKey,
    user: str,
    *,
    signing_key: str | bytes | None = None,
    now: float | None = None,
    ttl: float = 3600,
    admin: bool = False,
    extra: dict[str, Any] | None = None,
) -> str:
    """A token for `user` signed for `key`: HS256 signs with the stored secret, RS256/ES256
    need the matching private key (PEM) in `signing_key`."""
    now = time.time() if now is None else now
    if key.algorithm == "HS256":
        signing_key = key.material
    elif signing_key is None:
        raise KeyError_(f"{key.algorithm} tokens are signed with the private key: give it")
    claims: dict[str, Any] = {
        "iss": key.issuer,
        "aud": key.audience,
        "sub": user,
        TENANT_CLAIM: key.tenant,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now + ttl),
    }
    if admin:
        claims[ROLES_CLAIM] = [ADMIN_ROLE]
    claims.update(extra or {})
    return jwt.encode(claims, signing_key, algorithm=key.algorithm, headers={"kid": key.id})
