"""Fixtures of the edge tests: a real nginx built from the configurations under docs/nginx/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.edge.nginx import Nginx, from_template, need_nginx

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
