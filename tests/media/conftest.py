"""Shared real signals for the media tests: short H.264/AAC MPEG-TS clips made with PyAV."""

from __future__ import annotations

import pytest

from streamkeeper.hmp.accounts import passwords
from streamkeeper.media.testsignal import make_clip
from tests.hmp.conftest import start


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """3 s, 320x240, constant 2 Mbit/s multiplex."""
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.ts", seconds=3, muxrate=2_000_000)


@pytest.fixture(scope="session")
def clip_b(tmp_path_factory):
    """A second, different signal (for two-source sessions)."""
    return make_clip(tmp_path_factory.mktemp("clips") / "clip_b.ts", seconds=3, muxrate=1_500_000,
                     width=256, height=192, seed=1)


@pytest.fixture
async def api(tmp_path, clock):
    """The whole app on SQLite with the media engine, an administrator logged in."""
    passwords.configure(time_cost=1, memory_cost=1024, parallelism=1)
    hmp = await start(tmp_path, clock, {})
    try:
        yield hmp
    finally:
        await hmp.close()
        await hmp.running.__aexit__(None, None, None)
