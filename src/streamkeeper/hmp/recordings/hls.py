"""HLS under `/apis` (our addition): live sources and videos played in a browser, no transcoding.

Same rule as a download, for watching: the caller needs WATCH on the source or video (its role
and its share), else 403; an object they cannot see is 404. Segments are MPEG-TS cut at
keyframes by :mod:`streamkeeper.media.hls`. hls.js is served from the server itself
(`/static/hls/hls.min.js`), with a minimal player page (`/static/hls/player.html?src=<playlist>`).
"""

from __future__ import annotations

import asyncio
from importlib import resources

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ...media.engine import MediaEngine, NotActive, TrackNotFound
from ...media.hls import TARGET, DateRange, media_playlist
from ..assets import service as assets
from ..deps import Db, User, end_transaction, json_only
from ..errors import (
    ASSET_NOT_FOUND, BEING_PROCESSED, FORBIDDEN, INPUT_VALIDATION, NOT_FOUND, SERVICE_UNAVAILABLE,
    SOURCE_NOT_FOUND, TRACK_NOT_FOUND, USER_NOT_AUTHORIZED, ErrorKind, HmpError,
)
from ..permissions.guard import load
from ..permissions.rights import Principal
from ..sources import service as sources

PLAYLIST = "application/vnd.apple.mpegurl"
SEGMENT = "video/mp2t"
FIRST_SEGMENT_WAIT = 4 * TARGET + 2  # a live playlist asked for before any segment exists waits this long

api = APIRouter(prefix="/apis", dependencies=[Depends(json_only)], tags=["HLS"])
static = APIRouter(prefix="/static/hls", tags=["HLS"])


def _errors(*kinds: ErrorKind) -> dict:
    """OpenAPI `responses` for the documented errors an endpoint answers."""
    out: dict[int, dict] = {}
    for kind in (USER_NOT_AUTHORIZED, *kinds):
        entry = out.setdefault(kind.status, {"description": ""})
        entry["description"] = "; ".join(filter(None, [entry["description"], f"{kind.code} {kind.name}"]))
    return out


def _playlist(text: str) -> Response:
    # Live playlists change every segment; on-demand ones until the recording ends (and HotMarks).
    return Response(text, media_type=PLAYLIST, headers={"Cache-Control": "no-cache"})


def _engine(request: Request) -> MediaEngine:
    engine = getattr(request.app.state, "hmp_media", None)
    if engine is None:
        raise HmpError(SERVICE_UNAVAILABLE, "the media engine is not running")
    return engine


SOURCE_ID = Path(description="Source id")
ASSET_ID = Path(description="Video id")


# -- live ----------------------------------------------------------------------------------------

@api.get("/sources/{object_id}/hls/live.m3u8", response_class=Response,
         responses={200: {"content": {PLAYLIST: {}}, "description": "Sliding live media playlist"},
                    **_errors(FORBIDDEN, SOURCE_NOT_FOUND, SERVICE_UNAVAILABLE)})
async def live_playlist(request: Request, object_id: str = SOURCE_ID, user: Principal = User,
                        db: AsyncSession = Db):
    """The source's last segments (a few seconds each, cut at keyframes); media sequence numbers go
    on across restarts of the source. 503 while nothing has been received to cut a segment from."""
    await load(db, user, sources.KIND, object_id, "WATCH")
    await end_transaction(db)  # the wait below must not hold the database
    engine = _engine(request)
    try:
        packager = engine.live_packager(object_id)
    except NotActive:
        raise HmpError(SERVICE_UNAVAILABLE, "the source is not being received", {"Retry-After": "2"}) from None
    packager.last_access = engine.clock()
    deadline = asyncio.get_running_loop().time() + FIRST_SEGMENT_WAIT
    while not packager.segments and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    if not packager.segments:
        raise HmpError(SERVICE_UNAVAILABLE, "no picture received yet to cut a segment from", {"Retry-After": "2"})
    return _playlist(media_playlist(packager.listed(), lambda s: f"{s.seq}.ts", ended=False))


@api.get("/sources/{object_id}/hls/{seq}.ts", response_class=Response,
         responses={200: {"content": {SEGMENT: {}}, "description": "MPEG-TS segment"},
                    **_errors(INPUT_VALIDATION, FORBIDDEN, SOURCE_NOT_FOUND, NOT_FOUND)})
async def live_segment(request: Request, object_id: str = SOURCE_ID,
                       seq: int = Path(ge=0, description="Media sequence number"), user: Principal = User,
                       db: AsyncSession = Db):
    await load(db, user, sources.KIND, object_id, "WATCH")
    packager = _engine(request).packagers.get(object_id)
    segment = packager.segment(seq) if packager is not None else None
    if segment is None or segment.data is None:
        raise HmpError(NOT_FOUND, "no such segment (live segments are kept for a short while)")
    return Response(segment.data, media_type=SEGMENT, headers={"Cache-Control": "max-age=60"})


