"""Shares on objects: who holds which level, and what that lets them do."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..accounts.models import GroupRoleRow, GroupRow, UserRow
from ..accounts.service import identity
from ..errors import (
    CANNOT_SHARE, GROUP_HAS_NO_ROLES, GROUP_NOT_FOUND, SHARE_PERMISSION_NOT_FOUND, USER_GROUP_NOT_FOUND,
    USER_HAS_NO_ROLES, USER_NOT_FOUND, HmpError, invalid,
)
from .models import PublicShareRow, SharePermissionRow, ShareRow
from .rights import BUILTIN_LEVELS, NO_ACCESS, Access, Principal, access, may_grant

SHARE_TYPES = ("USER", "GROUP")


async def level_actions(db: AsyncSession, resource: str) -> dict[str, frozenset[str]]:
    levels = dict(BUILTIN_LEVELS[resource])
    for row in (await db.scalars(select(SharePermissionRow).where(SharePermissionRow.resource == resource))).all():
        levels[row.id] = frozenset(row.actions)
    return levels


async def accesses(db: AsyncSession, principal: Principal, resource: str,
                   object_ids: Iterable[str] | None = None) -> dict[str, Access]:
    """Access of `principal` to each object (all objects of the resource when ids is None)."""
    ids = None if object_ids is None else list(object_ids)
    held: dict[str, list[str]] = {}
    shares = select(ShareRow.object_id, ShareRow.permission).where(
        ShareRow.resource == resource, ShareRow.principal_id.in_(principal.principal_ids))
    public = select(PublicShareRow.object_id, PublicShareRow.permission).where(PublicShareRow.resource == resource)
    if ids is not None:
        shares = shares.where(ShareRow.object_id.in_(ids))
        public = public.where(PublicShareRow.object_id.in_(ids))
    for object_id, level in [*(await db.execute(shares)).all(), *(await db.execute(public)).all()]:
        held.setdefault(object_id, []).append(level)
    levels = await level_actions(db, resource)
    keys = ids if ids is not None else list(held)
    return {oid: access(principal, resource, held.get(oid, ()), levels) for oid in keys}


async def access_to(db: AsyncSession, principal: Principal, resource: str, object_id: str) -> Access:
    return (await accesses(db, principal, resource, [object_id])).get(object_id, NO_ACCESS)


async def grant_owner(db: AsyncSession, resource: str, object_id: str, principal: Principal) -> None:
    """The creator of an object owns it."""
    db.add(ShareRow(resource=resource, object_id=object_id, principal_id=principal.user_id,
                    principal_type="USER", permission="OWN"))


async def forget(db: AsyncSession, resource: str, object_id: str) -> None:
    await db.execute(delete(ShareRow).where(ShareRow.resource == resource, ShareRow.object_id == object_id))
    await db.execute(delete(PublicShareRow).where(PublicShareRow.resource == resource,
                                                  PublicShareRow.object_id == object_id))




async def _render(db: AsyncSession, row: ShareRow) -> dict | None:
    if row.principal_type == "USER":
        user = await db.get(UserRow, row.principal_id)
        if user is None:
            return None
        return {"id": user.id, "shareType": "USER", "permission": row.permission, "name": user.username,
                "email": user.email or None}
    group = await db.get(GroupRow, row.principal_id)
    if group is None:
        return None
    return {"id": group.id, "shareType": "GROUP", "permission": row.permission, "name": group.groupname,
            "email": None}


async def list_shares(db: AsyncSession, resource: str, object_id: str) -> list[dict]:
    rows = (await db.scalars(select(ShareRow).where(ShareRow.resource == resource, ShareRow.object_id == object_id)
                             .order_by(ShareRow.principal_type.desc(), ShareRow.principal_id))).all()
    out = [await _render(db, r) for r in rows]
    return [s for s in out if s is not None]


async def _share(db: AsyncSession, resource: str, object_id: str, share_id: str) -> ShareRow:
    row = await db.get(ShareRow, (resource, object_id, share_id))
    if row is None or await _render(db, row) is None:
        raise HmpError(USER_GROUP_NOT_FOUND)
    return row


async def get_share(db: AsyncSession, resource: str, object_id: str, share_id: str) -> dict:
    return await _render(db, await _share(db, resource, object_id, share_id))  # type: ignore[return-value]


async def _level(db: AsyncSession, resource: str, permission: str) -> frozenset[str]:
    levels = await level_actions(db, resource)
    if permission not in levels:
        raise HmpError(SHARE_PERMISSION_NOT_FOUND)
    return levels[permission]


async def _target(db: AsyncSession, share_type: str, ident: str | None, name: str | None) -> tuple[str, str]:
    """Resolve the user or group a share is for (id wins over name); it must have a role."""
    if share_type not in SHARE_TYPES:
        raise invalid("shareType must be USER or GROUP")
    if not ident and not name:
        raise invalid("either id or name is required")
    if share_type == "USER":
        user = await db.get(UserRow, ident) if ident else await db.scalar(select(UserRow).where(UserRow.username == name))
        if user is None or not user.enabled:
            raise HmpError(USER_NOT_FOUND)
        if await identity(db, user) is None:
            raise HmpError(USER_HAS_NO_ROLES)
        return user.id, "USER"
    group = await db.get(GroupRow, ident) if ident else await db.scalar(select(GroupRow).where(GroupRow.groupname == name))
    if group is None or not group.enabled:
        raise HmpError(GROUP_NOT_FOUND)
    if await db.scalar(select(GroupRoleRow.role_id).where(GroupRoleRow.group_id == group.id).limit(1)) is None:
        raise HmpError(GROUP_HAS_NO_ROLES)
    return group.id, "GROUP"


async def create_share(db: AsyncSession, principal: Principal, holder: Access, resource: str, object_id: str,
                       body: dict) -> dict:
    level = await _level(db, resource, body["permission"])
    principal_id, share_type = await _target(db, body["shareType"], body.get("id"), body.get("name"))
    existing = await db.get(ShareRow, (resource, object_id, principal_id))
    levels = await level_actions(db, resource)
    if not may_grant(principal, holder, level) or (
            existing is not None and not may_grant(principal, holder, levels.get(existing.permission, frozenset()))):
        raise HmpError(CANNOT_SHARE)
    if existing is None:
        db.add(ShareRow(resource=resource, object_id=object_id, principal_id=principal_id,
                        principal_type=share_type, permission=body["permission"]))
    else:
        existing.permission = body["permission"]
    await db.flush()
    out = await get_share(db, resource, object_id, principal_id)
    await db.commit()
    return out


async def update_share(db: AsyncSession, principal: Principal, holder: Access, resource: str, object_id: str,
                       share_id: str, body: dict) -> dict:
    row = await _share(db, resource, object_id, share_id)
    if body.get("id") not in (None, share_id):
        raise invalid("id is immutable")
    if body.get("shareType") not in (None, row.principal_type):
        raise invalid("shareType is immutable")
    level = await _level(db, resource, body["permission"])
    levels = await level_actions(db, resource)
    if not (may_grant(principal, holder, level) and may_grant(principal, holder, levels.get(row.permission, frozenset()))):
        raise HmpError(CANNOT_SHARE)
    row.permission = body["permission"]
    await db.flush()
    out = await get_share(db, resource, object_id, share_id)
    await db.commit()
    return out


async def delete_share(db: AsyncSession, principal: Principal, holder: Access, resource: str, object_id: str,
                       share_id: str) -> None:
    row = await _share(db, resource, object_id, share_id)
    levels = await level_actions(db, resource)
    if not may_grant(principal, holder, levels.get(row.permission, frozenset())):
        raise HmpError(CANNOT_SHARE)
    await db.delete(row)
    await db.commit()


# -- public shares (WATCH only) ----------------------------------------------------------------------

async def get_public(db: AsyncSession, resource: str, object_id: str) -> dict:
    row = await db.get(PublicShareRow, (resource, object_id))
    if row is None:
        raise HmpError(SHARE_PERMISSION_NOT_FOUND)
    return {"permission": row.permission}


async def create_public(db: AsyncSession, resource: str, object_id: str, permission: str) -> dict:
    levels = await level_actions(db, resource)
    if permission not in levels:
        raise HmpError(SHARE_PERMISSION_NOT_FOUND)
    if permission != "WATCH":
        raise HmpError(CANNOT_SHARE, "Only the WATCH permission can be shared publicly")
    if await db.get(PublicShareRow, (resource, object_id)) is None:
        db.add(PublicShareRow(resource=resource, object_id=object_id, permission="WATCH"))
        await db.commit()
    return {"permission": "WATCH"}


async def delete_public(db: AsyncSession, resource: str, object_id: str) -> None:
    row = await db.get(PublicShareRow, (resource, object_id))
    if row is None:
        raise HmpError(SHARE_PERMISSION_NOT_FOUND)
    await db.delete(row)
    await db.commit()


# -- admin-defined share permissions ----------------------------------------------------------------

def permission_out(row: SharePermissionRow) -> dict:
    return {"id": row.id, "resource": row.resource, "name": row.name, "actions": sorted(row.actions)}
