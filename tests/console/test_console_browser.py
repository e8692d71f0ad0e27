"""The console in a real browser (Playwright driving Debian's Chromium) against a real server process.

Screenshots of every page, at 1440 and 390 px wide, are written to docs/screenshots/ (committed, listed
in docs/console.md).
Without Chromium or Playwright the tests are skipped locally and fail in CI (`make test` installs
Chromium through apt when it runs as root).
"""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.browser import CHROMIUM, need_browser
from tests.certificates import self_signed
from tests.process import Server

pytestmark = pytest.mark.xdist_group("console-browser")  # one server and one browser per run (--dist loadgroup)

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ADMIN_PASSWORD = "console-admin-1"
VIEWER_PASSWORD = "viewer-password-1"
KEY = {"X-Admin-Key": "k"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_browser()
    srv = Server(tmp_path_factory.mktemp("console"), STREAMKEEPER_ADMIN_PASSWORD=ADMIN_PASSWORD)
    srv.start()
    r = httpx.post(f"{srv.url}/admin/v1/users", headers=KEY, json={
        "username": "vera", "password": VIEWER_PASSWORD, "roles": ["viewer"], "displayName": "Vera Viewer"})
    assert r.status_code == 201, r.text
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def _context(browser, server):
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 860})
    ctx.set_default_timeout(30_000)  # generous: the whole suite shares two cores
    return ctx


def sign_in(page, username="admin", password=ADMIN_PASSWORD):
    page.goto("/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def admin_page(browser, server):
    ctx = _context(browser, server)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page)
    yield page
    ctx.close()
    assert not errors, errors


def test_sign_in_and_dashboard_refreshes_live(browser, server):
    ctx = _context(browser, server)
    page = ctx.new_page()
    page.goto("/")
    assert "/console/login" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator(".error").is_visible()
    shot(page, "sign-in")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/dashboard")
    # an application of its own, so that other tests' streams do not move its count
    r = httpx.post(f"{server.url}/admin/v1/applications", headers=KEY, json={
        "id": "dash-app", "tenant": "adobe", "name": "Dashboard", "policies": ["three-streams"]})
    assert r.status_code == 201, r.text
    live = page.locator("#apps tr[data-app=dash-app] td.live")
    live.wait_for()
    assert live.inner_text() == "0"
    subject = f"dash-{uuid.uuid4().hex[:6]}"
    for _ in range(2):
        assert httpx.post(f"{server.url}/v2/sessions/adobe/{subject}", auth=("dash-app", "")).status_code == 202
    # the table and the charts refresh by themselves
    page.wait_for_function("document.querySelector('#apps tr[data-app=dash-app] td.live').innerText === '2'")
    assert page.locator("#chart-admissions canvas").count() == 1
    page.fill("#lookup input[name=subject]", subject)
    page.click("#lookup button[type=submit]")
    page.wait_for_selector("#subject-streams")
    assert page.locator("#subject-streams tbody tr").count() == 2
    shot(page, "dashboard")
    page.locator("#subject-streams button[data-end]").first.click()
    page.wait_for_function("document.querySelectorAll('#subject-streams tbody tr').length === 1")
    ctx.close()


def _playground(page, app: str, prefix: str) -> None:
    """The playground with `app` chosen and a fresh subject."""
    page.goto("/console/playground")
    page.select_option("#app", app)
    page.fill("#subject", f"{prefix}-{uuid.uuid4().hex[:6]}")


def test_playground_conflict_terminate_admitted(admin_page):
    page = admin_page
    page.click("nav >> text=Playground")
    page.wait_for_url("**/console/playground")
    page.select_option("#app", "demo-app")
    page.fill("#subject", f"pg-{uuid.uuid4().hex[:6]}")
    for n in range(3):
        page.click("#start-button")
        page.wait_for_function(f"document.querySelectorAll('#mine tbody tr').length === {n + 1}")
    assert page.locator("#admitted").is_visible()
    page.click("#start-button")
    page.wait_for_selector("#denied")
    buttons = page.locator("button[data-terminate]")
    assert buttons.count() == 3
    assert "allows at most 3" in page.locator(".advice").inner_text()
    shot(page, "playground-409")
    victim_code = buttons.first.get_attribute("data-terminate")
    buttons.first.click()
    page.wait_for_selector("#admitted")
    page.wait_for_function("document.querySelectorAll('#mine tbody tr').length === 4")
    # the table held three streams before the terminate as well: wait for the victim to leave it
    page.wait_for_function(
        "code => { const t = document.querySelector('#running-streams');"
        " return t && t.querySelectorAll('tbody tr').length === 3 && !t.innerText.includes(code); }",
        arg=victim_code)
    # the terminated stream learns it at its next (here: forced) heartbeat
    for sid_button in page.locator("#mine button[data-beat]").all():
        sid_button.click()
    page.wait_for_selector("#mine >> text=terminated by another stream")
    shot(page, "playground")


