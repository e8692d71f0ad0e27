"""The usage report: the per-minute rows summed into steps (peak: the largest), per application
and for the whole deployment. No HTTP here: `endpoints.py` parses and renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import ALL, COUNTS, UsageRow
from .recorder import KEEP_SECONDS

MINUTE = 60
DEFAULT_SPAN = 86400
# Points (steps) one report may hold: 30 days of minutes, with room.
MOST_STEPS = 50_000


class BadQuery(ValueError):
    """A `from`, `to` or `step` the report cannot use; the message says which."""


@dataclass(frozen=True, slots=True)
class Query:
    start: int  # epoch seconds, a multiple of step
    end: int  # excluded, a multiple of step
    step: int
    application: str | None

    @property
    def steps(self) -> int:
        return (self.end - self.start) // self.step


def parse_time(name: str, text: str) -> float:
    """An instant as ISO 8601 (a time without offset is UTC) or epoch seconds."""
    text = text.strip()
    try:
        return float(text) if text.replace(".", "", 1).isdigit() else _iso(text)
    except (ValueError, OverflowError):
        raise BadQuery(f"{name}: {text[:64]!r} is not an ISO 8601 time (2026-12-07T18:00:00Z) "
                       f"or epoch seconds") from None


def _iso(text: str) -> float:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def make_query(now: float, start: str | None, end: str | None, step: str | None,
               application: str | None) -> Query:
    """The report asked for, aligned to whole steps (from rounded down, to rounded up)."""
    if step is None or step == "":
        size = MINUTE
    else:
        try:
            size = int(step)
        except ValueError:
            raise BadQuery(f"step: {step[:32]!r} is not a whole number of seconds") from None
        if size < MINUTE or size % MINUTE or size > KEEP_SECONDS:
            raise BadQuery(f"step: {size} is not a multiple of 60 seconds between 60 and {KEEP_SECONDS}")
    last = parse_time("to", end) if end else now
    first = parse_time("from", start) if start else last - DEFAULT_SPAN
    if not first < last:
        raise BadQuery("from: must be before to")
    if last > 1e11 or first < 0:
        raise BadQuery("from/to: out of range")
    lo = int(first // size) * size
    hi = -int(-last // size) * size
    if (hi - lo) // size > MOST_STEPS:
        raise BadQuery(f"step: {(hi - lo) // size} steps from {lo} to {hi}; at most {MOST_STEPS} (choose a larger step)")
    return Query(lo, hi, size, application or None)


async def known(engine: AsyncEngine, application: str) -> bool:
    """Whether the usage table has rows of `application` (one deleted from the catalog since)."""
    async with engine.connect() as conn:
        found = await conn.scalar(select(UsageRow.minute).where(UsageRow.application == application).limit(1))
    return found is not None


async def report(engine: AsyncEngine, q: Query) -> dict:
    """{"rows": per application and step (only steps with rows), "total": every step of the
    range, the counts summed over the applications and the peak of the whole deployment}."""
    bucket = (UsageRow.minute - UsageRow.minute % q.step).label("bucket")
    stmt = (select(UsageRow.application, bucket, *(func.sum(UsageRow.__table__.c[c]) for c in COUNTS),
                   func.max(UsageRow.peak))
            .where(UsageRow.minute >= q.start, UsageRow.minute < q.end)
            .group_by(UsageRow.application, bucket))
    if q.application is not None:
        stmt = stmt.where(UsageRow.application == q.application)
    async with engine.connect() as conn:
        found = (await conn.execute(stmt)).all()
    rows = []
    total: dict[int, list] = {}
    for app_id, at, *values in found:
        at = int(at)
        counts = [int(v or 0) for v in values[:5]]
        peak = None if values[5] is None else int(values[5])
        if app_id == ALL:
            if q.application is None:
                _total(total, at)[5] = peak
            continue
        rows.append((at, app_id, counts, peak))
        summed = _total(total, at)
        for i in range(5):
            summed[i] += counts[i]
        if q.application is not None:
            summed[5] = peak
    rows.sort()
    return {
        "rows": [{"time": at, "application": app_id, **dict(zip(COUNTS, counts)), "peak": peak}
                 for at, app_id, counts, peak in rows],
        "total": [{"time": at, **dict(zip(COUNTS, (total.get(at) or _EMPTY)[:5])), "peak": (total.get(at) or _EMPTY)[5]}
                  for at in range(q.start, q.end, q.step)],
    }


_EMPTY = (0, 0, 0, 0, 0, None)


def _total(total: dict[int, list], at: int) -> list:
    row = total.get(at)
    if row is None:
        row = total[at] = [0, 0, 0, 0, 0, None]
    return row


async def first_minute(engine: AsyncEngine) -> int | None:
    """The oldest minute kept (None: no usage yet)."""
    async with engine.connect() as conn:
        found = await conn.scalar(select(func.min(UsageRow.minute)))
    return None if found is None else int(found)


async def sums(engine: AsyncEngine, start: int, end: int) -> dict[str, dict[str, int]]:
    """outcome -> application -> count over the minutes [start, end)."""
    stmt = (select(UsageRow.application, *(func.sum(UsageRow.__table__.c[c]) for c in COUNTS))
            .where(UsageRow.minute >= start, UsageRow.minute < end, UsageRow.application != ALL)
            .group_by(UsageRow.application))
    async with engine.connect() as conn:
        found = (await conn.execute(stmt)).all()
    out: dict[str, dict[str, int]] = {c: {} for c in COUNTS}
    for app_id, *values in found:
        for outcome, n in zip(COUNTS, values):
            if n:
                out[outcome][app_id] = int(n)
    return out
