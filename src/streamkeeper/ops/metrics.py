"""Prometheus metrics: HTTP traffic, and what happened to sessions, per application.

Each app gets its own registry (tests start many apps in one process). Session outcomes
are read off the store's transactions rather than the HTTP answers, so every API that
admits streams is counted the same way; only denials, which never reach the store as a
change, are counted from `/v2` init answers.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from pathlib import Path
from typing import Any

import orjson

from prometheus_client import CollectorRegistry, Gauge, generate_latest
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
        #: Set when requests may arrive forwarded from another process of the deployment (the
        #: value of their forwarding header): that process counted them already.
        self.forward_token: bytes | None = None
        #: One more of a session counter (`admissions`, `denials`, ...) for an application.
        self.count = self.sessions.count

    def observe_view(self, view: SubjectView) -> None:
        """Count what a committed transaction did to sessions (a store's `observer`)."""
        if view.previous:
            for outcome, app_id in outcomes(view):
                self.count(outcome, app_id)


#: Set by `serve --workers N` for its workers: the directory where each writes its counters.
WORKERS_DIR_ENV = "STREAMKEEPER_METRICS_DIR"
SHARE_SECONDS = 1.0


class SharedCounters:
    """One scrape for all the workers of a server. Each worker writes its running totals to
    `<dir>/<pid>.json` every SHARE_SECONDS (and at scrape and at exit), the same plain numbers
    the collectors keep, so the request path does nothing more; a scrape sums every file. A
    worker that died leaves its last totals, so the sums never go down while the server runs;
    the directory is made empty by `serve` at each start.

    The other workers' part of a scrape is up to SHARE_SECONDS old."""

    def __init__(self, metrics: "Metrics", directory: Path) -> None:
        self.metrics = metrics
        self.directory = directory
        self.path = directory / f"{os.getpid()}.json"

    def write(self) -> None:
        m = self.metrics
        state = {
            "requests": [[*key, n] for key, (n,) in list(m.http.counts.items())],
            "latency": [[*key, hist] for key, hist in list(m.http.latency.items())],
            "sessions": [[*key, n] for key, n in list(m.sessions.counts.items())],
        }
        partial = self.path.with_suffix(".tmp")
        partial.write_bytes(orjson.dumps(state))
        partial.replace(self.path)  # readers see the old file or the new one, never half of one

    def merged(self) -> tuple["_HttpCollector", "_SessionCounters"]:
        """Every worker's totals summed (this one's written first, so they are current)."""
        self.write()
        http, sessions = _HttpCollector(), _SessionCounters(most=1 << 62)
        for path in sorted(self.directory.glob("*.json")):
            try:
                state = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # a worker's file that vanished, or one from something else
            for method, route, status, n in state.get("requests", ()):
                count = http.counts.setdefault((method, route, status), [0])
                count[0] += n
            for method, route, hist in state.get("latency", ()):
                mine = http.latency.get((method, route))
                if mine is None:
                    http.latency[(method, route)] = list(hist)
                else:
                    http.latency[(method, route)] = [a + b for a, b in zip(mine, hist)]
            for outcome, app_id, n in state.get("sessions", ()):
                sessions.counts[(outcome, app_id)] = sessions.counts.get((outcome, app_id), 0) + n
        return http, sessions

    def render(self) -> bytes:
        http, sessions = self.merged()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(http)
        registry.register(sessions)
        registry.register(_Single(self.metrics.active))
        return generate_latest(registry)


class _Single:
    """Re-exposes one metric of another registry."""

    def __init__(self, metric) -> None:
        self.metric = metric

    def collect(self):
        return self.metric.collect()


def workers_dir() -> Path | None:
    """The directory of `SharedCounters` when this process is one of several workers."""
    where = os.environ.get(WORKERS_DIR_ENV)
    return Path(where) if where else None


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
