"""HLS under `/apis` (our addition): live sources and videos played in a browser, no transcoding.

Same rule as a download, for watching: the caller needs WATCH on the source or video (its role
and its share), else 403; an object they cannot see is 404. Segments are MPEG-TS cut at
keyframes by :mod:`streamkeeper.media.hls`. hls.js is served from the server itself
(`/static/hls/hls.min.js`), with a minimal player page (`/static/hls/player.html?src=<playlist>`).
"""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Callable

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ...media.engine import MediaEngine, NotActive, TrackNotFound
from ...media.hls import TARGET, DateRange, FileSegments, Segment, media_playlist
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


# -- packaging, shared with enforced playback (playback/media.py): no HTTP, no permissions --------

NO_LIVE_SEGMENT = "no such segment (live segments are kept for a short while)"


class MediaUnavailable(Exception):
    """Nothing to play yet: the source is not being received, or no picture to cut a segment from."""


async def live_playlist_text(engine: MediaEngine, source_id: str, uri: Callable[[Segment], str]) -> str:
    """The sliding playlist of a live source (packaging starts with the first request); waits a
    little for the first segment of a source just asked for."""
    try:
        packager = engine.live_packager(source_id)
    except NotActive:
        raise MediaUnavailable("the source is not being received") from None
    packager.last_access = engine.clock()
    deadline = asyncio.get_running_loop().time() + FIRST_SEGMENT_WAIT
    while not packager.segments and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    if not packager.segments:
        raise MediaUnavailable("no picture received yet to cut a segment from")
    return media_playlist(packager.listed(), uri, ended=False)


def live_segment_bytes(engine: MediaEngine, source_id: str, seq: int) -> bytes | None:
    """A live segment still in memory, else None."""
    packager = engine.packagers.get(source_id)
    segment = packager.segment(seq) if packager is not None else None
    return segment.data if segment is not None else None


async def video_playlist_text(engine: MediaEngine, asset_id: str, track: int, uri: Callable[[Segment], str], *,
                              program_start: float | None = None, marks: list[DateRange] | None = None) -> str:
    """A VOD playlist of a video's track, EVENT while it is being recorded; TrackNotFound."""
    recording = engine.being_recorded(asset_id)  # perhaps by another process: from the shared files
    segments = engine.track_segments(asset_id, track)
    cut = await asyncio.to_thread(segments.segments, not recording)
    return media_playlist([s for s, _, _ in cut], uri, ended=not recording, kind="EVENT" if recording else "VOD",
                          program_start=program_start, marks=marks or ())


def video_segment_cut(engine: MediaEngine, asset_id: str, track: int, seq: int) -> tuple[FileSegments, int, int] | None:
    """Where segment `seq` of a video's track is cut: (the track's segments, first keyframe, next
    cut keyframe or -1); None past the end; TrackNotFound."""
    segments = engine.track_segments(asset_id, track)
    cut = segments.segments(False)  # the segments that end at a keyframe: the same either way
    if seq >= len(cut):  # the tail is a segment only once the video is no longer being recorded
        cut = segments.segments(not engine.being_recorded(asset_id))
        if seq >= len(cut):
            return None
    _, first, end = cut[seq]
    return segments, first, end


async def video_segment_bytes(engine: MediaEngine, asset_id: str, track: int, seq: int) -> bytes | None:
    """Segment `seq` of a video's track (None past the end); TrackNotFound."""
    found = video_segment_cut(engine, asset_id, track, seq)
    if found is None:
        return None
    segments, first, end = found
    data = segments.cached(first, end)
    return data if data is not None else await asyncio.to_thread(segments.read, first, end)


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
        text = await live_playlist_text(engine, object_id, lambda s: f"{s.seq}.ts")
    except MediaUnavailable as exc:
        raise HmpError(SERVICE_UNAVAILABLE, str(exc), {"Retry-After": "2"}) from None
    return _playlist(text)


@api.get("/sources/{object_id}/hls/{seq}.ts", response_class=Response,
         responses={200: {"content": {SEGMENT: {}}, "description": "MPEG-TS segment"},
                    **_errors(INPUT_VALIDATION, FORBIDDEN, SOURCE_NOT_FOUND, NOT_FOUND)})
async def live_segment(request: Request, object_id: str = SOURCE_ID,
                       seq: int = Path(ge=0, description="Media sequence number"), user: Principal = User,
                       db: AsyncSession = Db):
    await load(db, user, sources.KIND, object_id, "WATCH")
    data = live_segment_bytes(_engine(request), object_id, seq)
    if data is None:
        raise HmpError(NOT_FOUND, NO_LIVE_SEGMENT)
    return Response(data, media_type=SEGMENT, headers={"Cache-Control": "max-age=60"})


# -- videos --------------------------------------------------------------------------------------

async def _video(request: Request, db: AsyncSession, user: Principal, asset_id: str):
    row, _ = await load(db, user, assets.KIND, asset_id, "WATCH")
    if row.state not in ("ready", "recording"):
        raise HmpError(BEING_PROCESSED)
    return row


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
    marks = [DateRange(m["id"], m["timestamp"] / 1000, m.get("title") or "")
             for m in await assets.hotmarks(db, row)]
    await end_transaction(db)
    try:
        text = await video_playlist_text(engine, object_id, trackId, lambda s: f"track-{trackId}/{s.seq}.ts",
                                         program_start=float(row.ctime), marks=marks)
    except TrackNotFound:
        raise HmpError(TRACK_NOT_FOUND) from None
    return _playlist(text)


@api.get("/assets/{object_id}/hls/track-{track_id}/{seq}.ts", response_class=Response,
         responses={200: {"content": {SEGMENT: {}}, "description": "MPEG-TS segment"},
                    **_errors(INPUT_VALIDATION, FORBIDDEN, ASSET_NOT_FOUND, TRACK_NOT_FOUND, NOT_FOUND,
                             BEING_PROCESSED)})
async def video_segment(request: Request, object_id: str = ASSET_ID,
                        track_id: int = Path(ge=1, le=64, description="Track (source) of the video, from 1"),
                        seq: int = Path(ge=0, description="Segment number in the playlist"),
                        user: Principal = User, db: AsyncSession = Db):
    await _video(request, db, user, object_id)
    await end_transaction(db)
    try:
        data = await video_segment_bytes(_engine(request), object_id, track_id, seq)
    except TrackNotFound:
        raise HmpError(TRACK_NOT_FOUND) from None
    if data is None:
        raise HmpError(NOT_FOUND, "no such segment")
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
