"""hls.js in Chromium plays a video through nginx `secure_link` from its usual playback URL: the
signed playlist is reloaded and its renewed URLs keep it playing past the lifetime of the first
ones; once a fourth device takes its place, the reload is refused and the player errors out."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.browser import CHROMIUM, need_browser
from tests.edge.conftest import EDGE_SECRET

# A small buffer, so that hls.js fetches each segment shortly before it plays it (with its default
# 30 s it would fetch the whole 10 s video with the first playlist's URLs).
SMALL_BUFFER = "new Hls({ liveSyncDurationCount: 2, maxBufferLength: 3, maxMaxBufferLength: 3 })"


@pytest.mark.parametrize("origin", ["embedded"], indirect=True)
def test_hls_js_plays_through_secure_link_on_renewed_urls_and_stops_after_x_terminate(nginx, origin, segment_dir):
    need_browser()
    from playwright.sync_api import sync_playwright

    sid, path = origin.session("browser-1")
    origin.mirror(path, segment_dir)
    edge = nginx("secure_link.conf", {"127.0.0.1:8000": f"127.0.0.1:{origin.server.port}",
                                      "/srv/streamkeeper": str(segment_dir),
                                      "CHANGE-ME-edge-secret-32-chars": EDGE_SECRET})
    page_html = httpx.get(f"{edge.url}/static/hls/player.html").text
    assert "new Hls({ liveSyncDurationCount: 2 })" in page_html
    page_html = page_html.replace("new Hls({ liveSyncDurationCount: 2 })", SMALL_BUFFER)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_context(base_url=edge.url).new_page()
            page.route(lambda url: "/static/hls/player.html" in url, lambda route: route.fulfill(
                status=200, content_type="text/html", body=page_html))
            seen: list[tuple[float, int, str]] = []
            page.on("response", lambda resp: seen.append((time.monotonic(), resp.status, resp.url)))
            page.goto(f"/static/hls/player.html?src={path}")
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                if page.evaluate("document.getElementById('video').currentTime") >= 8.0:
                    break
                time.sleep(0.2)
            else:
                raise AssertionError("did not play 8 s: " + page.evaluate("document.getElementById('status').textContent")
                                     + f" {[(s, u[-60:]) for _, s, u in seen[-6:]]}")
            segments = [(s, u) for _, s, u in seen if "/hls/video/" in u]
            assert [u.split("?")[0].rsplit("/", 1)[1] for _, u in segments][:2] == ["0.ts", "1.ts"]  # from the start
            playlists = [(s, u) for _, s, u in seen if u.endswith("index.m3u8")]
            assert segments and all(s == 200 for s, _ in segments), segments
            assert len(playlists) >= 3 and all(s == 200 for s, _ in playlists)  # reloaded
            # Some segment was fetched with a signature of a later playlist than the first one.
            assert page.evaluate("player.config.maxBufferLength") == 3
            first_expiry = min(int(u.rsplit("expires=", 1)[1]) for _, u in segments)
            assert max(int(u.rsplit("expires=", 1)[1]) for _, u in segments) > first_expiry

            origin.terminate_from_fourth_device("browser-1", sid)
            ended = time.monotonic()
            deadline = ended + 20
            shown = ""
            while time.monotonic() < deadline:
                refused = [t for t, s, u in seen if s == 403 and u.endswith("index.m3u8")]
                shown = page.evaluate("document.getElementById('status').textContent")
                if refused and shown.startswith("error:"):
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"hls.js went on: {shown!r}, {seen[-3:]}")
            assert refused[0] - ended <= 2 * 2.5 + 1  # the next reload (a target duration), with room
        finally:
            browser.close()
