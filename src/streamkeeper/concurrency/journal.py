"""The session journal: the embedded store's sessions in a SQLite file, so that a server
killed with ``kill -9`` restarts knowing every session it acknowledged.

The file is in WAL mode; the durable changes of one turn of the event loop are committed
together (group commit) and acknowledged after that commit, heartbeats (which move nothing
but an expiry) at most LAZY_FLUSH_SECONDS later; a thread of its own checkpoints the WAL.
The store sees it through :class:`Journal`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from itertools import islice
from pathlib import Path
from typing import Protocol

import orjson

from .session import StreamSession

log = logging.getLogger(__name__)


class Journal(Protocol):
    """What the embedded store needs of a journal: record what each transaction decided, and
    write it, sooner (durable changes, acknowledged through the future) or later (heartbeats)."""

    def record(self, durable: dict[str, StreamSession | None],
               deferred: dict[str, StreamSession]) -> asyncio.Future | None:
        """Queue the states one transaction decided (None: the session is gone); the future
        resolves once `durable` is written (None when there is nothing durable)."""

    async def flush_deferred(self) -> None:
        """Write the deferred states now."""

    def close(self) -> None:
        """Write everything still pending, then stop."""

    def abandon(self) -> None:
        """Stop without writing what is pending, as a killed process would (tests)."""


# Schema of the journal file, one entry per version; applied in order, tracked by user_version.
JOURNAL_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        idp TEXT NOT NULL,
        subject TEXT NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sessions_subject ON sessions (idp, subject);
    """,
    # A heartbeat only moves the expiry: it is written alone, without serialising the session.
    """
    ALTER TABLE sessions ADD COLUMN expires REAL;
    """,
    # Rows found by a number the journal keeps in memory instead of by session id: a new session
    # is appended at the end of the table, where the id's index (and the unused one by viewer)
    # made every insert rewrite pages scattered over two more B-trees (a commit cost 3 times more).
    """
    CREATE TABLE sessions_by_row (
        rid INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        idp TEXT NOT NULL,
        subject TEXT NOT NULL,
        body BLOB NOT NULL,
        expires REAL
    );
    INSERT INTO sessions_by_row (rid, id, idp, subject, body, expires)
        SELECT rowid, id, idp, subject, body, expires FROM sessions ORDER BY rowid;
    DROP TABLE sessions;
    ALTER TABLE sessions_by_row RENAME TO sessions;
    """,
    # A session's ending (evicted, terminated, deleted) is appended here, its whole record, rather
    # than written over its row: rewriting a row dirties a page anywhere in the table (a 4 KiB WAL
    # frame each, and again at the checkpoint), while one commit's appends share the last page.
    # On start, a row's latest ending is the session's state.
    """
    CREATE TABLE endings (
        eid INTEGER PRIMARY KEY,
        rid INTEGER NOT NULL,
        body BLOB NOT NULL
    );
    """,
)

LAZY_FLUSH_SECONDS = 1.0
# Deferred heartbeats: a JSON array of [row, expires] pairs applied in one statement (SQLite 3.33+).
RENEW_SQL = """
    UPDATE sessions SET expires = json_extract(r.value, '$[1]')
    FROM json_each(?) AS r WHERE sessions.rid = json_extract(r.value, '$[0]')
"""
INSERT_SQL = "INSERT INTO sessions (rid, id, idp, subject, body, expires) VALUES (?, ?, ?, ?, ?, ?)"
UPDATE_SQL = "UPDATE sessions SET body = ?, expires = ? WHERE rid = ?"
DELETE_SQL = "DELETE FROM sessions WHERE rid = ?"
ENDING_SQL = "INSERT INTO endings (eid, rid, body) VALUES (?, ?, ?)"
DELETE_ENDING_SQL = "DELETE FROM endings WHERE eid = ?"
# Deferred heartbeats written per turn of the loop (about 0.3 ms of SQLite work).
DEFERRED_SLICE = 100
CHECKPOINT_SECONDS = 0.25
# Commits start at least this far apart: a commit costs about the same for one session or
# twenty, so under load a start waits up to this long to share one.
COMMIT_SPACING = 0.001
# Pages kept in memory by the journal connection (negative: KiB): inserts then find the
# B-tree pages they change without reading them back from the file.
CACHE_KIB = 65536


