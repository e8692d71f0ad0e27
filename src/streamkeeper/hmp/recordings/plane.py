"""The media plane of one process: owner of the deployment's media, or a client of the owner.

A process alone (no Redis) is the owner for its whole life, as before. With Redis (every
multi-process deployment has it) the processes compete for the lease of
:mod:`streamkeeper.media.ownership`: the holder receives every source of the catalog, goes on
with recordings a dead owner left in progress, re-streams, runs scheduled events and writes its
status for the others every half second; the others answer status reads from that status, serve
finished files from the shared media directory, and send the rest to the owner
(:mod:`.forwarding`). This object is also the catalog's ``MediaBackend`` (``media_of(app)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy import select

from ...media.engine import MediaEngine
from ...media.ownership import RENEW_EVERY, STEP_DOWN_AFTER, Lease, StatusBoard, new_holder
from ...settings import listen_address

log = logging.getLogger(__name__)

TICK = 0.25  # non-owners read the owner's status this often
PUBLISH_EVERY = 0.5  # the owner writes its status this often


class MediaPlane:
    def __init__(self, app, ctx, engine: MediaEngine, *, make_runner) -> None:
        self.app, self.ctx, self.engine = app, ctx, engine
        self.make_runner = make_runner  # the event runner, made when this process becomes the owner
        self.runner = None
        settings = ctx.settings
        self.shared = bool(settings.redis_url)
        self.owner = not self.shared
        self.status: dict = {}
        self.took_over_at: float | None = None
        self._task: asyncio.Task | None = None
        self._holder = None
        self._lock = asyncio.Lock()
        self._last_error: str | None = None
        if self.shared:
            import httpx
            import redis.asyncio as aioredis

            from .forwarding import forward_token

            self.token = forward_token(settings.session_secret())
            app.state.metrics.forward_token = self.token
            from ...concurrency.redis_store import parse_url

            url, cluster = parse_url(settings.redis_url)  # the session store's URL, cluster scheme included
            if cluster:  # the lease and the status are single keys: any node of a cluster holds them
                from redis.asyncio.cluster import RedisCluster

                self.redis = RedisCluster.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            else:
                self.redis = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            prefix = settings.redis_prefix or "sk:"
            self.lease = Lease(self.redis, f"{prefix}media:owner")
            self.board = StatusBoard(self.redis, f"{prefix}media:status")
            logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per forwarded request, else
            self.client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=2.0),
                                            limits=httpx.Limits(max_connections=200, max_keepalive_connections=20))
        else:
            self.token = b""

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.shared:
            await self._take_over(resume=False)
            return
        from .forwarding import InternalListener

        settings = self.ctx.settings
        if settings.media_dir is None and settings.database_url:
            log.warning("media files are in %s: servers other than this one see them only if it is on shared "
                        "storage (set STREAMKEEPER_MEDIA_DIR to one directory every server mounts)",
                        settings.media_root)
        host, port = listen_address(settings.media_listen)
        self.listener = InternalListener(self.app, host, port)
        await self.listener.start()
        self._holder = new_holder(self.listener.url)
        try:
            if await self.lease.acquire(self._holder):
                await self._take_over(resume=True)
            else:
                await self._read_status()
        except Exception as exc:  # noqa: BLE001 - Redis unreachable at start: keep trying in the loop
            log.warning("media plane: %s", exc)
        self._task = asyncio.create_task(self._loop(), name="media-plane")

    async def stop(self, finish) -> None:
        """Stop competing; as the owner, finish what is in progress (``finish(db, asset_id)``) and
        let go of the lease so that another process takes over at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None
        if self.owner:
            async with self.ctx.sessions() as db:
                for asset_id in list(self.engine.recordings):
                    with contextlib.suppress(Exception):
                        await finish(db, asset_id)
        await self.engine.close()
        if self.shared:
            if self.owner:
                with contextlib.suppress(Exception):
                    await self._publish()
                    await self.lease.release(self._holder)
            self.owner = False
            await self.listener.stop()
            await self.client.aclose()
            await self.redis.aclose()

    async def _loop(self) -> None:
        last_renewed = time.monotonic() if self.owner else 0.0
        last_published = last_tried = 0.0
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            try:
                if self.owner:
                    if now - last_renewed >= RENEW_EVERY:
                        if await self.lease.renew(self._holder):
                            last_renewed = now
                        else:
                            await self._step_down("another process holds the media lease")
                            continue
                    if now - last_published >= PUBLISH_EVERY:
                        await self._publish()
                        last_published = now
                else:
                    if now - last_tried >= PUBLISH_EVERY:
                        last_tried = now
                        if await self.lease.acquire(self._holder):
                            last_renewed = last_published = time.monotonic()
                            await self._take_over(resume=True)
                            continue
                    await self._read_status()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis unreachable: the owner steps down in time
                if str(exc) != self._last_error:  # once per kind of failure, not four times a second
                    log.warning("media plane: %s", exc)
                self._last_error = str(exc)
            else:
                self._last_error = None
            if self.owner and time.monotonic() - last_renewed > STEP_DOWN_AFTER:
                await self._step_down("the media lease could not be renewed")

    async def _read_status(self) -> None:
        self.status = await self.board.read()

    async def publish(self) -> None:
        """Write the owner's status now (after a command that changed it)."""
        if self.shared and self.owner:
            await self._publish()

    async def refresh(self) -> None:
        """Read the owner's status now (after a command sent to it)."""
        if self.shared and not self.owner:
            await self._read_status()

    async def _publish(self) -> None:
        await self.board.publish({**self.engine.status(), "owner": self.listener.url})

    async def owner_url(self, refresh: bool = False) -> str | None:
        """The owner's internal listener: from its status, else (or when ``refresh``) its lease."""
        url = None if refresh else self.status.get("owner")
        if url is None:
            holder = await self.lease.holder()
            url = holder.url if holder is not None else None
        return url

    # -- becoming the owner and stepping down ----------------------------------------------------------

    async def _take_over(self, *, resume: bool) -> None:
        """Receive every source; go on with recordings in progress (``resume``: a recording whose
        video is still recording in the catalog), finalise the rest; run scheduled events."""
        async with self._lock:
            started = time.monotonic()
            self.owner = True
            keep = asyncio.create_task(self._keep_lease()) if self.shared else None
            try:
                await self._receive_everything(resume)
            finally:
                if keep is not None:
                    keep.cancel()
            self.runner = self.make_runner()
            self.runner.start()
            self.took_over_at = time.time()
            if self.shared:
                log.warning("this process is the media owner now (listener %s, took %.2f s)", self.listener.url,
                            time.monotonic() - started)
                await self._publish()

    async def _keep_lease(self) -> None:
        """Renew the lease while a takeover reads the catalog and the files (it may take a while)."""
        while True:
            await asyncio.sleep(RENEW_EVERY)
            with contextlib.suppress(Exception):
                await self.lease.renew(self._holder)

    async def _receive_everything(self, resume: bool) -> None:
        from ..assets import service as assets
        from ..assets.models import AssetRow
        from ..sources import service as sources
        from ..sources.models import SourceRow

        engine = self.engine
        unfinished = await asyncio.to_thread(engine.unfinished)
        async with self.ctx.sessions() as db:  # read, then let go before the files are read
            recording = set()
            if resume and unfinished:
                rows = await db.scalars(select(AssetRow).where(AssetRow.id.in_(unfinished)))
                recording = {row.id for row in rows if row.state == "recording"}
            catalog = [sources.out(row, engine) for row in (await db.scalars(select(SourceRow))).all()]
        going_on = {a for a in recording if (engine.video_dir(a) / engine.RESUME).exists()}
        finished = await asyncio.to_thread(engine.recover_unfinished, set(unfinished) - going_on)
        for source in catalog:
            await engine.source_saved(source)
        needed = {sid for a in going_on for sid in engine.recording_sources(a)}
        for _ in range(30):  # a port still held a moment by the process before: binding is retried
            if not needed & set(engine.retries):
                break
            await asyncio.sleep(0.1)
        for asset_id in sorted(going_on):
            try:
                engine.resume_recording(asset_id, await asyncio.to_thread(engine.prepare_resume, asset_id))
                log.warning("going on with recording %s left in progress by another process", asset_id)
            except Exception as exc:  # noqa: BLE001 - a source gone, files damaged: finish it
                log.warning("recording %s cannot go on (%s): finishing it", asset_id, exc)
                finished.update(await asyncio.to_thread(engine.recover_unfinished, {asset_id}))
        async with self.ctx.sessions() as db:
            for asset_id, (duration, count) in finished.items():
                with contextlib.suppress(Exception):  # a video deleted meanwhile: nothing to update
                    await assets.update_media(db, asset_id, self.ctx.clock(), state="ready",
                                              duration=round(duration, 3), movie_track_count=count)
                    log.warning("finalised recording %s left open by a previous run (%.1f s)", asset_id, duration)

    async def _step_down(self, why: str) -> None:
        async with self._lock:
            if not self.owner:
                return
            log.error("no longer the media owner (%s): stopping receiving", why)
            self.owner = False
            if self.runner is not None:
                await self.runner.stop()
                self.runner = None
            await self.engine.detach()

    # -- the catalog's MediaBackend --------------------------------------------------------------

    def _source(self, source_id: str) -> list:
        return (self.status.get("sources") or {}).get(source_id) or [False, 0, None]

    def source_status(self, source_id: str) -> tuple[bool, int]:
        if self.owner:
            return self.engine.source_status(source_id)
        active, bitrate, _ = self._source(source_id)
        return bool(active), int(bitrate)

    def source_error(self, source_id: str) -> str | None:
        if self.owner:
            return self.engine.source_error(source_id)
        return self._source(source_id)[2]

    def session_recording(self, session_id: str) -> bool:
        if self.owner:
            return self.engine.session_recording(session_id)
        return session_id in (self.status.get("recordings") or {}).values()

    def asset_streaming(self, asset_id: str) -> bool:
        if self.owner:
            return self.engine.asset_streaming(asset_id)
        return asset_id in (self.status.get("streams") or {}).values()

    async def source_saved(self, source: dict, *, strict: bool = False) -> None:
        # Elsewhere than at the owner nothing is received: the owner reads the catalog when it
        # takes over, and source changes are answered by it (see forwarding.MEDIA_ROUTES).
        if self.owner:
            await self.engine.source_saved(source, strict=strict)

    async def source_deleted(self, source_id: str) -> None:
        if self.owner:
            await self.engine.source_deleted(source_id)

    async def asset_deleted(self, asset_id: str, media_path: str | None) -> None:
        await self.engine.asset_deleted(asset_id, media_path)  # files are shared; streams are the owner's

    def import_progress(self, asset_id: str) -> tuple[int, int] | None:
        return self.engine.import_progress(asset_id)
