"""The ``[oxm]`` section of a configuration file: token keys and tenant stream policies.

    [[oxm.tokenKeys]]
    id = "acme-hs"
    tenant = "acme"
    algorithm = "HS256"
    secret = "at least thirty-two bytes of shared secret"

    [[oxm.streamPolicies]]
    tenant = "acme"
    maxPerUser = 3
    maxPerAsset = 1
    maxDevices = 2

RS256/ES256 keys give ``publicKey`` (PEM text) or ``publicKeyFile`` (relative to the file).
Applied after the tenants of the same file exist; everything listed is created or replaced.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..admin.config_file import ConfigFileError
from ..admin.models import TenantRow
from ..admin.schemas import IDENT
from ..catalog_version import bump
from .keys import TokenKeys, TokenKeySpec
from .limits import StreamLimits
from .models import StreamPolicyRow


class StreamPolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    tenant: str = Field(pattern=IDENT)
    max_per_user: int = Field(0, alias="maxPerUser", ge=0)
    max_per_asset: int = Field(0, alias="maxPerAsset", ge=0)
    max_devices: int = Field(0, alias="maxDevices", ge=0)


class OxmSection(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    token_keys: list[dict[str, Any]] = Field(default_factory=list, alias="tokenKeys")
    stream_policies: list[StreamPolicySpec] = Field(default_factory=list, alias="streamPolicies")


def read_section(path: Path) -> tuple[list[TokenKeySpec], list[tuple[str, StreamLimits]]]:
    try:
        data = tomllib.loads(path.read_text()).get("oxm") or {}
        section = OxmSection.model_validate(data)
        keys = []
        for raw in section.token_keys:
            raw = dict(raw)
            key_file = raw.pop("publicKeyFile", None)
            if key_file is not None:
                raw["publicKey"] = (path.parent / key_file).read_text()
            keys.append(TokenKeySpec.model_validate(raw))
        policies = []
        for p in section.stream_policies:
            limits = StreamLimits.parse({"maxPerUser": p.max_per_user, "maxPerAsset": p.max_per_asset,
                                         "maxDevices": p.max_devices})
            policies.append((p.tenant, limits))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigFileError(f"{path}: [oxm]: {exc}") from None
    except Exception as exc:  # an OxmError from StreamLimits.parse
        raise ConfigFileError(f"{path}: [oxm] stream policy: {exc}") from None
    return keys, policies


async def apply_config_file(sessions: async_sessionmaker, path: Path) -> None:
    keys, policies = read_section(path)
    store = TokenKeys(sessions)
    for spec in keys:
        await store.save(spec)
    for tenant, limits in policies:
        async with sessions() as db:
            if await db.get(TenantRow, tenant) is None:
                raise ConfigFileError(f"{path}: [oxm] stream policy of unknown tenant {tenant!r}")
            row = await db.get(StreamPolicyRow, tenant)
            if row is None:
                row = StreamPolicyRow(tenant_id=tenant)
                db.add(row)
            row.max_per_user, row.max_per_asset = limits.max_per_user, limits.max_per_asset
            row.max_devices = limits.max_devices
            await bump(db)
            await db.commit()
