"""How concurrency decisions look on the `/v2` wire.

One internal model (violations, endings), two renderings in every body: the top-level
`associatedAdvice`/`obligations` of the real service, and `evaluationResult` as the API
reference shows it.
"""

from __future__ import annotations

from email.utils import formatdate
from typing import Any, Iterable

import orjson
from starlette.responses import Response

from ..concurrency.engine import Violation
from ..concurrency.service import (
    ApplicationDisabled,
    ConcurrencyError,
    InvalidRequest,
    MetadataImmutable,
    MetadataMissing,
    PolicyDenied,
    RateLimited,
    SessionEvicted,
    SessionGone,
    SessionNotFound,
    UnknownApplication,
)
from ..concurrency.session import Ending, StreamSession

JSON = "application/json"
NO_STORE = "no-store"
REFRESH_METADATA = {"namespace": "adobe.primetime.cm", "action": "refresh", "arguments": ["metadata"]}


_dates: dict[int, str] = {}


def http_date(ts: float) -> str:
    """RFC 7231 date, remembered: most answers carry the same few seconds (now, now + interval)."""
    second = int(ts)
    text = _dates.get(second)
    if text is None:
        if len(_dates) > 64:
            _dates.clear()
        text = _dates[second] = formatdate(second, usegmt=True)
    return text


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=headers)


def _conflict_entry(s: StreamSession) -> dict[str, Any]:
    return {"sessionId": s.id, "terminationCode": s.code, "applicationId": s.app_id, "metadata": s.metadata}


def _violation_advice(v: Violation) -> tuple[dict, dict]:
    rule = v.rule
    grouped: dict[str, list[dict]] = {}
    for s in v.conflicts:
        key = s.metadata.get(rule.distinct, "") if rule.distinct else s.id
        grouped.setdefault(key, []).append(_conflict_entry(s))
    scope_text = "".join(f" for {k}={val}" for k, val in v.scope.items())
    what = f"distinct {rule.distinct} values" if rule.distinct else "concurrent streams"
    top = {
        "type": "rule-violation",
        "message": f"Rule '{rule.name}' of policy '{v.policy.name}' allows at most {rule.threshold} {what}{scope_text}.",
        "policyName": v.policy.name,
        "ruleName": rule.name,
        "attribute": rule.counted,
        "scope": v.scope,
        "threshold": rule.threshold,
        "conflicts": grouped,
    }
    reference = {
        "id": f"{v.policy.id}/{rule.name}",
        "adviceType": "rule-violation",
        "attributes": {
            "rule": rule.name,
            "threshold": rule.threshold,
            "current": v.current,
            "conflicts": [
                {"sessionId": s.id, "terminationCode": s.code, "metadata": s.metadata} for s in v.conflicts
            ],
        },
    }
    return top, reference


def evaluation_body(top: Iterable[dict], reference: Iterable[dict], obligations: list | None = None,
                    reference_obligations: list | None = None) -> dict[str, Any]:
    return {
        "associatedAdvice": list(top),
        "obligations": obligations or [],
        "evaluationResult": {
            "decision": "DENY",
            "obligations": reference_obligations or [],
            "associatedAdvice": list(reference),
        },
    }


def denial_body(violations: Iterable[Violation]) -> dict[str, Any]:
    pairs = [_violation_advice(v) for v in violations]
    return evaluation_body((t for t, _ in pairs), (r for _, r in pairs))


def _terminator(ending: Ending) -> dict[str, Any]:
    return {
        "sessionId": ending.by,
        "applicationId": ending.by_app,
        "terminationCode": ending.by_code,
        "metadata": ending.by_metadata or {},
    }


def eviction_body(ending: Ending) -> dict[str, Any]:
    scope = ending.scope or {}
    newcomer = _terminator(ending)
    top = {
        "type": "rule-violation",
        "message": f"Rule '{ending.rule}' of policy '{ending.policy}' allows at most {ending.threshold} "
                   "streams; a newer stream took this one's place.",
        "policyName": ending.policy,
        "ruleName": ending.rule,
        "attribute": "sessionId",
        "scope": scope,
        "threshold": ending.threshold,
        "conflicts": {ending.by: [newcomer]},
        "terminator": newcomer,
    }
    reference = {
        "id": f"eviction/{ending.rule}",
        "adviceType": "rule-violation",
        "attributes": {
            "rule": ending.rule,
            "threshold": ending.threshold,
            "current": (ending.threshold or 0) + 1,
            "conflicts": [{k: newcomer[k] for k in ("sessionId", "terminationCode", "metadata")}],
        },
    }
    return evaluation_body([top], [reference])


def remote_termination_body(ending: Ending) -> dict[str, Any]:
    top = {
        "type": "remote-termination",
        "message": "This stream was ended by another stream of the same subscriber.",
        "terminator": _terminator(ending),
    }
    reference = {
        "id": "remote-termination",
        "adviceType": "remote-termination",
        "attributes": {"terminatedBy": ending.by, "reason": "New session requested with X-Terminate header"},
    }
    return evaluation_body([top], [reference])


def missing_metadata_body(attributes: tuple[str, ...]) -> dict[str, Any]:
    top = {
        "type": "missing-metadata",
        "message": f"Metadata required by the application's policies is missing: {', '.join(attributes)}.",
        "attributes": list(attributes),
    }
    reference_obligation = {"id": "refresh-metadata", "fulfillOn": "DENY",
                            "attributes": {"missing": list(attributes)}}
    return evaluation_body([top], [], [REFRESH_METADATA], [reference_obligation])


def advice_body(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    """The body of errors that are not policy decisions (auth, unknown ids, bad input)."""
    return {"associatedAdvice": [{"type": kind, "message": message, **extra}], "obligations": []}


def error_response(exc: ConcurrencyError, now: float) -> Response:
    headers = {"Cache-Control": NO_STORE, "Date": http_date(now)}
    if isinstance(exc, PolicyDenied):
        return json_response(409, denial_body(exc.decision.denials), headers)
    if isinstance(exc, SessionEvicted):
        return json_response(409, eviction_body(exc.ending), headers)
    if isinstance(exc, SessionGone):
        if exc.ending is not None:
            return json_response(410, remote_termination_body(exc.ending), headers)
        return Response(status_code=410, headers=headers)
    if isinstance(exc, MetadataMissing):
        return json_response(400, missing_metadata_body(exc.attributes), headers)
    if isinstance(exc, MetadataImmutable):
        return json_response(400, advice_body("immutable-metadata", str(exc), attributes=exc.attributes), headers)
    if isinstance(exc, SessionNotFound):
        return json_response(404, advice_body("unknown-session", str(exc)), headers)
    if isinstance(exc, RateLimited):
        headers["Expires"] = http_date(exc.retry_at)
        return json_response(429, advice_body("rate-limit", "More than 200 calls a minute; slow down."), headers)
    if isinstance(exc, UnknownApplication):
        headers["WWW-Authenticate"] = 'Basic realm="concurrency-monitoring"'
        return json_response(401, advice_body("unauthorized", str(exc)), headers)
    if isinstance(exc, ApplicationDisabled):
        return json_response(403, advice_body("forbidden", str(exc)), headers)
    status = exc.status if isinstance(exc, InvalidRequest) else 400
    return json_response(status, advice_body("bad-request", str(exc)), headers)
