"""Grants: the live sources and videos an operator makes available for subscriber playback,
under an application (`/v2` sessions) or a tenant (OXM streams); and each application's playback
options. Use cases shared by `/admin/v1/playback`, the CLI, config files and the console; every
change bumps the catalog version, so every process reloads its :class:`Grants` within a second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..admin.models import ApplicationRow, TenantRow
from ..admin.schemas import IDENT
from ..admin.service import Invalid, NotFound
from ..catalog_version import bump
from .models import AppOptionsRow, GrantRow

_IDENT = re.compile(IDENT)
OwnerKind = Literal["application", "tenant"]
AssetKind = Literal["source", "video"]
OWNER_KINDS = ("application", "tenant")
ASSET_KINDS = ("source", "video")


def asset_ref(kind: str, asset_id: str) -> str:
    """How an asset is named in tokens and verdicts: "video:<id>" or "source:<id>"."""
    return f"{kind}:{asset_id}"


def split_ref(ref: str) -> tuple[str, str]:
    kind, _, asset_id = ref.partition(":")
    if kind not in ASSET_KINDS or not asset_id:
        raise Invalid(f"an asset is video:<id> or source:<id>, not {ref!r}")
    return kind, asset_id


@dataclass(frozen=True, slots=True)
class Grant:
    owner_kind: OwnerKind
    owner: str
    asset_kind: AssetKind
    asset: str

    @property
    def id(self) -> str:
        """`application:demo-app@video:<id>`: one path segment ("@" is in no id)."""
        return f"{self.owner_kind}:{self.owner}@{self.asset_kind}:{self.asset}"

    @classmethod
    def from_id(cls, text: str) -> "Grant":
        owner, at, asset = text.partition("@")
        owner_kind, _, owner_id = owner.partition(":")
        asset_kind, _, asset_id = asset.partition(":")
        if (not at or owner_kind not in OWNER_KINDS or asset_kind not in ASSET_KINDS
                or not _IDENT.match(owner_id) or not _IDENT.match(asset_id)):
            raise NotFound(f"no grant {text[:300]!r}")
        return cls(owner_kind, owner_id, asset_kind, asset_id)  # type: ignore[arg-type]

    def to_wire(self) -> dict:
        return {"id": self.id, "ownerKind": self.owner_kind, self.owner_kind: self.owner,
                "assetKind": self.asset_kind, self.asset_kind: self.asset}


@dataclass(frozen=True, slots=True)
class Grants:
    """One catalog's grants and options, read whole and swapped in whole."""

    allowed: frozenset[tuple[str, str, str]] = frozenset()  # (owner kind, owner, asset ref)
    no_fetch_heartbeat: frozenset[str] = frozenset()  # applications whose fetches renew nothing
    listed: tuple[Grant, ...] = field(default=())

    def allows(self, owner_kind: str, owner: str, ref: str) -> bool:
        return (owner_kind, owner, ref) in self.allowed

    def fetch_heartbeat(self, app_id: str) -> bool:
        return app_id not in self.no_fetch_heartbeat


async def read_grants(db: AsyncSession) -> Grants:
    rows = (await db.scalars(select(GrantRow).order_by(GrantRow.owner_kind, GrantRow.owner_id,
                                                       GrantRow.asset_kind, GrantRow.asset_id))).all()
    off = (await db.scalars(select(AppOptionsRow.application_id).where(AppOptionsRow.fetch_heartbeat.is_(False)))).all()
    listed = tuple(Grant(r.owner_kind, r.owner_id, r.asset_kind, r.asset_id) for r in rows)  # type: ignore[arg-type]
    return Grants(frozenset((g.owner_kind, g.owner, asset_ref(g.asset_kind, g.asset)) for g in listed),
                  frozenset(off), listed)


