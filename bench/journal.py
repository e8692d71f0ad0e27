"""What a durable change costs the embedded store's journal: commits of new sessions into a
journal that already holds many, with the statements the store runs, against the earlier
layout (rows keyed by session id, with an index by viewer) in the same run.

Run: ``python -m bench.journal [--sessions 50000] [--commits 3000] [--rows 1,2,4]``. Prints wall
and CPU microseconds per commit and the ratio of the current layout's CPU to the earlier one's.
"""

from __future__ import annotations

import argparse
import secrets
import sqlite3
import tempfile
import time
from pathlib import Path

import orjson

from streamkeeper.concurrency.journal import CACHE_KIB, INSERT_SQL, open_journal

EARLIER_SCHEMA = (
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, idp TEXT NOT NULL, subject TEXT NOT NULL, body BLOB NOT NULL,"
    " expires REAL)",
    "CREATE INDEX sessions_subject ON sessions (idp, subject)",
)
EARLIER_INSERT = "INSERT OR REPLACE INTO sessions (id, idp, subject, body, expires) VALUES (?, ?, ?, ?, ?)"


def _row(n: int) -> tuple:
    now = time.time()
    sid = secrets.token_urlsafe(18)
    body = orjson.dumps({"id": sid, "app_id": "bench-app", "tenant": "bench", "idp": "bench", "subject": f"init-{n}",
                         "metadata": {"channel": "news", "deviceId": f"dev-{n}-2", "contentType": "vod"},
                         "started": now, "expires": now + 60, "code": "abcdefgh", "interval": 60})
    return (sid, "bench", f"init-{n}", body, now + 60)


def _earlier(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    for statement in EARLIER_SCHEMA:
        conn.execute(statement)
    return conn


def measure(conn: sqlite3.Connection, numbered: bool, sessions: int, commits: int, rows: int) -> tuple[float, float]:
    """µs (wall, CPU) per commit of `rows` new sessions, into a journal holding `sessions`."""
    sql = INSERT_SQL if numbered else EARLIER_INSERT
    counter = iter(range(1, 10**9))

    def made(n: int) -> tuple:
        return (next(counter), *_row(n)) if numbered else _row(n)

    conn.execute("BEGIN")
    conn.executemany(sql, [made(n) for n in range(sessions)])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # as the store: a thread checkpoints
    batches = [[made(n) for n in range(rows)] for _ in range(commits)]
    wall, cpu = time.perf_counter(), time.process_time()
    for k, batch in enumerate(batches):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, batch)
        conn.execute("COMMIT")
        if k % 250 == 249:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    return (time.perf_counter() - wall) / commits * 1e6, (time.process_time() - cpu) / commits * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50_000)
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--rows", default="1,2,4", help="new sessions per commit, comma-separated")
    args = parser.parse_args()
    print(f"journal bench: commits into a journal of {args.sessions} sessions, {args.commits} commits each")
    print(f"{'rows/commit':>11} {'earlier µs':>11} {'(cpu)':>7} {'now µs':>8} {'(cpu)':>7} {'cpu ratio':>9}")
    for rows in map(int, args.rows.split(",")):
        with tempfile.TemporaryDirectory(prefix="skjournal-") as tmp:
            earlier = _earlier(Path(tmp) / "earlier.db")
            old = measure(earlier, False, args.sessions, args.commits, rows)
            earlier.close()
            current = open_journal(Path(tmp) / "sessions.db")
            new = measure(current, True, args.sessions, args.commits, rows)
            current.close()
        print(f"{rows:>11} {old[0]:>11.1f} {old[1]:>7.1f} {new[0]:>8.1f} {new[1]:>7.1f} {new[1] / old[1]:>9.2f}")


if __name__ == "__main__":
    main()
