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

# The original URI of a request, as edges pass it on: nginx (as configured in
# docs/nginx/auth_request.conf) `X-Original-URI`; Traefik ForwardAuth and Caddy forward_auth
# `X-Forwarded-Uri`.
PLAY = "/play/"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
DEFAULT_PREFIX = "/hls"


_DIRS: dict[str, str | None] = {}  # asset -> its directory: asked for every request of an edge
_DIRS_MAX = 100_000


def asset_dir(asset: str) -> str | None:
    """The edge directory of an asset ("video:42" -> "video/42"); None for one whose id cannot be
    a plain path segment (such an asset cannot be served by an edge)."""
    try:
        return _DIRS[asset]
    except KeyError:
        pass
    kind, sep, ident = asset.partition(":")
    where = f"{kind}/{ident}" if sep and _SAFE.match(kind) and _SAFE.match(ident) else None
    if len(_DIRS) >= _DIRS_MAX:
        _DIRS.clear()
    _DIRS[asset] = where
    return where


def original_uri(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The URI the edge was asked for: `X-Original-URI`, else `X-Forwarded-Uri` (first of each)."""
    fallback = None
    for name, value in headers:
        if name == b"x-original-uri":
            return value.decode("latin-1")
        if name == b"x-forwarded-uri" and fallback is None:
            fallback = value
    return fallback.decode("latin-1") if fallback is not None else None


def token_of(uri: str) -> str | None:
    """The token of a `/play/<token>/<file>` URI (query ignored); None for any other URI."""
    if not uri.startswith(PLAY):
        return None
    end = uri.find("/", 6)
    if end <= 6:
        return None
    rest = end + 1
    if rest >= len(uri) or uri[rest] in "?#":
        return None
    token = uri[6:end]
    return None if "?" in token or "#" in token else token


@dataclass(frozen=True, slots=True)
class EdgeAnswer:
    """What the edge hook answers: `status` 204 (serve `asset_dir`) or 403 (with `reason`)."""

    status: int
    reason: str = ""
    asset_dir: str | None = None


_ALLOW: dict[str, EdgeAnswer] = {}  # asset -> the answer that serves it, made once each

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
    allowed = _ALLOW.get(verdict.claims.asset)
    if allowed is not None:
        return allowed
    where = asset_dir(verdict.claims.asset)
    if where is None:
        return EdgeAnswer(403, NOT_AT_EDGE)
    if len(_ALLOW) >= _DIRS_MAX:
        _ALLOW.clear()
    allowed = _ALLOW[verdict.claims.asset] = EdgeAnswer(204, "", where)
    return allowed


# -- the signed mode's playlist ---------------------------------------------------------------

def segment_duration(playlist: str) -> float:
    """The longest segment of a media playlist (EXTINF), in seconds: what a signed URL's lifetime
    is counted in. EXT-X-TARGETDURATION (that rounded up to whole seconds) when no segment is
    listed; ValueError for a text that is not a media playlist."""
    longest = 0.0
    target = None
    for line in playlist.splitlines():
        if line.startswith("#EXTINF:"):
            try:
                longest = max(longest, float(line[8:].partition(",")[0]))
            except ValueError:
                continue
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            try:
                target = float(line.partition(":")[2])
            except ValueError:
                pass
    if target is None or not (target > 0 and math.isfinite(target)):
        raise ValueError("not a media playlist: no EXT-X-TARGETDURATION")
    return longest if 0 < longest <= target and math.isfinite(longest) else target


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
    three segment durations, the longest listed, from `now`), made one that players reload: a finished playlist (VOD,
    with EXT-X-ENDLIST) becomes an EVENT playlist that starts at its beginning, since signatures
    that die must be renewed by reloads. A live one stays live. ValueError for a segment that
    cannot be an edge file."""
    expires = signed_urls.expiry(now, segment_duration(playlist))
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
