"""Use cases of concurrency monitoring: start, heartbeat, stop and list a viewer's streams.

The service ties the pure engine to a store and the policy catalog. Errors are raised as
:class:`ConcurrencyError` subclasses that each API renders in its own wire format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable, Mapping

from .engine import Decision, evaluate
from .ids import SessionIds
from .policy import Application, PolicyCatalog
from .session import Ending, StreamSession, shared_values, started_order
from .store import Rate, SessionStore, SubjectView

# Once set, these attributes describe what is being watched and where; a heartbeat cannot change them.
IMMUTABLE_METADATA = ("channel", "assetId", "platform", "package", "mobileDevice", "hba")
RATE_LIMIT = 200
RATE_WINDOW = 60.0
_NO_CODES: frozenset[str] = frozenset()  # no X-Terminate


class ConcurrencyError(Exception):
    """Base of every refusal the concurrency service can give."""


class UnknownApplication(ConcurrencyError):
    pass


class ApplicationDisabled(ConcurrencyError):
    pass


class MetadataMissing(ConcurrencyError):
    def __init__(self, attributes: tuple[str, ...]) -> None:
        super().__init__(f"missing metadata: {', '.join(attributes)}")
        self.attributes = attributes


class MetadataImmutable(ConcurrencyError):
    def __init__(self, attributes: list[str]) -> None:
        super().__init__(f"metadata cannot change once set: {', '.join(attributes)}")
        self.attributes = attributes


class PolicyDenied(ConcurrencyError):
    def __init__(self, decision: Decision) -> None:
        super().__init__("a policy denies this stream")
        self.decision = decision


class SessionNotFound(ConcurrencyError):
    """The id was never issued by this server for this application and viewer."""


class SessionGone(ConcurrencyError):
    """The session ended; `ending` says how when another stream ended it."""

    def __init__(self, ending: Ending | None) -> None:
        super().__init__("the session is no longer active")
        self.ending = ending


class SessionEvicted(ConcurrencyError):
    """A FIFO rule made room for a newer stream by ending this one."""

    def __init__(self, ending: Ending) -> None:
        super().__init__("the session was evicted by a newer stream")
        self.ending = ending


class RateLimited(ConcurrencyError):
    def __init__(self, retry_at: float) -> None:
        super().__init__("too many requests")
        self.retry_at = retry_at


@dataclass(slots=True)
class Started:
    session: StreamSession
    terminated: list[StreamSession] = field(default_factory=list)
    evicted: list[StreamSession] = field(default_factory=list)


@dataclass(slots=True)
class Running:
    mine: list[StreamSession]
    others: int


def parse_terminate(values: Iterable[str]) -> list[str]:
    """Termination codes from one or more X-Terminate values, comma- or newline-separated."""
    codes: list[str] = []
    for value in values:
        for part in value.replace("\n", ",").replace("\r", ",").split(","):
            part = part.strip()
            if part and part not in codes:
                codes.append(part)
    return codes


class ConcurrencyService:
    def __init__(
        self,
        store: SessionStore,
        ids: SessionIds,
        catalog: PolicyCatalog,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.ids = ids
        self.catalog = catalog
        self.clock = clock

    # -- applications -------------------------------------------------------------------

    def application(self, app_id: str | None) -> Application:
        app = self.catalog.applications.get(app_id or "")
        if app is None:
            raise UnknownApplication(f"unknown application {app_id!r}")
        if not app.enabled:
            raise ApplicationDisabled(f"application {app_id!r} is disabled")
        return app

    def required_metadata(self, app: Application) -> tuple[str, ...]:
        return self.catalog.required_metadata(app.id)

    # -- sessions -----------------------------------------------------------------------

    def start(
        self,
        app: Application,
        idp: str,
        subject: str,
        metadata: Mapping[str, str],
        terminate: Iterable[str] = (),
    ) -> Awaitable[Started]:
        """A new stream, decided and recorded in one transaction once awaited; a refusal raises
        (on a store in this process before anything waits: most starts of a full viewer end
        there). The store's transaction is returned as it is, not wrapped in a coroutine of its
        own: a start is the most frequent call there is."""
        now = self.clock()
        codes = set(terminate) if terminate else _NO_CODES

        def admit(view: SubjectView) -> Started:
            decision, doomed = self._decide(app, metadata, view.live(now), codes)
            view.forget_old(now)  # (once admitted: a refusal writes nothing)
            sid, code = self.ids.new(app.id, idp, subject)
            kept = shared_values(metadata)  # (a copy: the caller's dict is not kept)
            session = StreamSession(
                id=sid,
                app_id=app.id,
                tenant=app.tenant,
                idp=idp,
                subject=subject,
                metadata=kept,
                started=now,
                expires=now + app.heartbeat_interval,
                code=code,
                interval=app.heartbeat_interval,
            )
            view.put(session)
            by = dict(by=sid, by_app=app.id, by_code=session.code, by_metadata=kept)
            started = Started(session)
            for s in doomed:
                view.put(s.ended_by(Ending("terminated", now, **by)))
                started.terminated.append(s)
            for s, v in decision.evictions:
                ending = Ending("evicted", now, policy=v.policy.name, rule=v.rule.name,
                                threshold=v.rule.threshold, scope=v.scope, **by)
                view.put(s.ended_by(ending))
                started.evicted.append(s)
            return started

        # `admit` looks at live sessions only: a store may leave the ended ones unread.
        rate: Rate = (f"init\x00{app.tenant}", RATE_LIMIT, RATE_WINDOW, now)
        return self.store.transact((idp, subject), admit, live_only=True, rate=rate)

    def _decide(self, app: Application, meta: Mapping[str, str], live: list[StreamSession],
                codes: "set[str] | frozenset[str]") -> tuple[Decision, list[StreamSession]]:
        """The policies' decision on a new stream beside `live`, once the streams named by
        X-Terminate `codes` are gone (returned as well); raises when it is a refusal."""
        doomed = [s for s in live if s.code in codes and s.tenant == app.tenant] if codes else []
        decision = evaluate(self.catalog, app, meta, [s for s in live if s not in doomed] if doomed else live)
        if decision.missing:
            raise MetadataMissing(decision.missing)
        if decision.denials:
            raise PolicyDenied(decision)
        return decision, doomed

    def _check_issued(self, app: Application, idp: str, subject: str, sid: str) -> None:
        if not self.ids.issued(sid, app.id, idp, subject):
            raise SessionNotFound(f"session {sid!r} was not issued by this service")

    @staticmethod
    def _active(view: SubjectView, sid: str, now: float) -> StreamSession:
        return ConcurrencyService._check_active(view.sessions.get(sid), now)

    @staticmethod
    def _check_active(session: StreamSession | None, now: float) -> StreamSession:
        if session is None:
            raise SessionGone(None)
        if session.ended is not None:
            if session.ended.reason == "evicted":
                raise SessionEvicted(session.ended)
            if session.ended.reason in ("terminated", "operator"):
                raise SessionGone(session.ended)
            raise SessionGone(None)
        if not session.is_live(now):
            raise SessionGone(None)
        return session

    async def heartbeat(
        self, app: Application, idp: str, subject: str, sid: str, metadata: Mapping[str, str]
    ) -> StreamSession:
        self._check_issued(app, idp, subject, sid)
        now = self.clock()
        rate: Rate = (f"hb\x00{sid}", RATE_LIMIT, RATE_WINDOW, now)
        if not metadata:  # only the expiry moves: the store renews in one step
            renewed, session = await self.store.renew((idp, subject), sid, now, rate=rate, app_id=app.id)
            if renewed:
                return session
            self._check_active(session, now)  # raises why it is not renewable
            raise SessionGone(None)  # (not reached: a record the store did not renew is not live)
        return await self.store.transact((idp, subject), self._beat(sid, now, dict(metadata)), rate=rate)

    def _beat(self, sid: str, now: float, meta: dict[str, str]) -> Callable[[SubjectView], StreamSession]:
        def beat(view: SubjectView) -> StreamSession:
            session = self._active(view, sid, now)
            clash = [k for k in IMMUTABLE_METADATA
                     if k in meta and k in session.metadata and meta[k] != session.metadata[k]]
            if clash:
                raise MetadataImmutable(clash)
            merged = {**session.metadata, **shared_values(meta)} if meta else session.metadata
            changed = merged != session.metadata
            renewed = session.renewed(now + session.interval, merged)
            view.put(renewed, durable=changed)
            return renewed

        return beat

    async def stop(self, app: Application, idp: str, subject: str, sid: str, *,
                   operator: str | None = None) -> StreamSession:
        """End a session: its player's DELETE, or an `operator` (then named to the player in the
        410 of its next heartbeat)."""
        self._check_issued(app, idp, subject, sid)
        now = self.clock()
        ending = Ending("operator", now, operator=operator) if operator else Ending("deleted", now)

        def end(view: SubjectView) -> StreamSession:
            session = self._active(view, sid, now)
            ended = session.ended_by(ending)
            view.put(ended)
            return ended

        rate: Rate = (f"hb\x00{sid}", RATE_LIMIT, RATE_WINDOW, now)
        return await self.store.transact((idp, subject), end, rate=rate)

    async def running(self, app: Application, idp: str, subject: str) -> Running:
        now = self.clock()

        live = sorted((s for s in (await self.store.snapshot((idp, subject))).values() if s.is_live(now)),
                      key=started_order)
        mine = [s for s in live if s.tenant == app.tenant]
        return Running(mine, len(live) - len(mine))


class ServiceUnavailable(ConcurrencyError):
    """The session store did not answer (or kept conflicting): nothing was decided; retry soon."""


# Seconds a client is told to wait (Retry-After) when a store or database did not answer.
RETRY_AFTER_SECONDS = 1


class InvalidRequest(ConcurrencyError):
    """Input that no policy decision can be made on (malformed metadata and the like)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
