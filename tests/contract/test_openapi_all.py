"""Schemathesis over every operation of `/openapi.json`, against a real server: valid and invalid
generated requests get no 5xx, and every answer has a documented status, content type, headers
and body schema. Cases are generated up front, a bounded number per operation, so that every
operation is exercised (the test fails if one is not) and the run stays short."""

from __future__ import annotations

import base64
from collections import Counter

import httpx
import requests
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import ignored_auth, negative_data_rejection, positive_data_acceptance

from tests.openapi_cases import generate

from .conftest import ADMIN_KEY, hmp_cookie, oxm_admin_token

EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 6}
# The HTTP server refuses a request line over 64 KiB with its own plain-text 400 before any
# application code runs. An invalid case may go past it (a query string longer than a documented
# maxLength): not an API answer, not sent. A valid case must not: the document would allow a
# request that gets an undocumented answer.
MAX_TARGET = 60_000
CM_BASIC = "Basic " + base64.b64encode(b"demo-app:").decode()


def excluded_checks(path: str) -> list:
    # Credentials are injected below, so schemathesis's probing of missing auth does not apply
    # (authentication is tested per API in tests/admin, tests/hmp, tests/cm and tests/oxm).
    excluded = [ignored_auth]
    if path.startswith("/v2/"):
        # The /v2 wire format is lenient on purpose: existing players send extra fields and headers.
        excluded.append(negative_data_rejection)
    if path.startswith(("/admin/", "/apis/")):
        # Generated ids name objects that do not exist (404), and bodies refer to other objects
        # or carry conditions and media settings the schema cannot express: valid-looking input
        # may rightly be refused.
        excluded.append(positive_data_acceptance)
    return excluded


def test_every_operation_follows_the_openapi_document(server):
    document = httpx.get(f"{server.url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    # Query parameters a server does not know are ignored (clients add cache-busters and the like),
    # so an unknown one is not invalid input: invalid cases break the declared parameters only.
    # Credentials are injected (below), so generated or broken credentials would never be sent.
    schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
    operations = [result.ok() for result in schema.get_all_operations()]
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    assert len(operations) == sum(len(set(ops) & methods) for ops in document["paths"].values())
    for path, ops in document["paths"].items():
        for method in set(ops) & methods:
            named = [(p["name"], p["in"]) for p in ops[method].get("parameters", [])]
            assert len(named) == len(set(named)), f"{method} {path} describes a parameter twice"
            if "requestBody" in ops[method]:
                assert "413" in ops[method]["responses"], f"{method} {path} does not document its body limit"
    surfaces = {op.path.split("/")[1] for op in operations}
    assert {"v2", "admin", "oxm", "apis"} <= surfaces

    cookie = hmp_cookie(server.url)
    # Logging out ends a login, so each of those cases gets its own, made before the fuzzed failed
    # logins can make the server refuse more logins from this address (its failed-login throttle).
    spare_logins = [hmp_cookie(server.url) for _ in range(sum(EXAMPLES.values()))]
    auth = {"v2": {"Authorization": CM_BASIC}, "admin": {"X-Admin-Key": ADMIN_KEY},
            "oxm": {"Authorization": f"Bearer {oxm_admin_token(server.url)}"}, "apis": {"Cookie": cookie}}
    session = requests.Session()
    failures: list[str] = []
    statuses: Counter = Counter()
    answered: Counter = Counter()  # valid cases sent, by operation
    for operation in operations:
        surface = operation.path.split("/")[1]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for case in generate(operation, mode, EXAMPLES[mode]):
                kwargs = case.as_transport_kwargs(base_url=server.url)
                target = requests.Request(kwargs["method"], kwargs["url"], params=kwargs.get("params")).prepare()
                if len(target.path_url) > MAX_TARGET:
                    if mode is GenerationMode.POSITIVE:
                        failures.append(f"{operation.label}: a valid request is {len(target.path_url)} bytes long")
                    continue
                headers = dict(auth.get(surface, {}))
                if (operation.method.upper(), operation.path) == ("DELETE", "/apis/authentication/login"):
                    headers["Cookie"] = spare_logins.pop()
                response = case.call(base_url=server.url, headers=headers, session=session)
                statuses[response.status_code // 100] += 1
                if mode is GenerationMode.POSITIVE:
                    answered[operation.label] += 1
                try:
                    case.validate_response(response, headers=headers, excluded_checks=excluded_checks(case.path))
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report them all at once
                    failures.append(f"{operation.label} [{mode.value}] {response.status_code}: {exc}")
    assert statuses[2] > 0 and statuses[4] > 0
    never = [operation.label for operation in operations if not answered[operation.label]]
    assert not never, f"operations never exercised with a valid request: {never}"
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:15])
