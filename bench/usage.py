"""What the usage history costs: the report (`GET /admin/v1/usage`, the query and its rendering)
over 30 days of minutes for N applications, and one flush of the recorder (the upsert each
process runs every 5 s) into that table.

Run: ``python -m bench.usage [--apps 10] [--database-url postgresql://...]`` (default: a SQLite
catalog in a temporary directory, as the embedded server has). Prints milliseconds per call
(the median of a few runs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path


async def main_async(args) -> None:
    from sqlalchemy import insert

    from streamkeeper.database import create_engine, migrate
    from streamkeeper.settings import Settings
    from streamkeeper.usage.models import ALL, UsageRow
    from streamkeeper.usage.recorder import KEEP_SECONDS, upsert
    from streamkeeper.usage.report import as_json, make_query, report

    work = Path(tempfile.mkdtemp(prefix="skusage-"))
    settings = Settings(data_dir=work, database_url=args.database_url, database_schema=args.schema)
    engine = create_engine(settings)
    await migrate(engine)
    now = float(int(time.time() // 60) * 60)
    first = int(now) - KEEP_SECONDS
    apps = [f"app-{i:03d}" for i in range(args.apps)] + [ALL]
    began = time.perf_counter()
    batch = []
    async with engine.begin() as conn:
        await conn.execute(UsageRow.__table__.delete())
        for minute in range(first, int(now), 60):
            for app in apps:
                batch.append({"application": app, "minute": minute, "admissions": 3, "denials": 1, "evictions": 0,
                              "terminations": 0, "expiries": 2, "peak": 40})
            if len(batch) >= 20_000:
                await conn.execute(insert(UsageRow), batch)
                batch = []
        if batch:
            await conn.execute(insert(UsageRow), batch)
    rows = (KEEP_SECONDS // 60) * len(apps)
    print(f"{settings.catalog_url.split(':')[0]}: {rows} rows ({len(apps) - 1} applications x 30 days of minutes) "
          f"filled in {time.perf_counter() - began:.1f} s")

    async def timed(label: str, fn, repeat: int) -> None:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            await fn()
            times.append((time.perf_counter() - t) * 1000)
        print(f"  {label:<52} {statistics.median(times):8.1f} ms")

    def query(span: int, step: int, application: str | None):
        async def run():
            q = make_query(now, str(now - span), str(now), str(step), application)
            as_json(q, await report(engine, q))
        return run

    day, month = 86400, KEEP_SECONDS
    await timed("report: 24 h per minute, one application", query(day, 60, apps[0]), 5)
    await timed("report: 24 h per minute, every application", query(day, 60, None), 5)
    await timed("report: 30 days per hour, one application", query(month, 3600, apps[0]), 3)
    await timed("report: 30 days per hour, every application", query(month, 3600, None), 3)
    await timed("report: 30 days per day, every application", query(month, 86400, None), 3)
    await timed("report: 30 days per minute, one application", query(month, 60, apps[0]), 3)

    minute = int(now)

    async def flush():
        await upsert(engine, {(app, minute): [1, 0, 0, 0, 0, 41] for app in apps})
    await timed(f"flush: one upsert of {len(apps)} rows (a process's 5 s)", flush, 20)
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--schema", default=None, help="PostgreSQL schema (must exist)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
