"""Swagger UI works offline: the page and its assets come from this server, never from a CDN."""

from __future__ import annotations

import re


async def test_swagger_ui_is_self_hosted(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by us"
        assert (await client.get(asset)).status_code == 200


async def test_openapi_describes_every_v2_route_with_its_errors(client):
    spec = (await client.get("/openapi.json")).json()
    init = spec["paths"]["/v2/sessions/{idp}/{subject}"]["post"]
    assert {"202", "400", "401", "403", "409", "429"} <= set(init["responses"])
    beat = spec["paths"]["/v2/sessions/{idp}/{subject}/{sessionId}"]
    assert {"404", "409", "410"} <= set(beat["post"]["responses"]) & set(beat["delete"]["responses"])
    assert "/v2/runningStreams/{idp}/{subject}" in spec["paths"]
    assert spec["components"]["securitySchemes"]["cmBasic"]["scheme"] == "basic"
