"""Every refusal of `/oxm/v1`, and the one error body they are all rendered as.

The body is ``{"code": <int>, "message": <str>, "status": <http status>}`` plus, for some
errors, fields that say more (a 409 names the limit and the streams in the way).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from ..concurrency.service import RETRY_AFTER_SECONDS
from ..feature import Problem

# Authentication and authorization.
TOKEN_MISSING = 1000
TOKEN_INVALID = 1001
TOKEN_EXPIRED = 1002
FORBIDDEN_READ = 1003
FORBIDDEN_WRITE = 1004
# Lookups.
NOT_FOUND = 1040
# Malformed requests: parameters in general, then the stream policy body.
BAD_REQUEST = 1100
METHOD_NOT_ALLOWED = 1101
POLICY_NOT_JSON = 1103
POLICY_BAD_FIELD = 1104
POLICY_INCONSISTENT = 1105
BODY_TOO_LARGE = 1106  # 413: the request body is over the server's limit
# Stream limits, one code per limit of the tenant stream policy.
LIMIT_CODES = {"maxPerUser": 1201, "maxPerAsset": 1202, "maxDevices": 1203}
# 503: the session store cannot be reached or written; nothing was decided, retry (our own code:
# the document lists no server-side failure).
UNAVAILABLE = 1500


class OxmError(Exception):
    """A documented 4xx answer; `extra` holds additional body fields."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "status": self.status, **self.extra}

    def answer(self) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Status, header list (canonical names) and JSON body: what the hot route sends."""
        body = orjson.dumps(self.body())
        headers = [(b"Content-Type", b"application/json"), (b"Content-Length", b"%d" % len(body))]
        if self.status == 401:
            headers.append((b"WWW-Authenticate", b"Bearer"))
        elif self.status == 503:
            headers.append((b"Retry-After", b"%d" % RETRY_AFTER_SECONDS))
        return self.status, headers, body

    def response(self) -> Response:
        status, headers, body = self.answer()
        return Response(body, status_code=status, headers={k.decode(): v.decode() for k, v in headers})


def unauthorized(code: int, message: str) -> OxmError:
    return OxmError(401, code, message)


def forbidden(code: int, message: str) -> OxmError:
    return OxmError(403, code, message)


def not_found(message: str) -> OxmError:
    return OxmError(404, NOT_FOUND, message)


def bad_request(message: str, code: int = BAD_REQUEST) -> OxmError:
    return OxmError(400, code, message)


def unavailable(message: str) -> OxmError:
    return OxmError(503, UNAVAILABLE, message)


def from_http_status(status: int, detail: str) -> OxmError:
    """An error raised by the framework itself (unknown path, wrong method) in the OXM form."""
    if status == 404:
        return OxmError(404, NOT_FOUND, detail)
    if status == 405:
        return OxmError(405, METHOD_NOT_ALLOWED, detail)
    if status == 413:
        return OxmError(413, BODY_TOO_LARGE, detail)
    return OxmError(status, BAD_REQUEST, detail)


def from_validation(errors: list[dict]) -> OxmError:
    problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
    return OxmError(400, BAD_REQUEST, problems or "invalid request")


# OpenAPI schema of the error body, shared by every documented error response.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "status"],
    "properties": {
        "code": {"type": "integer", "description": "OXM error code (1000-1004 auth, 1040 not found, "
                                                    "1100-1106 bad request, 1201-1203 stream limits)"},
        "message": {"type": "string"},
        "status": {"type": "integer", "description": "the HTTP status, repeated"},
        "limit": {"type": "string", "enum": list(LIMIT_CODES)},
        "max": {"type": "integer"},
        "current": {"type": "integer"},
        "streams": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["assetId", "deviceId", "startedAt"],
                "properties": {
                    "assetId": {"type": "string"},
                    "deviceId": {"type": "string"},
                    "startedAt": {"type": "string"},
                },
            },
        },
    },
}


def render_problem(problem: Problem) -> Response:
    """`/oxm`'s error body for refusals found outside its handlers (see feature.py)."""
    if problem.kind == "invalid":
        return from_validation(list(problem.errors)).response()
    if problem.kind == "unavailable":
        return unavailable(problem.message).response()
    return from_http_status(problem.status, problem.message).response()
