"""Each process adds what its sessions did to the usage table, a few seconds behind.

Nothing is counted on the request path: the recorder reads the running totals the metrics
already keep (ops/metrics.py, off the store's transactions) every FLUSH_SECONDS, and the
difference since its last read is what this process adds to the current minute. Several
workers and servers write the same rows: each upsert adds its deltas to the row
(`n = usage.n + excluded.n`) and keeps the larger peak, so no process needs to know the others.

The peak of a minute is the most live sessions any sample saw, per application and in all
(recorded under `ALL`). The embedded store counts its own sessions, which are the deployment's
(one process per data dir); a single Redis server counts those of the deployment, the same in
every process, which is why taking the larger value is right there too. Redis Cluster keeps no
such count: its per-application peaks are NULL, and so is the total.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from sqlalchemy import case, delete
from sqlalchemy.ext.asyncio import AsyncEngine

from .models import ALL, COUNTS, UsageRow

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
KEEP_SECONDS = 30 * 86400
PRUNE_SECONDS = 3600.0
# Rows kept in memory while the database does not answer; older minutes are dropped past this.
MOST_PENDING = 50_000

Key = tuple[str, int]  # (application, minute)


def minute_of(t: float) -> int:
    return int(t // 60) * 60


class UsageRecorder:
    """Turns running totals and live counts into per-minute rows and writes them (`flush`).

    `totals()` gives outcome -> application -> running total (the metrics' counters);
    `live()` gives (total, per application or None), awaited."""

    def __init__(self, engine: AsyncEngine, totals: Callable[[], dict[str, dict[str, int]]],
                 live: Callable, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.totals = totals
        self.live = live
        self.clock = clock
        self.seen: dict[str, dict[str, int]] = {o: dict(v) for o, v in totals().items()}
        self.pending: dict[Key, list] = {}  # key -> [5 counts..., peak or None]
        self.flushed_peak: dict[Key, int] = {}  # the peaks already written this minute
        self.task: asyncio.Task | None = None
        self.pruned_at = 0.0
        #: (when, live sessions in all) of the last sample, for other samplers of the same count
        self.last_live: tuple[float, int | None] | None = None
        #: Held while rows are being written: a reader adding `unflushed()` to what it reads from
        #: the table holds it too, so no row is counted twice or missed.
        self.steady = asyncio.Lock()

    def _row(self, key: Key) -> list:
        row = self.pending.get(key)
        if row is None:
            row = self.pending[key] = [0, 0, 0, 0, 0, None]
        return row

    async def sample(self) -> None:
        """Move what happened since the last sample into the pending rows of the current minute."""
        now = self.clock()
        minute = minute_of(now)
        totals = self.totals()
        for i, outcome in enumerate(COUNTS):
            before = self.seen.get(outcome, {})
            for app_id, n in totals.get(outcome, {}).items():
                delta = n - before.get(app_id, 0)
                if delta > 0:
                    self._row((app_id, minute))[i] += delta
        self.seen = {o: dict(v) for o, v in totals.items()}
        try:
            total, by_app = await self.live(now)
        except Exception:  # noqa: BLE001 - the counts are still worth writing
            log.warning("usage: could not count live sessions", exc_info=True)
            return
        self.last_live = (now, total)
        peaks = dict(by_app or {})
        if total is not None:
            peaks[ALL] = total
        for app_id, n in peaks.items():
            key = (app_id, minute)
            pending = self.pending.get(key)
            if n > max(self.flushed_peak.get(key, 0), (pending[5] or 0) if pending else 0):
                self._row(key)[5] = n
        if by_app is not None:  # counted per application: a row without a peak had none live
            for (app_id, at), row in self.pending.items():
                if at == minute and row[5] is None:
                    row[5] = 0

    def unflushed(self) -> dict[str, dict[str, int]]:
        """What this process counted and has not written yet: outcome -> application -> count
        (added by readers of the table that must not lag behind their own process)."""
        out: dict[str, dict[str, int]] = {o: {} for o in COUNTS}
        for (app_id, _minute), row in self.pending.items():
            for i, outcome in enumerate(COUNTS):
                if row[i]:
                    out[outcome][app_id] = out[outcome].get(app_id, 0) + row[i]
        for outcome, per_app in self.totals().items():
            before = self.seen.get(outcome, {})
            for app_id, n in per_app.items():
                if n > before.get(app_id, 0):
                    out.setdefault(outcome, {})[app_id] = out.get(outcome, {}).get(app_id, 0) + n - before.get(app_id, 0)
        return out

    async def flush(self) -> int:
        """Write the pending rows in one transaction; kept for the next try if it fails."""
        if not self.pending:
            return 0
        async with self.steady:
            return await self._flush()

    async def _flush(self) -> int:
        rows, self.pending = self.pending, {}
        try:
            await upsert(self.engine, rows)
        except Exception:
            for key, row in rows.items():  # put back under what arrived meanwhile
                mine = self._row(key)
                for i in range(5):
                    mine[i] += row[i]
                if row[5] is not None and (mine[5] is None or row[5] > mine[5]):
                    mine[5] = row[5]
            if len(self.pending) > MOST_PENDING:
                for key in sorted(self.pending, key=lambda k: k[1])[:len(self.pending) - MOST_PENDING]:
                    del self.pending[key]
            raise
        current = minute_of(self.clock())
        self.flushed_peak = {k: v for k, v in self.flushed_peak.items() if k[1] >= current - 60}
        for key, row in rows.items():
            if row[5] is not None:
                self.flushed_peak[key] = max(row[5], self.flushed_peak.get(key, 0))
        return len(rows)

    async def prune(self) -> int:
        """Forget the minutes older than KEEP_SECONDS."""
        async with self.engine.begin() as conn:
            done = await conn.execute(delete(UsageRow).where(UsageRow.minute < minute_of(self.clock()) - KEEP_SECONDS))
        self.pruned_at = self.clock()
        return done.rowcount or 0

    async def run(self) -> None:
        while True:
            # at a fixed phase of the step, so one sample's deltas fall inside one minute
            await asyncio.sleep(FLUSH_SECONDS - time.time() % FLUSH_SECONDS + 0.05)
            try:
                await self.sample()
                await self.flush()
                if self.clock() - self.pruned_at > PRUNE_SECONDS:
                    await self.prune()
            except Exception:  # noqa: BLE001 - retried at the next step
                log.warning("usage: could not write the usage rows", exc_info=True)

    def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name="usage-recorder")

    async def stop(self) -> None:
        """Stop sampling and write what is left (a clean shutdown loses nothing)."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        try:
            await self.sample()
            await self.flush()
        except Exception:  # noqa: BLE001 - stopping anyway
            log.warning("usage: the last usage rows could not be written", exc_info=True)


_UPSERTS: dict[str, object] = {}


def _upsert_statement(dialect: str):
    """The upsert, built once per dialect (SQLAlchemy then reuses its compiled form)."""
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        table = UsageRow.__table__
        new = insert(table).excluded
        stmt = _UPSERTS[dialect] = insert(table).on_conflict_do_update(
            index_elements=[table.c.minute, table.c.application],
            set_={**{name: table.c[name] + new[name] for name in COUNTS},
                  "peak": case((new.peak.is_(None), table.c.peak),
                               (table.c.peak.is_(None) | (new.peak > table.c.peak), new.peak),
                               else_=table.c.peak)})
    return stmt


async def upsert(engine: AsyncEngine, rows: dict[Key, list]) -> None:
    """Add `rows` to the table: counts summed, peak the larger (NULL: not known)."""
    stmt = _upsert_statement(engine.dialect.name)
    values = [{"application": app_id, "minute": minute, **dict(zip(COUNTS, row[:5])), "peak": row[5]}
              for (app_id, minute), row in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    # (in key order in every process: two writers never wait on each other's rows crosswise)
    async with engine.begin() as conn:
        for start in range(0, len(values), 500):
            await conn.execute(stmt, values[start:start + 500])
