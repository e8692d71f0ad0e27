"""The usage report: the per-minute rows summed into steps (peak: the largest), per application
and for the whole deployment. No HTTP here: `endpoints.py` parses and renders."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import ALL, COUNTS, UsageRow
from .recorder import KEEP_SECONDS

MINUTE = 60
DEFAULT_SPAN = 86400
# Points (steps) one report may hold: 30 days of minutes, with room.
MOST_STEPS = 50_000
# Rows (application x step) one report may hold: 30 days of minutes for a few applications.
MOST_ROWS = 200_000


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
    # no `to`: up to the end of the step now running; no `from`: DEFAULT_SPAN before `to`
    last = parse_time("to", end) if end else (now // size + 1) * size
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
    if len(found) > MOST_ROWS:
        raise BadQuery(f"step: {len(found)} rows; at most {MOST_ROWS} (choose a larger step, a shorter range "
                       f"or one application)")
    rows = []
    total: dict[int, list] = {}
    one = q.application is not None
    for app_id, at, a, d, e, t, x, peak in found:
        at = int(at)
        peak = None if peak is None else int(peak)
        if app_id == ALL:
            if not one:
                _total(total, at)[5] = peak
            continue
        counts = (int(a or 0), int(d or 0), int(e or 0), int(t or 0), int(x or 0))
        rows.append({"time": at, "application": app_id, "admissions": counts[0], "denials": counts[1],
                     "evictions": counts[2], "terminations": counts[3], "expiries": counts[4], "peak": peak})
        summed = _total(total, at)
        for i in range(5):
            summed[i] += counts[i]
        if one:
            summed[5] = peak
    rows.sort(key=lambda r: (r["time"], r["application"]))
    return {"rows": rows, "total": [_point(at, total.get(at) or _EMPTY) for at in range(q.start, q.end, q.step)]}


def _point(at: int, row) -> dict:
    return {"time": at, "admissions": row[0], "denials": row[1], "evictions": row[2], "terminations": row[3],
            "expiries": row[4], "peak": row[5]}


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


CSV_COLUMNS = ("time", "application", *COUNTS, "peak")


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(q: Query, found: dict) -> bytes:
    """The report as the JSON body (times in ISO 8601, each formatted once)."""
    times = {at: iso(at) for at in range(q.start, q.end + q.step, q.step)}
    for part in ("rows", "total"):
        for row in found[part]:
            row["time"] = times[row["time"]]
    return orjson.dumps({"from": times[q.start], "to": times[q.end], "step": q.step, "application": q.application,
                         **found})


def as_csv(q: Query, found: dict) -> str:
    """The per-application rows as CSV, a header first; an unknown peak is an empty cell."""
    times = {at: iso(at) for at in range(q.start, q.end, q.step)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([times[r["time"]], r["application"], r["admissions"], r["denials"], r["evictions"],
                      r["terminations"], r["expiries"], "" if r["peak"] is None else r["peak"]]
                     for r in found["rows"])
    return out.getvalue()
