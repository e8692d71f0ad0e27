"""What the journal's deferred writes cost: heartbeats and OXM renewals move only an expiry and
are written at most a second later, a slice of rows per turn of the loop. This renews half of
the sessions of a journal in random order (as players do) and flushes, round after round.

Run: ``python -m bench.deferred [--sessions 8000 --renewed 4000 --rounds 20]``. Prints the
process CPU per renewal written (the WAL checkpoints of the journal's thread included) and the
size of the WAL written.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from streamkeeper.concurrency.journal import SqliteJournal
from streamkeeper.concurrency.session import StreamSession


async def main_async(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="skdeferred-"))
    now = time.time()
    journal, _ = await SqliteJournal.open(work / "sessions.db", now, lazy_seconds=3600)
    sessions = [StreamSession(id=f"session-{i:08d}-xxxxxxxxx", app_id="bench-app", tenant="bench", idp="bench",
                              subject=f"viewer-{i}", metadata={"assetId": f"asset-{i % 50}", "deviceId": f"dev-{i}"},
                              started=now, expires=now + 120, code="", interval=120)
                for i in range(args.sessions)]
    for start in range(0, len(sessions), 20):  # started a few at a time, as a server commits them
        await journal.record({s.id: s for s in sessions[start:start + 20]}, {})
    renewed = sessions[-args.renewed:]
    rnd = random.Random(1)
    cpu = time.process_time()
    for n in range(args.rounds):
        order = renewed[:]
        rnd.shuffle(order)
        for s in order:
            journal.record({}, {s.id: s.renewed(now + 200 + n, s.metadata)})
        await journal.flush_deferred()
        await asyncio.sleep(0.3)  # the checkpoint thread copies the WAL meanwhile
    cpu = time.process_time() - cpu
    wal = (work / "sessions.db-wal").stat().st_size
    print(f"deferred writes: {cpu / (args.rounds * len(renewed)) * 1e6:.2f} µs of CPU per renewal written; "
          f"WAL {wal / 1e6:.1f} MB after {args.rounds} rounds")
    journal.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8000)
    parser.add_argument("--renewed", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
