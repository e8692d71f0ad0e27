"""`/apis/system/version`."""

from __future__ import annotations

from fastapi import APIRouter

from ... import __version__
from ..deps import User
from ..permissions.rights import Principal

router = APIRouter(tags=["System"])
BUILD = "streamkeeper"


@router.get("/system/version")
async def version(_: Principal = User):
    return {"data": {"version": __version__, "build": BUILD}}
