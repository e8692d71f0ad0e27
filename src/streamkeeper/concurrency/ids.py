"""Session ids that carry an HMAC tag, so a never-issued id (404) is told from an ended one (410)
without keeping a tombstone for every session ever started."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from ..caches import make_room

_RAND = 10
_TAG = 8
_CODE = 6


class _RandomPool:
    """Bytes from the OS's CSPRNG, read 4 KiB at a time: one system call per ~400 session ids
    instead of one each (a system call on the event loop thread can cost a GIL hand-off to the
    session journal's thread). Emptied in a forked child so two processes never share bytes."""

    SIZE = 4096

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0

    def take(self, n: int) -> bytes:
        pos = self._pos
        if pos + n > len(self._buf):
            self._buf, pos = os.urandom(self.SIZE), 0
        self._pos = pos + n
        return self._buf[pos:pos + n]

    def reset(self) -> None:
        self._buf, self._pos = b"", 0


_random = _RandomPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_random.reset)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SessionIds:
    #: Ids already found genuine, with whom they were issued to: a heartbeat every minute for
    #: hours need not recompute the same HMAC each time. Bounded; emptied when full.
    KNOWN_MAX = 100_000

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the session id secret must be at least 16 bytes")
        # Keyed once: each MAC then starts from a copy instead of hashing the key again.
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)
        self._known: dict[str, tuple[str, str, str]] = {}

    def _digest(self, app_id: str, idp: str, subject: str, rand: bytes) -> bytes:
        mac = self._mac.copy()
        mac.update(b"\x00".join((app_id.encode(), idp.encode(), subject.encode(), rand)))
        return mac.digest()

    def _tag(self, app_id: str, idp: str, subject: str, rand: bytes) -> bytes:
        return self._digest(app_id, idp, subject, rand)[:_TAG]

    def new(self, app_id: str, idp: str, subject: str) -> tuple[str, str]:
        """A new session id for this application and viewer, and its termination code (the short
        code that lets another stream of the same viewer end this one): both from one MAC."""
        rand = _random.take(_RAND)
        digest = self._digest(app_id, idp, subject, rand)
        return _b64(rand + digest[:_TAG]), _b64(digest[_TAG:_TAG + _CODE])

    def issued(self, session_id: str, app_id: str, idp: str, subject: str) -> bool:
        """True if this server minted `session_id` for this application and viewer."""
        known = self._known.get(session_id)
        if known is not None:
            return known == (app_id, idp, subject)
        if len(session_id) != 24:
            return False
        try:
            raw = base64.urlsafe_b64decode(session_id + "==")
        except (binascii.Error, ValueError):
            return False
        if len(raw) != _RAND + _TAG:
            return False
        rand, tag = raw[:_RAND], raw[_RAND:]
        if not hmac.compare_digest(tag, self._tag(app_id, idp, subject, rand)):
            return False
        make_room(self._known, self.KNOWN_MAX)
        self._known[session_id] = (app_id, idp, subject)
        return True
