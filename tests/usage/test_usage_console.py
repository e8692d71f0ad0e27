"""The dashboard in a real browser charts the usage history: after some starts, the 1 h range
is read from the deployment's history (not this process's samples) and the CSV link downloads
the same rows as `GET /admin/v1/usage`. The screenshot goes to docs/screenshots/dashboard-usage.png."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.browser import CHROMIUM, need_browser
from tests.process import Server

SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "dashboard-usage.png"
PASSWORD = "usage-admin-password"


@pytest.fixture
def server(tmp_path):
    need_browser()
    srv = Server(tmp_path / "data", STREAMKEEPER_ADMIN_PASSWORD=PASSWORD)
    srv.start()
    yield srv
    srv.stop()


def test_dashboard_charts_the_usage_history_and_links_its_csv(server):
    from playwright.sync_api import sync_playwright

    starts = [httpx.post(f"{server.url}/v2/sessions/adobe/chart", auth=("demo-app", ""), timeout=10).status_code
              for _ in range(4)]
    assert starts == [202, 202, 202, 409]  # the fourth denied by the demo policy
    other = httpx.post(f"{server.url}/v2/sessions/adobe/other", auth=("demo-app-2", ""), data={"channel": "1"},
                       timeout=10)
    assert other.status_code == 202, other.text
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(base_url=server.url, viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto("/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/dashboard")
        page.click("[data-range='1h']")
        page.wait_for_function("document.getElementById('chart-title').innerText === 'Last hour, per minute'")
        page.wait_for_function("document.getElementById('chart-since').innerText.includes('every worker and server')")
        series = page.evaluate("fetch('/console/api/stats?range=1h').then(r => r.json()).then(s => s.series)")
        assert series["source"] == "deployment" and len(series["times"]) == 60
        assert sum(n or 0 for n in series["admissions"]) == 4 and sum(n or 0 for n in series["denials"]) == 1
        assert page.locator("#chart-admissions canvas").count() == 1
        row = page.locator("#apps tr[data-app=demo-app]")
        assert row.locator("td[data-label=Admitted]").inner_text() == "3"
        assert row.locator("td[data-label=Denied]").inner_text() == "1"
        # the CSV link, once the recorder wrote the rows (every 5 s)
        href = page.get_attribute("#csv-day", "href")
        for _ in range(60):
            csv = page.evaluate(f"fetch({href!r}).then(r => r.text())").splitlines()
            if len(csv) >= 3:
                break
            page.wait_for_timeout(500)
        assert csv[0] == "time,application,admissions,denials,evictions,terminations,expiries,peak"
        assert sorted(line.split(",")[1:4] for line in csv[1:]) == [["demo-app", "3", "1"], ["demo-app-2", "1", "0"]]
        page.reload()
        page.click("[data-range='1h']")
        page.wait_for_function("document.getElementById('chart-title').innerText === 'Last hour, per minute'")
        page.wait_for_timeout(500)
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOT), full_page=True)
        browser.close()
    assert not errors, errors
