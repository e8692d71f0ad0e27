"""A feature that hangs at shutdown does not keep the server from stopping: it is named in the log,
and the others, the session store and the database still close."""

from __future__ import annotations

import asyncio
import logging

from streamkeeper import app as app_module
from streamkeeper.feature import Feature

from tests.conftest import make_settings


async def test_a_feature_stuck_at_shutdown_is_left_behind_and_the_rest_stops(tmp_path, monkeypatch, caplog):
    stopped: list[str] = []

    async def stuck(app, ctx) -> None:
        await asyncio.Event().wait()  # never set: a peer that never answers

    async def last(app, ctx) -> None:
        stopped.append("last")

    real = app_module.features
    # features stop in reverse order: "stuck" first, then "last", then every real feature
    monkeypatch.setattr(app_module, "features", lambda: [Feature("last", shutdown=last), *real(),
                                                         Feature("stuck", shutdown=stuck)])
    monkeypatch.setattr(app_module, "SHUTDOWN_SECONDS", 0.5)
    app = app_module.create_app(make_settings(tmp_path))
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    store = app.state.ctx.concurrency.store
    assert store._journal is not None
    with caplog.at_level(logging.ERROR, logger="streamkeeper"):
        await asyncio.wait_for(lifespan.__aexit__(None, None, None), 30)
    assert "the stuck feature did not stop" in caplog.text
    assert stopped == ["last"]  # the features after it stopped
    assert store._journal is None  # and the session store closed (its journal written)
