"""The `/apis` endpoints that move media: recordings, thumbnails, downloads, streams.

Thin: each one checks the caller with the catalog's guards, asks the
:class:`~streamkeeper.media.engine.MediaEngine` to act, and records in the
catalog what became of the video.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from ..assets import service as assets
from ..bodies import (NewStream, Poster, RecordingHotmark, RecordingState, Seek, StartRecording, StreamState,
                      optional)
from ..collections import page
from ..deps import Db, User, end_transaction, get_clock, json_only
from ..errors import (
    ADDRESS_PORT_IN_USE, ASSET_NOT_FOUND, BEING_PROCESSED, INSUFFICIENT_SPACE, MULTI_SOURCES_STREAM,
    NO_RECORDING_ACTIVE, RECORDING_IN_PROGRESS, RECORDING_NOT_FOUND, SERVICE_UNAVAILABLE, SESSION_HAS_NO_SOURCE,
    STREAM_NOT_FOUND, THUMBNAIL_NOT_FOUND, TRACK_NOT_FOUND, HmpError, invalid,
)
from ..permissions.guard import load, require, visible
from ..permissions.rights import Principal
from ..sessions import service as sessions
from ..sessions.models import SessionRow
from ..sources import service as sources
from ...media.engine import MediaEngine, MultiSourceStream, NoSource, NotActive, NotAllowed, TrackNotFound
from ...media.ingest import PortConflict
from ...media.recorder import InsufficientSpace, check_space
from ...media.remux import NothingToExport, probe
from ...media.restream import SeekPastEnd
from ...media.thumbnails import ThumbnailNotFound

api = APIRouter(prefix="/apis", dependencies=[Depends(json_only)])
uploads = APIRouter(prefix="/apis")  # takes video files, not JSON


log = logging.getLogger(__name__)


def engine_of(request: Request) -> MediaEngine:
    return request.app.state.hmp_media


async def _jpeg(db: AsyncSession, make) -> Response:
    """A picture decoded in a worker thread, outside any database transaction."""
    await end_transaction(db)
    try:
        return Response(await asyncio.to_thread(make), media_type="image/jpeg")
    except ThumbnailNotFound:
        raise HmpError(THUMBNAIL_NOT_FOUND) from None
    except TrackNotFound:
        raise HmpError(TRACK_NOT_FOUND) from None


def _size(request: Request) -> tuple[int | None, int | None]:
    """Optional ``width``/``height`` query parameters (our addition), 16 to 4096 pixels."""
    out = []
    for name in ("width", "height"):
        raw = request.query_params.get(name)
        if raw is None:
            out.append(None)
            continue
        try:
            value = int(raw)
        except ValueError:
            raise invalid(f"{name} must be an integer") from None
        if not 16 <= value <= 4096:
            raise invalid(f"{name} must be between 16 and 4096")
        out.append(value)
    return out[0], out[1]


# -- recordings ------------------------------------------------------------------------------------

@api.get("/sessions/{object_id}/recordings", tags=["Sessions"])
async def session_recordings(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    await load(db, user, sessions.KIND, object_id, "RECORD")
    engine = engine_of(request)
    return page(request, [r.view() for r in engine.recordings.values() if r.session_id == object_id])


@api.post("/sessions/{object_id}/recordings", tags=["Sessions"], status_code=201)
async def start_recording(object_id: str, request: Request,
                          body: StartRecording | None = optional(StartRecording), user: Principal = User,
                          db: AsyncSession = Db):
    session, _ = await load(db, user, sessions.KIND, object_id, "RECORD")
    engine = engine_of(request)
    if engine.session_recording(object_id):
        raise HmpError(RECORDING_IN_PROGRESS)
    ordered = (await sessions.source_ids(db, [object_id]))[object_id]
    if body is not None and body.recorders is not None:
        listed = {r.source for r in body.recorders}
        ordered = [sid for sid in ordered if sid in listed]  # sources not in the session are ignored
    if not ordered:
        raise HmpError(SESSION_HAS_NO_SOURCE)
    now = get_clock(request)()
    return {"data": await record_session(db, engine, session, ordered, user, now)}


async def record_session(db: AsyncSession, engine: MediaEngine, session: SessionRow, source_ids: list[str],
                         user: Principal | None, now: float) -> dict:
    """Register the video and start writing its tracks (also used by scheduled events)."""
    title = f"{session.title} - {datetime.fromtimestamp(now, timezone.utc):%d/%m/%Y, %H:%M}"
    row = await assets.create(db, title=title, now=now, creator=user, description=session.description,
                              session_id=session.id, state="recording", track_count=len(source_ids))
    try:
        active = engine.start_recording(row.id, session.id, source_ids, username=user.username if user else "",
                                        title=title, ctime=int(now))
    except (InsufficientSpace, NotActive, NoSource) as exc:
        await db.delete(row)
        await db.commit()
        if isinstance(exc, InsufficientSpace):
            raise HmpError(INSUFFICIENT_SPACE) from None
        if isinstance(exc, NoSource):
            raise HmpError(SESSION_HAS_NO_SOURCE) from None
        raise HmpError(SERVICE_UNAVAILABLE, str(exc)) from None
    await assets.update_media(db, row.id, now, media_path=str(engine.video_dir(row.id)))
    return active.view()


async def finish_recording(db: AsyncSession, engine: MediaEngine, asset_id: str, now: float) -> None:
    await end_transaction(db)  # finalising reads the whole track: not under the database lock
    duration, count = engine.stop_recording(asset_id)
    await assets.update_media(db, asset_id, now, state="ready", duration=round(duration, 3), movie_track_count=count)


async def _active(request: Request, db: AsyncSession, user: Principal, recording_id: str, action: str):
    engine = engine_of(request)
    if recording_id not in engine.recordings:
        raise HmpError(RECORDING_NOT_FOUND)
    try:
        row, _ = await load(db, user, assets.KIND, recording_id, action)
    except HmpError as exc:
        if exc.kind == ASSET_NOT_FOUND:
            raise HmpError(RECORDING_NOT_FOUND) from None
        raise
    return engine, row


@api.get("/recordings", tags=["Recordings"])
async def list_recordings(request: Request, user: Principal = User, db: AsyncSession = Db):
    engine = engine_of(request)
    mine = {row.id for row, _ in await visible(db, user, assets.KIND)}
    return page(request, [r.view() for r in engine.recordings.values() if r.id in mine])


@api.get("/recordings/{recording_id}", tags=["Recordings"])
async def get_recording(recording_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    engine, _ = await _active(request, db, user, recording_id, "VIEW")
    return {"data": engine.recording(recording_id).view()}


@api.put("/recordings/{recording_id}", tags=["Recordings"])
async def change_recording(recording_id: str, request: Request, body: RecordingState, user: Principal = User,
                           db: AsyncSession = Db):
    engine, _ = await _active(request, db, user, recording_id, "RECORD")
    return {"data": engine.set_recording_state(recording_id, body.state).view()}


@api.delete("/recordings/{recording_id}", tags=["Recordings"])
async def stop_recording(recording_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    engine, _ = await _active(request, db, user, recording_id, "RECORD")
    await finish_recording(db, engine, recording_id, get_clock(request)())
    return Response(status_code=200)


@api.post("/recordings/{recording_id}/hotmarks", tags=["Recordings"], status_code=201)
async def recording_hotmark(recording_id: str, request: Request,
                            body: RecordingHotmark | None = optional(RecordingHotmark), user: Principal = User,
                            db: AsyncSession = Db):
    engine = engine_of(request)
    row, _ = await load(db, user, assets.KIND, recording_id, "EDIT")
    if recording_id not in engine.recordings:
        raise HmpError(NO_RECORDING_ACTIVE, f"'{recording_id}' is not an active recording")
    data = body.fields() if body is not None else {}
    if data.get("timestamp") is None:
        # "now" on the recording's own clock: paused spans do not count
        data = {**data, "timestamp": int(engine.recording_position(recording_id) * 1000)}
    return {"data": await assets.create_hotmark(db, user, row, data, get_clock(request)())}


# -- thumbnails ------------------------------------------------------------------------------------

@api.get("/sources/{object_id}/thumbnail", tags=["Sources"])
async def source_thumbnail(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    await load(db, user, sources.KIND, object_id, "VIEW")
    width, height = _size(request)
    return await _jpeg(db, lambda: engine_of(request).source_thumbnail(object_id, width, height))


@api.get("/sessions/{object_id}/thumbnail", tags=["Sessions"])
async def session_thumbnail(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    await load(db, user, sessions.KIND, object_id, "VIEW")
    width, height = _size(request)
    first = (await sessions.source_ids(db, [object_id]))[object_id][:1]
    if not first:
        raise HmpError(THUMBNAIL_NOT_FOUND)
    return await _jpeg(db, lambda: engine_of(request).source_thumbnail(first[0], width, height))


@api.get("/assets/{object_id}/thumbnail", tags=["Recordings"])
async def asset_thumbnail(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    await load(db, user, assets.KIND, object_id, "VIEW")
    width, height = _size(request)
    return await _jpeg(db, lambda: engine_of(request).video_thumbnail(object_id, None, width, height))


@api.get("/assets/{object_id}/tracks/{track_id}/thumbnail", tags=["Recordings"])
async def track_thumbnail(object_id: str, track_id: str, request: Request, user: Principal = User,
                          db: AsyncSession = Db):
    await load(db, user, assets.KIND, object_id, "VIEW")
    if not track_id.isdigit():
        raise HmpError(TRACK_NOT_FOUND)
    width, height = _size(request)
    return await _jpeg(db, lambda: engine_of(request).video_thumbnail(object_id, int(track_id), width, height))


@api.put("/assets/{object_id}/thumbnail", tags=["Recordings"])
async def set_thumbnail(object_id: str, request: Request, body: Poster, user: Principal = User,
                        db: AsyncSession = Db):
    await load(db, user, assets.KIND, object_id, "EDIT")
    try:
        engine_of(request).set_poster(object_id, body.trackId, body.timestamp / 1000)
    except TrackNotFound:
        raise HmpError(TRACK_NOT_FOUND) from None
    return Response(status_code=200)


# -- downloads -------------------------------------------------------------------------------------

@api.get("/assets/{object_id}/download", tags=["Recordings"])
async def download(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    row, _ = await load(db, user, assets.KIND, object_id, "DOWNLOAD")
    file_type = request.query_params.get("fileType", "ts")
    if file_type not in ("ts", "mp4"):
        raise invalid("fileType must be ts or mp4")
    engine = engine_of(request)
    if row.state != "ready" or not engine.tracks(object_id):
        raise HmpError(BEING_PROCESSED)
    await end_transaction(db)  # the MP4s are made (a remux) and the body sent after this
    try:  # MP4s are made in a worker thread, not on the event loop
        body = await asyncio.to_thread(engine.download, object_id, file_type)
    except NothingToExport as exc:
        raise HmpError(TRACK_NOT_FOUND, f"{exc}; fileType=ts gives the recorded file") from None
    headers = {"Content-Disposition": f'attachment; filename="{object_id}.zip"'}
    # A sync generator: Starlette pulls it in a worker thread, a chunk at a time.
    return StreamingResponse(body, media_type="application/zip", headers=headers)


# -- streams ---------------------------------------------------------------------------------------

@api.get("/assets/{object_id}/streams", tags=["Recordings"])
async def asset_streams(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    await load(db, user, assets.KIND, object_id, "STREAM")
    return page(request, [s.view() for s in engine_of(request).streams.values() if s.asset_id == object_id])


@api.post("/assets/{object_id}/streams", tags=["Recordings"], status_code=201)
async def create_stream(object_id: str, request: Request, body: NewStream | None = optional(NewStream),
                        user: Principal = User, db: AsyncSession = Db):
    row, _ = await load(db, user, assets.KIND, object_id, "STREAM")
    data = body if body is not None else NewStream()
    engine = engine_of(request)
    tracks = engine.tracks(object_id)
    if row.state != "ready" or not tracks:
        raise HmpError(BEING_PROCESSED)
    if data.destinations is not None:
        wanted = [(d.trackId, d.address, d.port) for d in data.destinations]
    elif len(tracks) > 1:
        raise HmpError(MULTI_SOURCES_STREAM)
    else:
        single = data.single()
        wanted = [(single.trackId, single.address, single.port)]
    ttl, state = data.ttl, data.state
    for _, host, port in wanted:
        holder = engine.port_in_use(host, port)
        if holder and holder.startswith("source"):
            raise HmpError(ADDRESS_PORT_IN_USE, "Address or port already in use by a source")
    await end_transaction(db)  # indexing the tracks reads them whole
    try:
        active = await engine.start_stream(object_id, wanted, username=user.username, ttl=ttl, state=state)
    except PortConflict:
        raise HmpError(ADDRESS_PORT_IN_USE) from None
    except TrackNotFound:
        raise HmpError(TRACK_NOT_FOUND) from None
    except MultiSourceStream:
        raise HmpError(MULTI_SOURCES_STREAM) from None
    except NotAllowed as exc:
        raise invalid(str(exc)) from None
    return {"data": active.view()}


def _stream(request: Request, stream_id: str, asset_id: str | None = None):
    try:
        active = engine_of(request).stream(stream_id)
    except NotActive:
        raise HmpError(STREAM_NOT_FOUND) from None
    if asset_id is not None and active.asset_id != asset_id:
        raise HmpError(STREAM_NOT_FOUND)
    return active


@api.get("/assets/{object_id}/streams/{stream_id}", tags=["Recordings"])
async def asset_stream(object_id: str, stream_id: str, request: Request, user: Principal = User,
                       db: AsyncSession = Db):
    await load(db, user, assets.KIND, object_id, "STREAM")
    return {"data": _stream(request, stream_id, object_id).view()}


@api.delete("/assets/{object_id}/streams/{stream_id}", tags=["Recordings"])
async def delete_asset_stream(object_id: str, stream_id: str, request: Request, user: Principal = User,
                              db: AsyncSession = Db):
    await load(db, user, assets.KIND, object_id, "STREAM")
    _stream(request, stream_id, object_id)
    await engine_of(request).stop_stream(stream_id)
    return Response(status_code=200)


async def _stream_for(request: Request, db: AsyncSession, user: Principal, stream_id: str):
    active = _stream(request, stream_id)
    await load(db, user, assets.KIND, active.asset_id, "STREAM")
    return active


@api.get("/streams", tags=["Streams"])
async def list_streams(request: Request, user: Principal = User, db: AsyncSession = Db):
    require(user, "System", "VIEW")
    return page(request, [s.view() for s in engine_of(request).streams.values()])


@api.get("/streams/{stream_id}", tags=["Streams"])
async def get_stream(stream_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    return {"data": (await _stream_for(request, db, user, stream_id)).view()}


@api.put("/streams/{stream_id}", tags=["Streams"])
async def change_stream(stream_id: str, request: Request, body: StreamState | None = optional(StreamState),
                        user: Principal = User, db: AsyncSession = Db):
    await _stream_for(request, db, user, stream_id)
    state = body.state if body is not None else None
    return {"data": engine_of(request).set_stream_state(stream_id, state).view()}


@api.delete("/streams/{stream_id}", tags=["Streams"])
async def stop_stream(stream_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
    await _stream_for(request, db, user, stream_id)
    await engine_of(request).stop_stream(stream_id)
    return Response(status_code=200)


@api.post("/streams/{stream_id}/seek", tags=["Streams"])
async def seek_stream(stream_id: str, request: Request, body: Seek, user: Principal = User,
                      db: AsyncSession = Db):
    await _stream_for(request, db, user, stream_id)
    t = body.time
    try:
        engine_of(request).seek_stream(stream_id, float(t))
    except SeekPastEnd as exc:
        raise invalid(f"time is past the end of the video: {exc}") from None
    return {"data": {"time": t}}


# -- import (our addition) ----------------------------------------------------------------------------

# Title and description travel in the query string: at these lengths the request line stays under
# the HTTP server's limit (64 KiB) even with every character percent-encoded as four UTF-8 bytes,
# so every request the OpenAPI document allows gets an answer of this API (a longer description
# can be set afterwards with PUT /apis/assets/{id}).
MAX_IMPORT_TITLE = 512
MAX_IMPORT_DESCRIPTION = 4096


@uploads.post("/assets/import", tags=["Recordings"], status_code=201)
async def import_video(request: Request, user: Principal = User, db: AsyncSession = Db):
    """Upload an MPEG-TS or MP4 file (the request body) as a new video.

    ``title`` and ``description`` come from the query string. The video is
    listed at once with ``importing: true``; it becomes ready when its
    packets have been copied into a track (no re-encoding).
    """
    require(user, "Recordings", "RECORD")
    title = request.query_params.get("title") or "Imported video"
    description = request.query_params.get("description") or ""
    if len(title) > MAX_IMPORT_TITLE or len(description) > MAX_IMPORT_DESCRIPTION:
        raise invalid(f"the title takes at most {MAX_IMPORT_TITLE} characters, "
                      f"the description at most {MAX_IMPORT_DESCRIPTION}")
    engine = engine_of(request)
    try:
        check_space(engine.root, engine.min_free)
    except InsufficientSpace:
        raise HmpError(INSUFFICIENT_SPACE) from None
    spool = engine.root / "uploads"
    spool.mkdir(parents=True, exist_ok=True)
    upload = spool / uuid.uuid4().hex
    size = 0
    await end_transaction(db)  # the upload arrives over the network: not under the database lock
    try:  # a cut-off or refused upload leaves nothing behind on disk
        with open(upload, "wb") as f:
            async for chunk in request.stream():
                f.write(chunk)
                size += len(chunk)
        if not size:
            raise invalid("the request body must be the video file")
        try:
            await asyncio.to_thread(probe, upload)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        now = get_clock(request)()
        row = await assets.create(db, title=title, description=description, now=now, creator=user,
                                  state="importing")
    except BaseException:
        upload.unlink(missing_ok=True)
        raise
    out = assets.out(row)
    ctx = request.app.state.ctx
    task = asyncio.create_task(_finish_import(ctx, engine, row.id, upload))
    engine.background.add(task)
    task.add_done_callback(engine.background.discard)
    return {"data": out}


async def _finish_import(ctx, engine: MediaEngine, asset_id: str, upload) -> None:
    try:
        duration, count = await asyncio.to_thread(engine.import_video, asset_id, upload)
    except Exception:
        log.exception("import of video %s failed", asset_id)
        duration, count = 0.0, 0
    async with ctx.sessions() as db:
        with contextlib.suppress(HmpError):  # deleted while importing
            await assets.update_media(db, asset_id, ctx.clock(), state="ready", duration=round(duration, 3),
                                      movie_track_count=count, media_path=str(engine.video_dir(asset_id)))


router = APIRouter()
router.include_router(api)
router.include_router(uploads)
