"""`/healthz`, `/readyz` and `/metrics`, and the wiring of the ops middleware into the app."""

from __future__ import annotations

import asyncio
import logging

import orjson
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.responses import Response

from .metrics import SHARE_SECONDS, Metrics, SharedCounters, workers_dir
from .middleware import OpsMiddleware

log = logging.getLogger(__name__)
router = APIRouter(tags=["Operations"])
PROBE_TIMEOUT = 2.0


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def install(app: FastAPI) -> None:
    """Called once when the app is built: metrics registry and the per-request middleware."""
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(OpsMiddleware, metrics=metrics, routes=lambda: app.router.routes)


async def startup(app: FastAPI, ctx) -> None:
    """Count session outcomes on the store the concurrency service uses, and add them to the
    usage history (usage/recorder.py) every few seconds."""
    from ..usage.recorder import UsageRecorder

    store = ctx.concurrency.store
    store.observer = app.state.metrics.observe_view

    async def live(now: float):
        by_app = await store.live_by_application(now)
        return (sum(by_app.values()) if by_app is not None else await store.count_live(now)), by_app

    app.state.usage = UsageRecorder(ctx.engine, app.state.metrics.sessions.totals, live, ctx.clock)
    app.state.usage.start()
    shared_dir = workers_dir()
    app.state.shared_metrics = None
    if shared_dir is not None:
        shared = app.state.shared_metrics = SharedCounters(app.state.metrics, shared_dir)
        app.state.metrics_sharer = asyncio.create_task(_share(shared), name="metrics-sharer")


async def _share(shared: SharedCounters) -> None:
    while True:
        try:
            shared.write()
        except OSError:
            log.warning("could not write this worker's metrics to %s", shared.directory, exc_info=True)
        await asyncio.sleep(SHARE_SECONDS)


async def shutdown(app: FastAPI, ctx) -> None:
    recorder = getattr(app.state, "usage", None)
    if recorder is not None:
        await recorder.stop()
    task = getattr(app.state, "metrics_sharer", None)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            app.state.shared_metrics.write()
        except OSError:
            pass


@router.get("/healthz", summary="Liveness: the process runs and serves HTTP")
async def healthz() -> Response:
    return json_response(200, {"status": "ok"}, {"Cache-Control": "no-store"})


async def _check(probe) -> str:
    try:
        await asyncio.wait_for(probe(), PROBE_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure makes the process not ready
        return f"error: {type(exc).__name__}: {exc}"[:300]
    return "ok"


@router.get("/readyz", summary="Readiness: the catalog database and (if configured) Redis answer",
            responses={503: {"description": "A dependency does not answer; `checks` says which"}})
async def readyz(request: Request) -> Response:
    ctx = request.app.state.ctx

    async def database() -> None:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    checks = {"database": await _check(database)}
    ping = getattr(ctx.concurrency.store, "ping", None)
    if ping is not None:
        checks["redis"] = await _check(ping)
    ready = all(v == "ok" for v in checks.values())
    if not ready:
        log.warning("not ready: %s", checks)
    return json_response(200 if ready else 503, {"status": "ready" if ready else "unavailable", "checks": checks},
                         {"Cache-Control": "no-store"})


@router.get("/metrics", summary="Prometheus metrics of this server (every worker's counters summed)",
            response_class=Response,
            responses={200: {"description": "Prometheus text exposition format",
                             "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(request: Request) -> Response:
    ctx = request.app.state.ctx
    registry: Metrics = request.app.state.metrics
    try:
        live = await ctx.concurrency.store.count_live(ctx.clock())
        if live is not None:
            registry.active.set(live)
    except Exception:  # noqa: BLE001 - a scrape must still answer when the store does not
        log.warning("could not count active sessions", exc_info=True)
    shared: SharedCounters | None = request.app.state.shared_metrics
    if shared is not None:
        return Response(shared.render(), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)


from ..feature import Feature  # noqa: E402 - the declaration closes the module

feature = Feature("ops", router=router, install=install, startup=startup, shutdown=shutdown)
