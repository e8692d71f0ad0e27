"""The policy engine on plain data: conditions, scopes, distinct counts, LIFO and FIFO."""

from __future__ import annotations

import pytest

from streamkeeper.concurrency.engine import evaluate
from streamkeeper.concurrency.policy import (
    Application,
    Condition,
    Policy,
    PolicyCatalog,
    PolicyError,
    Rule,
    Tenant,
)
from streamkeeper.concurrency.session import StreamSession


def catalog(*rules: Rule, apps=("app",), extra_policy: Policy | None = None) -> PolicyCatalog:
    policies = {"p": Policy("p", "t", "policy", tuple(rules))}
    if extra_policy:
        policies[extra_policy.id] = extra_policy
    return PolicyCatalog(
        tenants={"t": Tenant("t", "T")},
        policies=policies,
        applications={a: Application(a, "t", a, ("p",)) for a in apps},
    )


def session(n: int, app="app", **meta) -> StreamSession:
    return StreamSession(id=f"s{n}", app_id=app, tenant="t", idp="i", subject="u", metadata=meta,
                         started=float(n), expires=1000.0, code=f"c{n}")


def test_condition_parsing_and_matching():
    cond = Condition.parse("contentType = live and platform in (ios, 'android') and hba != true")
    assert cond.matches({"contentType": "live", "platform": "ios"})
    assert not cond.matches({"contentType": "live", "platform": "ios", "hba": "true"})
    assert not cond.matches({"contentType": "vod", "platform": "ios"})
    assert not cond.matches({"platform": "ios"})
    assert Condition.parse(cond.render()) == cond
    assert Condition.parse("x not in (a,b)").matches({"x": "c"})
    for bad in ("", "contentType", "a == b", "x in ()", "= live"):
        with pytest.raises(PolicyError):
            Condition.parse(bad)


def test_stream_count_lifo_denies_with_all_conflicts():
    cat = catalog(Rule("3 streams", 3))
    live = [session(i) for i in range(3)]
    decision = evaluate(cat, cat.applications["app"], {}, live)
    assert not decision.allowed
    (v,) = decision.denials
    assert v.current == 4 and [s.id for s in v.conflicts] == ["s0", "s1", "s2"]
    assert evaluate(cat, cat.applications["app"], {}, live[:2]).allowed


def test_scope_counts_each_value_apart():
    cat = catalog(Rule("2 per channel", 2, scope=("channel",)))
    live = [session(0, channel="a"), session(1, channel="a"), session(2, channel="b")]
    app = cat.applications["app"]
    assert not evaluate(cat, app, {"channel": "a"}, live).allowed
    assert evaluate(cat, app, {"channel": "b"}, live).allowed
    assert evaluate(cat, app, {}, live).missing == ("channel",)


def test_distinct_devices_count_values_not_streams():
    cat = catalog(Rule("2 devices", 2, distinct="deviceId"))
    app = cat.applications["app"]
    live = [session(0, deviceId="d1"), session(1, deviceId="d1"), session(2, deviceId="d2")]
    assert evaluate(cat, app, {"deviceId": "d1"}, live).allowed
    denied = evaluate(cat, app, {"deviceId": "d3"}, live)
    assert denied.denials[0].current == 3


def test_condition_limits_which_streams_count():
    cat = catalog(Rule("1 live", 1, condition=Condition.parse("contentType = live")))
    app = cat.applications["app"]
    live = [session(0, contentType="vod"), session(1, contentType="live")]
    assert evaluate(cat, app, {"contentType": "vod"}, live).allowed
    assert not evaluate(cat, app, {"contentType": "live"}, live).allowed


def test_fifo_evicts_the_oldest():
    cat = catalog(Rule("2 streams", 2, conflict="FIFO"))
    live = [session(5), session(1), session(3)]
    decision = evaluate(cat, cat.applications["app"], {}, live)
    assert decision.allowed
    assert sorted(s.id for s, _ in decision.evictions) == ["s1", "s3"]


@pytest.mark.parametrize("order", [[1, 2, 3], [3, 1, 2], [2, 3, 1]])
def test_conflicts_and_evictions_follow_start_order_whatever_order_the_store_gives(order):
    cat = catalog(Rule("1 per channel", 1, scope=("channel",)))
    live = [session(n, channel="news") for n in order]
    decision = evaluate(cat, cat.applications["app"], {"channel": "news"}, live)
    assert [[s.id for s in v.conflicts] for v in decision.denials] == [["s1", "s2", "s3"]]
    fifo = catalog(Rule("2 streams", 2, conflict="FIFO"))
    decision = evaluate(fifo, fifo.applications["app"], {}, live)
    assert [s.id for s, _ in decision.evictions] == ["s1", "s2"]


