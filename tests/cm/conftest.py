"""`/v2` tests run over ASGI and over the uvicorn lane, the way `streamkeeper serve` answers
the hot routes (tests/lane_transport.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asgi", "lane"])
def wire(request) -> str:
    return request.param
