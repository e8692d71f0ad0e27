"""How concurrency decisions look on the `/v2` wire.

One internal model (violations, endings), two renderings in every body: the top-level
`associatedAdvice`/`obligations` of the real service, and `evaluationResult` as the API
reference shows it.
"""

from __future__ import annotations

from email.utils import formatdate
from typing import Any, Sequence

import orjson

from ..caches import make_room
from ..concurrency.engine import Violation
from ..concurrency.service import (
    RETRY_AFTER_SECONDS,
    ApplicationDisabled,
    ConcurrencyError,
    InvalidRequest,
    MetadataImmutable,
    MetadataMissing,
    PolicyDenied,
    RateLimited,
    ServiceUnavailable,
    SessionEvicted,
    SessionGone,
    SessionNotFound,
    UnknownApplication,
)
from ..concurrency.session import Ending

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


def _rule_text(v: Violation) -> tuple[str, str]:
    """The advice message and reference id of a violated rule in a scope (made only when a
    violation's advice is not already serialised, see `_violation_json`)."""
    rule = v.rule
    scope_text = "".join(f" for {k}={val}" for k, val in v.scope.items())
    what = f"distinct {rule.distinct} values" if rule.distinct else "concurrent streams"
    return (f"Rule '{rule.name}' of policy '{v.policy.name}' allows at most {rule.threshold} {what}{scope_text}.",
            f"{v.policy.id}/{rule.name}")


def _violation_advice(v: Violation) -> tuple[dict, dict]:
    rule = v.rule
    distinct = rule.distinct
    grouped: dict[str, list[dict]] = {}
    listed = []
    for s in v.conflicts:
        grouped.setdefault(s.metadata.get(distinct, "") if distinct else s.id, []).append(
            {"sessionId": s.id, "terminationCode": s.code, "applicationId": s.app_id, "metadata": s.metadata})
        listed.append({"sessionId": s.id, "terminationCode": s.code, "metadata": s.metadata})
    message, reference_id = _rule_text(v)
    top = {
        "type": "rule-violation",
        "message": message,
        "policyName": v.policy.name,
        "ruleName": rule.name,
        "attribute": rule.counted,
        "scope": v.scope,
        "threshold": rule.threshold,
        "conflicts": grouped,
    }
    reference = {
        "id": reference_id,
        "adviceType": "rule-violation",
        "attributes": {"rule": rule.name, "threshold": rule.threshold, "current": v.current, "conflicts": listed},
    }
    return top, reference


def evaluation_body(top: list, reference: list, obligations: list | None = None,
                    reference_obligations: list | None = None) -> dict[str, Any]:
    return {
        "associatedAdvice": top,
        "obligations": obligations or [],
        "evaluationResult": {
            "decision": "DENY",
            "obligations": reference_obligations or [],
            "associatedAdvice": reference,
        },
    }


# Advice already serialised, by violation: a full viewer's starts are refused over and over for
# the same rule and the same streams in the way. Keyed by the rule, the count and the newest
# stream in the way (an object that lives as long as its entry holds it, so its id names it);
# a hit is checked against the rest (policy, scope, every stream in the way, by identity).
# Records are replaced, never changed, so the same objects always render the same advice.
_advice_json: dict[tuple, tuple[Violation, bytes, bytes]] = {}
ADVICE_CACHE_MAX = 10_000


def _violation_json(v: Violation) -> tuple[bytes, bytes]:
    conflicts = v.conflicts
    key = (id(v.rule), v.current, id(conflicts[-1]) if conflicts else 0)
    found = _advice_json.get(key)
    if found is not None:
        seen = found[0]  # (tuples compare their items by identity first: the same objects match at once)
        if seen.rule is v.rule and seen.policy is v.policy and seen.conflicts == conflicts and seen.scope == v.scope:
            return found[1], found[2]
    top, reference = _violation_advice(v)
    rendered = orjson.dumps(top), orjson.dumps(reference)
    if found is None:
        make_room(_advice_json, ADVICE_CACHE_MAX)
    _advice_json[key] = (v, *rendered)
    return rendered


def _denial_template() -> tuple[bytes, bytes, bytes]:
    """The JSON of `evaluation_body` around its two advice lists, cut where they go."""
    raw = orjson.dumps(evaluation_body(["@top@"], ["@reference@"]))
    head, rest = raw.split(b'"@top@"')
    middle, tail = rest.split(b'"@reference@"')
    return head, middle, tail


_DENIAL_HEAD, _DENIAL_MIDDLE, _DENIAL_TAIL = _denial_template()