def test_playground_late_answer_does_not_redraw_an_older_state(admin_page):
    """A runningStreams answer that arrives after a newer one (a timer and a click overlap) is
    dropped: the table shows the newest state, not the stream that was stopped in between."""
    page = admin_page
    _playground(page, "demo-app", "late")
    page.click("#start-button")
    page.wait_for_selector("#running-streams")
    held = []

    def hold_first(route):
        if held:
            route.continue_()
        else:  # answered now (the stream is running), delivered later
            held.append((route, route.fetch()))

    page.route("**/v2/runningStreams/**", hold_first)
    page.locator("#mine button[data-beat]").first.click()  # a heartbeat refreshes the table
    page.wait_for_function("document.querySelector('#mine tbody tr td:nth-child(4)').innerText === '1'")
    for _ in range(100):  # the refresh is sent right after the beat is drawn
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the refresh after the heartbeat did not reach the route"
    page.locator("#mine button[data-stop]").first.click()
    page.wait_for_selector("#mine >> text=stopped")
    page.wait_for_selector("#running >> text=none")
    route, response = held[0]
    with page.expect_response(lambda r: r.request == route.request):
        route.fulfill(response=response)
    page.evaluate("() => new Promise(done => setTimeout(done, 200))")  # the late answer is handled by now
    assert page.locator("#running-streams").count() == 0
    assert "none" in page.locator("#running").inner_text()
    page.unroute("**/v2/runningStreams/**")


def test_playground_metadata_obligation_form(admin_page):
    page = admin_page
    _playground(page, "demo-app-2", "ob")
    assert "channel" in page.locator("#meta-hint").inner_text()
    page.click("#start-button")
    page.wait_for_selector("#obligation")
    page.fill("#obligation-form input[name=channel]", "Channel1")
    page.click("#obligation-form button[type=submit]")
    page.wait_for_selector("#admitted")
    assert "Channel1" in page.locator("#running-streams").inner_text()


def test_playground_heartbeats_at_expires(admin_page, server):
    r = httpx.post(f"{server.url}/admin/v1/applications", headers=KEY, json={
        "id": "quick-app", "tenant": "adobe", "name": "Quick", "heartbeatInterval": 3, "policies": []})
    assert r.status_code == 201, r.text
    page = admin_page
    _playground(page, "quick-app", "hb")
    page.click("#start-button")
    page.wait_for_selector("#admitted")
    # Expires is 3 s away: the page beats by itself, again and again
    page.wait_for_function("+document.querySelector('#mine tbody tr td:nth-child(4)').innerText >= 2", timeout=20_000)
    assert "running" in page.locator("#mine").inner_text()
    page.click("#mine button[data-stop]")
    page.wait_for_selector("#mine >> text=stopped")


def _open_admin(page, kind):
    page.goto(f"/console/admin/{kind}")
    page.wait_for_load_state("networkidle")


def _field(page, name):
    """The input of one field of the open form (by its label, as a user finds it)."""
    return page.locator(f"#object-form [data-field={name}]").locator("input, select, textarea").first


def _create(page, kind, shows, **values):
    """One object made through its form: text fields filled, saved, then listed."""
    _open_admin(page, kind)
    page.click("#new")
    for name, value in values.items():
        _field(page, name).fill(value)
    page.click("#save")
    page.wait_for_selector(f"#objects >> text={shows}")


