"""The `/v2` refusal body assembled from serialised advice is the documented body, byte for byte
what serialising `evaluation_body` gives."""

import orjson

from streamkeeper.cm.rendering import _violation_advice, denial_json, evaluation_body
from streamkeeper.concurrency.engine import evaluate
from streamkeeper.concurrency.policy import Application, Policy, PolicyCatalog, Rule, Tenant
from streamkeeper.concurrency.session import StreamSession

CATALOG = PolicyCatalog(
    tenants={"t": Tenant("t", "T")},
    policies={"p": Policy("p", "t", "Policy", (Rule("2 streams", 2), Rule("1 per channel", 1, scope=("channel",)),
                                               Rule("1 device", 1, distinct="deviceId")))},
    applications={"a": Application("a", "t", "App", ("p",))},
)


def _session(n: int, channel: str, device: str) -> StreamSession:
    return StreamSession(id=f"s{n}", app_id="a", tenant="t", idp="i", subject="v",
                         metadata={"channel": channel, "deviceId": device, "note": 'quote " and é'},
                         started=100.0 + n, expires=1000.0, code=f"c{n}")


def test_a_refusal_body_is_the_evaluation_body_of_its_violations():
    live = [_session(1, "news", "tv"), _session(2, "sport", "phone")]
    decision = evaluate(CATALOG, CATALOG.applications["a"], {"channel": "news", "deviceId": "tablet"}, live)
    assert len(decision.denials) == 3
    advice = [_violation_advice(v) for v in decision.denials]
    expected = orjson.dumps(evaluation_body([t for t, _ in advice], [r for _, r in advice]))
    assert denial_json(decision.denials) == expected
    assert denial_json(decision.denials) == expected  # again, from the serialised advice
    assert denial_json([]) == orjson.dumps(evaluation_body([], []))
