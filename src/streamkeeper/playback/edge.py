"""Enforced playback where an edge (nginx, a CDN) serves the segment files itself.

Two modes, both built on :meth:`PlaybackService.check` (service.py), nothing of HTTP here:

* **checked** (nginx `auth_request`, Traefik/Caddy forward auth): the edge asks about each
  segment request; :func:`verify` reads the original URI the edge passes on, checks its token
  and says yes (with the directory of the asset's files, :func:`asset_dir`) or no (with the
  reason). The check counts as the session's heartbeat, as a fetch from us would.
* **signed** (nginx `secure_link`, for edges that cannot call back): the playlist, which we
  still serve and check, lists every segment as a URL under the edge's prefix signed for at
  most three segment durations (:func:`signed_playlist`, signatures from signed_urls.py). It is
  made a playlist that players reload, so each reload renews the signatures; once the session
  ends its playlist is refused and the URLs still held die at their expiry.

On the edge, the files of asset ``video:42`` live under ``hls/video/42/`` with the names of the
segments we serve under ``/play/<token>/`` (docs/edge.md).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from . import signed_urls

# Original-URI headers of the edges we know, first found wins: nginx (as configured in
# docs/nginx/auth_request.conf), Traefik ForwardAuth and Caddy forward_auth.
URI_HEADERS = (b"x-original-uri", b"x-forwarded-uri")
PLAY = "/play/"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
DEFAULT_PREFIX = "/hls"


def asset_dir(asset: str) -> str | None:
    """The edge directory of an asset ("video:42" -> "video/42"); None for one whose id cannot be
    a plain path segment (such an asset cannot be served by an edge)."""
    kind, sep, ident = asset.partition(":")
    if not sep or not _SAFE.match(kind) or not _SAFE.match(ident):
        return None
    return f"{kind}/{ident}"


def original_uri(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The URI the edge was asked for, from the first header of :data:`URI_HEADERS` present."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in URI_HEADERS and name not in found:
            found[name] = value
    for name in URI_HEADERS:
        if name in found:
            return found[name].decode("latin-1")
    return None


def token_of(uri: str) -> str | None:
    """The token of a `/play/<token>/<file>` URI (query ignored); None for any other URI."""
    path = uri.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith(PLAY):
        return None
    token, sep, rest = path[len(PLAY):].partition("/")
    if not token or not sep or not rest:
        return None
    return token


@dataclass(frozen=True, slots=True)
class EdgeAnswer:
    """What the edge hook answers: `status` 204 (serve `asset_dir`) or 403 (with `reason`)."""

    status: int
    reason: str = ""
    asset_dir: str | None = None


NO_URI = "no X-Original-URI header: the edge must pass on the URI it was asked for"
NOT_PLAYBACK = "not a playback URI (/play/<token>/<file>)"
NOT_AT_EDGE = "this asset cannot be served by an edge"


async def verify(service, headers: list[tuple[bytes, bytes]], now: float) -> EdgeAnswer:
    """The edge hook: may the request the edge received (its original URI among `headers`) be
    served? Raises what `service.check` raises when the store does not answer."""
    uri = original_uri(headers)
    if uri is None:
        return EdgeAnswer(403, NO_URI)
    token = token_of(uri)
    if token is None:
        return EdgeAnswer(403, NOT_PLAYBACK)
    verdict = await service.check(token, None, now)
    if not verdict.ok:
        return EdgeAnswer(403, verdict.reason)
    where = asset_dir(verdict.claims.asset)
    if where is None:
        return EdgeAnswer(403, NOT_AT_EDGE)
    return EdgeAnswer(204, "", where)


# -- the signed mode's playlist ---------------------------------------------------------------

def target_duration(playlist: str) -> float:
    """EXT-X-TARGETDURATION of a media playlist (the longest segment, whole seconds)."""
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            try:
                value = float(line.partition(":")[2])
            except ValueError:
                break
            if value > 0 and math.isfinite(value):
                return value
    raise ValueError("not a media playlist: no EXT-X-TARGETDURATION")


def edge_path(prefix: str, asset: str, uri: str) -> str | None:
    """The edge path of a segment URI of our playlist (relative to `/play/<token>/`, or a
    `/play/<token>/...` path); None when it cannot be an edge file."""
    where = asset_dir(asset)
    if where is None:
        return None
    path = uri.split("?", 1)[0]
    if path.startswith(PLAY):
        path = path[len(PLAY):].partition("/")[2]
    elif path.startswith("/") or "://" in path:
        return None
    parts = path.split("/")
    if not path or any(not _SAFE.match(p) or p in (".", "..") for p in parts):
        return None
    return f"{prefix.rstrip('/')}/{where}/{path}"


def signed_playlist(playlist: str, asset: str, secret: str, now: float, prefix: str = DEFAULT_PREFIX) -> str:
    """Our media playlist for `asset` with each segment as a signed edge URL (expiry at most
    three target durations from `now`), made one that players reload: a finished playlist (VOD,
    with EXT-X-ENDLIST) becomes an EVENT playlist that starts at its beginning, since signatures
    that die must be renewed by reloads. A live one stays live. ValueError for a segment that
    cannot be an edge file."""
    duration = target_duration(playlist)
    expires = signed_urls.expiry(now, duration)
    out: list[str] = []
    ended = False
    for line in playlist.splitlines():
        if not line:
            continue
        if line.startswith("#"):
            if line == "#EXT-X-ENDLIST":
                ended = True
                continue
            if line.startswith("#EXT-X-PLAYLIST-TYPE:"):
                continue
            if line.startswith(("#EXT-X-MAP:", "#EXT-X-KEY:", "#EXT-X-PART:", "#EXT-X-PRELOAD-HINT:")) \
                    and 'URI="' in line:
                raise ValueError(f"{line.partition(':')[0]} is not supported at an edge")
            out.append(line)
            continue
        path = edge_path(prefix, asset, line.strip())
        if path is None:
            raise ValueError(f"segment {line!r} cannot be an edge file")
        out.append(signed_urls.sign(path, secret, expires))
    if ended:
        at = next(i for i, line in enumerate(out) if line.startswith("#EXT-X-TARGETDURATION:")) + 1
        out[at:at] = ["#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-START:TIME-OFFSET=0"]
    return "\n".join(out) + "\n"


def edge_settings_problem(secret: str | None, prefix: str) -> tuple[str, str] | None:
    """(setting, why) when the edge settings cannot work, else None: the secret goes into an nginx
    configuration, the prefix into every signed URL."""
    if secret is not None:
        try:
            signed_urls.signature("/x", 0, secret)
        except signed_urls.SignedUrlError as exc:
            return "edge_secret", str(exc)
    parts = prefix.strip("/").split("/")
    if not prefix.startswith("/") or any(not _SAFE.match(p) for p in parts):
        return "edge_prefix", f"{prefix!r} is not a plain absolute path such as /hls"
    return None
