"""Administration pages: each kind of object is listed and edited through `/admin/v1` (cookie auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from .web import Admin, render

router = APIRouter(include_in_schema=False)

# kind -> (title, columns shown in the table, fields the API does not take back on PUT, a new object)
KINDS: dict[str, dict] = {
    "users": {"title": "Users", "columns": ["username", "displayName", "email", "enabled", "roles", "groups"],
              "readonly": ["id", "hasPassword"], "key": "id",
              "template": {"username": "", "password": "", "displayName": "", "email": "", "roles": ["viewer"]}},
    "groups": {"title": "Groups", "columns": ["groupname", "enabled", "roles", "members"],
               "readonly": ["id"], "key": "id", "template": {"groupname": "", "roles": ["viewer"], "members": []}},
    "roles": {"title": "Roles", "columns": ["id", "name", "admin", "builtin", "permissions"],
              "readonly": ["id", "admin", "builtin"], "key": "id",
              "template": {"name": "", "permissions": {"Recordings": ["VIEW", "WATCH"]}}},
    "categories": {"title": "Categories",
                   "columns": ["label", "values", "multipleValues", "allowCustomValues", "group"],
                   "readonly": ["id"], "key": "id",
                   "template": {"label": "", "values": [], "multipleValues": False, "allowCustomValues": True}},
    "tenants": {"title": "Tenants", "columns": ["id", "name"], "readonly": ["id"], "key": "id",
                "template": {"id": "", "name": ""}},
    "applications": {"title": "Applications",
                     "columns": ["id", "tenant", "name", "heartbeatInterval", "enabled", "policies"],
                     "readonly": ["id"], "key": "id",
                     "template": {"id": "", "tenant": "", "name": "", "heartbeatInterval": 60, "enabled": True,
                                  "policies": []}},
    "policies": {"title": "Policies", "columns": ["id", "tenant", "name", "rules"], "readonly": ["id"], "key": "id",
                 "template": {"id": "", "tenant": "", "name": "",
                              "rules": [{"name": "3 streams", "threshold": 3}]}},
    "token-keys": {"title": "Token keys", "columns": ["id", "tenant", "algorithm", "issuer", "audience"],
                   "readonly": ["id", "hasSecret"], "key": "id",
                   "template": {"id": "", "tenant": "", "algorithm": "HS256", "secret": ""}},
}


@router.get("/console/admin")
async def index(request: Request, login=Admin) -> Response:
    return RedirectResponse("/console/admin/users", status_code=303)


@router.get("/console/admin/{kind}")
async def kind_page(kind: str, request: Request, login=Admin) -> Response:
    spec = KINDS.get(kind)
    if spec is None:
        return render(request, "error.html", login, status=404, message=f"No administration page {kind!r}.")
    return render(request, "admin.html", login, kind=kind, spec=spec, kinds=KINDS)
