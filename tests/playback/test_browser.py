"""hls.js in Chromium plays a live source through a token URL, with no cookie, and errors out soon
after a fourth device of the same viewer takes its place with X-Terminate."""

from __future__ import annotations

import socket
import time

import httpx

from streamkeeper.media.hls import TARGET
from streamkeeper.media.testsignal import UdpSender, make_clip
from tests.browser import CHROMIUM, need_browser
from tests.media.test_http import _serve, _wait_up, studio
from tests.process import free_udp_port

AUTH = ("demo-app", "")
ADMIN_KEY = "k" * 32  # what _serve sets
# From the answer to X-Terminate to the first refused request: one segment duration plus 1 s (the
# target), with room for a loaded test machine.
BOUND = (TARGET + 1) + 1.5


def _start(c: httpx.Client, terminate: str | None = None) -> tuple[str, str]:
    r = c.post("/v2/sessions/adobe/alice", auth=AUTH, headers={"X-Terminate": terminate} if terminate else {})
    assert r.status_code == 202, r.text
    sid = r.headers["Location"]
    running = c.get("/v2/runningStreams/adobe/alice", auth=AUTH).json()["runningStreams"]
    return sid, next(s["terminationCode"] for s in running if s["sessionId"] == sid)


def test_hls_js_plays_a_token_url_and_errors_out_after_x_terminate_from_another_device(tmp_path):
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
            source, _ = studio(c, udp_port)
            sender = UdpSender(clip, ("127.0.0.1", udp_port), loops=15).start()
            r = c.post("/admin/v1/playback-grants", json={"application": "demo-app", "source": source},
                       headers={"X-Admin-Key": ADMIN_KEY})
            assert r.status_code == 201, r.text
            sid, code = _start(c)
            _start(c), _start(c)
            r = c.post(f"/v2/sessions/adobe/alice/{sid}/playback", auth=AUTH, data={"source": source})
            assert r.status_code == 201, r.text
            url = r.json()["path"]

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
                page = browser.new_context(base_url=base).new_page()  # no login: the token is enough
                seen: list[tuple[float, int, str]] = []
                page.on("response", lambda resp: seen.append((time.monotonic(), resp.status, resp.url)))
                page.goto(f"/static/hls/player.html?src={url}")
                deadline, first = time.monotonic() + 40, None
                while time.monotonic() < deadline:
                    now = page.evaluate("document.getElementById('video').currentTime")
                    first = now if first is None and now > 0 else first
                    if first is not None and now - first >= 2.0:
                        break
                    time.sleep(0.2)
                else:
                    raise AssertionError("the token URL did not play: " +
                                         page.evaluate("document.getElementById('status').textContent"))
                assert all(status == 200 for _, status, u in seen if "/play/" in u)

                _start(c, terminate=code)  # the fourth device takes its place
                ended = time.monotonic()
                deadline = ended + 20
                while time.monotonic() < deadline:
                    refused = [t for t, status, u in seen if status == 403 and "/play/" in u]
                    shown = page.evaluate("document.getElementById('status').textContent")
                    if refused and shown.startswith("error:"):
                        break
                    time.sleep(0.1)
                else:
                    raise AssertionError(f"hls.js went on: {shown!r}, {seen[-3:]}")
                assert refused[0] - ended <= BOUND, f"first refusal {refused[0] - ended:.2f} s after X-Terminate"
                assert "networkError" in shown, shown
                # the player stops and shows the server's reason
                deadline = time.monotonic() + 5
                while "terminated by another device" not in shown and time.monotonic() < deadline:
                    time.sleep(0.1)
                    shown = page.evaluate("document.getElementById('status').textContent")
                assert shown.endswith("session ended: terminated by another device"), shown
                # what the player was told
                assert c.get(url).text == "session ended: terminated by another device"
                browser.close()
    finally:
        if sender is not None:
            sender.stop()
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
