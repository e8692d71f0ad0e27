"""Account use cases: first start, login and logout, who is logged in, and user/group/role management.

Shared by `/apis/authentication`, `/admin/v1` and the `streamkeeper admin user|group` commands.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import (
    INVALID_CREDENTIALS, LOGIN_THROTTLED, USER_NOT_AUTHORIZED, HmpError,
)
from ..permissions.models import ShareRow
from ..permissions.rights import DEFAULT_ROLES, Principal, role_actions, validate_permissions
from . import throttle
from .models import (
    GroupMemberRow, GroupRoleRow, GroupRow, LoginFailureRow, LoginSessionRow, RoleRow, UserRoleRow, UserRow,
)
from .passwords import hash_password, needs_rehash, verify_password

SESSION_SECONDS = 2 * 3600  # idle lifetime of a login; every use renews it
RENEW_AFTER_SECONDS = 60  # renew at most once a minute
ADMIN_USERNAME = "admin"


class AccountError(Exception):
    """A management request that cannot be carried out (unknown id, duplicate name, bad value)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- first start ------------------------------------------------------------------------------------

async def ensure_defaults(db: AsyncSession, now: float, admin_password: str | None) -> str | None:
    """Create the default roles, and the administrator when there are no users at all.

    Returns the administrator's password when it was generated here (to be printed once)."""
    existing = set((await db.scalars(select(RoleRow.id))).all())
    for spec in DEFAULT_ROLES:
        if spec.id not in existing:
            db.add(RoleRow(id=spec.id, name=spec.name, admin=spec.admin, builtin=True,
                           permissions=spec.permissions))
    await db.flush()
    if (await db.scalar(select(UserRow.id).limit(1))) is not None:
        await db.commit()
        return None
    generated = None if admin_password else secrets.token_urlsafe(12)
    await db.commit()  # the roles; no transaction open while the password is hashed in a thread
    user = UserRow(id=str(uuid.uuid4()), username=ADMIN_USERNAME, display_name="Administrator", email="",
                   password_hash=await hash_password(admin_password or generated), enabled=True, ctime=int(now))
    db.add(user)
    await db.flush()
    db.add(UserRoleRow(user_id=user.id, role_id="admin"))
    try:
        await db.commit()
    except IntegrityError:  # another process created it first
        await db.rollback()
        return None
    return generated


# -- who is who -------------------------------------------------------------------------------------

async def _group_ids(db: AsyncSession, user_id: str) -> list[str]:
    rows = await db.execute(
        select(GroupMemberRow.group_id).join(GroupRow, GroupRow.id == GroupMemberRow.group_id)
        .where(GroupMemberRow.user_id == user_id, GroupRow.enabled.is_(True)))
    return [r[0] for r in rows]


async def roles_of(db: AsyncSession, user_id: str, group_ids: list[str]) -> list[RoleRow]:
    direct = select(UserRoleRow.role_id).where(UserRoleRow.user_id == user_id)
    via_groups = select(GroupRoleRow.role_id).where(GroupRoleRow.group_id.in_(group_ids))
    ids = set((await db.scalars(direct)).all()) | set((await db.scalars(via_groups)).all())
    if not ids:
        return []
    return list((await db.scalars(select(RoleRow).where(RoleRow.id.in_(ids)).order_by(RoleRow.id))).all())


@dataclass(slots=True)
class Identity:
    user: UserRow
    principal: Principal
    roles: list[RoleRow]
    group_ids: list[str]


async def identity(db: AsyncSession, user: UserRow) -> Identity | None:
    """The user's effective permissions; None when it has no role and so may not log in."""
    groups = await _group_ids(db, user.id)
    roles = await roles_of(db, user.id, groups)
    if not roles:
        return None
    principal = Principal(
        user_id=user.id, username=user.username, display_name=user.display_name or user.username,
        admin=any(r.admin for r in roles), group_ids=frozenset(groups),
        role_actions=role_actions(r.permissions for r in roles),
    )
    return Identity(user, principal, roles, groups)


def session_info(ident: Identity, token: str, expires: float) -> dict:
    return {
        "id": None,
        "sessionId": token,
        "userId": ident.user.id,
        "username": ident.user.username,
        "admin": ident.principal.admin,
        "groups": ident.group_ids,
        "roleIds": [r.id for r in ident.roles],
        "roles": [{"id": r.id, "name": r.name, "admin": r.admin, "permissions": r.permissions} for r in ident.roles],
        "sessions": {},
        "assets": {},
        "ldapUser": False,
        "displayName": ident.principal.display_name,
        "expires": iso(expires),
    }


