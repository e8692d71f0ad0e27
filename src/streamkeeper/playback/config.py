"""The ``[playback]`` section of a configuration file: grants and application options.

    [[playback.grants]]
    application = "demo-app"     # or: tenant = "acme"
    video = "<video id>"         # or: source = "<source id>"

    [[playback.applications]]
    id = "demo-app"
    fetchHeartbeat = false

Applied after the tenants and applications of the same file exist. A grant may name a source or
video that does not exist yet (it applies once it does); its application or tenant must exist.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.ext.asyncio import async_sessionmaker

from ..admin.config_file import ConfigFileError
from ..admin.schemas import IDENT
from ..admin.service import AdminError
from .grants import Grant, GrantService


class GrantSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application: str | None = Field(None, pattern=IDENT)
    tenant: str | None = Field(None, pattern=IDENT)
    video: str | None = Field(None, min_length=1, max_length=128)
    source: str | None = Field(None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _one_each(self) -> "GrantSpec":
        if (self.application is None) == (self.tenant is None):
            raise ValueError("a grant names one application or one tenant")
        if (self.video is None) == (self.source is None):
            raise ValueError("a grant names one video or one source")
        return self

    def grant(self) -> Grant:
        owner = ("application", self.application) if self.application else ("tenant", self.tenant)
        asset = ("video", self.video) if self.video else ("source", self.source)
        return Grant(owner[0], owner[1], asset[0], asset[1])  # type: ignore[arg-type]


class AppSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=IDENT)
    fetch_heartbeat: bool = Field(True, alias="fetchHeartbeat")


class PlaybackSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grants: list[GrantSpec] = Field(default_factory=list)
    applications: list[AppSpec] = Field(default_factory=list)


def read_section(path: Path) -> PlaybackSection:
    try:
        return PlaybackSection.model_validate(tomllib.loads(path.read_text()).get("playback") or {})
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigFileError(f"{path}: [playback]: {exc}") from None


async def apply_config_file(sessions: async_sessionmaker, path: Path) -> None:
    section = read_section(path)
    service = GrantService(sessions)
    try:
        for spec in section.grants:
            await service.grant(spec.grant(), check_asset=False)
        for app in section.applications:
            await service.set_options(app.id, fetch_heartbeat=app.fetch_heartbeat)
    except AdminError as exc:
        raise ConfigFileError(f"{path}: [playback]: {exc.message}") from None
