"""Only STREAMKEEPER_TRUSTED_PROXIES decides whose X-Forwarded-For is believed: uvicorn's own
proxy-header handling (which trusts 127.0.0.1 by default) is off, so a local process cannot
pass for another viewer device or dodge the login throttle."""

from __future__ import annotations

import httpx
import pytest

from streamkeeper.oxm.tokens import TokenKey, mint

from .servers import Server

SECRET = "proxy-header-test-secret-of-32-bytes!!!!"
CONFIG = f"""
[[tenants]]
id = "acme"
name = "Acme"

[[oxm.tokenKeys]]
id = "acme-hs"
tenant = "acme"
algorithm = "HS256"
secret = "{SECRET}"
"""
KEY = TokenKey("acme-hs", "acme", "HS256", SECRET, "streamkeeper", "streamkeeper-oxm")


def serve(tmp_path, **env: str) -> Server:
    config = tmp_path / "acme.toml"
    config.write_text(CONFIG)
    settings = {"STREAMKEEPER_CONFIG": str(config), "STREAMKEEPER_ADMIN_KEY": "k", "STREAMKEEPER_SECRET": "d" * 32,
                **env}
    return Server(tmp_path / "data", settings).spawn().wait_ready()


def device_of_forwarded_stream(server: Server) -> dict:
    auth = {"Authorization": f"Bearer {mint(KEY, 'ann')}"}
    r = httpx.put(f"{server.url}/oxm/v1/streams/a/streaming", headers={**auth, "X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 204, r.text
    return httpx.get(f"{server.url}/oxm/v1/streams/counts?include=device", headers=auth).json()


@pytest.mark.parametrize("trusted, device", [(None, "127.0.0.1"), ("127.0.0.1", "203.0.113.7")])
def test_forwarded_for_is_believed_only_from_configured_proxies(tmp_path, trusted, device):
    env = {"STREAMKEEPER_TRUSTED_PROXIES": trusted} if trusted else {}
    server = serve(tmp_path, **env)
    try:
        assert device_of_forwarded_stream(server) == {"a": {device: 1}}
    finally:
        server.stop()


@pytest.mark.parametrize("trusted", [None, "127.0.0.1"])
def test_login_throttle_counts_the_address_only_trusted_proxies_vouch_for(tmp_path, trusted):
    """21 failed logins from 127.0.0.1, each as another user and each claiming another forwarded
    address: with no trusted proxy they are one address and the 21st is throttled; behind a
    trusted proxy they are 21 viewers and none is."""
    server = serve(tmp_path, **({"STREAMKEEPER_TRUSTED_PROXIES": trusted} if trusted else {}))
    try:
        answers = []
        for n in range(21):
            r = httpx.post(f"{server.url}/apis/authentication/login",
                           json={"username": f"nobody{n}", "password": "wrong"},
                           headers={"X-Forwarded-For": f"198.51.100.{n + 1}"})
            answers.append(r.json()["name"])
        assert answers[:20] == ["InvalidCredentials"] * 20
        assert answers[20] == ("InvalidCredentials" if trusted else "TooManyFailedLogins")  # 401 either way
    finally:
        server.stop()