# -- login ------------------------------------------------------------------------------------------

async def _failures(db: AsyncSession, key: str) -> throttle.Failures | None:
    row = await db.get(LoginFailureRow, key)
    return throttle.Failures(row.count, row.since) if row else None


async def _record_failure(db: AsyncSession, key: str, now: float) -> None:
    after = throttle.after_failure(await _failures(db, key), now)
    row = await db.get(LoginFailureRow, key)
    if row is None:
        db.add(LoginFailureRow(key=key, count=after.count, since=after.since))
    else:
        row.count, row.since = after.count, after.since


@dataclass(slots=True)
class Login:
    token: str
    expires: float
    identity: Identity


async def login(db: AsyncSession, username: str, password: str, address: str, now: float) -> Login:
    keys = [f"user:{username.casefold()}"[:300], f"addr:{address}"[:300]]
    waits = [throttle.retry_after(k, await _failures(db, k), now) for k in keys]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        raise HmpError(LOGIN_THROTTLED, headers={"Retry-After": str(int(wait) + 1)})
    user = await db.scalar(select(UserRow).where(UserRow.username == username))
    # The hash is checked in a worker thread (tens of milliseconds) with no transaction open: on
    # SQLite a transaction holds the one write lock, and every other request would queue behind it.
    await db.commit()
    ok = await verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.enabled:
        for key in keys:
            await _record_failure(db, key, now)
        await db.commit()
        raise HmpError(INVALID_CREDENTIALS)
    await db.execute(delete(LoginFailureRow).where(LoginFailureRow.key == keys[0]))
    ident = await identity(db, user)
    if ident is None:
        await db.commit()
        raise HmpError(USER_NOT_AUTHORIZED, "User has no roles assigned")
    if user.password_hash and needs_rehash(user.password_hash):
        await db.commit()
        user.password_hash = await hash_password(password)
    token = secrets.token_urlsafe(32)
    expires = now + SESSION_SECONDS
    db.add(LoginSessionRow(token_hash=_hash_token(token), user_id=user.id, created=now, expires=expires))
    await db.execute(delete(LoginSessionRow).where(LoginSessionRow.expires < now))
    await db.commit()
    return Login(token, expires, ident)


async def current(db: AsyncSession, token: str | None, now: float) -> Login | None:
    """The login behind a cookie, renewed (sliding expiry); None if unknown, expired or no longer allowed."""
    if not token:
        return None
    row = await db.get(LoginSessionRow, _hash_token(token))
    if row is None or row.expires <= now:
        return None
    user = await db.get(UserRow, row.user_id)
    if user is None or not user.enabled:
        return None
    ident = await identity(db, user)
    if ident is None:
        return None
    if now + SESSION_SECONDS - row.expires >= RENEW_AFTER_SECONDS:
        row.expires = now + SESSION_SECONDS
        await db.commit()
    return Login(token, row.expires, ident)


async def logout(db: AsyncSession, token: str | None, now: float) -> bool:
    if not token:
        return False
    row = await db.get(LoginSessionRow, _hash_token(token))
    if row is None or row.expires <= now:
        return False
    await db.delete(row)
    await db.commit()
    return True


# -- the public lists -------------------------------------------------------------------------------

async def _roles_by_user(db: AsyncSession) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for user_id, role_id in await db.execute(select(UserRoleRow.user_id, UserRoleRow.role_id)):
        out.setdefault(user_id, set()).add(role_id)
    return out


async def _roles_by_group(db: AsyncSession) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for group_id, role_id in await db.execute(select(GroupRoleRow.group_id, GroupRoleRow.role_id)):
        out.setdefault(group_id, set()).add(role_id)
    return out


async def _members(db: AsyncSession) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for group_id, user_id in await db.execute(select(GroupMemberRow.group_id, GroupMemberRow.user_id)):
        out.setdefault(user_id, set()).add(group_id)
    return out


async def enabled_users(db: AsyncSession) -> list[dict]:
    """Users that may log in: enabled, with a role of their own or through an enabled group."""
    user_roles, group_roles, memberships = await _roles_by_user(db), await _roles_by_group(db), await _members(db)
    enabled_groups = set((await db.scalars(select(GroupRow.id).where(GroupRow.enabled.is_(True)))).all())
    out = []
    for user in (await db.scalars(select(UserRow).where(UserRow.enabled.is_(True)).order_by(UserRow.username))):
        roles = set(user_roles.get(user.id, ()))
        for gid in memberships.get(user.id, ()):
            if gid in enabled_groups:
                roles |= group_roles.get(gid, set())
        if roles:
            out.append({"id": user.id, "username": user.username, "displayName": user.display_name or user.username,
                        "email": user.email, "roles": sorted(roles)})
    return out


