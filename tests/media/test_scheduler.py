"""Scheduled events with a fake clock: once only, on the right days, across restarts."""

from __future__ import annotations

from streamkeeper.media.scheduler import JsonStateStore, ScheduledEvent, Scheduler, utc, weekday_numbers


class World:
    def __init__(self, path, start: float, grace: float = 60.0) -> None:
        self.now = start
        self.log: list[tuple[str, str, float]] = []
        self.path = path
        self.grace = grace
        self.events: list[ScheduledEvent] = []
        self.boot()

    def boot(self) -> None:
        """A (re)started server: fresh scheduler over the same state file and event list."""
        self.scheduler = Scheduler(JsonStateStore(self.path), lambda: self.now, grace=self.grace,
                                   on_start=lambda e, t: self.log.append(("start", e.id, t)),
                                   on_end=self._end)
        for e in self.events:
            self.scheduler.put(e)

    async def _end(self, e, t):
        self.log.append(("end", e.id, t))

    def add(self, event: ScheduledEvent) -> None:
        self.events.append(event)
        self.scheduler.put(event)

    async def run_until(self, t: float, step: float = 0.5) -> None:
        while self.now < t:
            self.now = min(t, self.now + step)
            await self.scheduler.tick()


async def test_one_time_event_fires_once_for_its_duration_and_never_again(tmp_path):
    w = World(tmp_path / "s.json", start=1_000.0)
    w.add(ScheduledEvent("ev", start=1_002.0, duration=3.0, action="set-live", parameters={"record": True}))
    await w.run_until(1_001.5)
    assert w.log == []
    await w.run_until(1_010.0)
    assert w.log == [("start", "ev", 1_002.0), ("end", "ev", 1_002.0)]
    w.boot()  # a restart does not bring it back
    await w.run_until(1_020.0)
    assert len(w.log) == 2


async def test_restart_mid_occurrence_still_ends_it_and_does_not_restart_it(tmp_path):
    w = World(tmp_path / "s.json", start=1_000.0)
    w.add(ScheduledEvent("ev", start=1_002.0, duration=10.0))
    await w.run_until(1_004.0)
    w.boot()
    w.now = 1_030.0  # down through the end of the occurrence
    await w.scheduler.tick()
    assert w.log == [("start", "ev", 1_002.0), ("end", "ev", 1_002.0)]


async def test_weekly_on_listed_days_with_grace_after_downtime(tmp_path):
    monday = utc(2026, 11, 2, 10, 0)  # a Monday, 10:00 UTC
    assert weekday_numbers(["monday", "WEDNESDAY"]) == (0, 2)
    event = ScheduledEvent("wk", start=monday, duration=60, weekdays=(0, 2))
    assert event.next_occurrence(monday - 1) == monday
    assert event.next_occurrence(monday) == utc(2026, 11, 4, 10, 0)
    assert event.next_occurrence(utc(2026, 11, 4, 10, 0)) == utc(2026, 11, 9, 10, 0)

    w = World(tmp_path / "s.json", start=monday - 10, grace=120)
    w.add(event)
    await w.run_until(monday + 100, step=5)
    assert [x for x in w.log if x[0] == "start"] == [("start", "wk", monday)]
    # down from Tuesday to Wednesday 10:01: back within grace, Wednesday's runs late, once
    w.now = utc(2026, 11, 4, 10, 1)
    w.boot()
    await w.scheduler.tick()
    await w.scheduler.tick()
    assert [x for x in w.log if x[0] == "start"][-1] == ("start", "wk", utc(2026, 11, 4, 10, 0))
    # down from Thursday to Monday 10:30: beyond grace, that Monday is missed, not run
    w.now = utc(2026, 11, 9, 10, 30)
    w.boot()
    happened = await w.scheduler.tick()
    assert ("wk", "missed", utc(2026, 11, 9, 10, 0)) in happened
    assert all(t != utc(2026, 11, 9, 10, 0) for kind, _, t in w.log if kind == "start")
    assert w.scheduler.states["wk"].next_run == utc(2026, 11, 11, 10, 0)


async def test_weekly_respects_local_time_across_dst(tmp_path):
    # Sundays 09:00 in Paris: 07:00 UTC in summer time, 08:00 UTC after the change of 26 Oct 2025
    first = utc(2025, 10, 19, 7, 0)
    event = ScheduledEvent("dst", start=first, duration=60, weekdays=(6,), tz="Europe/Paris")
    assert event.next_occurrence(first) == utc(2025, 10, 26, 8, 0)
    event = ScheduledEvent("end", start=first, duration=60, weekdays=(6,), until=utc(2025, 10, 20))
    assert event.next_occurrence(first) is None
