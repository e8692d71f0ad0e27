"""Who receives the sources of a deployment: one media owner, chosen by a lease in Redis.

Every process of every server shares one Redis when there is more than one process, so the
lease is a Redis key set with ``NX`` and an expiry, renewed by its holder with a
compare-and-renew script. Whoever holds it receives every source, records, re-streams and runs
scheduled events; the others send it their media commands (the listener address is in the lease
value) and read the state of the sources from the :class:`StatusBoard` it writes.

A holder that cannot renew steps down before the key can expire in Redis, so two processes
never receive at once (as long as a process is not frozen for longer than the margin). A
killed holder's key expires after :data:`TTL`; the first process to try after that takes it.
No HTTP and no database here: plain Redis calls.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

TTL = 5.0  # seconds a lease lives without renewal
RENEW_EVERY = 1.0  # the holder renews, and the others try to take it, this often
STEP_DOWN_AFTER = 3.5  # a holder that renewed nothing for this long stops receiving (< TTL)
STATUS_TTL = 2.0  # the owner's status, written every half second, is not believed for longer

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Holder:
    """What the lease says about its holder."""

    token: str
    url: str  # where its internal listener answers, e.g. http://10.0.0.5:41234
    host: str = ""
    pid: int = 0

    def encode(self) -> str:
        return json.dumps({"token": self.token, "url": self.url, "host": self.host, "pid": self.pid})

    @staticmethod
    def decode(raw: bytes | str | None) -> "Holder | None":
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Holder(str(data["token"]), str(data["url"]), str(data.get("host", "")), int(data.get("pid", 0)))
        except (ValueError, KeyError, TypeError):
            return None


def new_holder(url: str) -> Holder:
    return Holder(secrets.token_hex(16), url, socket.gethostname(), os.getpid())


class Lease:
    """The media owner's lease: one Redis key whose value names the holder."""

    def __init__(self, redis, key: str, ttl: float = TTL) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = int(ttl * 1000)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, holder: Holder) -> bool:
        return bool(await self.redis.set(self.key, holder.encode(), nx=True, px=self.ttl_ms))

    async def renew(self, holder: Holder) -> bool:
        return bool(await self._renew(keys=[self.key], args=[holder.encode(), self.ttl_ms]))

    async def release(self, holder: Holder) -> None:
        await self._release(keys=[self.key], args=[holder.encode()])

    async def holder(self) -> Holder | None:
        return Holder.decode(await self.redis.get(self.key))


class StatusBoard:
    """The owner's view of the media plane (sources, recordings, re-streams), kept in one Redis
    key with a short expiry so that a dead owner's view is not believed for long."""

    def __init__(self, redis, key: str, ttl: float = STATUS_TTL) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = int(ttl * 1000)

    async def publish(self, status: dict) -> None:
        await self.redis.set(self.key, json.dumps({**status, "at": time.time()}), px=self.ttl_ms)

    async def read(self) -> dict:
        raw = await self.redis.get(self.key)
        if raw is None:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            return {}