# -- videos --------------------------------------------------------------------------------------

async def _video(request: Request, db: AsyncSession, user: Principal, asset_id: str):
    row, _ = await load(db, user, assets.KIND, asset_id, "WATCH")
    if row.state not in ("ready", "recording"):
        raise HmpError(BEING_PROCESSED)
    return row


def _track(engine: MediaEngine, asset_id: str, track_id: int):
    try:
        return engine.track_segments(asset_id, track_id)
    except TrackNotFound:
        raise HmpError(TRACK_NOT_FOUND) from None


@api.get("/assets/{object_id}/hls/index.m3u8", response_class=Response,
         responses={200: {"content": {PLAYLIST: {}}, "description": "On-demand media playlist of one track"},
                    **_errors(INPUT_VALIDATION, FORBIDDEN, ASSET_NOT_FOUND, TRACK_NOT_FOUND, BEING_PROCESSED)})
async def video_playlist(request: Request, object_id: str = ASSET_ID,
                         trackId: int = Query(1, ge=1, le=64, description="Track (source) of the video, from 1"),
                         user: Principal = User, db: AsyncSession = Db):
    """A VOD playlist of a video, or an EVENT playlist (no end yet) of a recording in progress,
    which grows as it is written. HotMarks are EXT-X-DATERANGE tags (CLASS
    `com.streamkeeper.hotmark`, `X-TITLE`) dated from EXT-X-PROGRAM-DATE-TIME."""
    row = await _video(request, db, user, object_id)
    engine = _engine(request)
    recording = row.state == "recording"  # as the catalog says: the recording may be another process's
    marks = [DateRange(m["id"], m["timestamp"] / 1000, m.get("title") or "")
             for m in await assets.hotmarks(db, row)]
    await end_transaction(db)
    segments = _track(engine, object_id, trackId)
    cut = await asyncio.to_thread(segments.segments, not recording)
    text = media_playlist([s for s, _, _ in cut], lambda s: f"track-{trackId}/{s.seq}.ts", ended=not recording,
                          kind="EVENT" if recording else "VOD", program_start=float(row.ctime), marks=marks)
    return _playlist(text)


@api.get("/assets/{object_id}/hls/track-{track_id}/{seq}.ts", response_class=Response,
         responses={200: {"content": {SEGMENT: {}}, "description": "MPEG-TS segment"},
                    **_errors(INPUT_VALIDATION, FORBIDDEN, ASSET_NOT_FOUND, TRACK_NOT_FOUND, NOT_FOUND,
                             BEING_PROCESSED)})
async def video_segment(request: Request, object_id: str = ASSET_ID,
                        track_id: int = Path(ge=1, le=64, description="Track (source) of the video, from 1"),
                        seq: int = Path(ge=0, description="Segment number in the playlist"),
                        user: Principal = User, db: AsyncSession = Db):
    row = await _video(request, db, user, object_id)
    await end_transaction(db)
    engine = _engine(request)
    segments = _track(engine, object_id, track_id)
    cut = segments.segments(row.state != "recording")
    if seq >= len(cut):
        raise HmpError(NOT_FOUND, "no such segment")
    _, first, end = cut[seq]
    data = await asyncio.to_thread(segments.read, first, end)
    return Response(data, media_type=SEGMENT)


# -- the player ----------------------------------------------------------------------------------

_STATIC = {"hls.min.js": "application/javascript", "LICENSE.hls.js": "text/plain; charset=utf-8",
           "player.html": "text/html; charset=utf-8"}


@static.get("/{name}", response_class=Response, responses={
    200: {"description": "The file", "content": {t.split(";")[0]: {"schema": {"type": "string"}} for t in _STATIC.values()}},
    404: {"description": "Not one of the files"}})
async def static_file(name: str = Path(description="hls.min.js, LICENSE.hls.js or player.html",
                                       json_schema_extra={"enum": list(_STATIC)})):
    """hls.js (Apache-2.0, see LICENSE.hls.js), served locally, and a minimal player page:
    `/static/hls/player.html?src=/apis/sources/<id>/hls/live.m3u8`."""
    media_type = _STATIC.get(name)
    if media_type is None:
        return Response(status_code=404)
    data = resources.files("streamkeeper").joinpath("static", "hls", name).read_bytes()
    return Response(data, media_type=media_type, headers={"Cache-Control": "max-age=3600"})


router = APIRouter()
router.include_router(api)
router.include_router(static)
