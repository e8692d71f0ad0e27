"""The default store: every viewer's sessions in process memory, journaled to SQLite.

Atomicity comes from the event loop: a transaction runs its decision with no await in
between reading and writing. Durability comes from the journal (journal.py): the durable
changes of one turn of the loop are committed together at its end, and each is acknowledged
only after that commit; heartbeats are written at most a second later. On start the journal
is read back, so a server killed with ``kill -9`` restarts knowing every acknowledged session.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import time
from itertools import chain
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Mapping, TypeVar

from .journal import LAZY_FLUSH_SECONDS, Journal, SqliteJournal
from .service import RateLimited, ServiceUnavailable
from .session import StreamSession, SubjectKey
from .store import Rate, SessionStore, SubjectView

T = TypeVar("T")
_NOTHING: dict = {}
log = logging.getLogger(__name__)
# Viewers who never come back would keep their dead records in memory: sweep them this often.
SWEEP_SECONDS = 60.0
SWEEP_SLICE = 2000


class JournalUnavailable(ServiceUnavailable):
    """A durable change could not be committed (disk full, file gone): nothing was decided."""


async def _slices(items: list) -> AsyncIterator[list]:
    """`items` SWEEP_SLICE at a time, the event loop free to answer requests between slices."""
    for start in range(0, len(items), SWEEP_SLICE):
        if start:
            await asyncio.sleep(0)
        yield items[start:start + SWEEP_SLICE]


LOCK_FILE = "sessions.lock"


class DataDirInUse(RuntimeError):
    """Another process serves the embedded store of this data dir."""


class DataDirLock:
    """Only one process may serve a data dir's embedded store: two would each keep their own
    sessions in memory and append to one journal (the second then refused every start). An
    exclusive `flock` on `<data>/sessions.lock`, held while the process lives, marks the owner;
    the kernel drops it when the process ends, `kill -9` included, so no stale lock outlives it.

    Within one process the lock is shared (the `serve` command holds it before the app starts,
    and tests run several apps in turn on one data dir): each `acquire` is matched by a
    `release`, and the file is closed, releasing the lock, at the last one."""

    _held: dict[Path, list[int]] = {}  # resolved dir -> [fd, holders]

    @classmethod
    def acquire(cls, data_dir: Path) -> Path:
        where = data_dir.resolve()
        held = cls._held.get(where)
        if held is not None:
            held[1] += 1
            return where
        where.mkdir(parents=True, exist_ok=True)
        fd = os.open(where / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            pid = f" (pid {owner})" if owner.isdigit() else ""
            raise DataDirInUse(
                f"the data dir {where} is in use by another server{pid}: give each server its own "
                f"--data-dir, or share sessions through Redis (--redis-url)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        cls._held[where] = [fd, 1]
        return where

    @classmethod
    def release(cls, where: Path) -> None:
        held = cls._held.get(where)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del cls._held[where]
            os.close(held[0])  # closing the file releases the lock


def _forget(view: SubjectView, now: float) -> int:
    before = len(view.sessions)
    view.forget_old(now)
    return before - len(view.sessions)


def _ready(result: T) -> Awaitable[T]:
    """`result` as an awaitable that does not wait (a done future: awaiting it costs no coroutine)."""
    ready = asyncio.get_running_loop().create_future()
    ready.set_result(result)
    return ready


def _set(table: dict[SubjectKey, dict[str, StreamSession]], key: SubjectKey,
         records: dict[str, StreamSession] | None) -> None:
    if records:
        table[key] = records
    else:
        table.pop(key, None)


class EmbeddedStore(SessionStore):
    """Sessions in memory, journaled to ``<data>/sessions.db``: per viewer, one dict of the
    sessions that have not ended and one of those that have (kept an hour for late callers), so
    a start copies and scans only what can stand in its way however often the viewer zaps.

    Its calls need no asyncio task until they wait on the journal (`steps_inline`: the
    `StepsInline` backend of the uvicorn lane, ops/hot.py)."""

    steps_inline = True

    def __init__(self, path: Path, clock: Callable[[], float] = time.time,
                 lazy_flush_seconds: float = LAZY_FLUSH_SECONDS) -> None:
        self._path = path
        self._lazy_flush_seconds = lazy_flush_seconds
        self._clock = clock
        self._subjects: dict[SubjectKey, dict[str, StreamSession]] = {}  # not ended
        self._ended: dict[SubjectKey, dict[str, StreamSession]] = {}
        self._buckets: dict[tuple[SubjectKey, str], tuple[float, int]] = {}
        self._journal: Journal | None = None
        self._sweeper: asyncio.Task | None = None
        self._lock: Path | None = None

    async def start(self) -> None:
        """Take the data dir (DataDirInUse if another process serves it), read the journal back."""
        self._lock = DataDirLock.acquire(self._path.parent)
        try:
            self._journal, sessions = await SqliteJournal.open(self._path, self._clock(), self._lazy_flush_seconds)
        except BaseException:
            DataDirLock.release(self._lock)
            self._lock = None
            raise
        for session in sessions:
            kept = self._ended if session.ended is not None else self._subjects
            kept.setdefault((session.idp, session.subject), {})[session.id] = session
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
        async for keys in _slices(list({**self._subjects, **self._ended})):
            now = self._clock()
            for key in keys:
                records = chain(self._subjects.get(key, _NOTHING).values(), self._ended.get(key, _NOTHING).values())
                if any(s.forgettable(now) for s in records):
                    dropped += await self.transact(key, lambda view: _forget(view, now))
        return dropped

    def records(self, key: SubjectKey) -> dict[str, StreamSession]:
        """Every record of a viewer, ended or not (a copy)."""
        return {**self._ended.get(key, _NOTHING), **self._subjects.get(key, _NOTHING)}

    async def close(self) -> None:
        """Write everything pending, then stop."""
        await self._stop(abandon=False)

    async def abandon(self) -> None:
        """Stop like a killed process: nothing pending is written (crash tests)."""
        await self._stop(abandon=True)

    async def _stop(self, *, abandon: bool) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._journal is not None:
            journal, self._journal = self._journal, None
            if abandon:
                journal.abandon()
            else:
                journal.close()
        if self._lock is not None:
            DataDirLock.release(self._lock)
            self._lock = None

    async def flush_deferred(self) -> None:
        """Write deferred heartbeats now instead of at the journal's next interval."""
        if self._journal is not None:
            await self._journal.flush_deferred()

    def transact(self, key: SubjectKey, fn: Callable[[SubjectView], T], *, live_only: bool = False,
                 rate: Rate | None = None) -> Awaitable[T]:
        """Decided at once, in this call: a refusal (an error of `fn`, the rate limit) is raised by
        the call itself, with no coroutine made; what it returns is awaited for the journal."""
        if rate is not None and (retry_at := self._count(key, rate)) is not None:
            raise RateLimited(retry_at)
        current = self._subjects.get(key)
        ended = self._ended.get(key)
        partial = live_only or not ended  # the ended records are left out of the view
        # (a view of the records as they are: it copies them before its first change)
        view = SubjectView(key, current or {}, shared=True) if partial else SubjectView(key, self.records(key))
        result = fn(view)
        if not view.changed:
            return _ready(result)
        if partial:
            kept, gone = view.sessions, ended
            newly = [sid for sid, s in view.written.items() if s.ended is not None]
            if newly:  # sessions this transaction ended move to the viewer's ended records
                gone = dict(ended) if ended else {}  # (`kept` is the view's own copy: it changed)
                for sid in newly:
                    gone[sid] = kept.pop(sid)
        else:
            kept = {sid: s for sid, s in view.sessions.items() if s.ended is None}
            gone = {sid: s for sid, s in view.sessions.items() if s.ended is not None}
        _set(self._subjects, key, kept)
        _set(self._ended, key, gone)
        journal = self._journal
        if journal is None:
            raise RuntimeError("the session store is not started")
        durable: dict[str, StreamSession | None] = dict(view.written)
        durable.update(dict.fromkeys(view.dropped))
        done = journal.record(durable, view.touched)
        if done is None:
            if self.observer is not None:
                self.observer(view)
            return _ready(result)
        return self._acknowledged(done, key, (current, ended), (kept, gone), view, result)

    async def _acknowledged(self, done: asyncio.Future, key: SubjectKey, before: tuple, after: tuple,
                            view: SubjectView, result: T) -> T:
        """`result` once the journal committed the transaction's durable changes."""
        try:
            await done
        except BaseException as exc:
            # Not durable, so not acknowledged: undo it unless someone built on it already.
            kept, gone = after
            if self._subjects.get(key) is (kept or None) and self._ended.get(key) is (gone or None):
                _set(self._subjects, key, before[0])
                _set(self._ended, key, before[1])
            if isinstance(exc, Exception):  # a journal that cannot be written: answer "retry"
                raise JournalUnavailable(f"the session journal could not be written: {exc}") from exc
            raise
        if self.observer is not None:
            self.observer(view)
        return result

    async def snapshot(self, key: SubjectKey) -> Mapping[str, StreamSession]:
        return self._subjects.get(key) or _NOTHING  # (replaced on change, never changed in place)

    async def renew(self, key: SubjectKey, sid: str, now: float, *, rate: Rate | None = None,
                    app_id: str | None = None) -> tuple[bool, StreamSession | None]:
        """See :meth:`SessionStore.renew`: without a view, the new expiry journaled lazily like
        every heartbeat."""
        if rate is not None:
            self._limit(key, rate)
        current = self._subjects.get(key)
        session = current.get(sid) if current else None
        if session is None or not session.is_live(now):
            return False, session or self._ended.get(key, _NOTHING).get(sid)
        journal = self._journal
        if journal is None:
            raise RuntimeError("the session store is not started")
        renewed = session.renewed(now + session.interval, session.metadata)
        sessions = dict(current)  # copy on write: a durable change still in flight may roll back to `current`
        sessions[sid] = renewed
        self._subjects[key] = sessions
        journal.record(_NOTHING, {sid: renewed})
        return True, renewed

    async def hit(self, key: SubjectKey, rate: Rate) -> float | None:
        return self._count(key, rate)

    def _limit(self, key: SubjectKey, rate: Rate) -> None:
        retry_at = self._count(key, rate)
        if retry_at is not None:
            raise RateLimited(retry_at)

    def _count(self, key: SubjectKey, rate: Rate) -> float | None:
        bucket, limit, window, now = rate
        start = now - (now % window)
        counter = (key, bucket)
        seen_start, count = self._buckets.get(counter, (start, 0))
        if seen_start != start:
            count = 0
            if len(self._buckets) > 100_000:
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] == start}
        count += 1
        self._buckets[counter] = (start, count)
        return start + window if count > limit else None

    async def count_live(self, now: float) -> int:
        return sum((await self.live_by_application(now)).values())

    async def live_by_application(self, now: float) -> dict[str, int]:
        """Live sessions per application id (the usage history and the console's dashboard).
        Counted a slice of viewers per turn of the loop: with 100k sessions one pass takes about
        20 ms, which the requests of that moment would otherwise wait for."""
        out: dict[str, int] = {}
        async for viewers in _slices(list(self._subjects.values())):
            for ss in viewers:
                for s in ss.values():
                    if s.is_live(now):
                        out[s.app_id] = out.get(s.app_id, 0) + 1
        return out
