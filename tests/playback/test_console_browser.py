"""Enforced playback in the console, in Chromium against a real server: an operator grants a video
through the Playback page, switches an application's fetch heartbeat off, sees on the dashboard
that a session plays through a token and when it last fetched, and ends it there: the player's
next fetch is refused. The pages pass axe-core and fit a phone's width."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from tests.browser import CHROMIUM, need_browser
from tests.console.test_console_browser import AXE, _axe
from tests.media.test_http import _serve, _wait_up

from .test_processes import import_video

ADMIN_KEY = {"X-Admin-Key": "k" * 32}  # what _serve sets
PASSWORD = "admin-password-1"
AUTH = ("demo-app", "")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _sign_in(page) -> None:
    page.goto("/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _field(page, name):
    return page.locator(f"#object-form [data-field={name}]").locator("input, select, textarea").first


def test_grants_options_and_the_dashboard_in_the_console(tmp_path, clip):
    need_browser()
    assert AXE.exists(), "axe-core is missing: run `make axe` (make test does)"
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    proc = _serve(tmp_path / "data", port)
    try:
        with httpx.Client(base_url=base, timeout=30) as c, sync_playwright() as pw:
            _wait_up(c, proc)
            video = import_video(c, clip)
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_context(base_url=base, viewport={"width": 1440, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            _sign_in(page)

            page.goto("/console/admin/playback-grants")
            page.wait_for_load_state("networkidle")
            assert page.locator("#empty").is_visible()
            page.click("#new")
            _field(page, "application").select_option("demo-app")
            _field(page, "video").fill(video)
            assert page.locator("#object-form [data-field=source]").is_hidden()
            page.click("#save")
            page.wait_for_selector(f"#objects >> text={video}")
            assert c.get("/admin/v1/playback-grants", headers=ADMIN_KEY).json()[0]["video"] == video
            page.screenshot(path=str(SHOTS / "playback-grants-1440.png"), full_page=True)

            page.goto("/console/admin/playback-applications")
            page.wait_for_load_state("networkidle")
            row = page.locator("#objects tr[data-id=demo-app]")
            assert "yes" in row.inner_text()
            row.locator("button[data-edit]").click()
            page.locator("#object-form [data-field=fetchHeartbeat] input").uncheck()
            page.click("#save")
            page.wait_for_selector("#editor", state="hidden")
            page.wait_for_function("document.querySelector('#objects tr[data-id=demo-app]').innerText.includes('no')")
            assert c.get("/admin/v1/playback-applications/demo-app", headers=ADMIN_KEY).json()["fetchHeartbeat"] is False

            r = c.post("/v2/sessions/adobe/dana", auth=AUTH)
            sid = r.headers["Location"]
            url = c.post(f"/v2/sessions/adobe/dana/{sid}/playback", auth=AUTH, data={"video": video}).json()["path"]
            assert c.get(url).status_code == 200
            page.goto("/console/dashboard")
            page.fill("#lookup input[name=subject]", "dana")
            page.click("#lookup button[type=submit]")
            cell = page.locator("#subject-streams td.playback")
            cell.wait_for()
            assert cell.inner_text().startswith("enforced, last fetch"), cell.inner_text()
            page.screenshot(path=str(SHOTS / "dashboard-playback-1440.png"), full_page=True)
            page.once("dialog", lambda d: d.accept())
            page.locator(f"button[data-end='{sid}']").click()
            page.wait_for_selector("text=No running streams for dana")
            r = c.get(url)
            assert r.status_code == 403 and r.text == "session ended: ended by an operator"

            problems = []
            phone = browser.new_context(base_url=base, viewport={"width": 390, "height": 844}).new_page()
            _sign_in(phone)
            for path in ("/console/admin/playback-grants", "/console/admin/playback-applications"):
                for p in (page, phone):
                    p.goto(path)
                    p.wait_for_load_state("networkidle")
                    problems += [f"{path}: {v}" for v in _axe(p)]
                    overflow = p.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
                    if overflow > 0:
                        problems.append(f"{path}: {overflow} px of sideways scroll")
            phone.goto("/console/admin/playback-grants")
            phone.wait_for_load_state("networkidle")
            phone.screenshot(path=str(SHOTS / "playback-grants-390.png"), full_page=True)
            phone.click("#new")
            phone.wait_for_selector("#object-form .field")
            phone.screenshot(path=str(SHOTS / "playback-grant-editor-390.png"), full_page=True)
            problems += [f"grant editor: {v}" for v in _axe(phone)]
            assert not problems, "\n".join(problems)
            browser.close()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
