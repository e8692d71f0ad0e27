"""The engine's hypothesis state machine (tests/concurrency) again, on the Redis store."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import settings

from streamkeeper.concurrency.redis_store import RedisStore
from tests.concurrency.test_state_machine import EngineMachine
from tests.conftest import REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test


@pytest.fixture(autouse=True, scope="module")
def _redis():
    redis_available()


class RedisEngineMachine(EngineMachine):
    # Every heartbeat is written to Redis before it is answered.
    DEFERRED_HEARTBEATS = False

    def open_store(self):
        if not hasattr(self, "prefix"):
            self.prefix = redis_prefix_for_test()
        return RedisStore(REDIS_URL, prefix=self.prefix, clock=self.clock)

    def teardown(self) -> None:
        self.run(drop_redis_keys(REDIS_URL, self.prefix))
        super().teardown()


# Fewer examples than on the embedded store: every step is a few real Redis round trips.
RedisEngineMachine.TestCase.settings = settings(EngineMachine.TestCase.settings, max_examples=30)
TestRedisEngineMachine = RedisEngineMachine.TestCase
