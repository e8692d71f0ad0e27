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
    def __init__(self) -> None:
        super().__init__()
        self.run(self.store.close())  # the embedded store the base machine opened
        self.prefix = redis_prefix_for_test()
        self.store = RedisStore(REDIS_URL, prefix=self.prefix, clock=self.clock)
        self.run(self.store.start())
        self.service.store = self.store

    def teardown(self) -> None:
        self.run(drop_redis_keys(REDIS_URL, self.prefix))
        super().teardown()


# Fewer examples than on the embedded store: every step is a few real Redis round trips.
RedisEngineMachine.TestCase.settings = settings(EngineMachine.TestCase.settings, max_examples=30)
TestRedisEngineMachine = RedisEngineMachine.TestCase
