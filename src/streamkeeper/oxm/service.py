"""Use cases of the experience API, independent of HTTP.

Streams run on the shared engine and session store: every viewer's streams live under the
store key ``("oxm:<tenant>", user)`` as sessions of the tenant's pseudo application, so one
`transact` decides and records a start atomically. Progress, watchlists, stream policies and
token keys live in the catalog database.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Mapping

import orjson
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..caches import make_room
from ..catalog_version import bump
from ..concurrency.engine import Decision, evaluate
from ..concurrency.session import StreamSession, SubjectKey, started_order
from ..concurrency.store import SessionStore, SubjectView
from . import errors
from .assets import AssetCatalog, NoAssets
from .limits import ASSET, DEVICE, Enforcement, StreamLimits, enforcement
from .models import ProgressRow, StreamPolicyRow, TokenKeyRow, WatchlistRow
from .tokens import KeyRing, Principal, TokenKey

# A player calls `streaming` at least every two minutes; the store adds its grace period.
STREAM_INTERVAL = 120
MAX_ID = 256
# Ids are free text, but never control characters (PostgreSQL refuses NUL in text).
ID_PATTERN = r"^[^\x00-\x1f\x7f]{1,256}$"
_ID = re.compile(ID_PATTERN)
MAX_PROGRESS = 10**12
JUDGED_MAX = 200_000


def rfc3339(ns: int) -> str:
    """``2019-04-25T19:06:21.577870309Z``: UTC, nanoseconds, as the history shows timestamps."""
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"


def to_ns(t: float) -> int:
    """Clock seconds to integer nanoseconds, rounded to the microsecond a float can carry."""
    return round(t * 1_000_000) * 1000


def check_id(value: str, what: str) -> str:
    if not _ID.match(value):
        raise errors.bad_request(f"{what} must be 1 to {MAX_ID} characters, none of them control characters")
    return value


def _identity(stream: StreamSession) -> tuple[str, str, str, str]:
    """What a stream is to OXM: (app, user, asset, device); the key of its judgement (`_judge`)."""
    meta = stream.metadata
    return stream.app_id, stream.subject, meta.get(ASSET, ""), meta.get(DEVICE, "")


class OxmService:
    def __init__(
        self,
        store: SessionStore,
        sessions: async_sessionmaker,
        tenants: Callable[[], Mapping[str, Any]],
        *,
        dialect: str = "sqlite",
        assets: AssetCatalog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.clock = clock
        self.keys = KeyRing(clock)
        self.assets: AssetCatalog = assets or NoAssets()
        self._sessions = sessions
        self._tenants = tenants
        self._seen_tenants: Mapping[str, Any] | None = None
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self._enforcement: dict[str, Enforcement] = {}
        # (app, user, asset, device) -> (stream id, the policy snapshot it was last allowed under)
        self._judged: dict[tuple[str, str, str, str], tuple[str, object]] = {}
        # Run after this process changed keys or policies; the server sets its catalog watcher's refresh.
        self.changed: Callable[[], Awaitable[None]] = self.reload

    # -- configuration ------------------------------------------------------------------

    async def reload(self) -> None:
        """Read token keys and stream policies again (other processes may have changed them)."""
        async with self._sessions() as db:
            keys = (await db.scalars(select(TokenKeyRow))).all()
            policies = (await db.scalars(select(StreamPolicyRow))).all()
        self.keys.load(TokenKey(k.id, k.tenant_id, k.algorithm, k.key, k.issuer, k.audience) for k in keys)
        self._enforcement = {
            p.tenant_id: enforcement(p.tenant_id, StreamLimits(p.max_per_user, p.max_per_asset, p.max_devices))
            for p in policies
        }

    def _judge(self, stream: StreamSession, catalog) -> None:
        """Remember that `stream` was allowed under `catalog` (a policy snapshot).

        Judged again, a renewal can only be refused if the policy changed: the streams that
        started before it can end but never grow in number (a new stream starts later), and
        fewer streams never break an "at most" limit. So while the snapshot is the same object,
        renewals skip the evaluation, and knowing the stream's id they need no read either.
        Bounded; forgetting only costs a re-evaluation."""
        make_room(self._judged, JUDGED_MAX)
        self._judged[_identity(stream)] = (stream.id, catalog)

    def _judged_under(self, stream: StreamSession, catalog) -> bool:
        judged = self._judged.get(_identity(stream))
        return judged is not None and judged[0] == stream.id and judged[1] is catalog

    def enforcement_of(self, tenant: str) -> Enforcement:
        """The tenant's stream policy as the engine applies it (enforced playback judges with it)."""
        return self._enforce(tenant)

    def _enforce(self, tenant: str) -> Enforcement:
        found = self._enforcement.get(tenant)
        if found is None:
            found = self._enforcement[tenant] = enforcement(tenant, StreamLimits())
        return found

    def authenticate(self, header: str | None) -> Principal:
        tenants = self._tenants()
        if tenants is not self._seen_tenants:  # the catalog changed: a tenant may be gone
            self._seen_tenants = tenants
            self.keys.retain(tenants)
        principal = self.keys.authenticate(header)
        if principal.tenant not in tenants:
            raise errors.unauthorized(errors.TOKEN_INVALID, "the token's tenant no longer exists")
        return principal

    # -- tenant stream policy -----------------------------------------------------------

    def _known_tenant(self, tenant: str) -> None:
        if tenant not in self._tenants():
            raise errors.not_found(f"no tenant {tenant!r}")

    async def stream_policy(self, who: Principal, tenant: str) -> StreamLimits:
        self._known_tenant(tenant)
        if who.tenant != tenant:
            raise errors.forbidden(errors.FORBIDDEN_READ, "the stream policy of another tenant cannot be read")
        async with self._sessions() as db:
            row = await db.get(StreamPolicyRow, tenant)
        if row is None:
            return StreamLimits()
        return StreamLimits(row.max_per_user, row.max_per_asset, row.max_devices)

    async def set_stream_policy(self, who: Principal, tenant: str, body: bytes) -> StreamLimits:
        """Store the policy; streams of the tenant meet it at their next `streaming` call."""
        self._known_tenant(tenant)
        if who.tenant != tenant or not who.admin:
            raise errors.forbidden(errors.FORBIDDEN_WRITE,
                                   "changing the stream policy needs the tenant's admin role")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise errors.bad_request("the body is not JSON", errors.POLICY_NOT_JSON) from None
        limits = StreamLimits.parse(data)
        await self.save_stream_policy(tenant, limits)
        return limits

    async def save_stream_policy(self, tenant: str, limits: StreamLimits) -> None:
        values = {"max_per_user": limits.max_per_user, "max_per_asset": limits.max_per_asset,
                  "max_devices": limits.max_devices}
        stmt = self._insert(StreamPolicyRow).values(tenant_id=tenant, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["tenant_id"], set_=values)
        async with self._sessions() as db:
            await db.execute(stmt)
            await bump(db)
            await db.commit()
        await self.changed()

    # -- streams ------------------------------------------------------------------------

    async def streaming(self, who: Principal, asset: str, device: str, progress: int | None) -> None:
        """Start or renew the stream of `asset` on `device`; a 409 OxmError when over a limit.

        A renewal is judged again under the current policy against the streams that started
        before it, so after a policy is tightened the newest streams are the ones refused. The
        progress a refused renewal carries is still stored: the viewer did watch that far. A
        refused start stores none (nothing was watched under it).
        """
        now = self.clock()
        enf = self._enforce(who.tenant)
        aid = enf.app.id
        if await self._renewed_as_judged(enf, (aid, who.user), asset, device, now):
            if progress is not None:
                await self._record_progress(who, asset, progress, now)
            return
        renewal = False

        def admit(view: SubjectView) -> Decision | None:
            nonlocal renewal
            view.forget_old(now)
            live = [s for s in view.live(now) if s.app_id == aid]
            mine = next((s for s in live if s.metadata.get(ASSET) == asset and s.metadata.get(DEVICE) == device),
                        None)
            renewal = mine is not None
            if mine is not None:
                if not self._judged_under(mine, enf.catalog):
                    older = [s for s in live if started_order(s) < started_order(mine)]
                    decision = evaluate(enf.catalog, enf.app, mine.metadata, older)
                    if decision.denials:
                        view.drop(mine.id)
                        return decision
                    self._judge(mine, enf.catalog)
                view.put(mine.renewed(now + STREAM_INTERVAL, mine.metadata), durable=False)
                return None
            metadata = {ASSET: asset, DEVICE: device}
            decision = evaluate(enf.catalog, enf.app, metadata, live)
            if decision.denials:
                return decision
            stream = StreamSession(
                id=secrets.token_urlsafe(18), app_id=aid, tenant=who.tenant, idp=aid, subject=who.user,
                metadata=metadata, started=now, expires=now + STREAM_INTERVAL, code="",
                interval=STREAM_INTERVAL,
            )
            view.put(stream)
            self._judge(stream, enf.catalog)
            return None

        denied = await self.store.transact((aid, who.user), admit, live_only=True)
        if progress is not None and (denied is None or renewal):
            await self._record_progress(who, asset, progress, now)
        if denied is not None:
            raise self._over_limit(denied, device)

    async def _renewed_as_judged(self, enf: Enforcement, key: SubjectKey, asset: str, device: str,
                                 now: float) -> bool:
        """The common renewal in one step (Redis: one round trip): this process allowed the
        stream under the very policy snapshot in force (see `_judge`), so there is nothing to
        decide, only an expiry to move, and the store does that only while the stream is live.
        False: take the general way (a stream ended, stopped or unknown here, a new policy)."""
        judged = self._judged.get((*key, asset, device))
        if judged is None or judged[1] is not enf.catalog:
            return False
        renewed, _ = await self.store.renew(key, judged[0], now, app_id=key[0])  # (its streams' application)
        return renewed

    @staticmethod
    def _over_limit(decision: Decision, device: str) -> errors.OxmError:
        v = decision.denials[0]
        limit = v.rule.name
        in_the_way = [s for s in v.conflicts if not (v.rule.distinct and s.metadata.get(DEVICE) == device)]
        return errors.OxmError(
            409, errors.LIMIT_CODES[limit],
            f"over the tenant's {limit} limit of {v.rule.threshold}: stop one of the listed streams first",
            limit=limit, max=v.rule.threshold, current=v.current,
            streams=[{"assetId": s.metadata.get(ASSET, ""), "deviceId": s.metadata.get(DEVICE, ""),
                      "startedAt": rfc3339(to_ns(s.started))} for s in in_the_way],
        )

    async def stopped(self, who: Principal, asset: str, device: str, progress: int | None) -> None:
        now = self.clock()
        aid = self._enforce(who.tenant).app.id

        def end(view: SubjectView) -> None:
            for s in list(view.sessions.values()):
                if s.app_id == aid and s.metadata.get(ASSET) == asset and s.metadata.get(DEVICE) == device:
                    view.drop(s.id)

        await self.store.transact((aid, who.user), end)
        if progress is not None:
            await self._record_progress(who, asset, progress, now)

    async def counts(self, who: Principal, by_device: bool, user: str | None = None) -> dict[str, Any]:
        target = self._target(who, user, write=False)
        now = self.clock()
        aid = self._enforce(who.tenant).app.id

        streams = [(s.metadata.get(ASSET, ""), s.metadata.get(DEVICE, ""))
                   for s in (await self.store.snapshot((aid, target))).values() if s.is_live(now) and s.app_id == aid]
        if not by_device:
            return dict(Counter(asset for asset, _ in streams))
        nested: dict[str, dict[str, int]] = {}
        for asset, device in streams:
            per = nested.setdefault(asset, {})
            per[device] = per.get(device, 0) + 1
        return nested

    # -- progress -----------------------------------------------------------------------

    @staticmethod
    def _target(who: Principal, user: str | None, *, write: bool) -> str:
        """Whose data a call is about: the caller's, or (tenant admins only) another user's."""
        if user is None or user == who.user:
            return who.user
        if who.admin:
            return check_id(user, "userId")
        if write:
            raise errors.forbidden(errors.FORBIDDEN_WRITE, "only your own data can be changed")
        raise errors.forbidden(errors.FORBIDDEN_READ, "only your own data can be read")

    async def _record_progress(self, who: Principal, asset: str, progress: int, now: float) -> None:
        ns = to_ns(now)
        stmt = self._insert(ProgressRow).values(tenant_id=who.tenant, user_id=who.user, asset_id=asset,
                                                progress=progress, updated_ns=ns)
        stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "user_id", "asset_id"],
                                          set_={"progress": progress, "updated_ns": ns})
        async with self._sessions() as db:
            await db.execute(stmt)
            await db.commit()

    async def progress(self, who: Principal, asset: str, user: str | None = None) -> dict[str, Any]:
        target = self._target(who, user, write=False)
        async with self._sessions() as db:
            row = await db.get(ProgressRow, (who.tenant, target, asset))
        if row is None:
            raise errors.not_found(f"no progress recorded for asset {asset!r}")
        return {"tenantId": row.tenant_id, "userId": row.user_id, "assetId": row.asset_id,
                "progress": row.progress, "timestamp": row.updated_ns // 1_000_000}

    async def delete_progress(self, who: Principal, asset: str, user: str | None = None) -> None:
        target = self._target(who, user, write=True)
        async with self._sessions() as db:
            result = await db.execute(delete(ProgressRow).where(
                ProgressRow.tenant_id == who.tenant, ProgressRow.user_id == target, ProgressRow.asset_id == asset))
            await db.commit()
        if not result.rowcount:
            raise errors.not_found(f"no progress recorded for asset {asset!r}")

    async def history(self, who: Principal, user: str | None = None) -> list[dict[str, Any]]:
        target = self._target(who, user, write=False)
        async with self._sessions() as db:
            rows = (await db.scalars(
                select(ProgressRow)
                .where(ProgressRow.tenant_id == who.tenant, ProgressRow.user_id == target)
                .order_by(ProgressRow.updated_ns.desc(), ProgressRow.asset_id)
            )).all()
        return [{"tenantId": r.tenant_id, "userId": r.user_id, "assetId": r.asset_id, "progress": r.progress,
                 "timestamp": rfc3339(r.updated_ns)} for r in rows]

    # -- watchlist ----------------------------------------------------------------------

    async def watch(self, who: Principal, asset: str, user: str | None = None) -> None:
        target = self._target(who, user, write=True)
        stmt = self._insert(WatchlistRow).values(tenant_id=who.tenant, user_id=target, asset_id=asset,
                                                 added_ns=to_ns(self.clock()))
        stmt = stmt.on_conflict_do_nothing(index_elements=["tenant_id", "user_id", "asset_id"])
        async with self._sessions() as db:
            await db.execute(stmt)
            await db.commit()

    async def unwatch(self, who: Principal, asset: str, user: str | None = None) -> None:
        target = self._target(who, user, write=True)
        async with self._sessions() as db:
            result = await db.execute(delete(WatchlistRow).where(
                WatchlistRow.tenant_id == who.tenant, WatchlistRow.user_id == target, WatchlistRow.asset_id == asset))
            await db.commit()
        if not result.rowcount:
            raise errors.not_found(f"asset {asset!r} is not on the watchlist")

    async def watchlist(self, who: Principal, full: bool, user: str | None = None) -> dict[str, Any]:
        target = self._target(who, user, write=False)
        now = self.clock()
        async with self._sessions() as db:
            ids = list((await db.scalars(
                select(WatchlistRow.asset_id)
                .where(WatchlistRow.tenant_id == who.tenant, WatchlistRow.user_id == target)
                .order_by(WatchlistRow.added_ns, WatchlistRow.asset_id)
            )).all())
        answer: dict[str, Any] = {"requestID": str(uuid.uuid4()), "timestamp": rfc3339(to_ns(now))}
        if not full:
            answer["assetIDs"] = ids
            answer["count"] = {"returned": len(ids)}
            return answer
        described = await self.assets.describe(who.tenant, ids) if ids else {}
        wanted = set(ids)
        found = [i for i in ids if i in described]
        assets = [described[i] for i in found]
        answer.update(
            assetIDs=found,
            assetIDsNotFound=[i for i in ids if i not in described],
            assets=assets,
            count={"acquired": len(found), "notFound": len(ids) - len(found), "returned": len(assets),
                   "unwanted": sum(1 for i in described if i not in wanted)},
        )
        return answer
