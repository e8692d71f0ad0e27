"""`/admin/v1`: tenants, applications and policies over JSON, behind the admin key."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from . import schemas
from .service import AdminError, AdminService

_bearer = HTTPBearer(auto_error=False, scheme_name="adminBearer", description="The admin API key")
_header = APIKeyHeader(name="X-Admin-Key", auto_error=False, scheme_name="adminKey")


class AdminUnauthorized(AdminError):
    status = 401
    code = "unauthorized"


def require_admin(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    key: str | None = Depends(_header),
) -> AdminService:
    given = key or (bearer.credentials if bearer else None)
    expected = request.app.state.admin_key
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise AdminUnauthorized("a valid admin key is required (Authorization: Bearer <key> or X-Admin-Key)")
    return request.app.state.admin


def _err(description: str) -> dict:
    return {"description": description, "model": schemas.AdminErrorBody}


_COMMON = {400: _err("Invalid input"), 401: _err("Missing or wrong admin key")}
_ONE = {**_COMMON, 404: _err("No such object")}
_WRITE = {**_ONE, 409: _err("Already exists, or still in use")}
ADMIN_ERRORS = _WRITE
"""Every error an `/admin/v1` route may answer; other packages' admin routers declare it too."""

router = APIRouter(prefix="/admin/v1", tags=["Administration"], responses=_COMMON)
Admin = Depends(require_admin)


def ident():
    """A path parameter holding an object id (one FieldInfo per parameter)."""
    return Path(pattern=schemas.IDENT, max_length=128)


@router.get("/tenants", response_model=list[schemas.Tenant])
async def list_tenants(admin: AdminService = Admin):
    return await admin.list_tenants()


@router.post("/tenants", response_model=schemas.Tenant, status_code=201, responses=_WRITE)
async def create_tenant(body: schemas.Tenant, admin: AdminService = Admin):
    return await admin.save_tenant(body, create=True)


@router.get("/tenants/{tenant_id}", response_model=schemas.Tenant, responses=_ONE)
async def get_tenant(tenant_id: str = ident(), admin: AdminService = Admin):
    return await admin.get_tenant(tenant_id)


@router.put("/tenants/{tenant_id}", response_model=schemas.Tenant, responses=_WRITE)
async def replace_tenant(body: schemas.TenantBody, tenant_id: str = ident(), admin: AdminService = Admin):
    return await admin.save_tenant(schemas.Tenant(id=tenant_id, **body.model_dump()), create=False)


@router.delete("/tenants/{tenant_id}", status_code=204, responses=_WRITE)
async def delete_tenant(tenant_id: str = ident(), admin: AdminService = Admin):
    await admin.delete_tenant(tenant_id)
    return Response(status_code=204)


@router.get("/policies", response_model=list[schemas.Policy])
async def list_policies(admin: AdminService = Admin):
    return await admin.list_policies()


@router.post("/policies", response_model=schemas.Policy, status_code=201, responses=_WRITE)
async def create_policy(body: schemas.Policy, admin: AdminService = Admin):
    return await admin.save_policy(body, create=True)


@router.get("/policies/{policy_id}", response_model=schemas.Policy, responses=_ONE)
async def get_policy(policy_id: str = ident(), admin: AdminService = Admin):
    return await admin.get_policy(policy_id)


@router.put("/policies/{policy_id}", response_model=schemas.Policy, responses=_WRITE)
async def replace_policy(body: schemas.PolicyBody, policy_id: str = ident(), admin: AdminService = Admin):
    return await admin.save_policy(schemas.Policy(id=policy_id, **body.model_dump()), create=False)


@router.delete("/policies/{policy_id}", status_code=204, responses=_WRITE)
async def delete_policy(policy_id: str = ident(), admin: AdminService = Admin):
    await admin.delete_policy(policy_id)
    return Response(status_code=204)


@router.get("/applications", response_model=list[schemas.Application], response_model_by_alias=True)
async def list_applications(admin: AdminService = Admin):
    return await admin.list_applications()


@router.post("/applications", response_model=schemas.Application, status_code=201, responses=_WRITE)
async def create_application(body: schemas.Application, admin: AdminService = Admin):
    return await admin.save_application(body, create=True)


@router.get("/applications/{app_id}", response_model=schemas.Application, responses=_ONE)
async def get_application(app_id: str = ident(), admin: AdminService = Admin):
    return await admin.get_application(app_id)


@router.put("/applications/{app_id}", response_model=schemas.Application, responses=_WRITE)
async def replace_application(body: schemas.ApplicationBody, app_id: str = ident(), admin: AdminService = Admin):
    return await admin.save_application(schemas.Application(id=app_id, **body.model_dump()), create=False)


@router.delete("/applications/{app_id}", status_code=204, responses=_WRITE)
async def delete_application(app_id: str = ident(), admin: AdminService = Admin):
    await admin.delete_application(app_id)
    return Response(status_code=204)
