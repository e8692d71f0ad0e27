"""Schemathesis against the `/oxm/v1` part of the app's own OpenAPI document: generated
requests (valid and invalid) get no 5xx, only documented status codes, and bodies that match
the documented schemas. Cases are generated up front (Hypothesis is synchronous) and sent to
the running ASGI app in process with a tenant admin's token."""

from __future__ import annotations

import json

import httpx
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.openapi_cases import generate

# Bounded to keep the suite fast on a small machine; every operation still gets both kinds.
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 8}
STRICT = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
LENIENT = [not_a_server_error, content_type_conformance]


async def send(client: httpx.AsyncClient, case, headers: dict[str, str]) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url="http://test", headers=headers)
    body: dict = {}
    if "json" in kwargs:
        body["content"] = json.dumps(kwargs["json"]).encode()
        kwargs.setdefault("headers", {}).setdefault("Content-Type", "application/json")
    elif "data" in kwargs:
        data = kwargs["data"]
        body["content"] = data if isinstance(data, (bytes, str)) else json.dumps(data).encode()
    return await client.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"),
                                headers=kwargs.get("headers"), **body)


async def test_oxm_api_conforms_to_its_openapi_document(oxm_lite):
    oxm = oxm_lite
    document = (await oxm.client.get("/openapi.json")).json()
    document["paths"] = {p: v for p, v in document["paths"].items() if p.startswith("/oxm/v1")}
    schema = schemathesis.openapi.from_dict(document)
    headers = oxm.auth("fuzzer", admin=True)
    # Something to find: a stream with progress and a watchlist entry.
    assert (await oxm.streaming("fuzzer", "a", device="tv", progress=5)).status_code == 204
    assert (await oxm.client.put("/oxm/v1/towatch/a", headers=headers)).status_code == 200

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 12
    failures = []
    sent = 0
    for operation in operations:
        for mode, checks in ((GenerationMode.POSITIVE, STRICT), (GenerationMode.NEGATIVE, LENIENT)):
            for case in generate(operation, mode, EXAMPLES[mode]):
                response = await send(oxm.client, case, headers)
                sent += 1
                try:
                    case.validate_response(response, checks=checks)
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report them all at once
                    failures.append(f"{operation.label} [{mode.value}] {response.status_code}: {exc}")
    assert sent > 11 * EXAMPLES[GenerationMode.NEGATIVE]
    assert not failures, "\n\n".join(failures[:10])
