"""Enforced playback over HTTP: the whole app (media engine included) on each session store, a
real video imported from a test clip, and the demo catalog's `/v2` application."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from streamkeeper.admin.config_file import DEMO
from streamkeeper.media.testsignal import make_clip
from streamkeeper.oxm.tokens import mint
from tests.conftest import ADMIN_KEY, Running, make_settings
from tests.hmp.conftest import ADMIN_PASSWORD
from tests.oxm.conftest import ACME_KEY, AUDIENCE, ISSUER, SECRET

APP = "demo-app"  # demo catalog: at most 3 streams per subject, LIFO
ADMIN = {"X-Admin-Key": ADMIN_KEY}


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """10 s of H.264/AAC: five segments of about 2 s."""
    return make_clip(tmp_path_factory.mktemp("playback") / "clip.ts", seconds=10)


class Stage:
    """The running app, an admin client, and the id of an imported video."""

    def __init__(self, running: Running, client: httpx.AsyncClient, clock) -> None:
        self.running = running
        self.app = running.app
        self.c = client
        self.clock = clock
        self.video = ""

    async def import_video(self, path) -> str:
        r = await self.c.post("/apis/assets/import", content=path.read_bytes(), headers={"content-type": "video/mp2t"})
        assert r.status_code == 201, r.text
        video = r.json()["data"]["id"]
        for _ in range(400):
            if not (await self.c.get(f"/apis/assets/{video}")).json()["data"]["importing"]:
                return video
            await asyncio.sleep(0.05)
        raise AssertionError("the import did not finish")

    async def grant(self, video: str | None = None, app: str = APP, *, owner: str = "application") -> dict:
        r = await self.c.post("/admin/v1/playback-grants", json={owner: app, "video": video or self.video},
                              headers=ADMIN)
        assert r.status_code in (200, 201), r.text
        return r.json()

    async def admin(self, method: str, path: str, json=None) -> httpx.Response:
        return await self.c.request(method, "/admin/v1" + path, json=json, headers=ADMIN)

    async def fetch(self, url: str) -> httpx.Response:
        """The playlist, then its first segment; the first refusal or the segment."""
        r = await self.c.get(url)
        if r.status_code != 200:
            return r
        first = [line for line in r.text.splitlines() if line and not line.startswith("#")][0]
        return await self.c.get(url.rsplit("/", 1)[0] + "/" + first)

    async def refused(self, url: str) -> str:
        r = await self.c.get(url)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("text/plain")
        return r.text

    async def start(self, subject: str, app: str = APP, terminate: str | None = None) -> httpx.Response:
        headers = {"X-Terminate": terminate} if terminate else {}
        return await self.c.post(f"/v2/sessions/adobe/{subject}", auth=(app, ""), headers=headers)

    async def session(self, subject: str, app: str = APP) -> str:
        r = await self.start(subject, app)
        assert r.status_code == 202, r.text
        return r.headers["Location"]

    async def playback(self, subject: str, sid: str, app: str = APP, **form) -> httpx.Response:
        form = form or {"video": self.video}
        return await self.c.post(f"/v2/sessions/adobe/{subject}/{sid}/playback", auth=(app, ""), data=form)

    async def url(self, subject: str, sid: str, app: str = APP, **form) -> str:
        r = await self.playback(subject, sid, app, **form)
        assert r.status_code == 201, r.text
        return r.json()["path"]


CONFIG = DEMO.read_text() + f"""
[[tenants]]
id = "acme"
name = "Acme"

[[oxm.tokenKeys]]
id = "acme-hs"
tenant = "acme"
algorithm = "HS256"
secret = "{SECRET}"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
"""


@pytest.fixture
def wire() -> str:
    return "asgi"


async def open_stage(tmp_path, clock, store: dict, clip, wire: str = "asgi", **settings) -> Stage:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    settings = make_settings(tmp_path, admin_password=ADMIN_PASSWORD, config=config, **store, **settings)
    running = Running(settings, clock, wire)
    client = await running.__aenter__()
    r = await client.post("/apis/authentication/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 201, r.text
    s = Stage(running, client, clock)
    s.video = await s.import_video(clip)
    await s.grant()
    return s


@pytest.fixture
async def stage(tmp_path, clock, store, clip, wire):
    s = await open_stage(tmp_path, clock, store, clip, wire)
    try:
        yield s
    finally:
        await s.running.__aexit__(None, None, None)


def oxm_auth(clock, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(ACME_KEY, user, now=clock.now, ttl=3600)}"}
