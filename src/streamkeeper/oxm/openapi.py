"""OpenAPI description of `/oxm/v1`: response bodies and every documented error per route.

The hot route takes the raw request, so its parameters are declared here too.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from .errors import ERROR_SCHEMA
from .service import ID_PATTERN, MAX_ID, MAX_PROGRESS

_JSON = "application/json"


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": ERROR_SCHEMA}}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {_JSON: {"schema": schema}}}


BAD = _error("Malformed parameter (1100)")
AUTH = _error("Token missing (1000), invalid (1001) or expired (1002)")
READ = _error("Cannot read the requested resource (1003)")
WRITE = _error("Cannot change the requested resource (1004)")
MISSING = _error("Requested resource missing, deleted or incorrect (1040)")
UNAVAILABLE = {**_error("The session store or the catalog database cannot be reached or written (1500): "
                      "nothing was decided, retry"),
               "headers": {"Retry-After": {"description": "Seconds to wait before retrying",
                                           "schema": {"type": "integer"}}}}

_LIMITS = {
    "type": "object",
    "required": ["maxPerUser", "maxPerAsset", "maxDevices"],
    "properties": {
        "maxPerUser": {"type": "integer", "minimum": 0, "description": "Streams per user (0: not enforced)"},
        "maxPerAsset": {"type": "integer", "minimum": 0,
                        "description": "Streams of one asset per user (0: not enforced); at most maxPerUser"},
        "maxDevices": {"type": "integer", "minimum": 0, "description": "Devices per user (0: not enforced)"},
    },
}
_PROGRESS = {
    "type": "object",
    "required": ["tenantId", "userId", "assetId", "progress", "timestamp"],
    "properties": {
        "tenantId": {"type": "string"},
        "userId": {"type": "string"},
        "assetId": {"type": "string"},
        "progress": {"type": "integer", "description": "seconds from the start of the asset"},
        "timestamp": {"type": "integer", "description": "milliseconds since the epoch of the last update"},
    },
}
_HISTORY_ITEM = {
    **_PROGRESS,
    "properties": {**_PROGRESS["properties"],
                   "timestamp": {"type": "string", "description": "RFC 3339 UTC time, nanoseconds"}},
}
_COUNTS = {
    "type": "object",
    "description": "asset id → number of streams, or with include=device asset id → {device id → streams}",
    "additionalProperties": {
        "oneOf": [
            {"type": "integer", "minimum": 1},
            {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
        ]
    },
}
_WATCHLIST = {
    "type": "object",
    "required": ["requestID", "timestamp", "assetIDs", "count"],
    "properties": {
        "requestID": {"type": "string"},
        "timestamp": {"type": "string"},
        "assetIDs": {"type": "array", "items": {"type": "string"}},
        "assetIDsNotFound": {"type": "array", "items": {"type": "string"}},
        "assets": {"type": "array", "items": {"type": "object"}},
        "count": {
            "type": "object",
            "required": ["returned"],
            "properties": {k: {"type": "integer", "minimum": 0}
                           for k in ("acquired", "notFound", "returned", "unwanted")},
        },
    },
}
_SECURITY = [{"oxmBearer": []}]


def _stream_parameters() -> list[dict[str, Any]]:
    return [
        {"name": "assetID", "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": ID_PATTERN}},
        {"name": "device", "in": "query", "required": False,
         "schema": {"type": "string", "maxLength": MAX_ID, "pattern": ID_PATTERN},
         "description": "Device name or id; the client address when absent"},
        {"name": "progress", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_PROGRESS},
         "description": "Seconds from the start of the asset; recorded when given"},
    ]


GET_POLICY = dict(
    summary="Get the tenant stream policy",
    responses={200: _ok("The policy; 0 means not enforced", _LIMITS), 400: BAD, 401: AUTH, 403: READ,
               404: MISSING},
)
PUT_POLICY = dict(
    summary="Set the tenant stream policy (tenant admin role)",
    description="Takes effect at the next `streaming` call of every stream of the tenant.",
    responses={200: _ok("The stored policy", _LIMITS),
               400: _error("Malformed parameter (1100), body not a JSON object (1103), field missing or "
                           "out of range (1104), maxPerAsset above maxPerUser (1105)"),
               401: AUTH, 403: WRITE, 404: MISSING},
    openapi_extra={"requestBody": {"required": True, "content": {_JSON: {"schema": _LIMITS}}}},
)
COUNTS = dict(
    summary="Count the caller's running streams per asset",
    responses={200: _ok("Stream counts", _COUNTS), 400: BAD, 401: AUTH, 503: UNAVAILABLE},
)
HISTORY = dict(
    summary="Progress of every asset in progress, newest first",
    responses={200: _ok("Progress records", {"type": "array", "items": _HISTORY_ITEM}), 400: BAD, 401: AUTH,
               403: READ},
)
STREAMING = dict(
    summary="Start or renew a stream (call at least every two minutes)",
    responses={204: _ok("Stream admitted"), 400: BAD, 401: AUTH,
               409: _error("Over a limit of the tenant stream policy (1201 maxPerUser, 1202 maxPerAsset, "
                           "1203 maxDevices); `streams` lists the streams in the way"),
               503: UNAVAILABLE},
    openapi_extra={"parameters": _stream_parameters(), "security": _SECURITY},
)
STOPPED = dict(
    summary="End a stream, recording progress when given",
    responses={204: _ok("Stream ended"), 400: BAD, 401: AUTH, 503: UNAVAILABLE},
    openapi_extra={"parameters": _stream_parameters(), "security": _SECURITY},
)
PROGRESS = dict(
    summary="Progress of one asset",
    responses={200: _ok("Progress", _PROGRESS), 400: BAD, 401: AUTH, 403: READ, 404: MISSING},
)
DELETE_PROGRESS = dict(
    summary="Forget the progress of one asset",
    responses={204: _ok("Deleted"), 400: BAD, 401: AUTH, 403: WRITE, 404: MISSING},
)
WATCHLIST = dict(
    summary="The watchlist; with full=true, with the metadata of the assets",
    responses={200: _ok("The watchlist", _WATCHLIST), 400: BAD, 401: AUTH, 403: READ},
)
WATCH = dict(
    summary="Add an asset to the watchlist",
    response_class=Response,
    responses={200: _ok("Added (or already there)"), 400: BAD, 401: AUTH},
)
UNWATCH = dict(
    summary="Remove an asset from the watchlist",
    response_class=Response,
    responses={200: _ok("Removed"), 400: BAD, 401: AUTH, 403: WRITE, 404: MISSING},
)
