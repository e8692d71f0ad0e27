"""The session store interface: one viewer's sessions, changed atomically.

The engine is pure; a store makes "look at the viewer's sessions, decide, write the
decision" one indivisible step. The embedded store does it in process memory backed by
a SQLite journal; the Redis store (for several processes) does it with a compare-and-set
script. Both hand the same :class:`SubjectView` to the service.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import MappingProxyType
from typing import Awaitable, Callable, Mapping, TypeVar

from .session import StreamSession, SubjectKey

T = TypeVar("T")


_NO_SESSIONS: Mapping = MappingProxyType({})
_NO_IDS: frozenset = frozenset()


class SubjectView:
    """A viewer's sessions inside one transaction, and what the transaction changed.

    Sessions are never mutated in place: `put` replaces a record, so a store can keep the
    previous state until the transaction is committed. `sessions` changes only through `put`
    and `drop` (a store may hand over its own dict, copied at the first change).
    """

    __slots__ = ("key", "sessions", "written", "touched", "dropped", "version", "previous", "_shared",
                 "_unchanged")

    def __init__(self, key: SubjectKey, sessions: dict[str, StreamSession], version: int = 0, *,
                 shared: bool = False) -> None:
        self.key = key
        #: With `shared`, the store's own dict: copied before the first change (most
        #: transactions of a store in memory are refusals that change nothing).
        self.sessions = sessions
        self._shared = shared
        self.version = version
        # Made at the first change (until then the shared empty ones below: read only).
        self._unchanged = True
        self.written: dict[str, StreamSession] = _NO_SESSIONS  # type: ignore[assignment]
        self.touched: dict[str, StreamSession] = _NO_SESSIONS  # type: ignore[assignment]
        self.dropped: set[str] = _NO_IDS  # type: ignore[assignment]
        #: The record each changed id had before this transaction (None: it is new), so that
        #: observers can tell what changed without copying every session up front.
        self.previous: dict[str, StreamSession | None] = _NO_SESSIONS  # type: ignore[assignment]

    def _first_change(self) -> None:
        self._unchanged = False
        if self._shared:
            self.sessions, self._shared = dict(self.sessions), False
        self.written, self.touched, self.dropped, self.previous = {}, {}, set(), {}

    def put(self, session: StreamSession, *, durable: bool = True) -> None:
        """Record a new or changed session; `durable=False` for heartbeats, written lazily: such a
        change may move nothing but `expires` (a store may persist only that)."""
        if self._unchanged:
            self._first_change()
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
        if self._unchanged:
            self._first_change()
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


#: One call counted against a rate limit, as (bucket, limit, window, now): at most `limit` calls
#: of `bucket` per `window` seconds for one viewer (the window that holds `now`). Over it,
#: :class:`RateLimited` says when calls are accepted again. (A plain tuple: one is made for
#: every call, and a named tuple's constructor is a Python call.)
Rate = tuple[str, int, float, float]


class SessionStore(ABC):
    """Where sessions live. Every operation is declared here, so a service has one way to ask
    for each; the defaults go through `transact`, and a store overrides what it can do cheaper
    (Redis: in one round trip; the embedded store: without copying a viewer's records)."""

    #: Called with the view of every transaction that changed something, once it is committed
    #: (not for an attempt that was retried or failed): the metrics count session outcomes here.
    observer: Callable[[SubjectView], None] | None = None

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
    def transact(self, key: SubjectKey, fn: Callable[[SubjectView], T], *, live_only: bool = False,
                 rate: Rate | None = None) -> Awaitable[T]:
        """Run `fn` on the viewer's sessions and commit its changes as one step, once awaited (a
        store in this process may decide in the call itself, and raise a refusal from it).

        `fn` must be synchronous and free of side effects other than on the view: a store
        may run it more than once (optimistic retries). Durable changes are persisted
        before this returns. With `live_only` a store may leave the ended sessions out of the
        view (Redis keeps them apart), so `fn` must look at live sessions only. With `rate`
        the call is counted first (beside the viewer's sessions: Redis counts it in the same
        round trip as its first read) and :class:`RateLimited` raised over the limit, before
        `fn` runs.
        """

    @abstractmethod
    async def hit(self, key: SubjectKey, rate: Rate) -> float | None:
        """Count one call against the viewer's `rate.bucket`; over the limit in the current
        window, return when calls are accepted again, else None."""

    async def renew(self, key: SubjectKey, sid: str, now: float, *, rate: Rate | None = None,
                    app_id: str | None = None) -> tuple[bool, StreamSession | None]:
        """A heartbeat that changes nothing but the expiry: (True, the renewed session) while the
        session is live, else (False, its record as it is, or None) for the caller to say why.
        Counted against `rate` first when given. The new expiry may be written lazily. `app_id`
        is the session's application when the caller knows it (Redis names an index by it)."""

        def renewing(view: SubjectView) -> tuple[bool, StreamSession | None]:
            session = view.sessions.get(sid)
            if session is None or not session.is_live(now):
                return False, session
            renewed = session.renewed(now + session.interval, session.metadata)
            view.put(renewed, durable=False)
            return True, renewed

        return await self.transact(key, renewing, rate=rate)

    async def snapshot(self, key: SubjectKey) -> Mapping[str, StreamSession]:
        """The viewer's sessions that have not ended, as they are now; read only (whatever is
        decided on them must be written through `transact` or `renew`)."""
        return await self.transact(key, _sessions_of, live_only=True)

    async def count_live(self, now: float) -> int | None:  # pragma: no cover - optional
        """Live sessions of every viewer, for the active-sessions gauge; None when the store
        keeps no such count."""
        return None

    async def live_by_application(self, now: float) -> dict[str, int] | None:  # pragma: no cover - optional
        """Live sessions per application id (the console's dashboard); None when the store keeps
        no such count."""
        return None


def _sessions_of(view: SubjectView) -> dict[str, StreamSession]:
    return view.sessions  # (the view's own dict: nothing else holds it once the read is over)
