"""Stream sessions as the stores keep them, and how a session came to an end."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from sys import intern
from typing import Any, Literal, Mapping

#: "operator": ended by an operator (the console's dashboard), who is named to the player.
EndReason = Literal["deleted", "terminated", "evicted", "operator"]

# The real service keeps counting a stream for a while after its Expires time; so do we.
GRACE_SECONDS = 30.0
# Ended and expired sessions are remembered this long so that late heartbeats get a proper 410/409.
RETENTION_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Ending:
    """Why a session stopped before it expired; `by` is the session that caused it, if any, and
    `operator` the user who ended it from the console."""

    reason: EndReason
    at: float
    by: str | None = None
    by_app: str | None = None
    by_code: str | None = None
    by_metadata: dict[str, str] | None = None
    policy: str | None = None
    rule: str | None = None
    threshold: int | None = None
    scope: dict[str, str] | None = None
    operator: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Ending":
        return cls(**data)


@dataclass(slots=True)
class StreamSession:
    id: str
    app_id: str
    tenant: str
    idp: str
    subject: str
    metadata: dict[str, str]
    started: float
    expires: float
    code: str
    ended: Ending | None = None
    interval: int = 60
    extra: dict[str, Any] = field(default_factory=dict)

    def renewed(self, expires: float, metadata: dict[str, str]) -> "StreamSession":
        """A copy after a heartbeat (cheaper than dataclasses.replace on the hot path)."""
        return StreamSession(self.id, self.app_id, self.tenant, self.idp, self.subject, metadata,
                             self.started, expires, self.code, self.ended, self.interval, self.extra)

    def ended_by(self, ending: Ending) -> "StreamSession":
        """A copy that ended as `ending` says (cheaper than dataclasses.replace, as above)."""
        return StreamSession(self.id, self.app_id, self.tenant, self.idp, self.subject, self.metadata,
                             self.started, self.expires, self.code, ending, self.interval, self.extra)

    def is_live(self, now: float) -> bool:
        return self.ended is None and now < self.expires + GRACE_SECONDS

    def forgettable(self, now: float) -> bool:
        """True once nobody can need this record any more (ended or expired long ago)."""
        last = self.ended.at if self.ended else self.expires + GRACE_SECONDS
        return now >= last + RETENTION_SECONDS

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app_id": self.app_id,
            "tenant": self.tenant,
            "idp": self.idp,
            "subject": self.subject,
            "metadata": self.metadata,
            "started": self.started,
            "expires": self.expires,
            "code": self.code,
            "ended": self.ended.to_dict() if self.ended else None,
            "interval": self.interval,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StreamSession":
        ended = data.get("ended")
        return cls(
            id=data["id"],
            app_id=data["app_id"],
            tenant=data["tenant"],
            idp=data["idp"],
            subject=data["subject"],
            metadata=dict(data["metadata"]),
            started=float(data["started"]),
            expires=float(data["expires"]),
            code=data["code"],
            ended=Ending.from_dict(ended) if ended else None,
            interval=int(data.get("interval", 60)),
            extra=dict(data.get("extra") or {}),
        )


# Values up to this long are interned in the sessions a store keeps (see `shared_values`).
SHARED_VALUE = 64


def shared_values(metadata: Mapping[str, str]) -> dict[str, str]:
    """A copy of `metadata` with its short values interned: the few distinct values players send
    (channels, device kinds, platforms) are then one object shared by every session kept,
    instead of a copy in each."""
    return {k: intern(v) if len(v) <= SHARED_VALUE else v for k, v in metadata.items()}


# Sort key of streams in the order they started, ties broken by id: (started, id), computed in C.
started_order = attrgetter("started", "id")


SubjectKey = tuple[str, str]
"""(idp, subject): every session of one viewer, whatever the application, lives under this key."""
