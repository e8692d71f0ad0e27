"""The permission model, as plain data and functions.

A role grants actions per area (Sources, Sessions, Recordings, Categories, System). A share
grants a level (OWN, EDIT, WATCH or an admin-defined one) on one object to a user or group.
What a user may do to an object is what its roles allow in that area AND what its shares on the
object allow; administrators may do everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

AREAS = ("Sources", "Sessions", "Recordings", "Categories", "System")
ACTIONS = ("VIEW", "CREATE", "EDIT", "DELETE", "SHARE", "RECORD", "CHANGE_SOURCES", "DOWNLOAD", "STREAM", "WATCH")

# The resources that carry shares, and the area of role permissions that governs them.
RESOURCE_AREA = {"sources": "Sources", "sessions": "Sessions", "assets": "Recordings"}

BUILTIN_LEVELS: dict[str, dict[str, frozenset[str]]] = {
    "sources": {
        "OWN": frozenset({"VIEW", "WATCH", "EDIT", "SHARE", "DELETE"}),
        "EDIT": frozenset({"VIEW", "WATCH", "EDIT"}),
        "WATCH": frozenset({"VIEW", "WATCH"}),
    },
    "sessions": {
        "OWN": frozenset({"VIEW", "WATCH", "EDIT", "SHARE", "RECORD", "CHANGE_SOURCES", "DELETE"}),
        "EDIT": frozenset({"VIEW", "WATCH", "EDIT"}),
        "WATCH": frozenset({"VIEW", "WATCH"}),
    },
    "assets": {
        "OWN": frozenset({"VIEW", "WATCH", "EDIT", "SHARE", "STREAM", "DOWNLOAD", "DELETE", "RECORD"}),
        "EDIT": frozenset({"VIEW", "WATCH", "EDIT"}),
        "WATCH": frozenset({"VIEW", "WATCH"}),
    },
}

_ALL = frozenset(ACTIONS)


def _perms(**areas: str) -> dict[str, list[str]]:
    return {area: sorted(actions.split()) for area, actions in areas.items()}


@dataclass(frozen=True, slots=True)
class RoleSpec:
    id: str
    name: str
    admin: bool
    permissions: dict[str, list[str]]


_CREATOR = dict(
    Sources="VIEW CREATE EDIT DELETE SHARE WATCH",
    Sessions="VIEW CREATE EDIT DELETE SHARE RECORD CHANGE_SOURCES WATCH",
    Recordings="VIEW EDIT DELETE SHARE RECORD DOWNLOAD STREAM WATCH",
    Categories="VIEW",
    System="VIEW",
)

DEFAULT_ROLES: tuple[RoleSpec, ...] = (
    RoleSpec("admin", "Administrator", True, _perms(**{a: " ".join(ACTIONS) for a in AREAS})),
    RoleSpec("content-creator", "Content Creator", False, _perms(**_CREATOR)),
    RoleSpec("content-contributor", "Content Contributor", False, _perms(
        Sources="VIEW WATCH", Sessions="VIEW RECORD WATCH",
        Recordings="VIEW EDIT DELETE SHARE RECORD DOWNLOAD WATCH", Categories="VIEW")),
    RoleSpec("viewer", "Viewer", False, _perms(Sessions="VIEW WATCH", Recordings="VIEW WATCH", Categories="VIEW")),
    RoleSpec("stb", "STB", False, _perms(**{**_CREATOR, "System": "VIEW EDIT"})),
)


def validate_permissions(permissions: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Normalise a role's permission set; raises ValueError naming the first bad area or action."""
    out: dict[str, list[str]] = {}
    for area, actions in permissions.items():
        if area not in AREAS:
            raise ValueError(f"unknown area {area!r} (one of {', '.join(AREAS)})")
        acts = list(actions)
        for action in acts:
            if action not in ACTIONS:
                raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        out[area] = sorted(set(acts))
    return out


@dataclass(frozen=True, slots=True)
class Principal:
    """A logged-in user as the permission checks see it."""

    user_id: str
    username: str
    display_name: str
    admin: bool
    group_ids: frozenset[str] = frozenset()
    role_actions: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def principal_ids(self) -> frozenset[str]:
        return self.group_ids | {self.user_id}

    def can(self, area: str, action: str) -> bool:
        return self.admin or action in self.role_actions.get(area, ())


def role_actions(roles: Iterable[Mapping[str, Iterable[str]]]) -> dict[str, frozenset[str]]:
    merged: dict[str, set[str]] = {}
    for perms in roles:
        for area, actions in perms.items():
            merged.setdefault(area, set()).update(actions)
    return {area: frozenset(acts) for area, acts in merged.items()}


@dataclass(frozen=True, slots=True)
class Access:
    """What one principal may do to one object."""

    rights: frozenset[str]
    owner: bool
    granted: frozenset[str]  # the share actions alone (what it may pass on)

    def allows(self, action: str) -> bool:
        return action in self.rights


NO_ACCESS = Access(frozenset(), False, frozenset())


def access(principal: Principal, resource: str, levels: Iterable[str],
           level_actions: Mapping[str, frozenset[str]]) -> Access:
    """Combine the share levels a principal holds on an object with its role permissions."""
    levels = list(levels)
    granted: set[str] = set()
    for level in levels:
        granted |= level_actions.get(level, frozenset())
    owner = "OWN" in levels
    if principal.admin:
        return Access(_ALL, True, _ALL)
    area_actions = principal.role_actions.get(RESOURCE_AREA[resource], frozenset())
    return Access(frozenset(granted) & area_actions, owner, frozenset(granted))


def may_grant(principal: Principal, holder: Access, level: frozenset[str]) -> bool:
    """Sharing never hands out more than the sharer holds on the object itself."""
    return principal.admin or level <= holder.granted
