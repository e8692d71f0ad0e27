"""Media pages: live sources and sessions, the video library, one video (player, re-streams, shares).

The pages fetch `/apis` from the browser; the only endpoint of our own is the MP4 a `<video>`
element plays, with HTTP range requests (seeking), under the same WATCH check as the API.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from ..hmp.assets import service as assets
from ..hmp.errors import BEING_PROCESSED, TRACK_NOT_FOUND, HmpError
from ..hmp.permissions.guard import load
from ..media.remux import NothingToExport, mp4_for
from .web import Login, Forbidden, render

router = APIRouter(include_in_schema=False)


@router.get("/console/media")
async def live(request: Request, login=Login) -> Response:
    p = login.identity.principal
    if not (p.can("Sources", "VIEW") or p.can("Sessions", "VIEW")):
        raise Forbidden()
    return render(request, "media.html", login)


@router.get("/console/library")
async def library(request: Request, login=Login) -> Response:
    if not login.identity.principal.can("Recordings", "VIEW"):
        raise Forbidden()
    return render(request, "library.html", login)


@router.get("/console/library/{asset_id}")
async def video(asset_id: str, request: Request, login=Login) -> Response:
    """One video; the controls shown are those its role and shares allow on it (as the API checks)."""
    if not login.identity.principal.can("Recordings", "VIEW"):
        raise Forbidden()
    try:
        async with request.app.state.ctx.sessions() as db:
            _, access = await load(db, login.identity.principal, assets.KIND, asset_id, "VIEW")
    except HmpError as exc:
        return render(request, "error.html", login, status=exc.status, message=exc.message)
    may = {action: access.allows(action) for action in ("WATCH", "DOWNLOAD", "STREAM", "SHARE", "EDIT")}
    return render(request, "video.html", login, asset_id=asset_id, may=may)


@router.get("/console/watch")
async def watch(request: Request, login=Login) -> Response:
    """A live source or a video over HLS, inside the console: a title, a way back, and a status
    line that reports only errors the player could not recover from."""
    src = request.query_params.get("src", "")
    if not src.startswith("/apis/") or ".." in src or "//" in src:
        return render(request, "error.html", login, status=404, message="Nothing to play: no /apis playlist given.")
    back = request.query_params.get("back", "")
    if not back.startswith("/console/") or "//" in back:
        back = "/console/media" if src.startswith("/apis/sources/") else "/console/library"
    title = request.query_params.get("title", "")[:200] or ("Live source" if "/sources/" in src else "Video")
    return render(request, "watch.html", login, src=src, back=back, title=title)


@router.get("/console/media/assets/{asset_id}/play.mp4")
async def play(asset_id: str, request: Request, login=Login) -> Response:
    """The video's first track as MP4 (remuxed once, then served from disk with Range support)."""
    async with request.app.state.ctx.sessions() as db:
        row, _ = await load(db, login.identity.principal, assets.KIND, asset_id, "WATCH")
    engine = request.app.state.hmp_media
    tracks = engine.tracks(asset_id)
    if row.state != "ready" or not tracks:
        raise HmpError(BEING_PROCESSED)
    try:
        mp4 = await asyncio.to_thread(mp4_for, tracks[0])
    except NothingToExport as exc:
        raise HmpError(TRACK_NOT_FOUND, str(exc)) from None
    return FileResponse(mp4, media_type="video/mp4", headers={"Cache-Control": "private, max-age=60"})
