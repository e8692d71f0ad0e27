"""The pipelined Redis connection of the session store: many callers, one connection, every
reply to its own caller; a lost connection fails the calls in flight and comes back."""

from __future__ import annotations

import asyncio

import pytest
import redis

from streamkeeper.concurrency.redis_pipe import PipelinedRedis, Script
from tests.conftest import REDIS_URL


async def test_concurrent_calls_each_get_their_own_reply(redis_user):
    prefix = redis_user["prefix"]
    pipe = PipelinedRedis(redis_user["url"])
    try:
        keys = [f"{prefix}n{i}" for i in range(10)]
        replies = await asyncio.gather(*(pipe.execute("INCR", keys[i % 10]) for i in range(1000)))
        per_key: dict[str, list[int]] = {}
        for i, reply in enumerate(replies):
            per_key.setdefault(keys[i % 10], []).append(reply)
        # Calls on one key were written in order, so their replies count 1..100 in that order.
        assert all(values == list(range(1, 101)) for values in per_key.values())
        script = Script("return {KEYS[1], ARGV[1]}")
        assert await pipe.run(script, [f"{prefix}k"], ["v"]) == [f"{prefix}k".encode(), b"v"]
        with pytest.raises(redis.exceptions.ResponseError):
            await pipe.execute("INCR", f"{prefix}no-such-command", "extra")  # wrong arity
        assert await pipe.execute("INCR", keys[0]) == 101  # an error reply does not shift the others
    finally:
        await pipe.close()


async def test_a_lost_connection_fails_fast_then_reconnects(redis_user):
    prefix = redis_user["prefix"]
    pipe = PipelinedRedis(redis_user["url"])
    admin = redis.Redis.from_url(REDIS_URL)
    try:
        assert await pipe.execute("SET", f"{prefix}a", "1") == b"OK"
        redis_user["cut_off"]()
        with pytest.raises(redis.exceptions.ConnectionError):
            for _ in range(50):  # the kill reaches us at the next read
                await pipe.execute("GET", f"{prefix}a")
                await asyncio.sleep(0.02)
        admin.execute_command("ACL", "SETUSER", redis_user["url"].split("//")[1].split(":")[0], "on")
        assert await pipe.execute("GET", f"{prefix}a") == b"1"
    finally:
        admin.close()
        await pipe.close()
