"""Password hashing with Argon2id (argon2-cffi), off the event loop."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _decoy() -> str:
    """A hash to verify against when the user does not exist, so both paths cost the same."""
    return _hasher.hash("streamkeeper-decoy-password")


def configure(**parameters) -> None:
    """Change the Argon2 cost parameters (the test suite lowers them; stored hashes stay verifiable)."""
    global _hasher
    _hasher = PasswordHasher(**parameters)
    _decoy.cache_clear()


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _decoy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
