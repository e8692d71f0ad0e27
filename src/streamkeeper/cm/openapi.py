"""OpenAPI description of `/v2`: the routes take the raw request, so their parameters, bodies
and every error they answer are declared here."""

from __future__ import annotations

from typing import Any


_obligation = {
    "type": "object",
    "properties": {
        "namespace": {"type": "string"},
        "action": {"type": "string"},
        "arguments": {"type": "array", "items": {"type": "string"}},
    },
}
_advice = {
    "type": "object",
    "required": ["type", "message"],
    "properties": {
        "type": {"type": "string"},
        "message": {"type": "string"},
        "policyName": {"type": "string"},
        "ruleName": {"type": "string"},
        "attribute": {"type": "string"},
        "scope": {"type": "object", "additionalProperties": {"type": "string"}},
        "threshold": {"type": "integer"},
        "conflicts": {"type": "object"},
        "terminator": {"type": "object"},
    },
}
EVALUATION_RESULT: dict[str, Any] = {
    "type": "object",
    "required": ["associatedAdvice", "obligations"],
    "properties": {
        "associatedAdvice": {"type": "array", "items": _advice},
        "obligations": {"type": "array", "items": _obligation},
        "evaluationResult": {
            "type": "object",
            "required": ["decision", "obligations", "associatedAdvice"],
            "properties": {
                "decision": {"type": "string", "enum": ["DENY"]},
                "obligations": {"type": "array", "items": {"type": "object"}},
                "associatedAdvice": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "adviceType", "attributes"],
                        "properties": {
                            "id": {"type": "string"},
                            "adviceType": {"type": "string"},
                            "attributes": {"type": "object"},
                        },
                    },
                },
            },
        },
    },
}
RUNNING_STREAMS = {
    "type": "object",
    "required": ["runningStreams", "otherStreams"],
    "properties": {
        "runningStreams": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sessionId", "startTime", "applicationId", "applicationName",
                             "terminationCode", "metadata"],
                "properties": {
                    "sessionId": {"type": "string"},
                    "startTime": {"type": "integer", "description": "milliseconds since the epoch"},
                    "applicationId": {"type": "string"},
                    "applicationName": {"type": "string"},
                    "terminationCode": {"type": "string"},
                    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
        "otherStreams": {"type": "integer", "minimum": 0},
    },
}


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _header(description: str) -> dict:
    return {"description": description, "schema": {"type": "string"}}


_DATE = _header("Server time (HTTP date)")
_EXPIRES = _header("When the next heartbeat is due (HTTP date)")
_ERRORS = {
    401: _json("Missing or unknown application id", EVALUATION_RESULT),
    403: _json("The application is disabled", EVALUATION_RESULT),
}
_LIMITED = {
    429: {**_json("More than 200 calls a minute", EVALUATION_RESULT),
          "headers": {"Expires": _header("When calls are accepted again")}},
}
_UNAVAILABLE = {
    503: {**_json("The session store does not answer (advice type `service-unavailable`): nothing was "
                  "decided, retry", EVALUATION_RESULT),
          "headers": {"Retry-After": _header("Seconds to wait before retrying")}},
}
_TOO_LARGE = {
    413: _json("The body is larger than the server's limit (advice type `request-too-large`)",
               EVALUATION_RESULT),
}
_SESSION_ERRORS = {
    404: _json("The session id was never issued by this service", EVALUATION_RESULT),
    409: _json("A FIFO rule ended this session to make room for a newer one", EVALUATION_RESULT),
    410: _json("The session ended. With a body when another stream terminated it, "
               "without one when it expired or was deleted", EVALUATION_RESULT),
}
_FORM = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "maxProperties": 64,
                    "propertyNames": {"minLength": 1, "maxLength": 128},
                    "additionalProperties": {"type": "string", "maxLength": 2048},
                },
            }
        },
    }
}

_PATH = [
    {"name": "idp", "in": "path", "required": True, "schema": {"type": "string"},
     "description": "Identity provider of the subscriber"},
    {"name": "subject", "in": "path", "required": True, "schema": {"type": "string"},
     "description": "The subscriber"},
]
_SESSION = [*_PATH, {"name": "sessionId", "in": "path", "required": True, "schema": {"type": "string"},
                     "description": "Session id from the Location header of the init"}]
_TERMINATE = {
    "name": "X-Terminate", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "Termination codes of streams to end, comma- or newline-separated",
}


def _op(operation_id: str, summary: str, responses: dict, parameters: list | None = None,
        body: bool = False) -> dict:
    op: dict[str, Any] = {
        "tags": ["Concurrency Monitoring"],
        "operationId": operation_id,
        "summary": summary,
        "security": [{"cmBasic": []}],
        "responses": {str(code): value for code, value in responses.items()},
    }
    if parameters:
        op["parameters"] = parameters
    if body:
        op.update(_FORM)
    return op


def paths() -> dict[str, dict]:
    """The `/v2` part of the app's OpenAPI document (the handlers are bare ASGI, see endpoints.py)."""
    return {
        "/v2/metadata": {"get": _op(
            "cm_metadata", "Metadata attributes the application's policies need at session start",
            {200: _json("Attribute names", {"type": "array", "items": {"type": "string"}}), **_ERRORS},
        )},
        "/v2/sessions/{idp}/{subject}": {"post": _op(
            "cm_init", "Start a session",
            {
                202: {"description": "Session started", "headers": {
                    "Location": _header("The new session id"), "Date": _DATE, "Expires": _EXPIRES}},
                400: _json("Required metadata missing (refresh obligation) or malformed metadata",
                           EVALUATION_RESULT),
                **_ERRORS,
                409: _json("A policy denies the stream; the advice lists the conflicting streams",
                           EVALUATION_RESULT),
                415: _json("Metadata was sent in an unsupported content type", EVALUATION_RESULT),
                **_LIMITED, **_TOO_LARGE, **_UNAVAILABLE,
            },
            [*_PATH, _TERMINATE], body=True,
        )},
        "/v2/sessions/{idp}/{subject}/{sessionId}": {
            "post": _op(
                "cm_heartbeat", "Keep a session alive (metadata may be added, not changed)",
                {
                    202: {"description": "Heartbeat recorded", "headers": {"Date": _DATE, "Expires": _EXPIRES}},
                    400: _json("An immutable metadata attribute would change, or malformed metadata",
                               EVALUATION_RESULT),
                    **_ERRORS,
                    **_SESSION_ERRORS,
                    415: _json("Metadata was sent in an unsupported content type", EVALUATION_RESULT),
                    **_LIMITED, **_TOO_LARGE, **_UNAVAILABLE,
                },
                _SESSION, body=True,
            ),
            "delete": _op(
                "cm_delete", "Stop a session",
                {202: {"description": "Session stopped", "headers": {"Date": _DATE}},
                 **_ERRORS, **_SESSION_ERRORS, **_LIMITED, **_UNAVAILABLE},
                _SESSION,
            ),
        },
        "/v2/runningStreams/{idp}/{subject}": {"get": _op(
            "cm_running_streams", "The subscriber's running streams",
            {
                200: {**_json("Running streams of this tenant's applications, and a count of the others",
                              RUNNING_STREAMS),
                      "headers": {"Expires": _header("Expiry of the first stream (absent when none)")}},
                **_ERRORS, **_UNAVAILABLE,
            },
            _PATH,
        )},
    }
