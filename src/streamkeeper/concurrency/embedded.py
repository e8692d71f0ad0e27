"""The default store: every viewer's sessions in process memory, journaled to SQLite.

Atomicity comes from the event loop: a transaction runs its decision with no await in
between reading and writing. Durability comes from a journal thread that commits
batches to a SQLite file in WAL mode; a durable change is acknowledged only after its
batch committed, heartbeats are flushed at most a second later. On start the journal is
read back, so a server killed with ``kill -9`` restarts knowing every acknowledged session.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, TypeVar

import orjson

from .session import StreamSession, SubjectKey
from .store import SessionStore, SubjectView

T = TypeVar("T")
log = logging.getLogger(__name__)

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
)

LAZY_FLUSH_SECONDS = 1.0
# Viewers who never come back would keep their dead records in memory: sweep them this often.
SWEEP_SECONDS = 60.0
SWEEP_SLICE = 2000


def open_journal(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(JOURNAL_MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        for statement in filter(str.strip, script.split(";")):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    return conn


_Op = tuple[str, StreamSession | str]  # ("put", session) or ("drop", id)


class _Journal:
    """A writer thread that commits batches of changes; callers await their batch."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[tuple[list[_Op], asyncio.Future | None] | None] = queue.SimpleQueue()
        self._lazy: dict[str, StreamSession] = {}
        self._lazy_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="session-journal", daemon=True)
        self._thread.start()

    def write(self, ops: list[_Op]) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._queue.put((ops, fut))
        return fut

    def touch(self, sessions: dict[str, StreamSession]) -> None:
        with self._lazy_lock:
            self._lazy.update(sessions)

    def forget_touch(self, ids: set[str] | dict) -> None:
        with self._lazy_lock:
            for sid in ids:
                self._lazy.pop(sid, None)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
        self._flush([])
        self._conn.close()

    def _run(self) -> None:
        deadline = time.monotonic() + LAZY_FLUSH_SECONDS
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = ()
            if item is None:
                return
            batch = [item] if item else []
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._commit(batch, lazy=True)
                    return
                batch.append(more)
            lazy = time.monotonic() >= deadline
            self._commit(batch, lazy=lazy)
            if lazy:
                deadline = time.monotonic() + LAZY_FLUSH_SECONDS

    def _commit(self, batch: list, *, lazy: bool) -> None:
        ops = [op for ops, _ in batch for op in ops]
        futures = [fut for _, fut in batch if fut is not None]
        error: BaseException | None = None
        try:
            self._flush(ops, take_lazy=lazy)
        except BaseException as exc:  # report to every waiter, keep the thread alive
            log.exception("session journal write failed")
            error = exc
        for fut in futures:
            loop = fut.get_loop()
            if error is None:
                loop.call_soon_threadsafe(_resolve, fut, None)
            else:
                loop.call_soon_threadsafe(_resolve, fut, error)

    def _flush(self, ops: list[_Op], take_lazy: bool = True) -> None:
        lazy: dict[str, StreamSession] = {}
        if take_lazy:
            with self._lazy_lock:
                lazy, self._lazy = self._lazy, {}
        if not ops and not lazy:
            return
        rows = []
        drops = []
        for kind, value in ops:
            if kind == "put":
                lazy.pop(value.id, None)
                rows.append((value.id, value.idp, value.subject, orjson.dumps(value.to_dict())))
            else:
                lazy.pop(value, None)
                drops.append((value,))
        rows.extend((s.id, s.idp, s.subject, orjson.dumps(s.to_dict())) for s in lazy.values())
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if rows:
                conn.executemany("INSERT OR REPLACE INTO sessions (id, idp, subject, body) VALUES (?, ?, ?, ?)", rows)
            if drops:
                conn.executemany("DELETE FROM sessions WHERE id = ?", drops)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _forget(view: SubjectView, now: float) -> int:
    before = len(view.sessions)
    view.forget_old(now)
    return before - len(view.sessions)


def _resolve(fut: asyncio.Future, error: BaseException | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)


class EmbeddedStore(SessionStore):
    """Sessions in memory, one dict per viewer, journaled to ``<data>/sessions.db``."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        self._subjects: dict[SubjectKey, dict[str, StreamSession]] = {}
        self._buckets: dict[str, tuple[float, int]] = {}
        self._journal: _Journal | None = None
        self._sweeper: asyncio.Task | None = None

    async def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = await asyncio.to_thread(open_journal, self._path)
        now = self._clock()
        stale = []
        for sid, body in conn.execute("SELECT id, body FROM sessions"):
            session = StreamSession.from_dict(orjson.loads(body))
            if session.forgettable(now):
                stale.append((sid,))
                continue
            self._subjects.setdefault((session.idp, session.subject), {})[sid] = session
        if stale:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("DELETE FROM sessions WHERE id = ?", stale)
            conn.execute("COMMIT")
        self._journal = _Journal(conn)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="session-sweeper")

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception:  # keep sweeping; the next round retries
                log.exception("session sweep failed")

    async def sweep(self) -> int:
        """Forget every record nobody can ask about any more, a slice of viewers at a time so the
        event loop never stalls. Returns how many records were dropped."""
        dropped = 0
        keys = list(self._subjects)
        for start in range(0, len(keys), SWEEP_SLICE):
            now = self._clock()
            for key in keys[start:start + SWEEP_SLICE]:
                sessions = self._subjects.get(key)
                if sessions and any(s.forgettable(now) for s in sessions.values()):
                    dropped += await self.transact(key, lambda view: _forget(view, now))
            await asyncio.sleep(0)
        return dropped

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._journal is not None:
            journal, self._journal = self._journal, None
            await asyncio.to_thread(journal.close)

    async def transact(self, key: SubjectKey, fn: Callable[[SubjectView], T]) -> T:
        current = self._subjects.get(key)
        view = SubjectView(key, dict(current) if current else {})
        result = fn(view)
        if not view.changed:
            return result
        if view.sessions:
            self._subjects[key] = view.sessions
        else:
            self._subjects.pop(key, None)
        journal = self._journal
        if journal is None:
            raise RuntimeError("the session store is not started")
        if view.touched:
            journal.touch(view.touched)
        if view.written or view.dropped:
            ops: list[_Op] = [("put", s) for s in view.written.values()]
            ops.extend(("drop", sid) for sid in view.dropped)
            try:
                await journal.write(ops)
            except BaseException:
                # Not durable, so not acknowledged: undo it unless someone built on it already.
                if self._subjects.get(key) is view.sessions:
                    if current:
                        self._subjects[key] = current
                    else:
                        self._subjects.pop(key, None)
                raise
        return result

    async def hit(self, bucket: str, limit: int, window: float, now: float) -> float | None:
        start = now - (now % window)
        seen_start, count = self._buckets.get(bucket, (start, 0))
        if seen_start != start:
            count = 0
            if len(self._buckets) > 100_000:
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] == start}
        count += 1
        self._buckets[bucket] = (start, count)
        return start + window if count > limit else None

    async def count_live(self, now: float) -> int:
        return sum(1 for ss in self._subjects.values() for s in ss.values() if s.is_live(now))

    async def live_by_application(self, now: float) -> dict[str, int]:
        """Live sessions per application id (the console's dashboard; Redis keeps no such index)."""
        out: dict[str, int] = {}
        for ss in self._subjects.values():
            for s in ss.values():
                if s.is_live(now):
                    out[s.app_id] = out.get(s.app_id, 0) + 1
        return out