def test_policy_edit_changes_the_next_admission(admin_page, server):
    page = admin_page
    page.click("nav >> text=Administration")
    page.click(".side nav >> text=Policies")
    page.wait_for_selector("#objects tbody tr")
    row = page.locator("#objects tbody tr", has_text="3 streams")
    policy_id = row.get_attribute("data-id")
    assert "at most 3 streams in all; a new one is refused" in row.inner_text()
    row.locator("button[data-edit]").click()
    assert page.locator("#editor-title").inner_text() == "Edit policy \u201c3 streams policy\u201d"
    page.get_by_label("At most").fill("1")
    assert "at most 1 stream in all" in page.locator(".rule-sentence").inner_text()
    shot(page, "admin-policies")
    page.click("#save")
    page.wait_for_selector("#editor", state="hidden")
    try:
        page.wait_for_selector("#objects >> text=at most 1 stream in all")
        _playground(page, "demo-app", "pe")
        page.click("#start-button")
        page.wait_for_selector("#admitted")
        page.click("#start-button")
        page.wait_for_selector("#denied")
        assert "allows at most 1" in page.locator(".advice").inner_text()
    finally:
        policy = httpx.get(f"{server.url}/admin/v1/policies/{policy_id}", headers=KEY).json()
        policy["rules"][0]["threshold"] = 3
        body = {k: v for k, v in policy.items() if k != "id"}
        assert httpx.put(f"{server.url}/admin/v1/policies/{policy_id}", headers=KEY, json=body).status_code == 200


def _v2_start(server, app, subject, **metadata):
    return httpx.post(f"{server.url}/v2/sessions/acme/{subject}", auth=(app, ""), data=metadata)


def test_tenant_policy_of_two_rules_and_application_without_json(admin_page, server):
    """An operator sets up a tenant, a policy of two rules and an application with the forms only,
    then edits the policy; /v2 admits exactly what the rules say, before and after."""
    page = admin_page
    _create(page, "tenants", "Acme TV", id="acme", name="Acme TV")

    _open_admin(page, "policies")
    page.click("#new")
    assert page.locator("#editor-title").inner_text() == "New policy"
    _field(page, "id").fill("acme-limits")
    _field(page, "tenant").select_option("acme")
    _field(page, "name").fill("Acme limits")
    rules = page.locator("#object-form .rule")
    first = rules.nth(0)
    first.get_by_label("Name").fill("two per channel")
    first.get_by_label("At most").fill("2")
    first.get_by_label("Counted separately per").fill("channel")
    first.get_by_label("Over the limit").select_option("FIFO")
    assert first.locator(".rule-sentence").inner_text() == "Means: at most 2 streams per channel; the oldest is stopped."
    page.click("[data-add-rule]")
    second = rules.nth(1)
    second.get_by_label("Name").fill("three devices")
    second.get_by_label("At most").fill("-1")  # a mistake: the server's answer is shown at this field
    second.get_by_label("Counting").select_option("distinct")
    second.get_by_label("Attribute").fill("deviceId")
    page.click("#save")
    error = second.locator("[data-error-for='rules.1.threshold']")
    error.wait_for()
    assert "greater than or equal to 0" in error.inner_text()
    assert second.get_by_label("At most").get_attribute("aria-invalid") == "true"
    second.get_by_label("At most").fill("3")
    assert "at most 3 distinct deviceId values in all; a new one is refused" in second.locator(".rule-sentence").inner_text()
    shot(page, "admin-policy-form")
    page.click("#save")
    page.wait_for_selector("#editor", state="hidden")
    page.wait_for_selector("#objects tr[data-id=acme-limits]")
    table = page.locator("#objects tr[data-id=acme-limits]").inner_text()
    assert "at most 2 streams per channel; the oldest is stopped" in table
    assert "at most 3 distinct deviceId values in all" in table

    _open_admin(page, "applications")
    page.click("#new")
    _field(page, "id").fill("acme-player")
    _field(page, "tenant").select_option("acme")
    _field(page, "name").fill("Acme player")
    picker = page.locator("#object-form [data-field=policies]")
    assert "3 streams policy" not in picker.inner_text()  # only the tenant's own policies are offered
    picker.get_by_label("Acme limits").check()
    page.click("#save")
    page.wait_for_selector("#objects tr[data-id=acme-player] >> text=Acme limits")

    sub = f"acme-{uuid.uuid4().hex[:6]}"
    assert _v2_start(server, "acme-player", sub, channel="news", deviceId="tv").status_code == 202
    assert _v2_start(server, "acme-player", sub, channel="news", deviceId="tv").status_code == 202
    third = _v2_start(server, "acme-player", sub, channel="news", deviceId="phone")
    assert third.status_code == 202  # FIFO: admitted, the oldest of the channel is stopped
    assert len(httpx.get(f"{server.url}/v2/runningStreams/acme/{sub}", auth=("acme-player", "")).json()[
        "runningStreams"]) == 2
    assert _v2_start(server, "acme-player", sub, channel="sport", deviceId="tablet").status_code == 202
    refused = _v2_start(server, "acme-player", sub, channel="music", deviceId="laptop")
    assert refused.status_code == 409 and "three devices" in refused.text  # a fourth device, LIFO

    # edit through the form: one stream per channel, refusing the new one
    _open_admin(page, "policies")
    page.locator("#objects tr[data-id=acme-limits] button[data-edit]").click()
    first = page.locator("#object-form .rule").nth(0)
    first.get_by_label("At most").fill("1")
    first.get_by_label("Over the limit").select_option("LIFO")
    page.locator("#object-form .rule").nth(1).get_by_role("button", name="Remove rule 2").click()
    page.click("#save")
    page.wait_for_selector("#editor", state="hidden")
    page.wait_for_selector("#objects tr[data-id=acme-limits] >> text=at most 1 stream per channel; a new one is refused")
    sub = f"acme-{uuid.uuid4().hex[:6]}"
    assert _v2_start(server, "acme-player", sub, channel="news").status_code == 202
    assert _v2_start(server, "acme-player", sub, channel="news").status_code == 409
    assert _v2_start(server, "acme-player", sub, channel="sport").status_code == 202


