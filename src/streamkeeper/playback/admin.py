"""`/admin/v1/playback-grants` (which sources and videos play under which application or tenant)
and `/admin/v1/playback-applications` (each application's playback options). Admin key, or the
console's Administrator cookie; shaped like the other `/admin/v1` kinds so the console edits them."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..admin.endpoints import ADMIN_ERRORS, require_admin
from ..admin.schemas import IDENT
from .grants import Grant, GrantService

router = APIRouter(prefix="/admin/v1", tags=["Administration"], responses=ADMIN_ERRORS,
                   dependencies=[Depends(require_admin)])


class GrantBody(BaseModel):
    """One application or tenant, one video or source. `ownerKind`/`assetKind` say which when a
    form sends both fields (the console): the other one is then ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    owner_kind: Literal["application", "tenant"] | None = Field(None, alias="ownerKind")
    application: str | None = Field(None, pattern=IDENT)
    tenant: str | None = Field(None, pattern=IDENT)
    asset_kind: Literal["video", "source"] | None = Field(None, alias="assetKind")
    video: str | None = Field(None, pattern=IDENT)
    source: str | None = Field(None, pattern=IDENT)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data):
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data

    @model_validator(mode="after")
    def _one_each(self) -> "GrantBody":
        if self.owner_kind is not None:
            if getattr(self, self.owner_kind) is None:
                raise ValueError(f"{self.owner_kind}: required")
        elif (self.application is None) == (self.tenant is None):
            raise ValueError("give one application or one tenant")
        if self.asset_kind is not None:
            if getattr(self, self.asset_kind) is None:
                raise ValueError(f"{self.asset_kind}: required")
        elif (self.video is None) == (self.source is None):
            raise ValueError("give one video or one source")
        return self

    def grant(self) -> Grant:
        owner_kind = self.owner_kind or ("application" if self.application is not None else "tenant")
        asset_kind = self.asset_kind or ("video" if self.video is not None else "source")
        return Grant(owner_kind, getattr(self, owner_kind), asset_kind, getattr(self, asset_kind))


class GrantOut(BaseModel):
    id: str
    ownerKind: str
    application: str | None = None
    tenant: str | None = None
    assetKind: str
    video: str | None = None
    source: str | None = None


class AppOptionsBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    fetch_heartbeat: bool = Field(True, alias="fetchHeartbeat",
                                  description="Playlist and segment fetches count as the session's heartbeat")


class AppOptions(AppOptionsBody):
    id: str = Field(pattern=IDENT)


def _grants(request: Request) -> GrantService:
    return GrantService(request.app.state.ctx.sessions)


async def _changed(request: Request) -> None:
    """In effect in this process at once (the others see the catalog version move)."""
    await request.app.state.ctx.catalog_watch.refresh()


def grant_id():
    return Path(max_length=300, description="`application:<id>@video:<id>` (or tenant, source)")


def app_id():
    return Path(pattern=IDENT, max_length=128)


_GRANT = dict(response_model=GrantOut, response_model_exclude_none=True)


@router.get("/playback-grants", response_model=list[GrantOut], response_model_exclude_none=True)
async def list_grants(request: Request):
    """Every source and video available for enforced playback, and under whom."""
    return [g.to_wire() for g in (await _grants(request).grants()).listed]


@router.post("/playback-grants", status_code=201, **_GRANT)
async def create_grant(request: Request, body: GrantBody):
    """Make a source or video available for subscriber playback under an application (`/v2`) or a
    tenant (`/oxm/v1`); 200 when it was already."""
    grant = body.grant()
    created = await _grants(request).grant(grant)
    await _changed(request)
    return JSONResponse(grant.to_wire(), status_code=201 if created else 200)


@router.get("/playback-grants/{grant}", **_GRANT)
async def get_grant(request: Request, grant: str = grant_id()):
    return (await _grants(request).get(Grant.from_id(grant))).to_wire()


@router.put("/playback-grants/{grant}", **_GRANT)
async def replace_grant(request: Request, body: GrantBody, grant: str = grant_id()):
    new = await _grants(request).replace(Grant.from_id(grant), body.grant())
    await _changed(request)
    return new.to_wire()


@router.delete("/playback-grants/{grant}", status_code=204)
async def delete_grant(request: Request, grant: str = grant_id()):
    """Withdraw it: players holding a URL for it are refused from their next fetch."""
    await _grants(request).revoke(Grant.from_id(grant))
    await _changed(request)
    return Response(status_code=204)


@router.get("/playback-applications", response_model=list[AppOptions], response_model_by_alias=True)
async def list_options(request: Request):
    """The playback options of every application (defaults included)."""
    return await _grants(request).all_options()


@router.post("/playback-applications", response_model=AppOptions, response_model_by_alias=True)
async def create_options(request: Request, body: AppOptions):
    out = await _grants(request).set_options(body.id, fetch_heartbeat=body.fetch_heartbeat)
    await _changed(request)
    return out


@router.get("/playback-applications/{app}", response_model=AppOptions, response_model_by_alias=True)
async def get_options(request: Request, app: str = app_id()):
    return await _grants(request).options(app)


@router.put("/playback-applications/{app}", response_model=AppOptions, response_model_by_alias=True)
async def put_options(request: Request, body: AppOptionsBody, app: str = app_id()):
    """`fetchHeartbeat: false`: fetches no longer keep the session alive (the player's own `/v2`
    heartbeats must)."""
    out = await _grants(request).set_options(app, fetch_heartbeat=body.fetch_heartbeat)
    await _changed(request)
    return out


@router.delete("/playback-applications/{app}", status_code=204)
async def reset_options(request: Request, app: str = app_id()):
    """Back to the defaults."""
    await _grants(request).set_options(app, fetch_heartbeat=True)
    await _changed(request)
    return Response(status_code=204)
