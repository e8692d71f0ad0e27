"""Prometheus metrics: HTTP traffic, and what happened to sessions, per application.

Each app gets its own registry (tests start many apps in one process). Session outcomes
are read off the store's transactions rather than the HTTP answers, so every API that
admits streams is counted the same way; only denials, which never reach the store as a
change, are counted from `/v2` init answers.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from ..concurrency.store import SubjectView

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _HttpCollector:
    """Request counts and latency histograms kept in plain lists, rendered at scrape time.

    prometheus-client takes a lock on every increment; the event loop is one thread, so
    the hot path here is a dict lookup, a bisect and three additions.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], list[int]] = {}
        # (method, route) -> [bucket counts..., +Inf count, sum of seconds]
        self.latency: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        count = self.counts.get(key)
        if count is None:
            count = self.counts[key] = [0]
        count[0] += 1
        hist = self.latency.get((method, route))
        if hist is None:
            hist = self.latency[(method, route)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        hist[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        hist[-1] += seconds

    def collect(self):
        requests = CounterMetricFamily("streamkeeper_http_requests",
                                       "HTTP requests by method, route template and status",
                                       labels=["method", "route", "status"])
        for (method, route, status), (n,) in list(self.counts.items()):
            requests.add_metric([method, route, str(status)], n)
        yield requests
        latency = HistogramMetricFamily("streamkeeper_http_request_duration_seconds",
                                        "Time to answer an HTTP request, by method and route template",
                                        labels=["method", "route"])
        for (method, route), hist in list(self.latency.items()):
            cumulative, buckets = 0.0, []
            for bound, n in zip((*map(str, LATENCY_BUCKETS), "+Inf"), hist[:-1]):
                cumulative += n
                buckets.append((bound, cumulative))
            latency.add_metric([method, route], buckets, hist[-1])
        yield latency


# Session counters: name (exposed with `_total`) -> help text.
SESSION_COUNTERS = {
    "admissions": "Sessions started, by application",
    "denials": "Session starts refused by a policy, by application",
    "evictions": "Sessions ended by a FIFO rule, by application",
    "terminations": "Sessions ended by another stream's termination code, by application",
    "expiries": "Sessions that ran out without being stopped, counted when forgotten, by application",
}
OTHER_APPLICATIONS = "<other>"


class _SessionCounters:
    """Session outcomes per application in one plain dict, rendered at scrape time: a refused
    start counts one here, and prometheus-client's labelled counters take a lock per increment
    (as `_HttpCollector` explains). Applications past `most` share one label."""

    def __init__(self, most: int = 10_000) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self.most = most

    def count(self, outcome: str, app_id: str) -> None:
        counts = self.counts
        key = (outcome, app_id)
        n = counts.get(key)
        if n is None:
            if outcome not in SESSION_COUNTERS:
                raise KeyError(outcome)
            if len(counts) >= self.most:  # application ids come from callers: stay bounded
                key = (outcome, OTHER_APPLICATIONS)
            n = counts.get(key, 0)
        counts[key] = n + 1

    def totals(self) -> dict[str, dict[str, int]]:
        """Running totals: outcome -> application -> count (every outcome present)."""
        out: dict[str, dict[str, int]] = {name: {} for name in SESSION_COUNTERS}
        for (outcome, app_id), n in list(self.counts.items()):
            out[outcome][app_id] = n
        return out

    def collect(self):
        counts = list(self.counts.items())
        for name, text in SESSION_COUNTERS.items():
            family = CounterMetricFamily(f"streamkeeper_{name}", text, labels=["application"])
            for (outcome, app_id), n in counts:
                if outcome == name:
                    family.add_metric([app_id], n)
            yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.http = _HttpCollector()
        r.register(self.http)
        self.sessions = _SessionCounters()
        r.register(self.sessions)
        self.active = Gauge("streamkeeper_active_sessions", "Sessions live right now (all processes)", registry=r)
        self.observe_request = self.http.observe
        #: One more of a session counter (`admissions`, `denials`, ...) for an application.
        self.count = self.sessions.count

    def observe_view(self, view: SubjectView) -> None:
        """Count what a committed transaction did to sessions (a store's `observer`)."""
        if view.previous:
            for outcome, app_id in outcomes(view):
                self.count(outcome, app_id)


def outcomes(view: SubjectView) -> list[tuple[str, str]]:
    """What a committed transaction did, as (counter, application) pairs."""
    before = view.previous
    events = []
    for sid, s in view.written.items():
        old = before.get(sid)
        if old is None:
            events.append(("admissions", s.app_id))
        elif s.ended is not None and old.ended is None:
            if s.ended.reason == "evicted":
                events.append(("evictions", s.app_id))
            elif s.ended.reason in ("terminated", "operator"):
                events.append(("terminations", s.app_id))
    for sid in view.dropped:
        old = before.get(sid)
        if old is not None and old.ended is None:
            events.append(("expiries", old.app_id))
    return events