def test_administration_pages_list_every_kind(admin_page):
    page = admin_page
    expected = {"users": "admin", "groups": None, "roles": "Administrator", "categories": None,
                "tenants": "adobe", "applications": "demo-app-2", "policies": "3 streams", "token-keys": None}
    for kind, text in expected.items():
        _open_admin(page, kind)
        if text:
            assert text in page.locator("#objects").inner_text(), kind
        else:
            assert page.locator("#empty").is_visible() or page.locator("#objects tbody tr").count(), kind
    # no Delete where it cannot work: built-in roles, the signed-in administrator
    _open_admin(page, "roles")
    assert page.locator("#objects tr", has_text="Administrator").locator("button[data-delete]").count() == 0
    _open_admin(page, "users")
    assert page.locator("#objects tr", has_text="admin").first.locator("button[data-delete]").count() == 0
    assert page.locator("#objects tr", has_text="vera").locator("button[data-delete]").count() == 1
    # a refusal of the service lands at the field it names
    _open_admin(page, "tenants")
    page.click("#new")
    _field(page, "id").fill("adobe")
    _field(page, "name").fill("Adobe again")
    page.click("#save")
    page.wait_for_selector("[data-error-for=id] >> text=already exists")
    assert _field(page, "id").get_attribute("aria-invalid") == "true"
    page.click("#cancel")
    # a role through the permission matrix
    _open_admin(page, "roles")
    page.click("#new")
    _field(page, "name").fill("Archivist")
    page.get_by_label("Recordings: download").check()
    page.click("#save")
    page.wait_for_selector("#objects >> text=Archivist")
    assert "download" in page.locator("#objects tr", has_text="Archivist").inner_text()
    # a category from the console
    _create(page, "categories", "Room", label="Room", values="A, B")
    assert "A, B" in page.locator("#objects tr", has_text="Room").inner_text()
    _open_admin(page, "users")
    page.wait_for_selector("#objects >> text=vera")
    shot(page, "admin-users")


def _clip(tmp: Path) -> Path:
    from streamkeeper.media.testsignal import make_clip

    return make_clip(tmp / "clip.ts", seconds=2.0, width=320, height=180)


