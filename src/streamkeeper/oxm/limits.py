"""A tenant stream policy and how it becomes one policy of the shared engine.

`{maxPerUser, maxPerAsset, maxDevices}`, 0 meaning "not enforced", maps to up to three LIFO
rules: streams per user, streams per asset (scoped by `assetId`), and distinct `deviceId`
values. Every stream of a tenant runs as a session of the pseudo application
``oxm:<tenant>`` so that `evaluate` counts exactly the tenant's OXM streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..concurrency.policy import Application, Policy, PolicyCatalog, Rule, Tenant
from . import errors

FIELDS = ("maxPerUser", "maxPerAsset", "maxDevices")
MAX_LIMIT = 10_000
ASSET = "assetId"
DEVICE = "deviceId"


def app_id(tenant: str) -> str:
    return f"oxm:{tenant}"


@dataclass(frozen=True, slots=True)
class StreamLimits:
    max_per_user: int = 0
    max_per_asset: int = 0
    max_devices: int = 0

    def to_wire(self) -> dict[str, int]:
        return {"maxPerUser": self.max_per_user, "maxPerAsset": self.max_per_asset,
                "maxDevices": self.max_devices}

    @classmethod
    def parse(cls, data: Any) -> "StreamLimits":
        """Limits from a decoded JSON body, or an OxmError with the 110x code of the problem."""
        if not isinstance(data, dict):
            raise errors.bad_request("the body must be a JSON object with maxPerUser, maxPerAsset and "
                                     "maxDevices", errors.POLICY_NOT_JSON)
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise errors.bad_request(f"unknown field(s): {', '.join(unknown)}", errors.POLICY_BAD_FIELD)
        values = {}
        for name in FIELDS:
            value = data.get(name)
            if type(value) is not int or not 0 <= value <= MAX_LIMIT:
                raise errors.bad_request(f"{name} is required and must be an integer from 0 to {MAX_LIMIT}",
                                         errors.POLICY_BAD_FIELD)
            values[name] = value
        limits = cls(values["maxPerUser"], values["maxPerAsset"], values["maxDevices"])
        if limits.max_per_user and limits.max_per_asset > limits.max_per_user:
            raise errors.bad_request("maxPerAsset must be less than or equal to maxPerUser",
                                     errors.POLICY_INCONSISTENT)
        return limits

    def rules(self) -> tuple[Rule, ...]:
        rules = []
        if self.max_per_user:
            rules.append(Rule("maxPerUser", self.max_per_user))
        if self.max_per_asset:
            rules.append(Rule("maxPerAsset", self.max_per_asset, scope=(ASSET,)))
        if self.max_devices:
            rules.append(Rule("maxDevices", self.max_devices, distinct=DEVICE))
        return tuple(rules)


@dataclass(frozen=True, slots=True)
class Enforcement:
    """What `evaluate` needs for one tenant: a one-application catalog and that application."""

    catalog: PolicyCatalog
    app: Application


def enforcement(tenant: str, limits: StreamLimits) -> Enforcement:
    aid = app_id(tenant)
    policy = Policy(id=aid, tenant=tenant, name=f"stream policy of {tenant}", rules=limits.rules())
    app = Application(id=aid, tenant=tenant, name=aid, policies=(aid,), heartbeat_interval=120)
    catalog = PolicyCatalog(tenants={tenant: Tenant(tenant, tenant)}, applications={aid: app},
                            policies={aid: policy})
    return Enforcement(catalog, app)
