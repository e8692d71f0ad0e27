"""The session store interface: one viewer's sessions, changed atomically.

The engine is pure; a store makes "look at the viewer's sessions, decide, write the
decision" one indivisible step. The embedded store does it in process memory backed by
a SQLite journal; the Redis store (for several processes) does it with a compare-and-set
script. Both hand the same :class:`SubjectView` to the service.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Awaitable, Callable, Mapping, TypeVar

from .session import StreamSession, SubjectKey

T = TypeVar("T")


class SubjectView:
    """A viewer's sessions inside one transaction, and what the transaction changed.

    Sessions are never mutated in place: `put` replaces a record, so a store can keep the
    previous state until the transaction is committed.
    """

    __slots__ = ("key", "sessions", "written", "touched", "dropped", "version", "previous")

    def __init__(self, key: SubjectKey, sessions: dict[str, StreamSession], version: int = 0) -> None:
        self.key = key
        self.sessions = sessions
        self.version = version
        self.written: dict[str, StreamSession] = {}
        self.touched: dict[str, StreamSession] = {}
        self.dropped: set[str] = set()
        #: The record each changed id had before this transaction (None: it is new), so that
        #: observers can tell what changed without copying every session up front.
        self.previous: dict[str, StreamSession | None] = {}

    def put(self, session: StreamSession, *, durable: bool = True) -> None:
        """Record a new or changed session; `durable=False` for heartbeats, written lazily: such a
        change may move nothing but `expires` (a store may persist only that)."""
        if session.id not in self.previous:
            self.previous[session.id] = self.sessions.get(session.id)
        self.sessions[session.id] = session
        self.dropped.discard(session.id)
        if durable:
            self.written[session.id] = session
            self.touched.pop(session.id, None)
        elif session.id not in self.written:
            self.touched[session.id] = session

    def drop(self, session_id: str) -> None:
        if session_id not in self.previous:
            self.previous[session_id] = self.sessions.get(session_id)
        self.sessions.pop(session_id, None)
        self.written.pop(session_id, None)
        self.touched.pop(session_id, None)
        self.dropped.add(session_id)

    def live(self, now: float) -> list[StreamSession]:
        return [s for s in self.sessions.values() if s.is_live(now)]

    def forget_old(self, now: float) -> None:
        """Lazy expiry: drop records nobody can ask about any more (cost: this viewer only)."""
        for sid in [sid for sid, s in self.sessions.items() if s.forgettable(now)]:
            self.drop(sid)

    @property
    def changed(self) -> bool:
        return bool(self.written or self.touched or self.dropped)


class SessionStore(ABC):
    """Where sessions live. Implementations must make `transact` atomic per viewer."""

    #: True when `hit` takes `key=` and `transact` takes `limit=`: the rate counters live beside
    #: the viewer's sessions and are counted in the same round trip (Redis).
    scoped_hits: bool = False

    #: A heartbeat renewal in one step (Redis: one round trip), called as
    #: `renew(key, sid, bucket, limit, window, now)` -> (renewed?, session as stored); None when
    #: the store renews through `transact`. `bucket=None`: a renewal not counted against any
    #: rate limit (an OXM stream renewal).
    renew: Callable[..., Awaitable[tuple[bool, StreamSession | None]]] | None = None

    #: The viewer's sessions as they are right now, read without a transaction; only stores that
    #: hold them in this process offer it (None elsewhere). Read only: what is decided on them
    #: must still be written through `transact` or `renew`.
    peek: Callable[[SubjectKey], Mapping[str, StreamSession]] | None = None

    #: `hit` as a plain call, for a store that counts in this process (None elsewhere): the hot
    #: paths then count without making and awaiting a coroutine.
    count_now: Callable[[str, int, float, float], float | None] | None = None

    #: Called with the view of every transaction that changed something, once it is committed
    #: (not for an attempt that was retried or failed): the metrics count session outcomes here.
    observer: Callable[[SubjectView], None] | None = None

    #: True when `transact` and `hit` need no asyncio task to run in: until their first wait
    #: they touch no network client, timeout or task-scoped state (in memory). The server may
    #: then run a hot request's first step straight from its protocol callback.
    inline: bool = False

    async def start(self) -> None:  # pragma: no cover - default no-op
        return None

    async def close(self) -> None:  # pragma: no cover - default no-op
        return None

    async def abandon(self) -> None:
        """Stop as a killed process would, writing nothing more; a store that defers no writes
        loses nothing, so the default is `close`."""
        await self.close()

    async def flush_deferred(self) -> None:
        """Write what is written lazily now; nothing, for a store that defers no writes."""
        return None

    @abstractmethod
    async def transact(self, key: SubjectKey, fn: Callable[[SubjectView], T], *, live_only: bool = False) -> T:
        """Run `fn` on the viewer's sessions and commit its changes as one step.

        `fn` must be synchronous and free of side effects other than on the view: a store
        may run it more than once (optimistic retries). Durable changes are persisted
        before this returns. With `live_only` a store may leave the ended sessions out of the
        view (Redis keeps them apart), so `fn` must look at live sessions only.
        """

    @abstractmethod
    async def hit(self, bucket: str, limit: int, window: float, now: float) -> float | None:
        """Count one call against `bucket`; over `limit` in the current window, return when
        calls are accepted again, else None."""

    async def count_live(self, now: float) -> int:  # pragma: no cover - optional
        return 0
