"""A real nginx in front of a real server, in both edge modes, serving segment files of its own:
a playing viewer gets its segments; once a fourth device takes its place (X-Terminate) the edge
cuts it off. The nginx configurations are the ones documented under docs/nginx/."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx

from streamkeeper.playback import signed_urls
from tests.edge.conftest import EDGE_SECRET


def _edge(nginx, origin, segment_dir, template: str):
    return nginx(template, {"127.0.0.1:8000": f"127.0.0.1:{origin.server.port}",
                            "/srv/streamkeeper": str(segment_dir),
                            **({"CHANGE-ME-edge-secret-32-chars": EDGE_SECRET} if "secure" in template else {})})


def _uris(playlist: str) -> list[str]:
    return [line for line in playlist.splitlines() if line and not line.startswith("#")]


def test_auth_request_serves_a_playing_viewer_and_cuts_off_a_terminated_one(nginx, origin, segment_dir):
    sid, path = origin.session("auth-1")
    segments = origin.mirror(path, segment_dir)
    edge = _edge(nginx, origin, segment_dir, "auth_request.conf")
    base = path.rsplit("/", 1)[0]
    with httpx.Client(base_url=edge.url, timeout=10) as player:
        listing = player.get(path)  # proxied to the origin, which checks the token itself
        assert listing.status_code == 200 and _uris(listing.text) == segments
        for uri in segments:
            r = player.get(f"{base}/{uri}")
            assert r.status_code == 200, r.text
            assert r.content == (segment_dir / "hls" / "video" / origin.video / uri).read_bytes()
            assert r.headers["content-type"] == "video/mp2t"
            assert "last-modified" in r.headers  # a file of the edge, not a copy proxied from the origin

        origin.terminate_from_fourth_device("auth-1", sid)

        refused = player.get(f"{base}/{segments[0]}")
        assert refused.status_code == 403
        assert refused.text == "playback refused: session ended: terminated by another device\n"
        assert player.get(path).status_code == 403

        # Forged tokens and URIs outside the token never reach a file.
        forged = player.get(f"/play/{'A' * 80}/{segments[0]}")
        assert forged.status_code == 403 and "forged token" in forged.text
        assert player.get(f"/play/x/{segments[0]}").status_code == 403


def test_auth_request_after_delete(nginx, origin, segment_dir):
    sid, path = origin.session("auth-2")
    segments = origin.mirror(path, segment_dir)
    edge = _edge(nginx, origin, segment_dir, "auth_request.conf")
    segment = path.rsplit("/", 1)[0] + "/" + segments[-1]
    with httpx.Client(base_url=edge.url, timeout=10) as player:
        assert player.get(segment).status_code == 200
        assert origin.http.delete(f"/v2/sessions/adobe/auth-2/{sid}", auth=("demo-app", "")).status_code == 202
        r = player.get(segment)
        assert r.status_code == 403 and r.text == "playback refused: session ended: stopped by its player\n"


def test_verify_answers_the_edge(origin):
    sid, path = origin.session("verify-1")
    token_uri = path.rsplit("/", 1)[0] + "/track-1/0.ts"
    r = origin.http.get("/play/verify", headers={"X-Original-URI": token_uri})
    assert r.status_code == 204 and r.headers["X-Playback-Asset"] == f"video/{origin.video}"
    r = origin.http.get("/play/verify", headers={"X-Forwarded-Uri": token_uri})  # Traefik, Caddy
    assert r.status_code == 204
    r = origin.http.get("/play/verify")
    assert r.status_code == 403 and "X-Original-URI" in r.text
    r = origin.http.get("/play/verify", headers={"X-Original-URI": "/apis/assets"})
    assert r.status_code == 403 and r.headers["X-Playback-Refusal"] == r.text


def test_secure_link_renews_signatures_until_the_session_ends(nginx, origin, segment_dir):
    sid, path = origin.session("signed-1")
    origin.mirror(path, segment_dir)
    edge = _edge(nginx, origin, segment_dir, "secure_link.conf")
    with httpx.Client(base_url=edge.url, timeout=10) as player:
        listing = player.get(path)  # the usual playback URL: nginx asks the origin for the signed playlist
        assert listing.status_code == 200, listing.text
        assert "#EXT-X-ENDLIST" not in listing.text and "#EXT-X-PLAYLIST-TYPE:EVENT" in listing.text
        signed_at = time.time()
        longest = max(float(line[8:].split(",")[0]) for line in listing.text.splitlines()
                      if line.startswith("#EXTINF:"))
        urls = _uris(listing.text)
        for url in urls:
            assert url.startswith(f"/hls/video/{origin.video}/track-1/")
            expires = int(parse_qs(urlsplit(url).query)["expires"][0])
            assert expires + 1 <= signed_at + signed_urls.MAX_SEGMENTS_VALID * longest
            r = player.get(url)
            assert r.status_code == 200 and r.headers["content-type"] == "video/mp2t"
            assert "last-modified" in r.headers
            assert r.content == (segment_dir / urlsplit(url).path.lstrip("/")).read_bytes()
        # An altered URL (another file, a later expiry) is refused by nginx.
        other = urls[0].replace("/0.ts?", "/1.ts?")
        assert player.get(other).status_code == 403
        later = urls[0].replace(f"expires={expires}", f"expires={expires + 3600}")
        assert player.get(later).status_code == 403

        # A reload renews the signatures.
        time.sleep(1.1)
        renewed = _uris(player.get(path).text)
        assert renewed != urls and [u.split("?")[0] for u in renewed] == [u.split("?")[0] for u in urls]

        origin.terminate_from_fourth_device("signed-1", sid)
        refused = player.get(path)
        assert refused.status_code == 403 and refused.text == "session ended: terminated by another device"

        # The URLs it still holds die within three segment durations of their last signing.
        last_expiry = max(int(parse_qs(urlsplit(u).query)["expires"][0]) for u in renewed)
        while time.time() < last_expiry + 1.05:
            time.sleep(0.25)
        dead = player.get(renewed[0])
        assert dead.status_code == 403 and "expired" in dead.text


def test_signed_playlist_needs_the_edge_secret(origin):
    """Directly at the origin: the signed playlist's own refusals."""
    sid, path = origin.session("signed-2")
    signed = path.replace("/index.m3u8", "/signed/index.m3u8")
    r = origin.http.get(signed)
    assert r.status_code == 200 and "?md5=" in r.text
    assert origin.http.get(signed.replace("/play/", "/play/A", 1)).status_code == 403


def test_auth_request_fails_closed_when_the_server_does_not_answer(nginx, segment_dir):
    (segment_dir / "hls" / "video" / "1" / "track-1").mkdir(parents=True)
    (segment_dir / "hls" / "video" / "1" / "track-1" / "0.ts").write_bytes(b"\x47" * 188)
    edge = nginx("auth_request.conf", {"127.0.0.1:8000": "127.0.0.1:9", "/srv/streamkeeper": str(segment_dir)})
    r = httpx.get(f"{edge.url}/play/{'A' * 80}/track-1/0.ts", timeout=10)
    assert r.status_code == 500 and r.content != b"\x47" * 188
