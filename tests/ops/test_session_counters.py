"""Session outcome counters: exposed as Prometheus counters, bounded in applications."""

from prometheus_client import generate_latest

from streamkeeper.ops.metrics import OTHER_APPLICATIONS, Metrics


def _exposed(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_counts_are_exposed_per_application_and_read_back_as_totals():
    metrics = Metrics()
    for _ in range(3):
        metrics.count("denials", "app-a")
    metrics.count("admissions", "app-b")
    text = _exposed(metrics)
    assert 'streamkeeper_denials_total{application="app-a"} 3.0' in text
    assert 'streamkeeper_admissions_total{application="app-b"} 1.0' in text
    totals = metrics.sessions.totals()
    assert totals["denials"] == {"app-a": 3} and totals["admissions"] == {"app-b": 1}
    assert totals["expiries"] == {}


def test_applications_past_the_bound_share_one_label_and_nothing_is_lost():
    metrics = Metrics()
    metrics.sessions.most = 4
    for n in range(10):
        metrics.count("denials", f"app-{n}")
    metrics.count("denials", "app-0")  # already counted: keeps its own label
    totals = metrics.sessions.totals()["denials"]
    assert totals["app-0"] == 2
    assert sum(totals.values()) == 11
    assert len(totals) == 5 and totals[OTHER_APPLICATIONS] == 6


def test_an_unknown_outcome_is_a_programming_error():
    metrics = Metrics()
    try:
        metrics.count("admission", "app")
    except KeyError:
        return
    raise AssertionError("a misspelt counter must not be counted silently")
