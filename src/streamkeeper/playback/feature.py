"""Mounts enforced playback: the service on `app.state.playback`, its hot route, its routers."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import APIRouter

from ..feature import Feature
from .admin import router as admin_router
from .endpoints import hot, issue
from .grants import GrantService
from .keys import FILE, load_keys
from .service import PlaybackService
from .tokens import TokenCodec

log = logging.getLogger(__name__)
KEY_CHECK_SECONDS = 2.0

router = APIRouter()
router.include_router(issue)
router.include_router(admin_router)


async def setup(settings, sessions, _clock) -> None:
    """One-time set-up: the `[playback]` section of the configuration file, and the key file."""
    load_keys(settings)
    if settings.config is not None:
        from .config import apply_config_file

        await apply_config_file(sessions, settings.config)


async def _watch_key_file(settings, service: PlaybackService) -> None:
    """Take up a rotated key file (`admin playback-key rotate`) without a restart."""
    path = Path(settings.data_dir) / FILE
    seen = path.stat().st_mtime_ns if path.exists() else 0
    while True:
        await asyncio.sleep(KEY_CHECK_SECONDS)
        try:
            mtime = path.stat().st_mtime_ns
            if mtime != seen:
                seen = mtime
                service.codec = TokenCodec(load_keys(settings))
                log.info("playback keys reloaded: %s", ", ".join(service.codec.key_ids))
        except (OSError, ValueError) as exc:
            log.warning("playback keys not reloaded: %s", exc)


async def startup(app, ctx) -> None:
    settings = ctx.settings
    oxm = getattr(app.state, "oxm", None)
    service = PlaybackService(ctx.concurrency.store, TokenCodec(load_keys(settings)), ctx.concurrency,
                              oxm_enforcement=oxm.enforcement_of if oxm is not None else None, clock=ctx.clock)
    grants = GrantService(ctx.sessions)

    async def reload() -> None:
        service.grants = await grants.grants()

    await ctx.catalog_watch.subscribe(reload)
    app.state.playback = service
    app.state.playback_keys = None
    if not settings.playback_keys:
        app.state.playback_keys = asyncio.create_task(_watch_key_file(settings, service))


async def shutdown(app, ctx) -> None:
    task = getattr(app.state, "playback_keys", None)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


feature = Feature("playback", router=router, hot=hot, setup=setup, startup=startup, shutdown=shutdown,
                  prefix="/play")
