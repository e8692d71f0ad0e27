"""Scheduled events (``set-live``, ``record``): one-time or weekly, surviving restarts.

The rule that makes restarts safe: before an occurrence is started, the
store records that it was started (``last_run``) and when it must end
(``ends_at``), and moves ``next_run`` past it. A restarted scheduler
therefore never runs an occurrence twice; one that was due while the
server was down is still run if the server is back within ``grace``
seconds, and skipped (counted in ``missed``) otherwise. An occurrence whose
end passed while the server was down is ended on the first tick.

Plain Python with an injected clock (Unix seconds), so it is tested
without waiting.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Awaitable, Callable, Protocol
from zoneinfo import ZoneInfo

DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


@dataclass(slots=True)
class ScheduledEvent:
    id: str
    start: float  # first occurrence, Unix seconds
    duration: float  # seconds
    action: str = "record"  # record | set-live
    weekdays: tuple[int, ...] = ()  # 0 = Monday; empty = one-time
    until: float | None = None  # no weekly occurrence starts after this
    tz: str = "UTC"  # weekdays and time of day are meant in this zone
    parameters: dict = field(default_factory=dict)

    def next_occurrence(self, after: float) -> float | None:
        """The first occurrence starting strictly after ``after``."""
        if not self.weekdays:
            return self.start if self.start > after else None
        zone = ZoneInfo(self.tz)
        first = datetime.fromtimestamp(self.start, zone)
        day = max(first, datetime.fromtimestamp(after, zone)).date() - timedelta(days=1)
        for _ in range(9):
            candidate = datetime.combine(day, first.timetz().replace(tzinfo=None), zone).timestamp()
            if day.weekday() in self.weekdays and candidate >= self.start and candidate > after:
                if self.until is not None and candidate > self.until:
                    return None
                return candidate
            day += timedelta(days=1)
        return None


@dataclass(slots=True)
class RunState:
    next_run: float | None = None
    last_run: float | None = None
    ends_at: float | None = None  # end of the occurrence in progress
    runs: int = 0
    missed: int = 0


class StateStore(Protocol):
    def load(self) -> dict[str, RunState]: ...

    def save(self, event_id: str, state: RunState | None) -> None: ...


class JsonStateStore:
    """Run states in one JSON file, replaced atomically on every change."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._data: dict[str, dict] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def load(self) -> dict[str, RunState]:
        return {k: RunState(**v) for k, v in self._data.items()}

    def save(self, event_id: str, state: RunState | None) -> None:
        if state is None:
            self._data.pop(event_id, None)
        else:
            self._data[event_id] = asdict(state)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(self._data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


Action = Callable[[ScheduledEvent, float], Awaitable[None] | None]


class Scheduler:
    """Decides, at each :meth:`tick`, which occurrences start and which end."""

    def __init__(self, store: StateStore, clock: Callable[[], float], *, on_start: Action, on_end: Action,
                 grace: float = 300.0) -> None:
        self.store = store
        self.clock = clock
        self.on_start = on_start
        self.on_end = on_end
        self.grace = grace
        self.events: dict[str, ScheduledEvent] = {}
        self.states: dict[str, RunState] = store.load()

    def put(self, event: ScheduledEvent) -> None:
        """Add or change an event; a changed schedule is planned from now on."""
        self.events[event.id] = event
        state = self.states.get(event.id)
        if state is None:
            state = self.states[event.id] = RunState()
            # a new event counts from now minus grace: "2 s ago" still runs
            state.next_run = event.next_occurrence(self.clock() - self.grace - 1e-6)
        else:
            after = state.last_run if state.last_run is not None else self.clock() - self.grace - 1e-6
            state.next_run = event.next_occurrence(after)
        self.store.save(event.id, state)

    def remove(self, event_id: str) -> None:
        self.events.pop(event_id, None)
        self.states.pop(event_id, None)
        self.store.save(event_id, None)

    async def tick(self) -> list[tuple[str, str, float]]:
        """Start and end what is due; returns what happened as (event id, 'start'|'end'|'missed', time)."""
        now = self.clock()
        happened = []
        for event_id, event in list(self.events.items()):
            state = self.states.get(event_id)
            if state is None:
                continue
            if state.ends_at is not None and state.ends_at <= now:
                occurrence = state.last_run
                state.ends_at = None
                self.store.save(event_id, state)
                happened.append((event_id, "end", occurrence))
                await _call(self.on_end, event, occurrence)
            while state.next_run is not None and state.next_run <= now:
                occurrence = state.next_run
                state.next_run = event.next_occurrence(occurrence)
                if now - occurrence > self.grace:
                    state.missed += 1
                    self.store.save(event_id, state)
                    happened.append((event_id, "missed", occurrence))
                    continue
                state.last_run = occurrence
                state.ends_at = occurrence + event.duration
                state.runs += 1
                self.store.save(event_id, state)  # before acting: never twice
                happened.append((event_id, "start", occurrence))
                await _call(self.on_start, event, occurrence)
        return happened

    def next_wakeup(self) -> float | None:
        times = [t for s in self.states.values() for t in (s.next_run, s.ends_at) if t is not None]
        return min(times, default=None)


async def _call(action: Action, event: ScheduledEvent, occurrence: float) -> None:
    result = action(event, occurrence)
    if hasattr(result, "__await__"):
        await result


def weekday_numbers(names) -> tuple[int, ...]:
    """Map day names (``MONDAY`` ...) to numbers, ignoring case."""
    return tuple(sorted({DAYS.index(str(n).upper()) for n in names}))


def utc(*args) -> float:
    """Unix seconds of a UTC date and time (test and CLI convenience)."""
    return datetime(*args, tzinfo=timezone.utc).timestamp()
