"""Enforced playback: a token per live session and asset, and the check every fetch goes through.

No HTTP here. The check that edges and the `/play` handlers call, kept stable:

    async PlaybackService.check(token: str, asset: str | None, now: float) -> Verdict

- `token`: what the player holds (the path segment of `/play/<token>/...`).
- `asset`: what the request is for, "video:<id>" or "source:<id>"; None accepts the token's own.
- `now`: clock seconds (the service's clock, `service.clock()`, for the caller that has none).
- `Verdict.ok` says whether to serve; when it is False, `Verdict.reason` is the short text of the
  403 body (one of the `REASONS` below). `Verdict.claims` holds the token's claims when it could
  be read (the asset to serve, the session), else None. A check never raises for a refusal; it
  raises :class:`~streamkeeper.concurrency.service.ServiceUnavailable` when the session store does
  not answer (the caller answers 503).

A check reads the session from the shared store (so any process of any server verifies any
token, on Redis as on the embedded store), refuses once it has ended for any reason, and counts the
fetch as the session's heartbeat: at most once every `RENEW_EVERY` seconds per session, the expiry
moves (unless the application switched that off) and the time of the last fetch is recorded for
the console. A session's fit under the current policy is judged again when the catalog changed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..caches import make_room
from ..concurrency.engine import survivors
from ..concurrency.service import ConcurrencyService, SessionNotFound
from ..concurrency.session import StreamSession
from ..concurrency.store import SessionStore, SubjectView
from .grants import Grants
from .tokens import BadToken, Claims, TokenCodec

RENEW_EVERY = 5.0  # seconds: a session's fetches write to the store at most this often
DEFAULT_TTL = 6 * 3600  # seconds a playback URL lasts unless asked for less
MAX_TTL = 24 * 3600
JUDGED_MAX = 200_000
EXTRA = "playback"  # the key of a session's `extra` that marks it enforced: {"since", "fetched"}

FORGED = "forged token"
TOKEN_EXPIRED = "token expired"
OTHER_ASSET = "token for another asset"
APP_GONE = "application deleted"
APP_DISABLED = "application disabled"
TENANT_GONE = "tenant deleted"
NOT_GRANTED = "not available for playback"
ENDED_BY = {
    "deleted": "session ended: stopped by its player",
    "terminated": "session ended: terminated by another device",
    "evicted": "session ended: evicted by a newer stream",
    "operator": "session ended: ended by an operator",
}
SESSION_GONE = "session ended"
SESSION_EXPIRED = "session expired"
NO_LONGER_FITS = "session ended: no longer fits the policy"
REASONS = (FORGED, TOKEN_EXPIRED, OTHER_ASSET, APP_GONE, APP_DISABLED, TENANT_GONE, NOT_GRANTED,
           *ENDED_BY.values(), SESSION_GONE, SESSION_EXPIRED, NO_LONGER_FITS)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str = ""
    claims: Claims | None = None


class PlaybackRefused(Exception):
    """A playback URL cannot be given: `status` and `code` for the wire, `message` for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    claims: Claims


def ending_reason(session: StreamSession | None, now: float) -> str | None:
    """Why `session` can no longer play (None: it lives)."""
    if session is None:
        return SESSION_GONE
    if session.ended is not None:
        return ENDED_BY.get(session.ended.reason, SESSION_GONE)
    if not session.is_live(now):
        return SESSION_EXPIRED
    return None