def test_media_live_library_and_video(admin_page, server, tmp_path):
    page = admin_page
    clip = _clip(tmp_path)
    r = httpx.post(f"{server.url}/admin/v1/categories", headers=KEY,
                   json={"label": "Venue", "values": ["Hall", "Lab"], "multipleValues": False})
    assert r.status_code == 201, r.text
    # a live UDP source fed by a looping test signal
    from streamkeeper.media.testsignal import UdpSender
    from tests.process import free_port

    port = free_port()
    page.goto("/console/media")
    page.click("#sources-card summary")
    page.fill("#new-source input[name=name]", "Lobby camera")
    page.fill("#new-source input[name=port]", str(port))
    page.click("#new-source button[type=submit]")
    page.wait_for_selector(".tile.source >> text=Lobby camera")
    sender = UdpSender(clip, ("127.0.0.1", port), loops=30).start()
    try:
        page.wait_for_selector(".tile.source .pill.ok", timeout=20_000)
        page.fill("#new-session input[name=title]", "Lobby live")
        page.click("#new-session button[type=submit]")
        page.wait_for_selector("#sessions >> text=Lobby live")
        page.click("#sessions button[data-open]")
        page.click("#add-source button[type=submit]")
        page.wait_for_selector("#sess-sources >> text=Lobby camera")
        page.fill("#add-event input[name=title]", "Nightly")
        page.fill("#add-event input[name=start]", "2030-01-07T22:00")
        page.select_option("#add-event select[name=type]", "weekly-recurring")
        page.click("#add-event button[type=submit]")
        page.wait_for_selector("#sess-events >> text=Nightly")
        assert "weekly-recurring" in page.locator("#sess-events").inner_text()
        page.click("#sessions button[data-record]")
        page.wait_for_selector("#recordings button[data-pause]")
        page.click("#recordings button[data-pause]")
        page.wait_for_selector("#recordings button[data-resume]")
        page.click("#recordings button[data-resume]")
        page.once("dialog", lambda d: d.accept("goal"))
        page.click("#recordings button[data-hotmark]")
        page.wait_for_selector("#toast >> text=HotMark added")
        page.wait_for_function("document.querySelector('.tile.source img') && document.querySelector('.tile.source img').naturalWidth > 0")
        shot(page, "live")
        # The live source plays in the browser over HLS, through the server's own player.
        watch = page.locator(".tile.source a.watch").first.get_attribute("href")
        player = page.context.new_page()
        player.goto(watch)
        player.wait_for_function("document.getElementById('video').currentTime > 1", timeout=40_000)
        player.close()
        page.click("#recordings button[data-stop]")
        page.wait_for_selector("#recordings >> text=No recording in progress")
    finally:
        sender.stop()
    # an imported video too, then the library
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    r = httpx.post(f"{server.url}/apis/assets/import", params={"title": "Keynote"}, content=clip.read_bytes(),
                   cookies=cookies, timeout=30)
    assert r.status_code == 201, r.text
    page.goto("/console/library")
    page.wait_for_selector(".tile.asset >> text=Keynote")
    page.wait_for_selector(".tile.asset >> text=Lobby live")  # the recording made above
    page.fill("#q", "keynote")
    page.click("#search button[type=submit]")
    page.wait_for_function("document.querySelectorAll('.tile.asset').length === 1")
    page.fill("#q", "")
    page.select_option("#sort", "title")
    page.select_option("#asc", "1")
    page.click("#search button[type=submit]")
    page.wait_for_function("""(() => { const t = [...document.querySelectorAll('.tile.asset .body > a')]
                                        .map(a => a.innerText);
                              return t.length >= 2 && t.every((x, i) => !i || t[i - 1] <= x); })()""")
    page.wait_for_function("[...document.querySelectorAll('.tile.asset img')].every(i => i.complete && i.naturalWidth > 0)",
                           timeout=30_000)
    shot(page, "library")
    page.click(".tile.asset >> text=Keynote")
    page.wait_for_selector("#title >> text=Keynote")
    # the browser plays the MP4 (it asks with Range headers and seeks)
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=30_000)
    duration = page.evaluate("document.getElementById('player').duration")
    assert 1.5 < duration < 3
    page.evaluate("document.getElementById('player').currentTime = 1.0")
    page.wait_for_function("!document.getElementById('player').seeking")
    src = page.evaluate("document.getElementById('player').currentSrc")
    r = httpx.get(src, cookies=cookies, headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.content) == 100 and r.content[4:8] == b"ftyp"
    # ... and over HLS through the server's own player
    player = page.context.new_page()
    player.goto(page.locator("a.watch").get_attribute("href"))
    player.wait_for_function("document.getElementById('video').currentTime > 0.5", timeout=30_000)
    player.close()
    page.wait_for_selector("#cat-form")
    page.select_option("#cat-form select[name=Venue]", "Lab")
    page.click("#cat-form button[type=submit]")
    page.wait_for_selector("#toast >> text=Categories saved")
    page.fill("#shares input[name=name]", "vera")
    page.click("#shares button[type=submit]")
    page.wait_for_selector("#shares >> text=vera")
    page.click("#restream button[type=submit]")
    page.wait_for_selector("#streams button[data-stop]")
    shot(page, "video")
    page.click("#streams button[data-stop]")
    page.wait_for_selector("#streams >> text=No re-stream running")
    # the category filter of the library finds it
    page.goto("/console/library")
    page.select_option("#category-filters select[data-label=Venue]", "Lab")
    page.click("#search button[type=submit]")
    page.wait_for_function("document.querySelectorAll('.tile.asset').length === 1")
    assert "Keynote" in page.locator("#assets").inner_text()


