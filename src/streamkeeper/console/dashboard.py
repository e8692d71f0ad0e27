"""The concurrency dashboard: live sessions, outcome charts (5 min, 1 h, 24 h), subject lookup."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..playback.console import playback_of
from .timeseries import DAY, STEP_SECONDS, History, Ranges, Sample, Usage, read_counters
from .web import Admin, render

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


async def _live(request_app, now: float) -> tuple[int | None, dict[str, int] | None]:
    """Live sessions in all and per application (None where the store keeps no such count); the
    viewers are walked once."""
    store = request_app.state.ctx.concurrency.store
    by_app = await store.live_by_application(now)
    total = sum(by_app.values()) if by_app is not None else await store.count_live(now)
    return total, by_app


async def sample(app, reuse: bool = False) -> Sample:
    """The counters now; with `reuse`, the live count the usage recorder took in the last step
    if there is one (each is a walk over every session on the embedded store)."""
    now = app.state.ctx.clock()
    metrics = getattr(app.state, "metrics", None)
    recorder = getattr(app.state, "usage", None)
    last = recorder.last_live if reuse and recorder is not None else None
    if last is not None and 0 <= now - last[0] < STEP_SECONDS:
        total = last[1]
    else:
        total = await app.state.ctx.concurrency.store.count_live(now)
    return Sample(now, read_counters(metrics) if metrics else {}, total)


async def _sampler(app, history: History) -> None:
    while True:
        try:
            history.add(await sample(app, reuse=True))
        except Exception:  # noqa: BLE001 - the chart misses a point; the server goes on
            log.warning("console: could not sample the session counters", exc_info=True)
        await asyncio.sleep(STEP_SECONDS)


async def startup(app, ctx) -> None:
    app.state.console_history = History()
    app.state.console_sampler = asyncio.create_task(_sampler(app, app.state.console_history))


async def shutdown(app, ctx) -> None:
    task = getattr(app.state, "console_sampler", None)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@router.get("/console/dashboard")
async def dashboard(request: Request, login=Admin) -> Response:
    catalog = request.app.state.ctx.concurrency.catalog
    return render(request, "dashboard.html", login, tenants=sorted(catalog.tenants),
                  applications=sorted(catalog.applications.values(), key=lambda a: a.id))


@router.get("/console/api/stats")
async def stats(request: Request, login=Admin) -> Response:
    app = request.app
    current = await sample(app)
    application = request.query_params.get("application") or None
    catalog = app.state.ctx.concurrency.catalog
    total, by_app = await _live(app, current.at)
    counts, usage = await _counts(app, current)
    rows = []
    for a in sorted(catalog.applications.values(), key=lambda a: (a.tenant, a.id)):
        totals = {o: counts.get(o, {}).get(a.id, 0) for o in counts}
        rows.append({"tenant": a.tenant, "application": a.id, "name": a.name, "enabled": a.enabled,
                     "live": by_app.get(a.id, 0) if by_app is not None else None, **totals})
    series = await Ranges(app.state.console_history, usage).read(request.query_params.get("range", "1h"),
                                                                 current.at, current, application)
    return JSONResponse({"now": current.at, "live": total, "applications": rows, "series": series},
                        headers={"Cache-Control": "no-store"})


async def _counts(app, current: Sample) -> tuple[dict[str, dict[str, int]], Usage | None]:
    """Outcomes per application over the last 24 hours, of every worker and server (the usage
    history, plus what this process has not written yet); this process's counters when there is
    no recorder."""
    recorder = getattr(app.state, "usage", None)
    if recorder is None:
        return current.counts, None
    from ..usage.report import sums

    ctx = app.state.ctx
    async with recorder.steady:
        # up to the minute of what was written last (a flush after `current` may be in the next)
        minute = int(max(current.at, recorder.clock()) // 60) * 60
        counts = await sums(ctx.engine, minute + 60 - int(DAY), minute + 60)
        unflushed = recorder.unflushed()
    for outcome, per_app in unflushed.items():
        mine = counts.setdefault(outcome, {})
        for app_id, n in per_app.items():
            mine[app_id] = mine.get(app_id, 0) + n
    return counts, Usage(ctx.engine, recorder, bool(ctx.settings.redis_url))


def _stream(s, catalog) -> dict:
    app = catalog.applications.get(s.app_id)
    return {"sessionId": s.id, "applicationId": s.app_id, "applicationName": app.name if app else s.app_id,
            "tenant": s.tenant, "startTime": s.started, "expires": s.expires, "terminationCode": s.code,
            "metadata": s.metadata}


@router.get("/console/api/subjects/{idp}/{subject}")
async def subject_streams(idp: str, subject: str, request: Request, login=Admin) -> Response:
    """Running streams of one subject, across every tenant (one application of each asks)."""
    service = request.app.state.ctx.concurrency
    catalog = service.catalog
    streams, seen = [], set()
    for app in sorted(catalog.applications.values(), key=lambda a: a.id):
        if app.tenant in seen:
            continue
        seen.add(app.tenant)
        running = await service.running(app, idp, subject)
        streams += [{**_stream(s, catalog), "playback": playback_of(request.app.state, s)} for s in running.mine]
    return JSONResponse({"idp": idp, "subject": subject, "runningStreams": streams},
                        headers={"Cache-Control": "no-store"})


@router.post("/console/api/subjects/{idp}/{subject}/{session_id}/end")
async def end_stream(idp: str, subject: str, session_id: str, request: Request, login=Admin) -> Response:
    """End one stream; its next heartbeat gets a 410 naming the operator who ended it."""
    from ..concurrency.service import ConcurrencyError

    service = request.app.state.ctx.concurrency
    app_id = request.query_params.get("application", "")
    app = service.catalog.applications.get(app_id)
    if app is None:
        return JSONResponse({"message": f"unknown application {app_id!r}"}, status_code=404)
    try:
        await service.stop(app, idp, subject, session_id, operator=login.identity.principal.username)
    except ConcurrencyError as exc:
        return JSONResponse({"message": str(exc) or type(exc).__name__}, status_code=409)
    return JSONResponse({"ended": session_id})