def open_journal(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(JOURNAL_MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        for statement in filter(str.strip, script.split(";")):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    return conn


class SqliteJournal:
    """Commits the newest state of every changed session, on the event loop's own thread.

    The loop records, per session id, the state it has just decided (a session, or None for a
    dropped one): durable changes in `_pending` with a future to acknowledge, deferred
    heartbeats in `_deferred`. A session is never in both: a durable change takes the place of
    any deferred one, and a heartbeat of a session whose durable change is not yet written
    replaces that pending state.

    Durable changes are committed once per turn of the loop, all of that turn's in one
    transaction (group commit), and their futures resolve right after. Committing here rather
    than in a thread matters under load: a writer thread must win the GIL back from the busy
    loop after every SQLite call, and those hand-overs (up to the interpreter's switch interval
    each) made a commit take 10-20 ms of waiting for 1 ms of work. Deferred heartbeats are
    written by a periodic task in slices, so no turn of the loop stalls on a large flush.
    Every commit is one synchronous step of the loop, so each writes states at least as new
    as the one before it, and an older deferred heartbeat can never overwrite a later ending.
    Checkpoints of the WAL file (copying it into the database, with fsync) run in a thread of
    their own on a second connection; a commit never waits for one.

    Each session has one row, found through `_rows` (session id -> row number): new sessions get
    the next number, so inserts land together at the end of the table. Its ending is appended
    to the endings table the same way (`_endings`: session id -> ending number) instead of
    rewriting the row. The maps change only after a commit succeeds, so they always name the
    rows that are in the file.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, rows: dict[str, int],
                 lazy_seconds: float = LAZY_FLUSH_SECONDS, endings: dict[str, int] | None = None) -> None:
        self._conn = conn
        self._rows = rows
        self._next_row = max(rows.values(), default=0) + 1
        self._endings: dict[str, int] = endings if endings is not None else {}
        self._next_ending = max(self._endings.values(), default=0) + 1
        self._loop = asyncio.get_running_loop()
        self._pending: dict[str, StreamSession | None] = {}
        self._deferred: dict[str, StreamSession] = {}
        self._waiters: list[asyncio.Future] = []
        self._scheduled = False
        self._last = 0.0  # loop time of the last commit
        self._closed = False
        conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpoints = _Checkpointer(path)
        self._flusher = self._loop.create_task(self._flush_forever(lazy_seconds), name="session-journal-flush")

    @classmethod
    async def open(cls, path: Path, now: float,
                   lazy_seconds: float = LAZY_FLUSH_SECONDS) -> tuple["SqliteJournal", list[StreamSession]]:
        """The journal at `path` (made or migrated as needed), and every session it holds that
        can still be asked about (each at its latest state); records that cannot are deleted."""
        conn = await asyncio.to_thread(open_journal, path)
        by_row: dict[int, StreamSession] = {}
        for row, body, expires in conn.execute("SELECT rid, body, expires FROM sessions"):
            session = StreamSession.from_dict(orjson.loads(body))
            if expires is not None:
                session.expires = expires
            by_row[row] = session
        endings: dict[str, int] = {}
        stale_endings = []
        for eid, row, body in conn.execute("SELECT eid, rid, body FROM endings ORDER BY eid"):
            if row not in by_row:  # its session is gone (never left behind, but harmless)
                stale_endings.append((eid,))
                continue
            session = by_row[row] = StreamSession.from_dict(orjson.loads(body))
            if session.id in endings:  # superseded by this later one
                stale_endings.append((endings[session.id],))
            endings[session.id] = eid
        stale = []
        rows: dict[str, int] = {}
        kept: list[StreamSession] = []
        for row, session in by_row.items():
            sid = session.id
            if session.forgettable(now):
                stale.append((row,))
                if sid in endings:
                    stale_endings.append((endings.pop(sid),))
                continue
            rows[sid] = row
            kept.append(session)
        if stale or stale_endings:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(DELETE_SQL, stale)
            conn.executemany(DELETE_ENDING_SQL, stale_endings)
            conn.execute("COMMIT")
        return cls(conn, path, rows, lazy_seconds, endings), kept

    def record(self, durable: dict[str, StreamSession | None], deferred: dict[str, StreamSession]) -> asyncio.Future | None:
        """Queue the states one transaction decided; the future resolves once `durable` is committed."""
        pending, later = self._pending, self._deferred
        for sid, session in deferred.items():
            if sid in pending:
                pending[sid] = session
            else:
                later[sid] = session
        if not durable:
            return None
        for sid, session in durable.items():
            later.pop(sid, None)
            pending[sid] = session
        loop = self._loop
        fut = loop.create_future()
        self._waiters.append(fut)
        if not self._scheduled:
            self._scheduled = True
            wait = self._last + COMMIT_SPACING - loop.time()
            if wait > 0:  # busy: let a few more turns' changes join this commit
                loop.call_later(wait, self._commit_turn)
            else:
                loop.call_soon(self._commit_turn)
        return fut

    def _commit_turn(self) -> None:
        """Commit what was decided since the last commit and acknowledge it."""
        self._scheduled = False
        if self._closed:
            return
        self._last = self._loop.time()
        if self._commit_pending({}):
            self._checkpoints.due()

    def _commit_pending(self, deferred: dict[str, StreamSession]) -> bool:
        """Commit the durable changes recorded so far (and `deferred`), then tell every waiter
        whether its change was kept. True when the commit succeeded."""
        pending, self._pending = self._pending, {}
        waiters, self._waiters = self._waiters, []
        error: BaseException | None = None
        try:
            self._commit(pending, deferred)
        except Exception as exc:  # every waiter learns its change was not kept
            log.exception("session journal write failed")
            error = exc
        for fut in waiters:
            _resolve(fut, error)
        return error is None

    async def _flush_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.flush_deferred()
            except Exception:  # kept in memory; the next round tries again
                log.exception("session journal: deferred heartbeats not written")

    async def flush_deferred(self) -> None:
        """Write the deferred heartbeats recorded so far, a slice per turn of the loop.

        In the order of their rows, not the order they came in: a slice of renewals in arrival
        order is spread over the whole table, a page (a 4 KiB WAL frame, copied again at the
        checkpoint) per row, where neighbouring rows share pages (about a dozen to a page).
        `python -m bench.deferred` (4000 of 8000 rows renewed in random order): 19-23 µs of CPU
        per row written in arrival order, 8-9 µs in row order, less than half the WAL written."""
        rows = self._rows
        order = iter(sorted(self._deferred, key=lambda sid: rows.get(sid, 0)))
        left = len(self._deferred)
        while left > 0 and not self._closed:
            later = self._deferred
            # (one recorded since the flush began waits for the next; one written durably since, is gone)
            chunk = {sid: later.pop(sid) for sid in islice((sid for sid in order if sid in later),
                                                           min(left, DEFERRED_SLICE))}
            if not chunk:
                break
            left -= len(chunk)
            try:
                self._commit({}, chunk)
            except Exception:
                later.update(chunk)  # kept for the next round (the commit ran with nothing in between)
                raise
            self._checkpoints.due()
            if left > 0:
                await asyncio.sleep(0)

    def close(self) -> None:
        """Write everything still pending, then stop."""
        self._flusher.cancel()
        deferred, self._deferred = self._deferred, {}
        self._commit_pending(deferred)
        self._stop()

    def abandon(self) -> None:
        """Stop without writing what is pending, as a killed process would (tests)."""
        self._flusher.cancel()
        self._stop()

    def _stop(self) -> None:
        self._closed = True
        self._checkpoints.close()
        self._conn.close()

    def _commit(self, pending: dict[str, StreamSession | None], deferred: dict[str, StreamSession]) -> None:
        if not pending and not deferred:
            return
        rows, endings = self._rows, self._endings
        added: dict[str, int] = {}
        ended: dict[str, int] = {}
        inserts, updates, drops, gone, appended, unended = [], [], [], [], [], []
        number, ending = self._next_row, self._next_ending
        for sid, s in pending.items():
            row = rows.get(sid)
            if s is None:
                if row is not None:  # (a session dropped before it was ever written has no row)
                    drops.append((row,))
                    gone.append(sid)
                    if sid in endings:
                        unended.append((endings[sid],))
            elif row is None:
                added[sid] = number
                inserts.append((number, sid, s.idp, s.subject, orjson.dumps(s.to_dict()), s.expires))
                number += 1
            elif s.ended is not None:  # appended beside the row, not written over it
                ended[sid] = ending
                appended.append((ending, row, orjson.dumps(s.to_dict())))
                ending += 1
                if sid in endings:  # (an ending written before is superseded)
                    unended.append((endings[sid],))
            else:
                updates.append((orjson.dumps(s.to_dict()), s.expires, row))
        # A deferred heartbeat changed nothing but the expiry; a session deleted meanwhile has no
        # row left to update, so a late heartbeat can never bring it back. All of them in one
        # statement: one call into SQLite instead of one per row.
        renewals = [(rows[sid], s.expires) for sid, s in deferred.items() if sid in rows] if deferred else None
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if renewals:
                conn.execute(RENEW_SQL, (orjson.dumps(renewals),))
            if inserts:
                conn.executemany(INSERT_SQL, inserts)
            if appended:
                conn.executemany(ENDING_SQL, appended)
            if updates:
                conn.executemany(UPDATE_SQL, updates)
            if drops:
                conn.executemany(DELETE_SQL, drops)
            if unended:
                conn.executemany(DELETE_ENDING_SQL, unended)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._next_row, self._next_ending = number, ending
        rows.update(added)
        endings.update(ended)
        for sid in gone:
            del rows[sid]
            endings.pop(sid, None)


class _Checkpointer:
    """Copies the WAL into the database file from a thread of its own (a passive checkpoint
    never blocks the writer), at most every CHECKPOINT_SECONDS while commits keep coming."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="session-journal-checkpoint", daemon=True)
        self._thread.start()

    def due(self) -> None:
        """Something was committed: a checkpoint is wanted (cheap when one is already wanted)."""
        if not self._wake.is_set():
            self._wake.set()

    def close(self) -> None:
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            while True:
                self._wake.wait()
                # Let a stretch of commits pile up in the WAL first.
                if self._closing.wait(CHECKPOINT_SECONDS):
                    return
                self._wake.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:  # busy or failing disk: the next round retries
                    log.warning("session journal checkpoint failed", exc_info=True)
        finally:
            conn.close()


def _resolve(fut: asyncio.Future, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)