def test_streams_started_at_the_same_time_are_ordered_by_id():
    cat = catalog(Rule("1 stream", 1, conflict="FIFO"))
    tied = [StreamSession(id=i, app_id="app", tenant="t", idp="i", subject="u", metadata={}, started=7.0,
                          expires=1000.0, code=i) for i in ("b", "a")]
    decision = evaluate(cat, cat.applications["app"], {}, tied)
    assert [s.id for s, _ in decision.evictions] == ["a", "b"]


def test_fifo_distinct_evicts_every_stream_of_the_oldest_value():
    cat = catalog(Rule("1 device", 1, distinct="deviceId", conflict="FIFO"))
    live = [session(0, deviceId="old"), session(2, deviceId="old")]
    decision = evaluate(cat, cat.applications["app"], {"deviceId": "new"}, live)
    assert decision.allowed
    assert {s.id for s, _ in decision.evictions} == {"s0", "s2"}


def test_fifo_with_threshold_zero_denies():
    cat = catalog(Rule("none", 0, conflict="FIFO"))
    decision = evaluate(cat, cat.applications["app"], {}, [session(0)])
    assert not decision.allowed and not decision.evictions


def test_lifo_denial_cancels_fifo_evictions():
    cat = catalog(Rule("fifo", 1, conflict="FIFO"), Rule("lifo", 0))
    decision = evaluate(cat, cat.applications["app"], {}, [session(0)])
    assert not decision.allowed
    assert decision.evictions == []


def test_applications_sharing_a_policy_count_together():
    cat = catalog(Rule("2 streams", 2), apps=("web", "tv"))
    live = [session(0, app="web"), session(1, app="tv")]
    assert not evaluate(cat, cat.applications["web"], {}, live).allowed


def test_sessions_of_other_policies_do_not_count():
    other = Policy("q", "t", "other", (Rule("10", 10),))
    cat = PolicyCatalog(
        tenants={"t": Tenant("t", "T")},
        policies={"p": Policy("p", "t", "p", (Rule("1", 1),)), "q": other},
        applications={"a": Application("a", "t", "a", ("p",)), "b": Application("b", "t", "b", ("q",))},
    )
    assert evaluate(cat, cat.applications["a"], {}, [session(0, app="b")]).allowed


def test_catalog_rejects_dangling_references():
    with pytest.raises(PolicyError):
        PolicyCatalog(tenants={"t": Tenant("t", "T")}, policies={},
                      applications={"a": Application("a", "t", "a", ("missing",))})
    with pytest.raises(PolicyError):
        Rule("bad", -1)


def test_kept_metadata_shares_short_values_and_copies_the_rest():
    from streamkeeper.concurrency.session import SHARED_VALUE, shared_values

    first = shared_values({"channel": "".join(["ne", "ws"]), "title": "t" * (SHARED_VALUE + 1)})
    second = shared_values({"channel": "".join(["n", "ews"]), "title": "t" * (SHARED_VALUE + 1)})
    assert first == second == {"channel": "news", "title": "t" * (SHARED_VALUE + 1)}
    assert first["channel"] is second["channel"]


def test_survivors_after_a_policy_is_tightened_keep_the_oldest_under_lifo_and_the_newest_under_fifo():
    from streamkeeper.concurrency.engine import survivors

    live = [session(i) for i in (3, 1, 0, 2)]  # in any order: judged in the order they started
    for conflict, kept in (("LIFO", {"s0", "s1"}), ("FIFO", {"s2", "s3"})):
        cat = catalog(Rule("two", 2, conflict=conflict))
        app = cat.applications["app"]
        assert survivors(cat, lambda s: app, live) == kept
    # per channel: each channel keeps its own
    live = [session(0, channel="a"), session(1, channel="b"), session(2, channel="a")]
    cat = catalog(Rule("one per channel", 1, scope=("channel",), conflict="FIFO"))
    assert survivors(cat, lambda s: cat.applications["app"], live) == {"s1", "s2"}
    # an application gone from the catalog is not the policy's business: its stream is kept
    cat = catalog(Rule("none", 0))
    assert survivors(cat, lambda s: None, live) == {s.id for s in live}
