"""`/admin/v1`: tenants, applications and policies over JSON, behind the admin key (automation) or
the `/apis` login cookie of a user with the Administrator role (the console)."""

import hmac

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from . import schemas
from ..feature import Feature, plain_error
from ..hmp.deps import COOKIE
from .service import AdminError, AdminService

_bearer = HTTPBearer(auto_error=False, scheme_name="adminBearer", description="The admin API key")
_header = APIKeyHeader(name="X-Admin-Key", auto_error=False, scheme_name="adminKey")


class AdminUnauthorized(AdminError):
    status = 401
    code = "unauthorized"


class AdminForbidden(AdminError):
    status = 403
    code = "forbidden"


async def require_admin(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    key: str | None = Depends(_header),
) -> AdminService:
    given = key or (bearer.credentials if bearer else None)
    expected = request.app.state.admin_key
    if given and hmac.compare_digest(given.encode(), expected.encode()):
        return request.app.state.admin
    if not given and COOKIE in request.cookies:
        from ..hmp.accounts.service import current

        async with request.app.state.ctx.sessions() as db:
            login = await current(db, request.cookies[COOKIE], request.app.state.ctx.clock())
        if login is not None:
            if not login.identity.principal.admin:
                raise AdminForbidden("this user does not have the Administrator role")
            return request.app.state.admin
    raise AdminUnauthorized("a valid admin key is required (Authorization: Bearer <key> or X-Admin-Key), "
                            "or the login cookie of an Administrator")


def _err(description: str) -> dict:
    return {"description": description, "model": schemas.AdminErrorBody}


_COMMON = {400: _err("Invalid input"), 401: _err("Missing or wrong admin key"),
           403: _err("Logged in without the Administrator role")}
_ONE = {**_COMMON, 404: _err("No such object")}
_WRITE = {**_ONE, 409: _err("Already exists, or still in use")}
ADMIN_ERRORS = _WRITE
"""Every error an `/admin/v1` route may answer; other packages' admin routers declare it too."""

router = APIRouter(prefix="/admin/v1", tags=["Administration"], responses=_COMMON)
Admin = Depends(require_admin)


def ident():
    """A path parameter holding an object id (one FieldInfo per parameter)."""
    return Path(pattern=schemas.IDENT, max_length=128)


def _crud(plural: str, singular: str, model: type, body_model: type) -> None:
    """List, create, read, replace and delete routes of one kind of object.

    `model` is the full object (with `id`), `body_model` the same without it (PUT names the id in
    the path). The service has `list_<plural>`, `get_/save_/delete_<singular>` for each kind.
    """
    list_all = f"list_{plural}"
    get_one, save_one, delete_one = (f"{verb}_{singular}" for verb in ("get", "save", "delete"))

    async def listing(admin: AdminService = Admin):
        return await getattr(admin, list_all)()

    async def create(body: model, admin: AdminService = Admin):  # type: ignore[valid-type]
        return await getattr(admin, save_one)(body, create=True)

    async def read(object_id: str = ident(), admin: AdminService = Admin):
        return await getattr(admin, get_one)(object_id)

    async def replace(body: body_model, object_id: str = ident(),  # type: ignore[valid-type]
                      admin: AdminService = Admin):
        return await getattr(admin, save_one)(model(id=object_id, **body.model_dump()), create=False)

    async def remove(object_id: str = ident(), admin: AdminService = Admin):
        await getattr(admin, delete_one)(object_id)
        return Response(status_code=204)

    one = f"/{plural}/{{object_id}}"
    router.add_api_route(f"/{plural}", listing, methods=["GET"], response_model=list[model], name=list_all)
    router.add_api_route(f"/{plural}", create, methods=["POST"], response_model=model, status_code=201,
                         responses=_WRITE, name=f"create_{singular}")
    router.add_api_route(one, read, methods=["GET"], response_model=model, responses=_ONE, name=get_one)
    router.add_api_route(one, replace, methods=["PUT"], response_model=model, responses=_WRITE,
                         name=f"replace_{singular}")
    router.add_api_route(one, remove, methods=["DELETE"], status_code=204, responses=_WRITE, name=delete_one)


_crud("tenants", "tenant", schemas.Tenant, schemas.TenantBody)
_crud("policies", "policy", schemas.Policy, schemas.PolicyBody)
_crud("applications", "application", schemas.Application, schemas.ApplicationBody)


_USAGE_ERRORS = {400: _err("A bad `from`, `to` or `step`"), 404: _err("No such application")}


@router.get("/usage", name="usage_report", response_model=None, responses={
    200: {"description": "Usage per application and step (JSON), or the same rows as CSV",
          "model": schemas.UsageReport, "content": {"text/csv": {"schema": {"type": "string"}}}},
    **_USAGE_ERRORS})
async def usage_report(
    request: Request,
    start: str | None = Query(None, alias="from", max_length=40,
                              description="ISO 8601 (UTC when without offset) or epoch seconds; default: `to` - 24 h"),
    to: str | None = Query(None, max_length=40, description="End (excluded), as `from`; default: the end of the step now running"),
    step: str | None = Query(None, max_length=12, description="Seconds per point, a multiple of 60 (60, 300, "
                             "3600, 86400...); counts are summed, the peak is the largest; default 60"),
    application: str | None = Query(None, pattern=schemas.IDENT, max_length=128,
                                    description="One application; default: every one"),
    format: str | None = Query(None, pattern="^(json|csv)$", description="csv: the rows as CSV (as `Accept: text/csv`)"),
    admin: AdminService = Admin,
) -> Response:
    """Admissions, denials, evictions, terminations, expiries and peak live sessions, per
    application and minute, of every worker and server, kept 30 days."""
    from ..usage.report import BadQuery, as_csv, as_json, known, make_query, report
    from .service import NotFound

    ctx = request.app.state.ctx
    try:
        q = make_query(ctx.clock(), start, to, step, application)
        if q.application is not None and q.application not in ctx.concurrency.catalog.applications \
                and not await known(ctx.engine, q.application):
            raise NotFound(f"no application {q.application!r}")
        found = await report(ctx.engine, q)
    except BadQuery as exc:
        raise AdminError(str(exc)) from None
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        return Response(as_csv(q, found), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="usage.csv"', "Vary": "Accept"})
    return Response(as_json(q, found), media_type="application/json", headers={"Vary": "Accept"})


def install(app) -> None:
    """`/admin/v1`'s own refusals (also raised by the admin routers of other packages)."""

    @app.exception_handler(AdminError)
    async def _admin_error(_request: Request, exc: AdminError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)


feature = Feature("admin", router=router, install=install, prefix="/admin/v1", error_renderer=plain_error)
