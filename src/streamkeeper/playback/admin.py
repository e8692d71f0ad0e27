"""`/admin/v1/playback`: which sources and videos play under which application or tenant, and each
application's playback options. Admin key, or the console's Administrator cookie."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from ..admin.endpoints import ADMIN_ERRORS, require_admin
from ..admin.schemas import IDENT
from .grants import Grant, GrantService

router = APIRouter(prefix="/admin/v1/playback", tags=["Administration"], responses=ADMIN_ERRORS,
                   dependencies=[Depends(require_admin)])

OWNERS = {"applications": "application", "tenants": "tenant"}
ASSETS = {"videos": "video", "sources": "source"}


class GrantOut(BaseModel):
    application: str | None = None
    tenant: str | None = None
    video: str | None = None
    source: str | None = None


class AppOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    fetch_heartbeat: bool = Field(True, alias="fetchHeartbeat",
                                  description="Playlist and segment fetches count as the session's heartbeat")


class AppOptionsOut(AppOptions):
    application: str


def _grants(request: Request) -> GrantService:
    return GrantService(request.app.state.ctx.sessions)


async def _changed(request: Request) -> None:
    """In effect in this process at once (the others see the catalog version move)."""
    await request.app.state.ctx.catalog_watch.refresh()


def _grant(owner_kind: str, owner: str, asset_kind: str, asset: str) -> Grant:
    return Grant(OWNERS[owner_kind], owner, ASSETS[asset_kind], asset)  # type: ignore[arg-type]


OwnerKind = Literal["applications", "tenants"]
AssetKind = Literal["videos", "sources"]
_GRANT_PATH = "/grants/{owner_kind}/{owner}/{asset_kind}/{asset}"


@router.get("/grants", response_model=list[GrantOut], response_model_exclude_none=True)
async def list_grants(request: Request):
    """Every grant: `{application|tenant, video|source}`."""
    return [g.to_wire() for g in (await _grants(request).grants()).listed]


@router.put(_GRANT_PATH, status_code=204, responses={201: {"description": "Granted"},
                                                      204: {"description": "Was granted already"}})
async def put_grant(request: Request, owner_kind: OwnerKind, asset_kind: AssetKind,
                    owner: str = Path(pattern=IDENT, max_length=128), asset: str = Path(max_length=128)):
    """Make a source or video available for subscriber playback under an application (`/v2`) or a
    tenant (`/oxm/v1`)."""
    created = await _grants(request).grant(_grant(owner_kind, owner, asset_kind, asset))
    await _changed(request)
    return Response(status_code=201 if created else 204)


@router.delete(_GRANT_PATH, status_code=204)
async def delete_grant(request: Request, owner_kind: OwnerKind, asset_kind: AssetKind,
                       owner: str = Path(pattern=IDENT, max_length=128), asset: str = Path(max_length=128)):
    """Withdraw it: players holding a URL for it are refused from their next fetch."""
    await _grants(request).revoke(_grant(owner_kind, owner, asset_kind, asset))
    await _changed(request)
    return Response(status_code=204)


@router.get("/applications/{app_id}", response_model=AppOptionsOut, response_model_by_alias=True)
async def get_options(request: Request, app_id: str = Path(pattern=IDENT, max_length=128)):
    return await _grants(request).options(app_id)


@router.put("/applications/{app_id}", response_model=AppOptionsOut, response_model_by_alias=True)
async def put_options(request: Request, body: AppOptions, app_id: str = Path(pattern=IDENT, max_length=128)):
    """`fetchHeartbeat: false`: fetches no longer keep the session alive (the player's own `/v2`
    heartbeats must)."""
    out = await _grants(request).set_options(app_id, fetch_heartbeat=body.fetch_heartbeat)
    await _changed(request)
    return out