async def enabled_groups(db: AsyncSession) -> list[dict]:
    group_roles = await _roles_by_group(db)
    return [{"id": g.id, "groupname": g.groupname, "roles": sorted(group_roles[g.id])}
            for g in (await db.scalars(select(GroupRow).where(GroupRow.enabled.is_(True)).order_by(GroupRow.groupname)))
            if group_roles.get(g.id)]


# -- management -------------------------------------------------------------------------------------

async def _resolve_roles(db: AsyncSession, refs: list[str]) -> list[str]:
    ids = []
    for ref in refs:
        role = await db.get(RoleRow, ref) or await db.scalar(select(RoleRow).where(RoleRow.name == ref))
        if role is None:
            raise AccountError(400, f"unknown role {ref!r}")
        ids.append(role.id)
    return sorted(set(ids))


async def _resolve_groups(db: AsyncSession, refs: list[str]) -> list[str]:
    ids = []
    for ref in refs:
        group = await db.get(GroupRow, ref) or await db.scalar(select(GroupRow).where(GroupRow.groupname == ref))
        if group is None:
            raise AccountError(400, f"unknown group {ref!r}")
        ids.append(group.id)
    return sorted(set(ids))


async def find_user(db: AsyncSession, ref: str) -> UserRow:
    user = await db.get(UserRow, ref) or await db.scalar(select(UserRow).where(UserRow.username == ref))
    if user is None:
        raise AccountError(404, f"no user {ref!r}")
    return user


async def find_group(db: AsyncSession, ref: str) -> GroupRow:
    group = await db.get(GroupRow, ref) or await db.scalar(select(GroupRow).where(GroupRow.groupname == ref))
    if group is None:
        raise AccountError(404, f"no group {ref!r}")
    return group


async def user_out(db: AsyncSession, user: UserRow) -> dict:
    roles = (await db.scalars(select(UserRoleRow.role_id).where(UserRoleRow.user_id == user.id))).all()
    groups = (await db.scalars(select(GroupMemberRow.group_id).where(GroupMemberRow.user_id == user.id))).all()
    return {"id": user.id, "username": user.username, "displayName": user.display_name, "email": user.email,
            "enabled": user.enabled, "roles": sorted(roles), "groups": sorted(groups),
            "hasPassword": user.password_hash is not None}


async def group_out(db: AsyncSession, group: GroupRow) -> dict:
    roles = (await db.scalars(select(GroupRoleRow.role_id).where(GroupRoleRow.group_id == group.id))).all()
    members = (await db.scalars(select(GroupMemberRow.user_id).where(GroupMemberRow.group_id == group.id))).all()
    return {"id": group.id, "groupname": group.groupname, "enabled": group.enabled, "roles": sorted(roles),
            "members": sorted(members)}


async def list_users(db: AsyncSession) -> list[dict]:
    return [await user_out(db, u) for u in (await db.scalars(select(UserRow).order_by(UserRow.username))).all()]


async def list_groups(db: AsyncSession) -> list[dict]:
    return [await group_out(db, g) for g in (await db.scalars(select(GroupRow).order_by(GroupRow.groupname))).all()]


def _check_name(value: str, what: str) -> str:
    value = value.strip()
    if not value or len(value) > 128 or any(c.isspace() or not c.isprintable() for c in value):
        raise AccountError(400, f"{what} must be 1-128 printable characters without spaces")
    return value


async def save_user(db: AsyncSession, data: dict, now: float, user_id: str | None = None) -> dict:
    """Create (user_id None) or update a user; fields absent from `data` keep their value."""
    password_hash = None
    if data.get("password") is not None:
        if len(data["password"]) < 8:
            raise AccountError(400, "password must have at least 8 characters")
        # hashed before the transaction begins: no write lock held while a thread works
        password_hash = await hash_password(data["password"])
    if user_id is None:
        username = _check_name(data.get("username") or "", "username")
        if await db.scalar(select(UserRow.id).where(UserRow.username == username)):
            raise AccountError(409, f"user {username!r} already exists")
        user = UserRow(id=str(uuid.uuid4()), username=username, display_name="", email="", enabled=True,
                       ctime=int(now))
        db.add(user)
        await db.flush()
    else:
        user = await find_user(db, user_id)
        if "username" in data and data["username"] != user.username:
            raise AccountError(400, "username cannot be changed")
    for key, attr in (("displayName", "display_name"), ("email", "email"), ("enabled", "enabled")):
        if data.get(key) is not None:
            setattr(user, attr, data[key])
    if password_hash is not None:
        user.password_hash = password_hash
    if data.get("roles") is not None:
        ids = await _resolve_roles(db, data["roles"])
        await db.execute(delete(UserRoleRow).where(UserRoleRow.user_id == user.id))
        db.add_all(UserRoleRow(user_id=user.id, role_id=r) for r in ids)
    if data.get("groups") is not None:
        ids = await _resolve_groups(db, data["groups"])
        await db.execute(delete(GroupMemberRow).where(GroupMemberRow.user_id == user.id))
        db.add_all(GroupMemberRow(group_id=g, user_id=user.id) for g in ids)
    if data.get("enabled") is False:
        await db.execute(delete(LoginSessionRow).where(LoginSessionRow.user_id == user.id))
    await db.flush()
    out = await user_out(db, user)
    await db.commit()
    return out