class GrantService:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def grants(self) -> Grants:
        async with self._sessions() as db:
            return await read_grants(db)

    async def _check_owner(self, db: AsyncSession, kind: str, owner: str) -> None:
        if kind == "application":
            if await db.get(ApplicationRow, owner) is None:
                raise NotFound(f"no application {owner!r}")
        elif kind == "tenant":
            if await db.get(TenantRow, owner) is None:
                raise NotFound(f"no tenant {owner!r}")
        else:
            raise Invalid(f"a grant is to an application or a tenant, not {kind!r}")

    async def _check_asset(self, db: AsyncSession, kind: str, asset: str) -> None:
        from ..hmp.assets.models import AssetRow
        from ..hmp.sources.models import SourceRow

        if kind not in ASSET_KINDS:
            raise Invalid(f"a grant is of a source or a video, not {kind!r}")
        row = await db.get(SourceRow if kind == "source" else AssetRow, asset)
        if row is None:
            raise NotFound(f"no {kind} {asset!r}")

    async def grant(self, g: Grant, *, check_asset: bool = True) -> bool:
        """Make `g` hold; True if it is new. Without `check_asset` (config files) the source or
        video may not exist yet."""
        async with self._sessions() as db:
            await self._check_owner(db, g.owner_kind, g.owner)
            if check_asset:
                await self._check_asset(db, g.asset_kind, g.asset)
            elif g.asset_kind not in ASSET_KINDS:
                raise Invalid(f"a grant is of a source or a video, not {g.asset_kind!r}")
            key = (g.owner_kind, g.owner, g.asset_kind, g.asset)
            if await db.get(GrantRow, key) is not None:
                return False
            db.add(GrantRow(owner_kind=g.owner_kind, owner_id=g.owner, asset_kind=g.asset_kind, asset_id=g.asset))
            await bump(db)
            await db.commit()
            return True

    async def revoke(self, g: Grant) -> None:
        """End a grant: tokens for it are refused from the next fetch ("not available")."""
        async with self._sessions() as db:
            result = await db.execute(delete(GrantRow).where(
                GrantRow.owner_kind == g.owner_kind, GrantRow.owner_id == g.owner,
                GrantRow.asset_kind == g.asset_kind, GrantRow.asset_id == g.asset))
            if not result.rowcount:
                raise NotFound(f"{g.asset_kind} {g.asset!r} is not granted to {g.owner_kind} {g.owner!r}")
            await bump(db)
            await db.commit()

    async def get(self, g: Grant) -> Grant:
        async with self._sessions() as db:
            if await db.get(GrantRow, (g.owner_kind, g.owner, g.asset_kind, g.asset)) is None:
                raise NotFound(f"no grant {g.id!r}")
        return g

    async def replace(self, old: Grant, new: Grant) -> Grant:
        """`old` becomes `new`, in one transaction."""
        async with self._sessions() as db:
            await self._check_owner(db, new.owner_kind, new.owner)
            await self._check_asset(db, new.asset_kind, new.asset)
            row = await db.get(GrantRow, (old.owner_kind, old.owner, old.asset_kind, old.asset))
            if row is None:
                raise NotFound(f"no grant {old.id!r}")
            if new != old:
                await db.delete(row)
                await db.flush()
                if await db.get(GrantRow, (new.owner_kind, new.owner, new.asset_kind, new.asset)) is None:
                    db.add(GrantRow(owner_kind=new.owner_kind, owner_id=new.owner, asset_kind=new.asset_kind,
                                    asset_id=new.asset))
                await bump(db)
                await db.commit()
        return new

    async def all_options(self) -> list[dict]:
        """Every application's playback options, defaults included."""
        async with self._sessions() as db:
            apps = (await db.scalars(select(ApplicationRow.id).order_by(ApplicationRow.id))).all()
            rows = {r.application_id: r.fetch_heartbeat for r in (await db.scalars(select(AppOptionsRow))).all()}
        return [{"id": a, "fetchHeartbeat": rows.get(a, True)} for a in apps]

    async def options(self, app_id: str) -> dict:
        async with self._sessions() as db:
            await self._check_owner(db, "application", app_id)
            row = await db.get(AppOptionsRow, app_id)
        return {"id": app_id, "fetchHeartbeat": True if row is None else row.fetch_heartbeat}

    async def set_options(self, app_id: str, *, fetch_heartbeat: bool) -> dict:
        async with self._sessions() as db:
            await self._check_owner(db, "application", app_id)
            row = await db.get(AppOptionsRow, app_id)
            if row is None:
                row = AppOptionsRow(application_id=app_id)
                db.add(row)
            row.fetch_heartbeat = fetch_heartbeat
            await bump(db)
            await db.commit()
        return {"id": app_id, "fetchHeartbeat": fetch_heartbeat}
