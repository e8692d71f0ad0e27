"""Wire and config-file shapes of tenants, applications and policies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..concurrency.policy import Condition, PolicyError

IDENT = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
ATTRIBUTE = r"^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TenantBody(_Strict):
    name: str = Field(min_length=1, max_length=256)


class Tenant(TenantBody):
    id: str = Field(pattern=IDENT)


class RuleSpec(_Strict):
    name: str = Field(min_length=1, max_length=256)
    threshold: int = Field(ge=0, le=1_000_000, description="How many streams (or distinct values) are allowed")
    condition: str | None = Field(
        default=None, max_length=1024, description="Metadata condition, e.g. `contentType = live`"
    )
    scope: list[str] = Field(default_factory=list, max_length=16,
                             description="Attributes counted separately per value, e.g. `channel`")
    distinct: str | None = Field(default=None, pattern=ATTRIBUTE,
                                 description="Count distinct values of this attribute instead of streams")
    conflict: Literal["LIFO", "FIFO"] = "LIFO"

    @field_validator("condition")
    @classmethod
    def _condition_parses(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return Condition.parse(value).render()
        except PolicyError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("scope")
    @classmethod
    def _scope_names(cls, value: list[str]) -> list[str]:
        import re

        for attr in value:
            if not re.match(ATTRIBUTE, attr):
                raise ValueError(f"invalid scope attribute {attr!r}")
        return list(dict.fromkeys(value))


class PolicyBody(_Strict):
    tenant: str = Field(pattern=IDENT)
    name: str = Field(min_length=1, max_length=256)
    rules: list[RuleSpec] = Field(default_factory=list, max_length=64)


class Policy(PolicyBody):
    id: str = Field(pattern=IDENT)


class ApplicationBody(_Strict):
    tenant: str = Field(pattern=IDENT)
    name: str = Field(min_length=1, max_length=256)
    heartbeat_interval: int = Field(default=60, ge=1, le=86_400, alias="heartbeatInterval")
    enabled: bool = True
    policies: list[str] = Field(default_factory=list, max_length=64)


class Application(ApplicationBody):
    id: str = Field(pattern=IDENT)


class ConfigFile(_Strict):
    """The declarative configuration: everything listed is created or replaced at start."""

    tenants: list[Tenant] = Field(default_factory=list)
    policies: list[Policy] = Field(default_factory=list)
    applications: list[Application] = Field(default_factory=list)
    oxm: dict | None = Field(default=None, description="Experience API section, read by streamkeeper.oxm.config")
    playback: dict | None = Field(default=None, description="Enforced playback, read by streamkeeper.playback.config")


class AdminErrorBody(BaseModel):
    code: str
    message: str


class UsageCounts(BaseModel):
    time: str = Field(description="Start of the step, UTC (ISO 8601)")
    admissions: int
    denials: int
    evictions: int
    terminations: int
    expiries: int
    peak: int | None = Field(description="Most live sessions seen in the step; null where not counted "
                                         "(per application on Redis)")


class UsageRowOut(UsageCounts):
    application: str


class UsageReport(BaseModel):
    """Usage per step: `rows` per application (steps with activity only), `total` every step."""

    start: str = Field(alias="from")
    to: str
    step: int
    application: str | None
    rows: list[UsageRowOut]
    total: list[UsageCounts]
