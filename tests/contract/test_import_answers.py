"""`POST /apis/assets/import` against a real server: every answer is one its OpenAPI declares
(JSON, in the HMP error body when refused), also for the longest title and description the
document allows, and a file that is not a video is refused in words that name the problem,
without the server's paths or error numbers."""

from __future__ import annotations

import httpx
import pytest
import requests

from streamkeeper.media.testsignal import make_clip

from .conftest import hmp_cookie


def _import(server, cookie: str, body: bytes, **params) -> requests.Response:
    # requests, not httpx: httpx refuses URLs over 64 KiB on the client side
    return requests.post(f"{server.url}/apis/assets/import", params=params, data=body,
                         headers={"Cookie": cookie, "Content-Type": "video/mp2t"}, timeout=60)


def test_the_longest_title_and_description_allowed_get_an_answer_of_the_api(server, tmp_path):
    cookie = hmp_cookie(server.url)
    params = httpx.get(f"{server.url}/openapi.json").json()["paths"]["/apis/assets/import"]["post"]["parameters"]
    longest = {p["name"]: "\U0001F3AC" * p["schema"]["maxLength"] for p in params}  # four UTF-8 bytes each
    clip = make_clip(tmp_path / "clip.ts", seconds=1)
    r = _import(server, cookie, clip.read_bytes(), **longest)
    assert r.status_code == 201, r.text[:300]
    assert r.headers["content-type"] == "application/json"
    assert r.json()["data"]["title"] == longest["title"]
    r = _import(server, cookie, clip.read_bytes(), title="x", description="d" * (len(longest["description"]) + 1))
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert r.json()["name"] == "InputValidation" and "description" in r.json()["message"]


@pytest.mark.parametrize("body", [b"not a video at all" * 100, b"\0" * 4096, b"\x47" + b"\xff" * 187],
                         ids=["text", "zeros", "one-ts-packet"])
def test_a_file_that_is_not_a_video_is_refused_without_internals(server, body):
    r = _import(server, hmp_cookie(server.url), body)
    assert r.status_code == 400 and r.headers["content-type"] == "application/json", r.text
    error = r.json()
    assert error["code"] == "010001" and error["name"] == "InputValidation" and error["httpStatusCode"] == 400
    assert "not a video" in error["message"]
    assert "/" not in error["message"] and "errno" not in error["message"].lower(), error["message"]
