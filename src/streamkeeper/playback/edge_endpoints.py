"""Enforced playback at an edge, over HTTP (the decisions are in edge.py). Two hot routes,
answered in front of the framework like `/play` itself, because an edge asks for every segment:

- `GET /play/verify`: the edge hook (nginx `auth_request`, Traefik/Caddy forward auth). The URI
  the edge received comes in `X-Original-URI` (or `X-Forwarded-Uri`). 204 with
  `X-Playback-Asset: <kind>/<id>` (the directory of the asset's files on the edge), or 403 with
  `X-Playback-Refusal` and a body saying why; 503 while the session store does not answer.
- `GET /play/<token>/signed/<playlist>.m3u8`: the playlist of `/play/<token>/<playlist>.m3u8` with
  each segment a URL under `--edge-prefix` signed for the edge (`STREAMKEEPER_EDGE_SECRET`, nginx
  `secure_link`), renewed at each reload; 404 when no edge secret is set.

This feature is listed before `playback` in `app.features()`, whose `/play/<token>/<file>` claim
would otherwise take the signed playlists.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..concurrency.service import ServiceUnavailable
from ..feature import Feature
from ..ops.hot import Answer, Claim, HotRequest, HotRoutes, StepsInline, Template, in_task
from . import edge

VERIFY_PATH = "/play/verify"
VERIFY = Template(VERIFY_PATH)
SIGNED = Template("/play/{token}/signed/{playlist}")
SIGNED_PART = "/signed/"
_TEXT = b"text/plain; charset=utf-8"
_NO_STORE = (b"Cache-Control", b"no-store")
_ALLOWED: dict[str, list[tuple[bytes, bytes]]] = {}  # asset dir -> the 204's headers, made once each
_ALLOWED_MAX = 100_000


def _refused(status: int, reason: str, *extra: tuple[bytes, bytes]) -> Answer:
    body = reason.encode()
    return status, [(b"Content-Type", _TEXT), (b"Content-Length", b"%d" % len(body)), _NO_STORE,
                    (b"X-Playback-Refusal", body), *extra], body


def _allowed(where: str) -> Answer:
    headers = _ALLOWED.get(where)
    if headers is None:
        if len(_ALLOWED) >= _ALLOWED_MAX:
            _ALLOWED.clear()
        headers = _ALLOWED[where] = [(b"X-Playback-Asset", where.encode()), _NO_STORE]
    return 204, headers, b""


async def verify(service, request: HotRequest) -> Answer:
    try:
        answer = await edge.verify(service, request.headers, service.clock())
    except ServiceUnavailable as exc:
        return _refused(503, str(exc), (b"Retry-After", b"1"))
    if answer.status == 204:
        return _allowed(answer.asset_dir)  # type: ignore[arg-type]
    return _refused(403, answer.reason)


async def signed_playlist(service, state: Any, request: HotRequest) -> Answer:
    from .media import play_bytes

    token, playlist = request.params
    settings = state.settings
    secret = settings.edge_secret
    if not secret:
        return _refused(404, "signed URLs are off: set STREAMKEEPER_EDGE_SECRET (docs/edge.md)")
    now = service.clock()
    try:
        verdict = await service.check(token, None, now)
    except ServiceUnavailable as exc:
        return _refused(503, str(exc), (b"Retry-After", b"1"))
    if not verdict.ok:
        return _refused(403, verdict.reason)
    assert verdict.claims is not None
    await in_task()  # reading media goes through threads
    status, ctype, body = await play_bytes(getattr(state, "hmp_media", None), verdict.claims.asset, playlist)
    if status == 200:
        try:
            body = edge.signed_playlist(body.decode(), verdict.claims.asset, secret, now,
                                        settings.edge_prefix).encode()
        except ValueError as exc:
            return _refused(409, f"this playlist cannot be served by an edge: {exc}")
    return status, [(b"Content-Type", ctype), (b"Content-Length", b"%d" % len(body)), _NO_STORE,
                    (b"Access-Control-Allow-Origin", b"*")], body


def hot(method: str, path: str, routes: HotRoutes) -> tuple[Claim, Any] | None:
    """`GET /play/verify` and `GET /play/<token>/signed/<name>.m3u8` (see ops/hot.py)."""
    if method != "GET" or not path.startswith(edge.PLAY):
        return None
    if path == VERIFY_PATH:
        template, params = VERIFY, None
    else:
        token, sep, playlist = path[len(edge.PLAY):].partition(SIGNED_PART)
        if not sep or not token or "/" in token or "/" in playlist or not playlist.endswith(".m3u8"):
            return None
        template, params = SIGNED, (token, playlist)
    claim = routes.claims.get(template)
    if claim is None:
        state = routes.state
        service = getattr(state, "playback", None)
        if service is None:  # not started (yet)
            return None
        inline = isinstance(service.store, StepsInline)
        handler = partial(verify, service) if template is VERIFY else partial(signed_playlist, service, state)
        claim = routes.claims[template] = Claim(template, handler, inline and template is VERIFY)
    return claim, params


def openapi_paths() -> dict:
    """The two hot routes in the OpenAPI document (FastAPI never sees them)."""
    text = {"text/plain": {"schema": {"type": "string"}}}
    return {
        VERIFY_PATH: {"get": {
            "tags": ["Enforced playback"], "summary": "Edge hook: may this playback request be served?",
            "description": "For nginx `auth_request` and other edges' forward authentication (docs/edge.md). "
                           "Counts as the session's heartbeat.",
            "parameters": [{"name": "X-Original-URI", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": 4096},
                            "description": "The URI the edge was asked for: /play/<token>/<file>"}],
            "responses": {"204": {"description": "Serve it: `X-Playback-Asset` names the asset's directory"},
                          "403": {"description": "Refused: `X-Playback-Refusal` and the body say why", "content": text},
                          "503": {"description": "The session store did not answer; retry", "content": text}}}},
        "/play/{token}/signed/{playlist}": {"get": {
            "tags": ["Enforced playback"], "summary": "The playlist with segment URLs signed for the edge",
            "description": "For nginx `secure_link` (docs/edge.md): each segment URL lives at most three "
                           "segment durations; players reload the playlist, which renews them.",
            "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "playlist", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+\.m3u8$"}}],
            "responses": {"200": {"description": "The signed playlist",
                                  "content": {"application/vnd.apple.mpegurl": {"schema": {"type": "string"}}}},
                          "403": {"description": "Refused: the body says why", "content": text},
                          "404": {"description": "No such playlist, or signed URLs are off", "content": text},
                          "409": {"description": "The asset's files cannot be served by an edge", "content": text},
                          "503": {"description": "The session store did not answer; retry", "content": text}}}},
    }


feature = Feature("edge", hot=hot, openapi_paths=openapi_paths)