async def delete_user(db: AsyncSession, ref: str) -> None:
    user = await find_user(db, ref)
    await db.execute(delete(ShareRow).where(ShareRow.principal_id == user.id))
    await db.delete(user)
    await db.commit()


async def save_group(db: AsyncSession, data: dict, group_id: str | None = None) -> dict:
    if group_id is None:
        name = _check_name(data.get("groupname") or "", "groupname")
        if await db.scalar(select(GroupRow.id).where(GroupRow.groupname == name)):
            raise AccountError(409, f"group {name!r} already exists")
        group = GroupRow(id=str(uuid.uuid4()), groupname=name, enabled=True)
        db.add(group)
        await db.flush()
    else:
        group = await find_group(db, group_id)
        if "groupname" in data and data["groupname"] != group.groupname:
            raise AccountError(400, "groupname cannot be changed")
    if data.get("enabled") is not None:
        group.enabled = data["enabled"]
    if data.get("roles") is not None:
        ids = await _resolve_roles(db, data["roles"])
        await db.execute(delete(GroupRoleRow).where(GroupRoleRow.group_id == group.id))
        db.add_all(GroupRoleRow(group_id=group.id, role_id=r) for r in ids)
    if data.get("members") is not None:
        users = [(await find_user(db, m)).id for m in data["members"]]
        await db.execute(delete(GroupMemberRow).where(GroupMemberRow.group_id == group.id))
        db.add_all(GroupMemberRow(group_id=group.id, user_id=u) for u in sorted(set(users)))
    await db.flush()
    out = await group_out(db, group)
    await db.commit()
    return out


async def delete_group(db: AsyncSession, ref: str) -> None:
    group = await find_group(db, ref)
    await db.execute(delete(ShareRow).where(ShareRow.principal_id == group.id))
    await db.delete(group)
    await db.commit()


def role_out(role: RoleRow) -> dict:
    return {"id": role.id, "name": role.name, "admin": role.admin, "builtin": role.builtin,
            "permissions": role.permissions}


async def list_roles(db: AsyncSession) -> list[dict]:
    return [role_out(r) for r in (await db.scalars(select(RoleRow).order_by(RoleRow.name))).all()]


async def save_role(db: AsyncSession, data: dict, role_id: str | None = None) -> dict:
    try:
        perms = validate_permissions(data.get("permissions") or {})
    except ValueError as exc:
        raise AccountError(400, str(exc)) from None
    if role_id is None:
        name = (data.get("name") or "").strip()
        if not name or len(name) > 128:
            raise AccountError(400, "name must be 1-128 characters")
        if await db.scalar(select(RoleRow.id).where(RoleRow.name == name)):
            raise AccountError(409, f"role {name!r} already exists")
        role = RoleRow(id=str(uuid.uuid4()), name=name, admin=False, builtin=False, permissions=perms)
        db.add(role)
    else:
        role = await db.get(RoleRow, role_id)
        if role is None:
            raise AccountError(404, f"no role {role_id!r}")
        if role.admin:
            raise AccountError(400, "the Administrator role cannot be changed")
        if data.get("name"):
            role.name = data["name"].strip()
        if data.get("permissions") is not None:
            role.permissions = perms
    await db.flush()
    out = role_out(role)
    await db.commit()
    return out


async def delete_role(db: AsyncSession, role_id: str) -> None:
    role = await db.get(RoleRow, role_id)
    if role is None:
        raise AccountError(404, f"no role {role_id!r}")
    if role.builtin:
        raise AccountError(409, "default roles cannot be deleted")
    await db.delete(role)
    await db.commit()
