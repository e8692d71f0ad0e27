"""One pipelined Redis connection shared by every request of a process.

redis-py checks a connection out of its pool for each command and writes and reads it alone:
with 50 requests in flight that is 50 connections, one write and one read system call per
command, and a few dozen microseconds of client code each. Here, every command issued during
one turn of the event loop goes out in a single write, and replies (which Redis sends in
order) complete the callers' futures as they arrive. Used by the session store's hot paths
(scripts, HGETALL) on a plain `redis://` server; Redis Cluster and TLS keep redis-py.

Failures: a lost connection fails every waiting call with ConnectionError (the store answers
503) and the next call reconnects; a server that stops answering for `timeout` seconds is
treated as lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from typing import Any

import hiredis
from redis.connection import parse_url
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

DEFAULT_TIMEOUT = 5.0
_UNAVAILABLE = ("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "READONLY", "CLUSTERDOWN")


class _Connection(asyncio.Protocol):
    def __init__(self, lost: asyncio.Future) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader()
        self.waiting: deque[tuple[asyncio.Future, float]] = deque()
        self.out: list[bytes] = []
        self.flush_scheduled = False
        self.lost = lost

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        waiting = self.waiting
        while True:
            reply = reader.gets()
            if reply is False:
                return
            future, _ = waiting.popleft()
            if future.done():
                continue
            if isinstance(reply, hiredis.ReplyError):
                text = str(reply)
                # A server that is loading, busy or failing over cannot serve now: unavailable (503).
                kind = RedisConnectionError if text.startswith(_UNAVAILABLE) else ResponseError
                future.set_exception(kind(text))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.fail(RedisConnectionError(f"connection to Redis lost: {exc or 'closed by the server'}"))
        if not self.lost.done():
            self.lost.set_result(None)

    def fail(self, exc: Exception) -> None:
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)

    def send(self, packed: bytes) -> asyncio.Future:
        if self.transport is None:
            raise RedisConnectionError("connection to Redis lost")
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((future, time.monotonic()))
        self.out.append(packed)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.transport is not None and self.out:
            self.transport.write(b"".join(self.out))
        self.out.clear()


class Script:
    """A Lua script run by its SHA1 (loaded on first NOSCRIPT)."""

    def __init__(self, source: str) -> None:
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source).hexdigest().encode()


class PipelinedRedis:
    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        options = parse_url(url)
        self.host = options.get("host", "127.0.0.1")
        self.port = int(options.get("port", 6379))
        self.db = int(options.get("db", 0) or 0)
        self.username = options.get("username")
        self.password = options.get("password")
        self.timeout = timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Lock | None = None
        self._watchdog: asyncio.Task | None = None

    @staticmethod
    def supports(url: str) -> bool:
        """Plain TCP `redis://` URLs without client options that only redis-py understands."""
        return url.startswith("redis://") and "?" not in url

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        lost = loop.create_future()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(lost), self.host, self.port), self.timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise RedisConnectionError(f"cannot connect to Redis at {self.host}:{self.port}: {exc}") from exc
        setup = []
        if self.password:
            args = ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
            setup.append(conn.send(hiredis.pack_command(args)))
        if self.db:
            setup.append(conn.send(hiredis.pack_command(("SELECT", self.db))))
        if setup:
            try:
                await asyncio.gather(*setup)
            except ResponseError as exc:  # refused credentials: as unreachable as a closed port
                if conn.transport is not None:
                    conn.transport.close()
                raise AuthenticationError(str(exc)) from exc
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch())
        return conn

    async def _connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and conn.transport is not None:
            return conn
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            conn = self._conn
            if conn is None or conn.transport is None:
                conn = self._conn = await self._connect()
        return conn

    async def _watch(self) -> None:
        """Abort a connection whose oldest call waited longer than the timeout."""
        while True:
            await asyncio.sleep(min(1.0, self.timeout / 2))
            conn = self._conn
            if conn is None or conn.transport is None or not conn.waiting:
                continue
            if time.monotonic() - conn.waiting[0][1] > self.timeout:
                conn.fail(RedisTimeoutError(f"Redis did not answer within {self.timeout} s"))
                conn.transport.abort()

    async def execute(self, *args: Any) -> Any:
        conn = self._conn
        if conn is None or conn.transport is None:
            conn = await self._connection()
        return await conn.send(hiredis.pack_command(args))

    async def hgetall(self, key: str) -> dict[bytes, bytes]:
        flat = await self.execute("HGETALL", key)
        return dict(zip(flat[::2], flat[1::2]))

    async def run(self, script: Script, keys: list, args: list) -> Any:
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.execute("EVAL", script.source, len(keys), *keys, *args)

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            try:
                await self._watchdog
            except asyncio.CancelledError:
                pass
            self._watchdog = None
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            conn.transport.close()
            await conn.lost