AXE = Path(__file__).resolve().parents[2] / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"wide": (1440, 900), "phone": (390, 844)}


class Visit:
    """Watches a page as a visitor would notice trouble: failed requests, JavaScript errors."""

    def __init__(self, page) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"JavaScript error: {exc}"))
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.method} {r.url} {r.failure}")
                if "net::ERR_ABORTED" not in (r.failure or "") else None)
        page.on("response", lambda r: self.problems.append(f"{r.status}: {r.request.method} {r.url}")
                if r.status >= 400 else None)


def _axe(page) -> list[str]:
    """Violations axe-core finds that are critical or serious, as readable lines."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"] if v["impact"] in ("critical", "serious")]


def test_every_page_is_accessible_fits_a_phone_and_fails_nothing(browser, server, tmp_path):
    """Every page, at 1440 and 390 px wide: no critical or serious axe-core violation, no sideways
    scroll, no failed request, no JavaScript error. The screenshots go to docs/screenshots/."""
    assert AXE.exists(), "axe-core is missing: run `make axe` (make test does)"
    cookies_ctx = _context(browser, server)
    page = cookies_ctx.new_page()
    sign_in(page)
    cookies = {c["name"]: c["value"] for c in cookies_ctx.cookies()}
    cookies_ctx.close()
    r = httpx.post(f"{server.url}/apis/assets/import", params={"title": "Town hall, March"},
                   content=_clip(tmp_path).read_bytes(), cookies=cookies, timeout=30)
    assert r.status_code == 201, r.text
    asset = r.json()["data"]["id"]
    hls = f"/apis/assets/{asset}/hls/index.m3u8"
    pages = {"dashboard": "/console/dashboard", "playground": "/console/playground", "live": "/console/media",
             "library": "/console/library", "video": f"/console/library/{asset}",
             "watch": f"/console/watch?src={hls}&back=/console/library/{asset}&title=Town+hall",
             "viewer-experience": "/console/viewers",
             **{f"admin-{k}": f"/console/admin/{k}" for k in ("users", "groups", "roles", "categories", "tenants",
                                                                 "applications", "policies", "token-keys")}}
    problems = []
    for width_name, (width, height) in WIDTHS.items():
        ctx = browser.new_context(base_url=server.url, viewport={"width": width, "height": height})
        ctx.set_default_timeout(30_000)
        page = ctx.new_page()
        visit = Visit(page)
        page.goto("/console/login")
        page.wait_for_load_state("networkidle")
        problems += [f"sign-in {width_name}: {v}" for v in _axe(page)]
        shot(page, f"sign-in-{width}")
        sign_in(page)
        views = dict(pages)
        views["admin-policy-editor"] = "/console/admin/policies#edit"
        views["admin-role-editor"] = "/console/admin/roles#new"
        views["admin-application-editor"] = "/console/admin/applications#new"
        views["admin-user-editor"] = "/console/admin/users#new"
        for name, path in views.items():
            page.goto(path.split("#")[0])
            page.wait_for_load_state("networkidle")
            if name == "admin-policy-editor":
                page.locator("#objects tbody tr", has_text="2 per channel").locator("button[data-edit]").click()
                page.wait_for_selector("#object-form .rule")
            if path.endswith("#new"):
                page.click("#new")
                page.wait_for_selector("#object-form .field")
            if name == "watch":
                page.wait_for_function("document.getElementById('video').currentTime > 0.3", timeout=30_000)
            if name == "video":
                page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=30_000)
            page.wait_for_timeout(300)
            problems += [f"{name} {width_name}: {v}" for v in _axe(page)]
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                problems.append(f"{name} {width_name}: {overflow} px of sideways scroll")
            shot(page, f"{name}-{width}")
        problems += [f"{width_name}: {p}" for p in visit.problems]
        ctx.close()
    assert not problems, "\n".join(problems)


def test_a_video_being_imported_shows_its_progress(admin_page, server, tmp_path):
    """While a video is imported, the library and its page say so, with the share done when the
    API gives it. The upload is sent slowly, so the import is in progress for a few seconds; where
    the server lists a video only once its upload is complete, the import may finish before the
    page is drawn: then the page must agree with the API that it is ready (no import is faked)."""
    import threading

    page = admin_page
    data = _clip(tmp_path).read_bytes()
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}

    def slowly():
        for i in range(0, len(data), 8192):
            time.sleep(0.1)
            yield data[i:i + 8192]

    answer = {}
    upload = threading.Thread(target=lambda: answer.update(r=httpx.post(
        f"{server.url}/apis/assets/import", params={"title": "Slow import"}, content=slowly(), cookies=cookies,
        timeout=120)))
    upload.start()

    def importing():
        r = httpx.get(f"{server.url}/console/api/lists/assets", params={"q": '"Slow import"'}, cookies=cookies)
        return next((a for a in r.json()["data"] if a.get("importing")), None)

    seen = None
    while upload.is_alive() and seen is None:
        seen = importing()
        time.sleep(0.1)
    upload.join()
    assert answer["r"].status_code == 201, answer["r"].text
    asset = answer["r"].json()["data"]["id"]
    seen = seen or importing()
    page.goto("/console/library")
    tile = page.locator(f".tile.asset[data-id='{asset}']")
    tile.wait_for()
    shown = tile.inner_text()
    if "Importing" in shown:
        assert re.search(r"Importing\u2026( \d{1,3} %)?", shown)
        if seen and seen.get("importProgress", {}).get("totalBytes"):
            assert re.search(r"Importing\u2026 \d{1,3} %", shown)
        shot(page, "library-importing")
    else:
        api = httpx.get(f"{server.url}/apis/assets/{asset}", cookies=cookies).json()["data"]
        assert not api.get("importing"), "the API says importing, the library does not"
    page.goto(f"/console/library/{asset}")
    page.wait_for_selector("#title >> text=Slow import")


def _oxm_viewer(server, user: str) -> None:
    """A viewer who watched one asset and saved another, through /oxm/v1 with a real token."""
    from streamkeeper.oxm.keys import TokenKey
    from streamkeeper.oxm.tokens import mint

    secret = "s" * 40
    r = httpx.post(f"{server.url}/admin/v1/token-keys", headers=KEY,
                   json={"id": "console-hs", "tenant": "adobe", "algorithm": "HS256", "secret": secret})
    assert r.status_code == 201, r.text
    key = TokenKey("console-hs", "adobe", "HS256", secret, "streamkeeper", "streamkeeper-oxm")
    h = {"Authorization": f"Bearer {mint(key, user)}"}
    deadline = time.monotonic() + 10  # other processes pick keys up within seconds; this one at once
    while httpx.put(f"{server.url}/oxm/v1/streams/movie-1/streaming?device=tv&progress=120",
                    headers=h).status_code != 204 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert httpx.put(f"{server.url}/oxm/v1/streams/movie-1/stopped?device=tv&progress=300",
                     headers=h).status_code in (200, 204)
    assert httpx.put(f"{server.url}/oxm/v1/towatch/movie-2", headers=h).status_code in (200, 201, 204)


def test_viewer_experience_page(admin_page, server):
    page = admin_page
    _oxm_viewer(server, "alice")
    page.click("nav >> text=Viewer experience")
    page.wait_for_load_state("networkidle")
    # the policy answers slowly: while it loads, its fields take no typing that the answer would overwrite
    page.evaluate("""() => { const f = window.fetch; window.fetch = (u, i) =>
        String(u).endsWith('/policy') && !(i && i.method === 'PUT')
            ? new Promise(r => setTimeout(r, 1500)).then(() => f(u, i)) : f(u, i); }""")
    page.select_option("#tenant", "adobe")  # other tests add tenants
    assert page.is_disabled("#maxPerUser") and page.is_disabled("#policy button[type=submit]")
    page.fill("#maxPerUser", "3")  # waits until the field is enabled again, with adobe's policy in it
    assert page.input_value("#maxPerAsset") != ""
    page.fill("#maxPerAsset", "1")
    page.fill("#maxDevices", "2")
    page.click("#policy button[type=submit]")
    page.wait_for_selector("#policy-saved")
    page.reload()
    page.wait_for_load_state("networkidle")  # the page's own first fetch is over before we choose
    page.select_option("#tenant", "adobe")
    page.wait_for_function("document.getElementById('maxPerUser').value === '3'")
    assert page.input_value("#maxDevices") == "2"
    page.fill("#user", "alice")
    page.click("#viewer button[type=submit]")
    page.wait_for_selector("#history >> text=movie-1")
    assert "300" in page.locator("#history").inner_text()
    assert "movie-2" in page.locator("#watchlist").inner_text()
    page.fill("#user", "bob")
    page.click("#viewer button[type=submit]")
    page.wait_for_selector("#viewer-result >> text=Nothing watched yet")
    page.fill("#user", "alice")
    page.click("#viewer button[type=submit]")
    page.wait_for_selector("#history >> text=movie-1")
    shot(page, "viewer-experience")


def test_viewer_role_sees_less_and_gets_403(browser, server, tmp_path):
    # the administrator imports a video and shares it with vera through /apis
    admin = httpx.Client(base_url=server.url, timeout=30)
    assert admin.post("/apis/authentication/login",
                      json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 201
    r = admin.post("/apis/assets/import", params={"title": "Shared with Vera"}, content=_clip(tmp_path).read_bytes())
    assert r.status_code == 201, r.text
    asset = r.json()["data"]["id"]
    r = admin.post(f"/apis/assets/{asset}/shares", json={"shareType": "USER", "name": "vera", "permission": "WATCH"})
    assert r.status_code == 201, r.text
    session = admin.post("/apis/sessions", json={"title": "Town hall", "active": True}).json()["data"]["id"]
    r = admin.post(f"/apis/sessions/{session}/shares", json={"shareType": "USER", "name": "vera", "permission": "WATCH"})
    assert r.status_code == 201, r.text
    admin.close()
    ctx = _context(browser, server)
    page = ctx.new_page()
    sign_in(page, "vera", VIEWER_PASSWORD)
    assert page.url.endswith("/console/library")
    nav = page.locator("header nav").inner_text()
    assert "Library" in nav and "Administration" not in nav and "Dashboard" not in nav and "Playground" not in nav
    # the video shared with vera is in her library
    page.wait_for_selector(".tile.asset >> text=Shared with Vera")
    shot(page, "library-viewer")
    # her share (WATCH) plays the video; download, re-stream and sharing are not offered
    page.click(".tile.asset >> text=Shared with Vera")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    assert page.locator("#downloads").count() == 0 and page.locator("#restream").count() == 0
    assert page.locator("#shares").count() == 0
    assert page.request.get(f"{server.url}/apis/assets/{asset}/download?fileType=mp4").status == 403
    page.goto("/console/media")  # sessions shared with vera, but no sources: her role has no Sources VIEW
    assert page.locator("#sources-card").is_hidden()
    page.wait_for_selector("#sessions >> text=Town hall")
    assert page.locator("#sessions button[data-record]").count() == 0  # a Viewer may not record
    for path in ("/console/admin/users", "/console/dashboard", "/console/playground"):
        response = page.goto(path)
        assert response.status == 403, path
        assert "Forbidden" in page.content()
    assert page.request.get(f"{server.url}/admin/v1/tenants").status == 403
    ctx.close()


def test_sign_out(admin_page, server):
    page = admin_page
    page.goto("/console/dashboard")
    page.click("text=Sign out")
    page.wait_for_url("**/console/login")
    page.goto("/console/dashboard")
    assert "/console/login" in page.url
    assert page.request.get(f"{server.url}/apis/authentication/login").status == 401
    assert page.request.get(f"{server.url}/admin/v1/tenants").status == 401


def test_serve_over_tls_signs_in_with_a_secure_cookie(browser, tmp_path):
    from tests.process import free_port

    cert, key = self_signed(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMKEEPER_")}
    env.update({"STREAMKEEPER_SECRET": "d" * 32, "STREAMKEEPER_ADMIN_KEY": "k",
                "STREAMKEEPER_ADMIN_PASSWORD": ADMIN_PASSWORD})
    proc = subprocess.Popen([sys.executable, "-m", "streamkeeper", "serve", "--port", str(port), "--data-dir",
                             str(tmp_path / "data"), "--tls-cert", str(cert), "--tls-key", str(key)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(cert))  # the test's own certificate, verified
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", verify=trust, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with pytest.raises(httpx.HTTPError):  # plain HTTP is not served on that port
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        r = httpx.post(f"{url}/console/login", verify=trust,
                       data={"username": "admin", "password": ADMIN_PASSWORD, "next": "/console/dashboard"})
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("calypso-session-id=") and re.search(r";\s*secure", cookie, re.I)
        ctx = browser.new_context(base_url=url, ignore_https_errors=True)
        page = ctx.new_page()
        sign_in(page)
        assert page.url == f"{url}/console/dashboard"
        assert page.locator("h1").inner_text() == "Concurrency dashboard"
        assert next(c for c in ctx.cookies() if c["name"] == "calypso-session-id")["secure"] is True
        ctx.close()
    finally:
        proc.kill()
        proc.wait()
