"""Short-lived signed URLs for edges that cannot ask us about each request (nginx `secure_link`).

The stateless mode of enforced playback: the playlist, which we still serve and check, lists
segment URLs signed for a few seconds; the edge checks the signature and the expiry alone.
Every playlist fetch signs them anew, so a viewer whose session ended gets no fresh URLs (its
playlist is refused) and the ones it holds die at their expiry: at most
:data:`MAX_SEGMENTS_VALID` segment durations after the session ended.

The signature is the one nginx computes with

    secure_link $arg_md5,$arg_expires;
    secure_link_md5 "$secure_link_expires$uri <secret>";

that is MD5 over ``<expires><path> <secret>``, in base64url without padding. MD5 is what
`secure_link` offers; what it protects is a URL that lives seconds, and the secret never leaves
the two configurations. The path is the decoded path nginx sees as ``$uri``: sign paths with
no percent-escapes, dot segments or doubled slashes (``$uri`` is normalised) — the paths we
make are plain.

Pure functions, no I/O: the clock is an argument.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from urllib.parse import parse_qs, quote, urlsplit

MAX_SEGMENTS_VALID = 3  # a signed URL lives at most this many segment durations
MIN_SECRET_LENGTH = 16


class SignedUrlError(ValueError):
    """A path or secret that cannot be signed so that nginx computes the same signature."""


def _check(path: str, secret: str) -> None:
    if not path.startswith("/") or "?" in path or "#" in path:
        raise SignedUrlError(f"not an absolute path without query: {path!r}")
    if "//" in path or "/./" in path or "/../" in path or path.endswith(("/.", "/..")):
        raise SignedUrlError(f"path is not in nginx's normal form: {path!r}")
    if quote(path, safe="/-._~!$&'()*+,;=:@") != path:
        raise SignedUrlError(f"path needs escaping, nginx would sign its decoded form: {path!r}")
    if len(secret) < MIN_SECRET_LENGTH or any(c.isspace() or c in '"\'\\$;{}' for c in secret):
        raise SignedUrlError(f"secret must be at least {MIN_SECRET_LENGTH} characters, with no spaces, "
                             "quotes, backslash, $, ; or braces (it is written into an nginx configuration)")


def signature(path: str, expires: int, secret: str) -> str:
    """The `md5` argument nginx expects for `path` valid until `expires` (Unix seconds)."""
    _check(path, secret)
    digest = hashlib.md5(f"{int(expires)}{path} {secret}".encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def lifetime(segment_duration: float, segments: int = MAX_SEGMENTS_VALID) -> float:
    """Seconds a signed URL may be used: `segments` segment durations, never more than
    :data:`MAX_SEGMENTS_VALID` of them."""
    if not segment_duration > 0:
        raise ValueError("segment duration must be positive")
    return min(segments, MAX_SEGMENTS_VALID) * segment_duration


def expiry(now: float, segment_duration: float, segments: int = MAX_SEGMENTS_VALID) -> int:
    """The `expires` of a URL signed at `now`. nginx compares whole seconds and still serves
    during the second `expires` itself, so the URL is refused from ``expires + 1`` on: that is
    made no later than ``now + lifetime`` (and at least a second after `now`)."""
    return max(math.floor(now) + 1, math.floor(now + lifetime(segment_duration, segments)) - 1)


def sign(path: str, secret: str, expires: int) -> str:
    """`path` with its `md5` and `expires` arguments: the URL to put in a playlist."""
    return f"{path}?md5={signature(path, expires, secret)}&expires={int(expires)}"


def sign_for(path: str, secret: str, now: float, segment_duration: float) -> str:
    """`path` signed at `now` for the longest lifetime the bound allows."""
    return sign(path, secret, expiry(now, segment_duration))


def verify(url: str, secrets: str | list[str], now: float) -> bool:
    """What nginx decides for `url` (path and query): a valid signature under one of `secrets`
    (the current key first, then the previous one while it rotates out), and not expired: nginx
    refuses once the whole seconds of its clock are past `expires`, so does this."""
    parts = urlsplit(url)
    args = parse_qs(parts.query)
    try:
        md5, expires = args["md5"][0], int(args["expires"][0])
    except (KeyError, IndexError, ValueError):
        return False
    if math.floor(now) > expires:
        return False
    for secret in [secrets] if isinstance(secrets, str) else secrets:
        try:
            if hmac.compare_digest(signature(parts.path, expires, secret), md5):
                return True
        except SignedUrlError:
            return False
    return False


__all__ = ["MAX_SEGMENTS_VALID", "SignedUrlError", "expiry", "lifetime", "sign", "sign_for", "signature", "verify"]
