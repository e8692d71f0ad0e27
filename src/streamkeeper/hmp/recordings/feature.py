"""Mounts the media engine on the app: receivers for every source, crash recovery, events.

At start-up, before the `/apis` feature: the engine becomes
``app.state.hmp_media`` and the process's media plane (:mod:`.plane`)
``app.state.media_plane``, the catalog's ``MediaBackend``. The media owner
of the deployment (the process itself when there is no Redis, else the
holder of the media lease) finalises recordings a killed process left
open (or goes on with them, after a takeover), receives every source in
the catalog and runs the event scheduler; the other processes send it
their media commands (:mod:`.forwarding`). At shutdown, the owner's
recordings in progress are finished as videos.

``STREAMKEEPER_MULTICAST_INTERFACE`` is the address of the local interface
on which multicast groups are joined and multicast re-streams are sent. It
defaults to the loopback address, so that nothing is joined or sent on a
real network until an operator says which one. Likewise
``STREAMKEEPER_MEDIA_NETWORKS`` (comma-separated CIDRs, or ``any``) bounds
where re-streams may be sent and SRT callers/rendezvous may connect;
loopback only by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time

from sqlalchemy import select

from fastapi import APIRouter

from . import endpoints, forwarding, hls
from .endpoints import finish_recording, record_session
from .plane import MediaPlane
from ...database import ChangeProbe
from ...feature import Feature
from ...media.engine import MediaEngine, NotActive, parse_networks
from ...media.recorder import save_json
from ...media.scheduler import JsonStateStore, ScheduledEvent, Scheduler

log = logging.getLogger(__name__)

router = APIRouter()  # mounted by the app
router.include_router(endpoints.router)
router.include_router(hls.router)

TICK = 0.5
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


async def startup(app, ctx) -> None:
    interface = os.environ.get("STREAMKEEPER_MULTICAST_INTERFACE") or "127.0.0.1"
    networks = parse_networks(os.environ.get("STREAMKEEPER_MEDIA_NETWORKS"))
    engine = MediaEngine(ctx.settings.data_dir, interface=interface, networks=networks, clock=time.time,
                         media_dir=ctx.settings.media_root)
    app.state.hmp_media = engine  # files: every process; sources, recordings, streams: the owner's
    plane = MediaPlane(app, ctx, engine, make_runner=lambda: EventRunner(app, ctx, engine))
    app.state.media_plane = plane
    await plane.start()


async def shutdown(app, ctx) -> None:
    plane: MediaPlane | None = getattr(app.state, "media_plane", None)
    if plane is None:
        return
    await plane.stop(lambda db, asset_id: finish_recording(db, plane.engine, asset_id, ctx.clock()))


def scheduled(row) -> ScheduledEvent:
    """A catalog event row as something the scheduler can plan."""
    days = tuple(DAYS.index(d) for d in (row.type_data or {}).get("days", ())) if row.type == "weekly-recurring" else ()
    return ScheduledEvent(id=row.id, start=float(row.start_time), duration=float(row.duration or 0),
                          action=row.command, weekdays=days, parameters={**(row.parameters or {}),
                                                                          "session": row.session_id,
                                                                          "creator": row.creator_id})


class EventRunner:
    """Keeps the scheduler in step with the events table and carries out what it decides."""

    def __init__(self, app, ctx, engine: MediaEngine) -> None:
        self.app, self.ctx, self.engine = app, ctx, engine
        store = JsonStateStore(engine.root / "events.json")
        self.scheduler = Scheduler(store, ctx.clock, on_start=self._start, on_end=self._end, grace=300)
        self._task: asyncio.Task | None = None
        # event id -> asset id it is recording; on disk, so that the next media owner ends it
        self._recordings_file = engine.root / "event-recordings.json"
        self._recordings: dict[str, str] = {}
        with contextlib.suppress(OSError, ValueError):
            self._recordings = dict(json.loads(self._recordings_file.read_text()))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="media-events")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        # The events table is read again only after a commit to the database (see ChangeProbe).
        probe = ChangeProbe(self.ctx.engine)
        try:
            while True:
                try:
                    if probe.changed():
                        await self.sync()
                    await self.scheduler.tick()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    probe.forget()  # read the table again next time
                    log.exception("event scheduler tick failed")
                await asyncio.sleep(TICK)
        finally:
            probe.close()

    async def sync(self) -> None:
        from ..events.models import EventRow

        async with self.ctx.sessions() as db:
            rows = (await db.scalars(select(EventRow))).all()
        current = {row.id: scheduled(row) for row in rows}
        for event_id in set(self.scheduler.events) - set(current):
            self.scheduler.remove(event_id)
        for event_id, event in current.items():
            if self.scheduler.events.get(event_id) != event:
                self.scheduler.put(event)

    async def _start(self, event: ScheduledEvent, occurrence: float) -> None:
        from ..sessions import service as sessions
        from ..sessions.models import SessionRow

        session_id = event.parameters["session"]
        async with self.ctx.sessions() as db:
            session = await db.get(SessionRow, session_id)
            if session is None:
                return
            if event.action == "set-live":
                session.active = True
                await db.commit()
            if event.action == "record" or event.parameters.get("record"):
                if self.engine.session_recording(session_id):
                    return  # already being recorded by hand: leave that recording alone
                ids = (await sessions.source_ids(db, [session_id]))[session_id]
                owner = await self._creator(db, event.parameters.get("creator"))
                try:
                    view = await record_session(db, self.engine, session, ids, owner, self.ctx.clock())
                except Exception as exc:
                    log.warning("event %s could not record session %s: %s", event.id, session_id, exc)
                    return
                self._recordings[event.id] = view["id"]
                self._save_recordings()

    def _save_recordings(self) -> None:
        self._recordings_file.parent.mkdir(parents=True, exist_ok=True)
        save_json(self._recordings_file, self._recordings)

    @staticmethod
    async def _creator(db, user_id: str | None):
        """The event's creator as a principal: the recording is theirs, as if started by hand."""
        from ..accounts.models import UserRow
        from ..accounts.service import identity

        user = await db.get(UserRow, user_id) if user_id else None
        found = await identity(db, user) if user is not None else None
        if found is None:
            log.warning("event creator %s is gone or has no role: the recording belongs to administrators only",
                        user_id)
            return None
        return found.principal

    async def _end(self, event: ScheduledEvent, occurrence: float) -> None:
        from ..sessions.models import SessionRow

        async with self.ctx.sessions() as db:
            asset_id = self._recordings.pop(event.id, None)
            if asset_id is not None:
                self._save_recordings()
                with contextlib.suppress(NotActive):
                    await finish_recording(db, self.engine, asset_id, self.ctx.clock())
            if event.action == "set-live":
                session = await db.get(SessionRow, event.parameters["session"])
                if session is not None:
                    session.active = False
                    await db.commit()


feature = Feature("hmp-recordings", router=router, startup=startup, shutdown=shutdown, install=forwarding.install)
