"""A small in-process history of the session counters, for the dashboard's last-hour charts.

Prometheus keeps history for whoever scrapes it; the console must work without one, so a
background task samples the same counters every few seconds and keeps one hour of samples.
Counters start at zero with the process, so before the first sample every value is zero.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass

OUTCOMES = ("admissions", "denials", "evictions", "terminations", "expiries")
STEP_SECONDS = 5.0
HOUR = 3600.0


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
    """Samples of the last hour (plus one older sample, so the oldest minute has a start)."""

    def __init__(self, keep_seconds: float = HOUR + 120) -> None:
        self.keep = keep_seconds
        self.samples: deque[Sample] = deque()

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        while len(self.samples) > 2 and self.samples[1].at < sample.at - self.keep:
            self.samples.popleft()

    def _at(self, samples: list[Sample], t: float) -> Sample | None:
        i = bisect_right([s.at for s in samples], t)
        return samples[i - 1] if i else None

    def per_minute(self, now: float, current: Sample, application: str | None = None,
                   minutes: int = 60) -> dict:
        """Per-minute increases of each outcome over the last `minutes`, oldest first, and the live
        sessions at each minute's end. `current` is a sample taken now (not stored)."""
        samples = [*self.samples, current]
        end = now
        bounds = [end - 60.0 * (minutes - i) for i in range(minutes + 1)]

        def total(sample: Sample | None, outcome: str) -> float:
            if sample is None:
                return 0.0
            per_app = sample.counts.get(outcome, {})
            if application:
                return per_app.get(application, 0.0)
            return sum(per_app.values())

        at_bounds = [self._at(samples, b) for b in bounds]
        series = {outcome: [total(at_bounds[i + 1], outcome) - total(at_bounds[i], outcome)
                            for i in range(minutes)] for outcome in OUTCOMES}
        live = [s.live if s is not None else None for s in at_bounds[1:]]
        return {"times": bounds[1:], **series, "live": live}
