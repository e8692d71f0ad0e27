"""Enforced playback over HTTP: the calls that give a player a playback URL for its live session,
the `/play/<token>/...` files (a hot route: checked and served in front of the framework), and
`/admin/v1/playback` (grants and per-application options).

- `POST /v2/sessions/{idp}/{subject}/{sessionId}/playback`: the application's Basic credentials,
  form `video=<id>` or `source=<id>`, optional `ttl` (seconds).
- `POST /oxm/v1/streams/{assetID}/playback`: the viewer's Bearer token, query `device` (as
  `streaming`), `source` (default: the video `assetID`), optional `ttl`.

Both answer 201 `{url, path, token, asset, sessionId, expires}`; `url` plays in any HLS player.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from ..concurrency.service import ConcurrencyError, ServiceUnavailable
from ..hmp.recordings.forwarding import forward_hot
from ..ops.hot import Answer, Claim, HotRequest, HotRoutes, StepsInline, Template
from ..ops.middleware import basic_user
from .grants import ASSET_KINDS, asset_ref
from .media import play_bytes
from ..oxm.service import ID_PATTERN
from .service import DEFAULT_TTL, MAX_TTL, PlaybackRefused, PlaybackService

PREFIX = "/play/"
TEMPLATE = Template("/play/{token}/{file}")
_TEXT = b"text/plain; charset=utf-8"
_COMMON = [(b"Cache-Control", b"no-store"), (b"Access-Control-Allow-Origin", b"*")]
MAX_FILE = 64


# -- /play -------------------------------------------------------------------------------------

def _answer(status: int, ctype: bytes, body: bytes) -> Answer:
    return status, [(b"Content-Type", ctype), (b"Content-Length", b"%d" % len(body)), *_COMMON], body


async def play(service: PlaybackService, state: Any, request: HotRequest) -> Answer:
    """Check the token's session, then serve the file; 403 with the reason once it has ended."""
    if (forwarded := await forward_hot(state, request)) is not None:  # the media owner answers
        return forwarded
    token, file = request.params
    try:
        verdict = await service.check(token, None, service.clock())
    except ServiceUnavailable as exc:
        status, ctype, body = 503, _TEXT, str(exc).encode()
        return status, [(b"Content-Type", ctype), (b"Content-Length", b"%d" % len(body)), (b"Retry-After", b"1"),
                        *_COMMON], body
    if not verdict.ok:
        return _answer(403, _TEXT, verdict.reason.encode())
    assert verdict.claims is not None
    return _answer(*await play_bytes(getattr(state, "hmp_media", None), verdict.claims.asset, file))


def hot(method: str, path: str, routes: HotRoutes) -> tuple[Claim, tuple[str, str]] | None:
    """`GET /play/<token>/<file>`, answered in front of the framework (see ops/hot.py)."""
    if method != "GET" or not path.startswith(PREFIX):
        return None
    token, _, file = path[len(PREFIX):].partition("/")
    if not token or not file or len(file) > MAX_FILE:
        return None
    claim = routes.claims.get(TEMPLATE)
    if claim is None:
        state = routes.state
        service: PlaybackService | None = getattr(state, "playback", None)
        if service is None:  # not started (yet)
            return None
        from functools import partial

        claim = routes.claims[TEMPLATE] = Claim(TEMPLATE, partial(play, service, state),
                                                isinstance(service.store, StepsInline))
    return claim, (token, file)


# -- getting a playback URL --------------------------------------------------------------------

issue = APIRouter(tags=["Enforced playback"])


def _ref(fields: dict[str, str], default_video: str | None = None) -> str:
    given = [(k, fields[k]) for k in ASSET_KINDS if fields.get(k)]
    if len(given) > 1:
        raise PlaybackRefused(400, "invalid", "give one of video or source")
    if not given:
        if default_video is None:
            raise PlaybackRefused(400, "invalid", "give video=<id> or source=<id>: what the player will play")
        return asset_ref("video", default_video)
    kind, value = given[0]
    if len(value) > 128:
        raise PlaybackRefused(400, "invalid", f"{kind} id too long")
    return asset_ref(kind, value)


def _ttl(fields: dict[str, str]) -> int | None:
    raw = fields.get("ttl")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise PlaybackRefused(400, "invalid", "ttl is a whole number of seconds")
    return int(raw)


async def _fields(request: Request) -> dict[str, str]:
    fields = dict(request.query_params)
    if request.headers.get("content-type", "").split(";")[0].strip() in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        fields.update({k: v for k, v in form.items() if isinstance(v, str)})
    return fields


def _issued(request: Request, issued) -> JSONResponse:
    path = f"/play/{issued.token}/index.m3u8"
    base = str(request.base_url).rstrip("/")
    return JSONResponse({"url": base + path, "path": path, "token": issued.token, "asset": issued.claims.asset,
                         "sessionId": issued.claims.session, "expires": int(issued.claims.expires * 1000)},
                        status_code=201, headers={"Cache-Control": "no-store"})


_ISSUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "The playback URL: `url` (absolute), `path`, `token`, `asset`, `sessionId`, "
                         "`expires` (ms since the epoch)"},
    400: {"description": "No asset, or a bad ttl"},
    401: {"description": "Missing or unknown credentials"},
    403: {"description": "The asset is not available for playback here, or the application is disabled"},
    404: {"description": "No such session"},
    410: {"description": "The session has ended (the message says why)"},
    503: {"description": "The session store did not answer; retry"},
}


_ASSET_FORM = {
    "type": "object",
    "properties": {
        "video": {"type": "string", "minLength": 1, "maxLength": 128, "description": "A video id (/apis/assets)"},
        "source": {"type": "string", "minLength": 1, "maxLength": 128,
                   "description": "A live source id (/apis/sources)"},
        "ttl": {"type": "integer", "minimum": 1, "maximum": MAX_TTL,
                "description": f"Seconds the URL lasts (default {DEFAULT_TTL})"},
    },
    "additionalProperties": False,
    "oneOf": [{"required": ["video"], "not": {"required": ["source"]}},
              {"required": ["source"], "not": {"required": ["video"]}}],
}


@issue.post("/v2/sessions/{idp}/{subject}/{sessionId}/playback", status_code=201,
            responses={**_ISSUE_RESPONSES, 413: {"description": "The body is over the limit"}},
            openapi_extra={"security": [{"cmBasic": []}], "requestBody": {
                "required": True, "content": {"application/x-www-form-urlencoded": {"schema": _ASSET_FORM}}}})
async def v2_playback(request: Request, idp: str = Path(max_length=256), subject: str = Path(max_length=256),
                      sessionId: str = Path(max_length=64)) -> Response:
    """A playback URL for a live `/v2` session: form (or query) `video=<id>` or `source=<id>`,
    optional `ttl` (seconds). Every fetch under it is refused with 403 once the session ends."""
    from ..cm.rendering import advice_body, error_answer

    service: PlaybackService = request.app.state.playback
    try:
        fields = await _fields(request)
        app_id = basic_user(request.headers.get("authorization", "").encode("latin-1"))
        if app_id is None:
            from ..concurrency.service import UnknownApplication

            raise UnknownApplication("missing credentials: send HTTP Basic credentials whose user name is "
                                     "the application id")
        issued = await service.issue_v2(app_id, idp, subject, sessionId, _ref(fields), _ttl(fields))
    except ConcurrencyError as exc:
        status, headers, body = error_answer(exc, service.clock())
        return Response(body, status_code=status, headers={k.decode(): v.decode() for k, v in headers})
    except PlaybackRefused as exc:
        return JSONResponse(advice_body(exc.code, exc.message), status_code=exc.status,
                            headers={"Cache-Control": "no-store"})
    return _issued(request, issued)


@issue.post("/oxm/v1/streams/{assetID}/playback", responses=_ISSUE_RESPONSES, status_code=201,
            openapi_extra={"security": [{"oxmBearer": []}]})
async def oxm_playback(request: Request, assetID: str = Path(min_length=1, max_length=256, pattern=ID_PATTERN),
                       device: str | None = Query(None, min_length=1, max_length=256, pattern=ID_PATTERN,
                                                  description="The device of the stream (default: your address, "
                                                              "as for `streaming`)"),
                       source: str | None = Query(None, min_length=1, max_length=128,
                                                  description="Play this live source instead of the video "
                                                              "`assetID`"),
                       ttl: int | None = Query(None, ge=1, le=MAX_TTL, description="Seconds the URL lasts")) -> Response:
    """A playback URL for the viewer's live stream of `assetID` on `device` (started with
    `streaming`): plays the video `assetID`, or the live source `source`."""
    from ..client_address import address_of, trusted_networks
    from ..oxm import errors
    from ..oxm.errors import OxmError

    service: PlaybackService = request.app.state.playback
    try:
        who = request.app.state.oxm.authenticate(request.headers.get("authorization"))
        if device is None:
            device = address_of(request.client.host if request.client else "",
                                request.headers.getlist("x-forwarded-for"), trusted_networks(request.app.state))
        ref = asset_ref("source", source) if source else asset_ref("video", assetID)
        issued = await service.issue_oxm(who.tenant, who.user, assetID, device, ref, ttl)
    except OxmError as exc:
        return exc.response()
    except PlaybackRefused as exc:
        code = {400: errors.BAD_REQUEST, 403: errors.FORBIDDEN_READ}.get(exc.status, errors.NOT_FOUND)
        return OxmError(exc.status, code, exc.message).response()
    except ServiceUnavailable as exc:
        return OxmError(503, errors.UNAVAILABLE, str(exc)).response()
    return _issued(request, issued)
