"""Administration use cases over the catalog tables, shared by `/admin/v1`, the CLI and config files.

Every change is validated by building the complete policy catalog inside the transaction,
so a change that would leave an application pointing nowhere never commits.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..catalog_version import bump
from ..concurrency import policy as domain
from ..concurrency.policy import Condition, PolicyCatalog, PolicyError
from . import schemas
from .models import ApplicationPolicyRow, ApplicationRow, PolicyRow, TenantRow


class AdminError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(AdminError):
    status = 404
    code = "not-found"


class AlreadyExists(AdminError):
    status = 409
    code = "already-exists"


class InUse(AdminError):
    status = 409
    code = "in-use"


class Invalid(AdminError):
    status = 400
    code = "invalid"


def _rule(data: dict) -> domain.Rule:
    cond = data.get("condition")
    return domain.Rule(
        name=data["name"],
        threshold=int(data["threshold"]),
        condition=Condition.parse(cond) if cond else None,
        scope=tuple(data.get("scope") or ()),
        distinct=data.get("distinct"),
        conflict=data.get("conflict", "LIFO"),
    )


async def read_catalog(db: AsyncSession) -> PolicyCatalog:
    tenants = {t.id: domain.Tenant(t.id, t.name) for t in (await db.scalars(select(TenantRow))).all()}
    policies = {
        p.id: domain.Policy(p.id, p.tenant_id, p.name, tuple(_rule(r) for r in p.rules))
        for p in (await db.scalars(select(PolicyRow))).all()
    }
    apps = {
        a.id: domain.Application(
            id=a.id,
            tenant=a.tenant_id,
            name=a.name,
            policies=tuple(link.policy_id for link in a.policy_links),
            heartbeat_interval=a.heartbeat_interval,
            enabled=a.enabled,
        )
        for a in (await db.scalars(select(ApplicationRow))).all()
    }
    return PolicyCatalog(tenants=tenants, applications=apps, policies=policies)


def _tenant_out(row: TenantRow) -> schemas.Tenant:
    return schemas.Tenant(id=row.id, name=row.name)


def _policy_out(row: PolicyRow) -> schemas.Policy:
    return schemas.Policy(id=row.id, tenant=row.tenant_id, name=row.name,
                          rules=[schemas.RuleSpec(**r) for r in row.rules])


def _app_out(row: ApplicationRow) -> schemas.Application:
    return schemas.Application(
        id=row.id, tenant=row.tenant_id, name=row.name, heartbeat_interval=row.heartbeat_interval,
        enabled=row.enabled, policies=[link.policy_id for link in row.policy_links],
    )


class AdminService:
    def __init__(self, sessions: async_sessionmaker, on_change: Callable[[], Awaitable[None]] | None = None):
        """`on_change` runs after every committed change (the server republishes its catalog)."""
        self._sessions = sessions
        self._on_change = on_change

    async def catalog(self) -> PolicyCatalog:
        async with self._sessions() as db:
            return await read_catalog(db)

    async def _commit(self, db: AsyncSession) -> None:
        """Validate the whole resulting catalog, then commit it with a new catalog version (which
        tells the other processes) and publish it in this one."""
        try:
            await db.flush()
            await read_catalog(db)
            await bump(db)
        except PolicyError as exc:
            raise Invalid(str(exc)) from None
        except IntegrityError as exc:
            raise Invalid(f"inconsistent change: {exc.orig}") from None
        await db.commit()
        if self._on_change is not None:
            await self._on_change()

    # -- tenants ------------------------------------------------------------------------

    async def list_tenants(self) -> list[schemas.Tenant]:
        async with self._sessions() as db:
            return [_tenant_out(r) for r in (await db.scalars(select(TenantRow).order_by(TenantRow.id))).all()]

    async def get_tenant(self, tenant_id: str) -> schemas.Tenant:
        async with self._sessions() as db:
            row = await db.get(TenantRow, tenant_id)
            if row is None:
                raise NotFound(f"no tenant {tenant_id!r}")
            return _tenant_out(row)

    async def save_tenant(self, spec: schemas.Tenant, *, create: bool | None = None) -> schemas.Tenant:
        """Create (`create=True`), replace (`False`) or upsert (`None`) a tenant."""
        async with self._sessions() as db:
            row = await db.get(TenantRow, spec.id)
            _check_presence(row, create, "tenant", spec.id)
            if row is None:
                row = TenantRow(id=spec.id, name=spec.name)
                db.add(row)
            row.name = spec.name
            await self._commit(db)
            return _tenant_out(row)

    async def delete_tenant(self, tenant_id: str) -> None:
        async with self._sessions() as db:
            row = await db.get(TenantRow, tenant_id)
            if row is None:
                raise NotFound(f"no tenant {tenant_id!r}")
            used = await db.scalar(select(ApplicationRow.id).where(ApplicationRow.tenant_id == tenant_id).limit(1))
            used = used or await db.scalar(select(PolicyRow.id).where(PolicyRow.tenant_id == tenant_id).limit(1))
            if used:
                raise InUse(f"tenant {tenant_id!r} still owns {used!r}")
            await db.delete(row)
            await self._commit(db)

    # -- policies -----------------------------------------------------------------------

    async def list_policies(self) -> list[schemas.Policy]:
        async with self._sessions() as db:
            return [_policy_out(r) for r in (await db.scalars(select(PolicyRow).order_by(PolicyRow.id))).all()]

    async def get_policy(self, policy_id: str) -> schemas.Policy:
        async with self._sessions() as db:
            row = await db.get(PolicyRow, policy_id)
            if row is None:
                raise NotFound(f"no policy {policy_id!r}")
            return _policy_out(row)

    async def save_policy(self, spec: schemas.Policy, *, create: bool | None = None) -> schemas.Policy:
        async with self._sessions() as db:
            row = await db.get(PolicyRow, spec.id)
            _check_presence(row, create, "policy", spec.id)
            await _require_tenant(db, spec.tenant)
            if row is None:
                row = PolicyRow(id=spec.id)
                db.add(row)
            row.tenant_id = spec.tenant
            row.name = spec.name
            row.rules = [r.model_dump(exclude_none=True) for r in spec.rules]
            await self._commit(db)
            return _policy_out(row)

    async def delete_policy(self, policy_id: str) -> None:
        async with self._sessions() as db:
            row = await db.get(PolicyRow, policy_id)
            if row is None:
                raise NotFound(f"no policy {policy_id!r}")
            used = await db.scalar(
                select(ApplicationPolicyRow.application_id).where(ApplicationPolicyRow.policy_id == policy_id).limit(1)
            )
            if used:
                raise InUse(f"policy {policy_id!r} is used by application {used!r}")
            await db.delete(row)
            await self._commit(db)

    # -- applications -------------------------------------------------------------------

    async def list_applications(self) -> list[schemas.Application]:
        async with self._sessions() as db:
            rows = (await db.scalars(select(ApplicationRow).order_by(ApplicationRow.id))).all()
            return [_app_out(r) for r in rows]

    async def get_application(self, app_id: str) -> schemas.Application:
        async with self._sessions() as db:
            row = await db.get(ApplicationRow, app_id)
            if row is None:
                raise NotFound(f"no application {app_id!r}")
            return _app_out(row)

    async def save_application(self, spec: schemas.Application, *, create: bool | None = None) -> schemas.Application:
        async with self._sessions() as db:
            row = await db.get(ApplicationRow, spec.id)
            _check_presence(row, create, "application", spec.id)
            await _require_tenant(db, spec.tenant)
            for pid in spec.policies:
                policy = await db.get(PolicyRow, pid)
                if policy is None:
                    raise Invalid(f"no policy {pid!r}")
                if policy.tenant_id != spec.tenant:
                    raise Invalid(f"policy {pid!r} belongs to tenant {policy.tenant_id!r}")
            if row is None:
                row = ApplicationRow(id=spec.id, policy_links=[])
                db.add(row)
            row.tenant_id = spec.tenant
            row.name = spec.name
            row.heartbeat_interval = spec.heartbeat_interval
            row.enabled = spec.enabled
            row.policy_links = [
                ApplicationPolicyRow(policy_id=pid, position=position)
                for position, pid in enumerate(dict.fromkeys(spec.policies))
            ]
            await self._commit(db)
            return _app_out(row)

    async def delete_application(self, app_id: str) -> None:
        async with self._sessions() as db:
            row = await db.get(ApplicationRow, app_id)
            if row is None:
                raise NotFound(f"no application {app_id!r}")
            await db.delete(row)
            await self._commit(db)

    # -- whole configurations -----------------------------------------------------------

    async def is_empty(self) -> bool:
        async with self._sessions() as db:
            return await db.scalar(select(TenantRow.id).limit(1)) is None

    async def apply(self, config: schemas.ConfigFile) -> list[tuple[str, str, str]]:
        """Create or replace everything a configuration file lists, in dependency order.

        Returns what happened to each object: (kind, id, "created" | "changed" | "unchanged")."""
        steps = [("tenant", t, self.get_tenant, self.save_tenant) for t in config.tenants]
        steps += [("policy", p, self.get_policy, self.save_policy) for p in config.policies]
        steps += [("application", a, self.get_application, self.save_application) for a in config.applications]
        done: list[tuple[str, str, str]] = []
        for kind, spec, get, save in steps:
            try:
                before = await get(spec.id)
            except NotFound:
                before = None
            try:
                after = await save(spec)
            except AdminError as exc:
                raise type(exc)(f"{kind} {spec.id!r}: {exc.message}") from None
            outcome = "created" if before is None else ("unchanged" if before == after else "changed")
            done.append((kind, spec.id, outcome))
        return done


def _check_presence(row, create: bool | None, kind: str, ident: str) -> None:
    if create is True and row is not None:
        raise AlreadyExists(f"{kind} {ident!r} already exists")
    if create is False and row is None:
        raise NotFound(f"no {kind} {ident!r}")


async def _require_tenant(db: AsyncSession, tenant_id: str) -> None:
    if await db.get(TenantRow, tenant_id) is None:
        raise Invalid(f"no tenant {tenant_id!r}")
