"""`/admin/v1/token-keys`: the keys each tenant's viewer tokens are verified with (admin key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request, Response

from ..admin.endpoints import require_admin
from ..admin.schemas import IDENT, AdminErrorBody
from .keys import TokenKeyBody, TokenKeyOut, TokenKeys, TokenKeySpec


def _err(description: str) -> dict:
    return {"description": description, "model": AdminErrorBody}


_COMMON = {400: _err("Invalid input"), 401: _err("Missing or wrong admin key")}
_ONE = {**_COMMON, 404: _err("No such token key")}
_WRITE = {**_ONE, 409: _err("Already exists")}

router = APIRouter(prefix="/admin/v1/token-keys", tags=["Administration"], responses=_COMMON,
                   dependencies=[Depends(require_admin)])


def _keys(request: Request) -> TokenKeys:
    return TokenKeys(request.app.state.ctx.sessions)


async def _changed(request: Request) -> None:
    """Keys take effect in this process at once (the others see the catalog version move)."""
    await request.app.state.ctx.catalog_watch.refresh()


def key_id():
    return Path(pattern=IDENT, max_length=128)


@router.get("", response_model=list[TokenKeyOut], response_model_by_alias=True)
async def list_keys(request: Request):
    return await _keys(request).list()


@router.post("", response_model=TokenKeyOut, response_model_by_alias=True, status_code=201, responses=_WRITE)
async def create_key(request: Request, body: TokenKeySpec):
    out = await _keys(request).save(body, create=True)
    await _changed(request)
    return out


@router.get("/{key_id}", response_model=TokenKeyOut, response_model_by_alias=True, responses=_ONE)
async def get_key(request: Request, key_id: str = key_id()):
    return await _keys(request).get(key_id)


@router.put("/{key_id}", response_model=TokenKeyOut, response_model_by_alias=True, responses=_WRITE)
async def replace_key(request: Request, body: TokenKeyBody, key_id: str = key_id()):
    spec = TokenKeySpec(id=key_id, **body.model_dump(by_alias=True))
    out = await _keys(request).save(spec, create=False)
    await _changed(request)
    return out


@router.delete("/{key_id}", status_code=204, responses=_ONE)
async def delete_key(request: Request, key_id: str = key_id()):
    await _keys(request).delete(key_id)
    await _changed(request)
    return Response(status_code=204)