def denial_json(violations: Sequence[Violation]) -> bytes:
    """The body of a policy refusal: `evaluation_body` of each violation's advice, joined from
    the advice already serialised instead of serialised again as a whole."""
    if len(violations) == 1:  # the usual refusal: one rule in the way
        t, r = _violation_json(violations[0])
        return b"".join((_DENIAL_HEAD, t, _DENIAL_MIDDLE, r, _DENIAL_TAIL))
    top, reference = [], []
    for v in violations:
        t, r = _violation_json(v)
        top.append(t)
        reference.append(r)
    return b"".join((_DENIAL_HEAD, b",".join(top), _DENIAL_MIDDLE, b",".join(reference), _DENIAL_TAIL))


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


def operator_termination_body(ending: Ending) -> dict[str, Any]:
    """Ours (the original service has no operators): the player learns who ended its stream."""
    top = {
        "type": "operator-termination",
        "message": f"This stream was ended by the operator {ending.operator!r}.",
        "operator": ending.operator,
    }
    reference = {
        "id": "operator-termination",
        "adviceType": "operator-termination",
        "attributes": {"operator": ending.operator, "reason": "Ended by an operator"},
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


# Canonical-case header names: some players read response headers case-sensitively.
DATE = b"Date"
EXPIRES = b"Expires"
LOCATION = b"Location"
CACHE_CONTROL = b"Cache-Control"
CONTENT_TYPE = b"Content-Type"
CONTENT_LENGTH = b"Content-Length"
RETRY_AFTER = b"Retry-After"
NO_STORE_B = b"no-store"
JSON_B = JSON.encode()
Headers = list[tuple[bytes, bytes]]


def http_date_bytes(ts: float) -> bytes:
    """:func:`http_date` as header bytes (remembered the same way)."""
    second = int(ts)
    raw = _date_bytes.get(second)
    if raw is None:
        if len(_date_bytes) > 64:
            _date_bytes.clear()
        raw = _date_bytes[second] = http_date(second).encode("ascii")
    return raw


_date_bytes: dict[int, bytes] = {}


def json_answer(status: int, body: Any, headers: Headers) -> tuple[int, Headers, bytes]:
    return raw_json_answer(status, orjson.dumps(body), headers)


def raw_json_answer(status: int, raw: bytes, headers: Headers) -> tuple[int, Headers, bytes]:
    headers += ((CONTENT_TYPE, JSON_B), (CONTENT_LENGTH, b"%d" % len(raw)))
    return status, headers, raw


def error_answer(exc: ConcurrencyError, now: float) -> tuple[int, Headers, bytes]:
    """Status, header list (canonical case) and body of a refusal on the `/v2` wire."""
    headers: Headers = [(DATE, http_date_bytes(now)), (CACHE_CONTROL, NO_STORE_B)]
    if isinstance(exc, PolicyDenied):
        return raw_json_answer(409, denial_json(exc.decision.denials), headers)
    if isinstance(exc, SessionEvicted):
        return json_answer(409, eviction_body(exc.ending), headers)
    if isinstance(exc, SessionGone):
        if exc.ending is not None:
            body = operator_termination_body if exc.ending.reason == "operator" else remote_termination_body
            return json_answer(410, body(exc.ending), headers)
        headers.append((CONTENT_LENGTH, b"0"))
        return 410, headers, b""
    if isinstance(exc, MetadataMissing):
        return json_answer(400, missing_metadata_body(exc.attributes), headers)
    if isinstance(exc, MetadataImmutable):
        return json_answer(400, advice_body("immutable-metadata", str(exc), attributes=exc.attributes), headers)
    if isinstance(exc, SessionNotFound):
        return json_answer(404, advice_body("unknown-session", str(exc)), headers)
    if isinstance(exc, RateLimited):
        headers.append((EXPIRES, http_date_bytes(exc.retry_at)))
        return json_answer(429, advice_body("rate-limit", "More than 200 calls a minute; slow down."), headers)
    if isinstance(exc, UnknownApplication):
        headers.append((b"WWW-Authenticate", b'Basic realm="concurrency-monitoring"'))
        return json_answer(401, advice_body("unauthorized", str(exc)), headers)
    if isinstance(exc, ApplicationDisabled):
        return json_answer(403, advice_body("forbidden", str(exc)), headers)
    if isinstance(exc, ServiceUnavailable):
        headers.append((RETRY_AFTER, str(RETRY_AFTER_SECONDS).encode()))
        return json_answer(503, advice_body("service-unavailable", str(exc)), headers)
    status = exc.status if isinstance(exc, InvalidRequest) else 400
    if status == 413:
        headers.append((b"Connection", b"close"))  # the rest of the body is not worth reading
        return json_answer(413, advice_body("request-too-large", str(exc)), headers)
    return json_answer(status, advice_body("bad-request", str(exc)), headers)
