"""Signed segment URLs (the stateless mode): what we sign is what nginx's secure_link accepts,
and nginx refuses forged, altered and expired ones."""

from __future__ import annotations

import time

import httpx
import pytest

from streamkeeper.playback import signed_urls
from streamkeeper.playback.signed_urls import SignedUrlError, sign, verify
from tests.edge.conftest import EDGE_SECRET

SECRET = "a-secret-of-enough-length"


def test_signature_is_base64url_md5_without_padding():
    sig = signed_urls.signature("/hls/movie/0.ts", 2_000_000_000, SECRET)
    assert len(sig) == 22 and "=" not in sig and "+" not in sig and "/" not in sig
    # Known value: md5("2000000000/hls/movie/0.ts a-secret-of-enough-length"), base64url.
    import base64
    import hashlib

    raw = hashlib.md5(b"2000000000/hls/movie/0.ts a-secret-of-enough-length").digest()
    assert sig == base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_verify_accepts_until_expiry_and_refuses_changes():
    url = sign("/hls/movie/3.ts", SECRET, 1000)
    assert verify(url, SECRET, 999.5) and verify(url, SECRET, 1000.9)  # nginx: whole seconds
    assert not verify(url, SECRET, 1001)
    assert not verify(url.replace("/3.ts", "/4.ts"), SECRET, 10)
    assert not verify(url.replace("expires=1000", "expires=2000"), SECRET, 10)
    assert not verify(url, "another-secret-of-length", 10)
    assert verify(url, ["another-secret-of-length", SECRET], 10)  # rotation: old key still accepted
    assert not verify("/hls/movie/3.ts", SECRET, 10)
    assert not verify("/hls/movie/3.ts?md5=x&expires=soon", SECRET, 10)


@pytest.mark.parametrize("now", [100.0, 100.9, 1_800_000_000.4])
@pytest.mark.parametrize("duration", [0.2, 1.0, 2.0, 2.4, 6.006])
def test_a_signed_url_is_refused_within_three_segment_durations(now, duration):
    expires = signed_urls.expiry(now, duration)
    assert expires + 1 <= now + max(3 * duration, 2)  # refused from expires + 1 on (whole seconds)
    assert expires >= now  # and usable at once
    url = sign("/hls/a/0.ts", SECRET, expires)
    assert verify(url, SECRET, now) and not verify(url, SECRET, now + max(3 * duration, 2))


def test_lifetime_is_at_most_three_segment_durations():
    assert signed_urls.lifetime(2.0) == 6
    assert signed_urls.lifetime(2.0, segments=10) == 6
    assert signed_urls.expiry(100.9, 2.0) == 105
    assert signed_urls.expiry(100.0, 2.0) == 105
    assert signed_urls.expiry(100.5, 0.2) == 101
    with pytest.raises(ValueError):
        signed_urls.lifetime(0)


@pytest.mark.parametrize("path", ["hls/x.ts", "/hls/a b.ts", "/hls//x.ts", "/hls/../x.ts", "/hls/x.ts?a=1",
                                  "/hls/%41.ts"])
def test_paths_nginx_would_sign_differently_are_refused(path):
    with pytest.raises(SignedUrlError):
        signed_urls.signature(path, 1, SECRET)


@pytest.mark.parametrize("secret", ["short", "has space in it 123", 'quote"quote"quote"', "dollar$dollar$dollar"])
def test_secrets_that_cannot_go_into_nginx_conf_are_refused(secret):
    with pytest.raises(SignedUrlError):
        signed_urls.signature("/hls/x.ts", 1, secret)


def test_real_nginx_secure_link_checks_our_signatures(nginx, segment_dir):
    (segment_dir / "hls" / "movie-1").mkdir(parents=True)
    payload = bytes(range(256)) * 32
    (segment_dir / "hls" / "movie-1" / "seg-00001.ts").write_bytes(payload)
    edge = nginx("secure_link.conf", {"/srv/streamkeeper": str(segment_dir),
                                      "CHANGE-ME-edge-secret-32-chars": EDGE_SECRET,
                                      "127.0.0.1:8000": "127.0.0.1:9"})
    path = "/hls/movie-1/seg-00001.ts"
    now = time.time()
    good = signed_urls.sign_for(path, EDGE_SECRET, now, 2.0)
    with httpx.Client(base_url=edge.url) as http:
        r = http.get(good)
        assert r.status_code == 200 and r.content == payload
        assert r.headers["content-type"] == "video/mp2t"

        # No signature, a forged one, one for another file, one made with another secret.
        assert http.get(path).status_code == 403
        forged = sign(path, EDGE_SECRET, int(now) + 6).replace("md5=", "md5=A")
        assert http.get(forged).status_code == 403
        other = sign("/hls/movie-1/seg-00002.ts", EDGE_SECRET, int(now) + 6).replace("seg-00002", "seg-00001")
        assert http.get(other).status_code == 403
        assert http.get(sign(path, "not-the-edge-secret-at-all", int(now) + 6)).status_code == 403
        # Pushing the expiry forward breaks the signature.
        expires = good.rsplit("expires=", 1)[1]
        pushed = good.replace(f"expires={expires}", f"expires={int(expires) + 600}")
        assert pushed != good and http.get(pushed).status_code == 403

        # Expired: refused with a body saying so.
        expired = http.get(sign(path, EDGE_SECRET, int(now) - 1))
        assert expired.status_code == 403 and "expired" in expired.text
