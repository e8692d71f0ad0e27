"""Prometheus metrics: HTTP traffic, and what happened to sessions, per application.

Each app gets its own registry (tests start many apps in one process). Session outcomes
are read off the store's transactions rather than the HTTP answers, so every API that
admits streams is counted the same way; only denials, which never reach the store as a
change, are counted from `/v2` init answers.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ..concurrency.session import StreamSession, SubjectKey
from ..concurrency.store import SessionStore, SubjectView

T = TypeVar("T")

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = Counter("streamkeeper_http_requests", "HTTP requests by method, route template and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("streamkeeper_http_request_duration_seconds",
                                 "Time to answer an HTTP request, by method and route template",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.admissions = Counter("streamkeeper_admissions", "Sessions started, by application",
                                  ["application"], registry=r)
        self.denials = Counter("streamkeeper_denials", "Session starts refused by a policy, by application",
                               ["application"], registry=r)
        self.evictions = Counter("streamkeeper_evictions", "Sessions ended by a FIFO rule, by application",
                                 ["application"], registry=r)
        self.terminations = Counter("streamkeeper_terminations",
                                    "Sessions ended by another stream's termination code, by application",
                                    ["application"], registry=r)
        self.expiries = Counter("streamkeeper_expiries",
                                "Sessions that ran out without being stopped, counted when forgotten, by application",
                                ["application"], registry=r)
        self.active = Gauge("streamkeeper_active_sessions", "Sessions live right now (all processes)", registry=r)
        # Label lookups cost more than the increments; cache the children on the hot path.
        self._http: dict[tuple[str, str, int], tuple] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._http.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            self._http[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def record(self, events: list[tuple[str, str]]) -> None:
        for outcome, app_id in events:
            getattr(self, outcome).labels(app_id).inc()


def outcomes(before: dict[str, StreamSession], view: SubjectView) -> list[tuple[str, str]]:
    """What a committed transaction did, as (counter, application) pairs."""
    events = []
    for sid, s in view.written.items():
        old = before.get(sid)
        if old is None:
            events.append(("admissions", s.app_id))
        elif s.ended is not None and old.ended is None:
            if s.ended.reason == "evicted":
                events.append(("evictions", s.app_id))
            elif s.ended.reason == "terminated":
                events.append(("terminations", s.app_id))
    for sid in view.dropped:
        old = before.get(sid)
        if old is not None and old.ended is None:
            events.append(("expiries", old.app_id))
    return events


class ObservedStore(SessionStore):
    """A store that counts session outcomes of every committed transaction of the one it wraps."""

    def __init__(self, inner: SessionStore, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def transact(self, key: SubjectKey, fn: Callable[[SubjectView], T]) -> T:
        events: list[tuple[str, str]] = []

        def observed(view: SubjectView) -> T:
            events.clear()  # only the attempt that commits counts
            before = dict(view.sessions)
            result = fn(view)
            events.extend(outcomes(before, view))
            return result

        result = await self.inner.transact(key, observed)
        if events:
            self.metrics.record(events)
        return result

    async def hit(self, bucket: str, limit: int, window: float, now: float) -> float | None:
        return await self.inner.hit(bucket, limit, window, now)

    async def count_live(self, now: float) -> int:
        return await self.inner.count_live(now)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)
