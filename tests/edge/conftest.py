"""Fixtures of the edge tests: a real nginx built from the configurations under docs/nginx/."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.edge.nginx import Nginx, from_template, need_nginx
from tests.process import Server

DOCS = Path(__file__).resolve().parents[2] / "docs" / "nginx"
EDGE_SECRET = "edge-secret-for-tests-0123456789"


@pytest.fixture
def nginx(tmp_path: Path):
    """Start nginx with a server block: `nginx(template_name, values)` or `nginx(text=...)`.

    `values` maps the documented example values to this test's; `listen 8080` becomes the free
    port nginx is given. Every nginx started is stopped at the end."""
    binary = need_nginx()
    started: list[Nginx] = []

    def start(template: str | None = None, values: dict[str, str] | None = None, *, text: str | None = None,
              access_log: bool = False) -> Nginx:
        if text is None:
            assert template is not None
            text = from_template(DOCS / template, {"listen 8080": "listen 127.0.0.1:{port}", **(values or {})})
        root = tmp_path / f"nginx-{len(started)}"
        server = Nginx(root, text, binary=binary, access_log=access_log)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def segment_dir(tmp_path: Path) -> Path:
    """A directory for the files nginx serves (`hls/<asset>/...` under it)."""
    path = tmp_path / "edge-files"
    path.mkdir()
    return path


ADMIN_PASSWORD = "edge-admin-password-1"
APP = ("demo-app", "")  # demo catalog: 3 streams per subject, the fourth refused (or X-Terminate)


class Origin:
    """A real `streamkeeper serve` with an imported video granted to demo-app: the origin nginx
    stands in front of. Its clock is the wall clock, as nginx's is."""

    def __init__(self, server: Server, video: str) -> None:
        self.server = server
        self.url = server.url
        self.video = video
        self.http = httpx.Client(base_url=server.url, timeout=10)

    def session(self, subject: str) -> tuple[str, str]:
        """(session id, playback path `/play/<token>/index.m3u8`) of a new stream of `subject`."""
        r = self.http.post(f"/v2/sessions/adobe/{subject}", auth=APP)
        assert r.status_code == 202, r.text
        sid = r.headers["Location"]
        r = self.http.post(f"/v2/sessions/adobe/{subject}/{sid}/playback", auth=APP, data={"video": self.video})
        assert r.status_code == 201, r.text
        return sid, r.json()["path"]

    def terminate_from_fourth_device(self, subject: str, sid: str) -> httpx.Response:
        """Two more streams, then a fourth that ends `sid` with its termination code; the answer."""
        for _ in range(2):
            assert self.http.post(f"/v2/sessions/adobe/{subject}", auth=APP).status_code == 202
        refused = self.http.post(f"/v2/sessions/adobe/{subject}", auth=APP)
        assert refused.status_code == 409, refused.text
        code = refused.json()["associatedAdvice"][0]["conflicts"][sid][0]["terminationCode"]
        r = self.http.post(f"/v2/sessions/adobe/{subject}", auth=APP, headers={"X-Terminate": code})
        assert r.status_code == 202, r.text
        return r

    def mirror(self, path: str, root: Path) -> list[str]:
        """Copy the segments of a playback URL into the edge's directory the way docs/edge.md says
        (hls/<kind>/<id>/<file>), fetched through the token; the segment URIs of the playlist."""
        base = path.rsplit("/", 1)[0]
        listing = self.http.get(path)
        assert listing.status_code == 200, listing.text
        uris = [line for line in listing.text.splitlines() if line and not line.startswith("#")]
        for uri in uris:
            r = self.http.get(f"{base}/{uri}")
            assert r.status_code == 200, r.text
            target = root / "hls" / "video" / self.video / uri
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(r.content)
        return uris


@pytest.fixture(scope="module", params=["embedded", "redis"])
def origin(request, tmp_path_factory):
    """The origin on each session store (Redis under a private key prefix)."""
    import asyncio

    from streamkeeper.media.testsignal import make_clip
    from tests.conftest import REDIS_URL, drop_redis_keys, redis_available, redis_prefix_for_test

    env = {"STREAMKEEPER_ADMIN_PASSWORD": ADMIN_PASSWORD, "STREAMKEEPER_EDGE_SECRET": EDGE_SECRET}
    if request.param == "redis":
        redis_available()
        prefix = redis_prefix_for_test()
        env |= {"STREAMKEEPER_REDIS_URL": REDIS_URL, "STREAMKEEPER_REDIS_PREFIX": prefix}
        request.addfinalizer(lambda: asyncio.run(drop_redis_keys(REDIS_URL, prefix)))
    work = tmp_path_factory.mktemp(f"origin-{request.param}")
    clip = make_clip(work / "clip.ts", seconds=10)
    server = Server(work / "data", **env)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            r = c.post("/apis/authentication/login", json={"username": "admin", "password": ADMIN_PASSWORD})
            assert r.status_code == 201, r.text
            r = c.post("/apis/assets/import", content=clip.read_bytes(), headers={"content-type": "video/mp2t"})
            assert r.status_code == 201, r.text
            video = r.json()["data"]["id"]
            for _ in range(600):
                if not c.get(f"/apis/assets/{video}").json()["data"]["importing"]:
                    break
                time.sleep(0.05)
            r = c.post("/admin/v1/playback-grants", json={"application": "demo-app", "video": video},
                       headers={"X-Admin-Key": "k"})
            assert r.status_code in (201, 204), r.text
        o = Origin(server, video)
        yield o
        o.http.close()
    finally:
        server.stop()
