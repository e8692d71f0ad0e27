"""HLS plays in a real browser: Chromium (the system's) with the server's own hls.js and player page.

Debian's Chromium decodes H.264 and AAC through Media Source Extensions, which is what hls.js
feeds (it remuxes our TS segments to fragmented MP4 in the page; the server never transcodes).
"""

from __future__ import annotations

import socket
import time

import httpx

from streamkeeper.media.testsignal import UdpSender, make_clip

from tests.browser import CHROMIUM, need_browser

from .test_http import _serve, _wait_up, studio
from tests.process import free_udp_port



def _video_time(page) -> float:
    return page.evaluate("document.getElementById('video').currentTime")


def _plays(page, url: str, at_least: float) -> tuple[float, float]:
    """Open the player on ``url``; wait until the picture has advanced ``at_least`` seconds."""
    page.goto(url)
    deadline = time.monotonic() + 30
    first = None
    while time.monotonic() < deadline:
        now = _video_time(page)
        if first is None and now > 0:
            first = now
        if first is not None and now - first >= at_least:
            return first, now
        time.sleep(0.2)
    status = page.evaluate("document.getElementById('status').textContent")
    raise AssertionError(f"the video did not advance (currentTime {_video_time(page)}): {status}")


def test_live_source_and_video_play_in_chromium(tmp_path):
    need_browser()
    from playwright.sync_api import sync_playwright

    clip = make_clip(tmp_path / "clip.ts", seconds=6, width=320, height=240, muxrate=1_000_000)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http_port = s.getsockname()[1]
    udp_port = free_udp_port()
    base = f"http://127.0.0.1:{http_port}"
    proc = _serve(tmp_path / "data", http_port)
    sender = None
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            _wait_up(c, proc)
            source, session = studio(c, udp_port)
            sender = UdpSender(clip, ("127.0.0.1", udp_port), loops=6).start()
            rec = c.post(f"/apis/sessions/{session}/recordings", json={}).json()["data"]["id"]

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
                context = browser.new_context(base_url=base)
                page = context.new_page()
                # the player needs the session cookie, like any other /apis call
                r = context.request.post("/apis/authentication/login",
                                         data={"username": "admin", "password": "admin-password-1"})
                assert r.status == 201
                assert page.request.get("/static/hls/hls.min.js").status == 200
                first, now = _plays(page, f"/static/hls/player.html?src=/apis/sources/{source}/hls/live.m3u8",
                                    at_least=2.0)
                assert now > first

                c.delete(f"/apis/recordings/{rec}")  # now a video: on demand
                first, now = _plays(page, f"/static/hls/player.html?src=/apis/assets/{rec}/hls/index.m3u8",
                                    at_least=1.5)
                assert now > first
                # without a session the playlist is refused, and so nothing plays
                anonymous = browser.new_context(base_url=base)
                assert anonymous.request.get(f"/apis/assets/{rec}/hls/index.m3u8").status == 401
                browser.close()
    finally:
        if sender is not None:
            sender.stop()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
