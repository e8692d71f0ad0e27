"""Administration pages: each kind of object is listed and edited through `/admin/v1` (cookie auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from .web import Admin, render

router = APIRouter(include_in_schema=False)

# kind -> hint, title, columns shown in the table, fields the API does not take back on PUT, a new object
KINDS: dict[str, dict] = {
    "users": {"hint": ('roles: role ids (admin, content-creator, content-contributor, viewer, stb, '
                        'or your own); groups: group names; a password has at least 8 characters; '
                        '"enabled": false signs the user out.'),
              "title": "Users", "columns": ["username", "displayName", "email", "enabled", "roles", "groups"],
              "readonly": ["id", "hasPassword"], "key": "id",
              "template": {"username": "", "password": "", "displayName": "", "email": "", "roles": ["viewer"]}},
    "groups": {"hint": ('roles: role ids; members: user names.'),
               "title": "Groups", "columns": ["groupname", "enabled", "roles", "members"],
               "readonly": ["id"], "key": "id", "template": {"groupname": "", "roles": ["viewer"], "members": []}},
    "roles": {"hint": ('permissions: area (Sources, Sessions, Recordings, Categories, System) to '
                        'actions (VIEW, CREATE, EDIT, DELETE, SHARE, RECORD, CHANGE_SOURCES, '
                        'DOWNLOAD, STREAM, WATCH). Built-in roles cannot be deleted.'),
              "title": "Roles", "columns": ["id", "name", "admin", "builtin", "permissions"],
              "readonly": ["id", "admin", "builtin"], "key": "id",
              "template": {"name": "", "permissions": {"Recordings": ["VIEW", "WATCH"]}}},
    "categories": {"hint": ('values: the choices offered; multipleValues: more than one per video; '
                             'allowCustomValues: other values may be typed.'),
                   "title": "Categories",
                   "columns": ["label", "values", "multipleValues", "allowCustomValues", "group"],
                   "readonly": ["id"], "key": "id",
                   "template": {"label": "", "values": [], "multipleValues": False, "allowCustomValues": True}},
    "tenants": {"hint": ('A tenant owns applications and policies; its id is also the identity '
                          'provider of its /v2 sessions in the demo.'),
                "title": "Tenants", "columns": ["id", "name"], "readonly": ["id"], "key": "id",
                "template": {"id": "", "name": ""}},
    "applications": {"hint": ('heartbeatInterval: seconds until a stream must call again (Expires); '
                               'policies: ids of the policies that must all allow a new stream; '
                               'applications sharing a policy count their streams together.'),
                     "title": "Applications",
                     "columns": ["id", "tenant", "name", "heartbeatInterval", "enabled", "policies"],
                     "readonly": ["id"], "key": "id",
                     "template": {"id": "", "tenant": "", "name": "", "heartbeatInterval": 60, "enabled": True,
                                  "policies": []}},
    "policies": {"hint": ('Each rule: threshold (streams, or distinct values with "distinct": '
                           '"deviceId"), optional condition ("contentType = live"), scope '
                           '(["channel"]: counted per value), conflict LIFO (refuse the new stream) '
                           'or FIFO (evict the oldest).'),
                 "title": "Policies", "columns": ["id", "tenant", "name", "rules"], "readonly": ["id"], "key": "id",
                 "template": {"id": "", "tenant": "", "name": "",
                              "rules": [{"name": "3 streams", "threshold": 3}]}},
    "token-keys": {"hint": ('Keys that sign /oxm/v1 viewer tokens: HS256 with a secret of at least '
                             '32 characters, or RS256/ES256 with "publicKey" (PEM); issuer and '
                             'audience must match the tokens.'),
                   "title": "Token keys", "columns": ["id", "tenant", "algorithm", "issuer", "audience"],
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
