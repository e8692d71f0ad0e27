"""The server reaches into uvicorn's httptools protocol (ops/uvicorn_protocol.py): these tests
say plainly when an installed uvicorn no longer has what that module relies on."""

from __future__ import annotations

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from streamkeeper.ops import uvicorn_protocol


def problem_report() -> str | None:
    found = uvicorn_protocol.changes()
    if not found:
        return None
    version = ".".join(uvicorn.__version__.split(".")[:2])
    return f"uvicorn {version} changed: {'; '.join(found)}; check ops/uvicorn_protocol.py"


def test_the_installed_uvicorn_has_what_the_lane_relies_on():
    report = problem_report()
    assert report is None, report


def test_a_missing_internal_is_named_with_the_module_to_check(monkeypatch):
    monkeypatch.delattr(HttpToolsProtocol, "_start_asgi_task")
    monkeypatch.setattr(HttpToolsProtocol, "on_body", lambda self, body, more: None)
    report = problem_report()
    assert report is not None
    assert report.startswith(f"uvicorn {'.'.join(uvicorn.__version__.split('.')[:2])} changed: ")
    assert "HttpToolsProtocol._start_asgi_task is gone" in report
    assert "HttpToolsProtocol.on_body now takes ['self', 'body', 'more']" in report
    assert report.endswith("; check ops/uvicorn_protocol.py")