class PlaybackService:
    def __init__(self, store: SessionStore, codec: TokenCodec, concurrency: ConcurrencyService, *,
                 oxm_enforcement: Callable[[str], Any] | None = None,
                 clock: Callable[[], float] = time.time, renew_every: float = RENEW_EVERY) -> None:
        self.store = store
        self.codec = codec
        self.concurrency = concurrency
        self.oxm_enforcement = oxm_enforcement  # tenant -> its Enforcement (oxm/limits.py)
        self.clock = clock
        self.renew_every = renew_every
        self.grants = Grants()
        # session id -> when this process last wrote its fetch to the store
        self._written: dict[str, float] = {}
        # session id -> the policy snapshot it was last found to fit (see `_fits`)
        self._judged: dict[str, object] = {}
        # session id -> the last fetch seen by this process (the console's freshest answer)
        self.fetched: dict[str, float] = {}
        # On Redis, a check of a session already judged takes one round trip (redis_check.py).
        self._quick = _quick_check(store)
        # A store in this process (no wait to read it): a check that writes nothing only reads.
        self._inline = getattr(store, "steps_inline", False) is True  # (ops/hot.py StepsInline)
        self._passes: dict[str, Verdict] = {}  # token -> its verdict to play

    # -- issuing -------------------------------------------------------------------------

    def _ttl(self, ttl: int | None) -> int:
        if ttl is None:
            return DEFAULT_TTL
        if not 1 <= ttl <= MAX_TTL:
            raise PlaybackRefused(400, "invalid", f"ttl is a number of seconds from 1 to {MAX_TTL}")
        return ttl

    async def issue_v2(self, app_id: str, idp: str, subject: str, sid: str, ref: str,
                       ttl: int | None = None) -> Issued:
        """A token for `/v2` session `sid` of (idp, subject) under application `app_id` to play `ref`."""
        app = self.concurrency.application(app_id)  # UnknownApplication / ApplicationDisabled
        ttl = self._ttl(ttl)
        try:
            self.concurrency._check_issued(app, idp, subject, sid)
        except SessionNotFound:
            raise PlaybackRefused(404, "no-session", f"session {sid!r} was not issued to this viewer") from None
        if not self.grants.allows("application", app.id, ref):
            raise PlaybackRefused(403, "not-granted", f"{ref} is not available for playback under {app.id!r}")
        now = self.clock()
        await self._mark((idp, subject), lambda s: s.id == sid, now)
        claims = Claims("v2", (idp, subject), sid, app.id, ref, now + ttl)
        return Issued(self.codec.issue(claims), claims)

    async def issue_oxm(self, tenant: str, user: str, asset: str, device: str, ref: str,
                        ttl: int | None = None) -> Issued:
        """A token for the OXM stream of (tenant, user, asset, device) to play `ref`."""
        from ..oxm.limits import ASSET, DEVICE, app_id

        ttl = self._ttl(ttl)
        if not self.grants.allows("tenant", tenant, ref):
            raise PlaybackRefused(403, "not-granted", f"{ref} is not available for playback under tenant {tenant!r}")
        now = self.clock()
        aid = app_id(tenant)
        session = await self._mark((aid, user), lambda s: (s.app_id == aid and s.metadata.get(ASSET) == asset
                                                           and s.metadata.get(DEVICE) == device), now)
        claims = Claims("oxm", (aid, user), session.id, tenant, ref, now + ttl)
        return Issued(self.codec.issue(claims), claims)

    async def _mark(self, key: tuple[str, str], mine: Callable[[StreamSession], bool], now: float) -> StreamSession:
        """Find the live session and mark it as playing through enforced playback."""
        def mark(view: SubjectView) -> StreamSession | str:
            found = None
            for s in view.sessions.values():
                if mine(s):
                    found = s
                    if s.ended is None:
                        break
            why = ending_reason(found, now)
            if why is not None:
                return why
            assert found is not None
            if EXTRA not in found.extra:
                extra = {**found.extra, EXTRA: {"since": now, "fetched": None}}
                view.put(dataclasses.replace(found, extra=extra))
            return found

        result = await self.store.transact(key, mark)
        if isinstance(result, str):
            if result == SESSION_GONE:
                raise PlaybackRefused(404, "no-session", "no live session: start one first")
            raise PlaybackRefused(410, "session-ended", result)
        return result

    # -- checking ------------------------------------------------------------------------

    async def check(self, token: str, asset: str | None, now: float) -> Verdict:
        try:
            claims = self.codec.read(token)
        except BadToken:
            return Verdict(False, FORGED)
        if now >= claims.expires:
            return Verdict(False, TOKEN_EXPIRED, claims)
        if asset is not None and asset != claims.asset:
            return Verdict(False, OTHER_ASSET, claims)
        catalog = self.concurrency.catalog
        if claims.kind == "v2":
            app = catalog.applications.get(claims.owner)
            if app is None:
                return Verdict(False, APP_GONE, claims)
            if not app.enabled:
                return Verdict(False, APP_DISABLED, claims)
            if not self.grants.allows("application", app.id, claims.asset):
                return Verdict(False, NOT_GRANTED, claims)
            judge = (catalog, app)
            beat = self.grants.fetch_heartbeat(app.id)
        else:
            if claims.owner not in catalog.tenants:
                return Verdict(False, TENANT_GONE, claims)
            if not self.grants.allows("tenant", claims.owner, claims.asset):
                return Verdict(False, NOT_GRANTED, claims)
            enf = self.oxm_enforcement(claims.owner) if self.oxm_enforcement is not None else None
            judge = (enf.catalog, enf.app) if enf is not None else None
            beat = True
        sid = claims.session
        if sid not in self.fetched:
            make_room(self.fetched, JUDGED_MAX)
        self.fetched[sid] = now
        write = now - self._written.get(sid, 0.0) >= self.renew_every
        judged = judge is None or self._judged.get(sid) is judge[0]
        if judged and not write and self._inline:
            # Nothing to write, the policy judged: a store in this process is only looked at (a
            # session that is not live is looked at again below, to say why).
            session = (await self.store.snapshot(claims.key)).get(sid)
            if session is not None and session.is_live(now):
                return self._passed(token, claims)
        look = self._looker(sid, now, judge, write, beat)
        quick = self._quick
        if quick is not None and judged:
            why = await quick.check(claims.key, sid, now, look)
        else:
            why = await self.store.transact(claims.key, look)
        if why is not None:
            self._written.pop(sid, None)
            self.fetched.pop(sid, None)
            return Verdict(False, why, claims)
        if write:
            make_room(self._written, JUDGED_MAX)
            self._written[sid] = now
        return self._passed(token, claims)

    def _passed(self, token: str, claims: Claims) -> Verdict:
        """The verdict that lets `token` play, made once per token (a player fetches with the same
        one for hours)."""
        verdict = self._passes.get(token)
        if verdict is None or verdict.claims is not claims:
            make_room(self._passes, JUDGED_MAX)
            verdict = self._passes[token] = Verdict(True, "", claims)
        return verdict

    def _looker(self, sid: str, now: float, judge, write: bool, beat: bool) -> Callable[[SubjectView], str | None]:
        def look(view: SubjectView) -> str | None:
            session = view.sessions.get(sid)
            why = ending_reason(session, now)
            if why is not None:
                return why
            assert session is not None
            if judge is not None and not self._fits(view, session, now, *judge):
                return NO_LONGER_FITS
            if write:
                mark = session.extra.get(EXTRA) or {"since": now}
                extra = {**session.extra, EXTRA: {**mark, "fetched": now}}
                expires = now + session.interval if beat else session.expires
                view.put(StreamSession(session.id, session.app_id, session.tenant, session.idp, session.subject,
                                       session.metadata, session.started, max(expires, session.expires),
                                       session.code, session.ended, session.interval, extra), durable=False)
            return None

        return look

    def _fits(self, view: SubjectView, session: StreamSession, now: float, catalog, app) -> bool:
        """Whether `session` would still be kept if the viewer's streams started again under
        `catalog` (see `engine.survivors`: LIFO rules drop the newest, FIFO rules the oldest).
        Judged again only when the policy snapshot changed: under one snapshot, a stream that
        fits keeps fitting until the engine itself ends it (an eviction, a termination)."""
        if self._judged.get(session.id) is catalog:
            return True
        apps = catalog.applications
        if session.id not in survivors(catalog, lambda s: apps.get(s.app_id, app), view.live(now)):
            return False
        make_room(self._judged, JUDGED_MAX)
        self._judged[session.id] = catalog
        return True

    # -- the console ---------------------------------------------------------------------

    def describe(self, session: StreamSession) -> dict | None:
        """How `session` plays through enforced playback: None when it never asked for a URL, else
        {"since", "lastFetch"} (clock seconds; lastFetch None before the first fetch)."""
        mark = session.extra.get(EXTRA)
        if not mark:
            return None
        stored = mark.get("fetched")
        local = self.fetched.get(session.id)
        last = max((t for t in (stored, local) if t is not None), default=None)
        return {"since": mark.get("since"), "lastFetch": last}


def _quick_check(store: SessionStore):
    """The one-round-trip check of a Redis store (redis_check.py), else None."""
    from ..concurrency.redis_store import RedisStore

    if type(store) is not RedisStore:  # (a wrapper or a subclass may not behave as it does)
        return None
    from .redis_check import RedisCheck

    return RedisCheck(store)
