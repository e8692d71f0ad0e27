"""Loading a shared object for a caller: exists, visible to them, and allows the action asked for.

Objects a caller has no right to are reported as not found, so their existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import FORBIDDEN, SESSION_HIDDEN, ErrorKind, HmpError
from . import service
from .rights import NO_ACCESS, RESOURCE_AREA, Access, Principal, access


@dataclass(frozen=True)
class Kind:
    resource: str  # "sources", "sessions" or "assets"
    row: type
    not_found: ErrorKind
    hidden: Callable[[Any], bool] | None = None  # hidden objects are seen by their owners only
    order: Any = None

    @property
    def area(self) -> str:
        return RESOURCE_AREA[self.resource]


def require(principal: Principal, area: str, action: str) -> None:
    if not principal.can(area, action):
        raise HmpError(FORBIDDEN, f"{area} - {action} permission required")


async def load(db: AsyncSession, principal: Principal, kind: Kind, object_id: str, action: str,
               area_action: str | None = None) -> tuple[Any, Access]:
    """The object and the caller's access to it, or the documented error.

    `action` is checked on the object; `area_action` (default: the same) on the caller's roles."""
    require(principal, kind.area, area_action or action)
    row = await db.get(kind.row, object_id) if len(object_id) <= 64 else None
    if row is None:
        raise HmpError(kind.not_found)
    acc = await service.access_to(db, principal, kind.resource, object_id)
    if not acc.allows("VIEW"):
        raise HmpError(kind.not_found)
    if kind.hidden is not None and kind.hidden(row) and not acc.owner:
        raise HmpError(SESSION_HIDDEN)
    if not acc.allows(action):
        raise HmpError(FORBIDDEN, f"{kind.area} - {action} permission required on this object")
    return row, acc


async def visible(db: AsyncSession, principal: Principal, kind: Kind, query=None) -> list[tuple[Any, Access]]:
    """Every object of the kind the caller may see, in creation order."""
    require(principal, kind.area, "VIEW")
    stmt = query if query is not None else select(kind.row)
    stmt = stmt.order_by(kind.row.ctime, kind.row.id)
    rows = (await db.scalars(stmt)).all()
    accs = await service.accesses(db, principal, kind.resource)
    everything = access(principal, kind.resource, (), {})
    out = []
    for row in rows:
        acc = everything if principal.admin else accs.get(row.id, NO_ACCESS)
        if not acc.allows("VIEW"):
            continue
        if kind.hidden is not None and kind.hidden(row) and not acc.owner:
            continue
        out.append((row, acc))
    return out

