"""A small in-process history of the session counters, for the dashboard's charts.

Prometheus keeps history for whoever scrapes it; the console must work without one, so a
background task samples the same counters every few seconds. The last hour is kept at that step
(the 5-minute chart needs it), the last 24 hours at one sample a minute: about 1,500 samples in
all. Counters start at zero with the process, so a time before the first sample has no value
(the chart shows a gap, not a flat zero).

That history is this process's own. The 1 h and 24 h ranges are read instead from the usage
history (usage/, the table behind `GET /admin/v1/usage`): every worker and server adds to it and it
survives restarts. The 5-minute range, at 5 s a point, stays on the samples where this process is
the whole deployment (the embedded store: one process per data dir); on Redis it too is read from
the usage history, a point a minute. `Ranges` is where that choice is made.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("admissions", "denials", "evictions", "terminations", "expiries")
STEP_SECONDS = 5.0
HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True, slots=True)
class Range:
    """One choice of the dashboard: how far back, in steps of how many seconds."""

    label: str
    span: float
    step: float

    @property
    def points(self) -> int:
        return int(self.span // self.step)


RANGES = {r.label: r for r in (Range("5m", 300.0, STEP_SECONDS), Range("1h", HOUR, 60.0), Range("24h", DAY, 900.0))}


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    counts: dict[str, dict[str, float]]  # outcome -> application -> running total
    live: int | None


def read_counters(metrics) -> dict[str, dict[str, float]]:
    """The running totals of every outcome counter, per application."""
    totals = metrics.sessions.totals()
    return {outcome: dict(totals.get(outcome, {})) for outcome in OUTCOMES}


class History:
    """Every sample of the last hour, one a minute of the last day (plus one older of each, so
    the oldest step has a start)."""

    def __init__(self, keep_seconds: float = HOUR + 120, keep_minutes_seconds: float = DAY + 120) -> None:
        self.keep = keep_seconds
        self.keep_minutes = keep_minutes_seconds
        self.samples: deque[Sample] = deque()
        self.minutes: deque[Sample] = deque()

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        while len(self.samples) > 2 and self.samples[1].at < sample.at - self.keep:
            self.samples.popleft()
        if not self.minutes or sample.at - self.minutes[-1].at >= 60.0:
            self.minutes.append(sample)
            while len(self.minutes) > 2 and self.minutes[1].at < sample.at - self.keep_minutes:
                self.minutes.popleft()

    def _all(self, current: Sample) -> list[Sample]:
        first = self.samples[0].at if self.samples else current.at
        return [*(s for s in self.minutes if s.at < first), *self.samples, current]

    def series(self, now: float, current: Sample, application: str | None = None,
               span: float = HOUR, step: float = 60.0) -> dict:
        """Increases of each outcome per step over the last `span` seconds, oldest first, and the
        live sessions at each step's end; None where the process had not started yet.
        `current` is a sample taken now (not stored)."""
        samples = self._all(current)
        times = [s.at for s in samples]
        count = int(span // step)
        bounds = [now - step * (count - i) for i in range(count + 1)]

        def at(t: float) -> Sample | None:
            i = bisect_right(times, t)
            return samples[i - 1] if i else None

        def total(sample: Sample | None, outcome: str) -> float:
            if sample is None:
                return 0.0  # before the first sample: the counters' start
            per_app = sample.counts.get(outcome, {})
            return per_app.get(application, 0.0) if application else sum(per_app.values())

        at_bounds = [at(b) for b in bounds]
        series = {outcome: [None if at_bounds[i + 1] is None else
                            total(at_bounds[i + 1], outcome) - total(at_bounds[i], outcome)
                            for i in range(count)] for outcome in OUTCOMES}
        live = [s.live if s is not None else None for s in at_bounds[1:]]
        since = self.minutes[0].at if self.minutes else current.at
        return {"times": bounds[1:], "step": step, "since": since, **series, "live": live}

    def per_minute(self, now: float, current: Sample, application: str | None = None, minutes: int = 60) -> dict:
        return self.series(now, current, application, span=60.0 * minutes, step=60.0)


@dataclass(frozen=True, slots=True)
class Usage:
    """Where the deployment's history is: the catalog engine, this process's recorder (for what it
    has not written yet), and whether other processes may be serving too (Redis)."""

    engine: Any
    recorder: Any
    shared: bool


class Ranges:
    """The dashboard's ranges: from the usage history when given (see the module's note), else
    from the in-process samples."""

    def __init__(self, history: History, usage: Usage | None = None) -> None:
        self.history = history
        self.usage = usage

    def series(self, label: str, now: float, current: Sample, application: str | None) -> dict:
        """From the in-process samples."""
        r = RANGES.get(label) or RANGES["1h"]
        return {"range": r.label, "source": "process",
                **self.history.series(now, current, application, span=r.span, step=r.step)}

    async def read(self, label: str, now: float, current: Sample, application: str | None) -> dict:
        r = RANGES.get(label) or RANGES["1h"]
        if self.usage is None or (r.label == "5m" and not self.usage.shared):
            return self.series(label, now, current, application)
        from ..usage.report import Query, first_minute, report

        step = max(int(r.step), 60)
        async with self.usage.recorder.steady:
            # The range ends at the minute of what was written last: a flush after `now` (taken
            # before this lock) writes into a minute that may already be the next one.
            now = max(now, self.usage.recorder.clock())
            end = (int(now) // step + 1) * step  # the step that holds `now` is the last
            q = Query(end - int(r.span) // step * step, end, step, application)
            found = await report(self.usage.engine, q)
            mine = self.usage.recorder.unflushed()  # this process's last seconds, in the last step
        since = await first_minute(self.usage.engine)
        series: dict[str, list] = {o: [] for o in (*OUTCOMES, "live")}
        for i, point in enumerate(found["total"]):
            # the step before the first one recorded is a zero (the chart's line starts from it)
            known = since is not None and point["time"] + 2 * step > since
            for outcome in OUTCOMES:
                n = point[outcome] if known else None
                if i == q.steps - 1:
                    per_app = mine.get(outcome, {})
                    extra = per_app.get(application, 0) if application else sum(per_app.values())
                    n = (n or 0) + extra if (n is not None or extra) else None
                series[outcome].append(n)
            series["live"].append(point["peak"])
        if series["live"] and current.live is not None and application is None:
            series["live"][-1] = max(series["live"][-1] or 0, current.live)
        return {"range": r.label, "source": "deployment", "times": [float(t) for t in range(q.start + step, q.end + 1, step)],
                "step": float(step), "since": float(since if since is not None else now), **series}
