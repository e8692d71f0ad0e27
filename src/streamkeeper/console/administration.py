"""Administration pages: each kind of object is listed and edited through `/admin/v1` (cookie auth).

Every kind is described here as data: the columns of its table (with the operator's words and how
a value is shown) and the fields of its form (with the widget that fits: a picker for policies,
rows for a policy's rules, a matrix for a role's permissions). `admin.js` draws both and sends
the object `/admin/v1` takes, so no one edits JSON.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from ..hmp.permissions.rights import ACTIONS, AREAS
from ..oxm.keys import DEFAULT_AUDIENCE, DEFAULT_ISSUER
from ..playback.console import KINDS as PLAYBACK_KINDS
from .web import Admin, render

router = APIRouter(include_in_schema=False)


def _f(name: str, label: str, widget: str = "text", **extra) -> dict:
    """One form field: `name` in the `/admin/v1` body, its label, its widget and options."""
    return {"name": name, "label": label, "widget": widget, **extra}


IDENT_HELP = "letters, digits, . _ : - (cannot be changed later)"

# kind -> title, singular, hint, key, columns [field, heading, how shown], form fields
KINDS: dict[str, dict] = {
    "users": {
        "title": "Users", "singular": "user", "key": "id", "label": "username",
        "hint": "People who sign in to the console and the media platform API. Disabling a user signs them out.",
        "columns": [["username", "User name", "text"], ["displayName", "Display name", "text"],
                    ["email", "Email", "text"], ["enabled", "Enabled", "yesno"], ["roles", "Roles", "roles"],
                    ["groups", "Groups", "list"]],
        "fields": [_f("username", "User name", required=True, autocomplete="off"),
                   _f("displayName", "Display name"), _f("email", "Email", "email"),
                   _f("password", "Password", "password", help="at least 8 characters; leave empty to keep it",
                      omitEmpty=True),
                   _f("enabled", "Enabled (may sign in)", "checkbox", default=True),
                   _f("roles", "Roles", "picker", source="roles", default=["viewer"]),
                   _f("groups", "Groups", "picker", source="groups", valueKey="groupname")],
        "empty": "No users yet besides you.",
    },
    "groups": {
        "title": "Groups", "singular": "group", "key": "id", "label": "groupname",
        "hint": "A group gives its roles to all its members; share videos and sessions with a group at once.",
        "columns": [["groupname", "Name", "text"], ["enabled", "Enabled", "yesno"], ["roles", "Roles", "roles"],
                    ["members", "Members", "list"]],
        "fields": [_f("groupname", "Name", required=True), _f("enabled", "Enabled", "checkbox", default=True),
                   _f("roles", "Roles", "picker", source="roles", default=["viewer"]),
                   _f("members", "Members", "picker", source="users", valueKey="username")],
        "empty": "No groups yet. A group gives roles to many users at once: press New to add the first.",
    },
    "roles": {
        "title": "Roles", "singular": "role", "key": "id", "label": "name",
        "hint": "What a role may do in each area. Built-in roles can be changed but not deleted.",
        "columns": [["name", "Name", "text"], ["admin", "Administrator", "yesno"], ["builtin", "Built-in", "yesno"],
                    ["permissions", "Permissions", "permissions"]],
        "fields": [_f("name", "Name", required=True),
                   _f("permissions", "Permissions", "matrix", rows=list(AREAS), cols=list(ACTIONS),
                      default={"Recordings": ["VIEW", "WATCH"]})],
        "empty": "No roles.",
    },
    "categories": {
        "title": "Categories", "singular": "category", "key": "id", "label": "label",
        "hint": "Labels that sort the video library (a venue, a course); the library filters by them.",
        "columns": [["label", "Name", "text"], ["values", "Choices", "list"],
                    ["multipleValues", "Several per video", "yesno"], ["allowCustomValues", "Other values", "yesno"]],
        "fields": [_f("label", "Name", required=True),
                   _f("values", "Choices", "tags", help="separated by commas, e.g. Hall, Lab"),
                   _f("multipleValues", "A video may have several", "checkbox", default=False),
                   _f("allowCustomValues", "Other values may be typed", "checkbox", default=True)],
        "empty": "No categories yet. Add one (for example \u201cVenue\u201d with Hall, Lab) to sort the library.",
    },
    "tenants": {
        "title": "Tenants", "singular": "tenant", "key": "id", "label": "name",
        "hint": "A tenant owns applications, policies and token keys; its id is the identity provider of its /v2 sessions.",
        "columns": [["id", "Id", "code"], ["name", "Name", "text"]],
        "fields": [_f("id", "Id", required=True, createOnly=True, help=IDENT_HELP), _f("name", "Name", required=True)],
        "empty": "No tenants yet: press New to add the first, then its policies and applications.",
    },
    "applications": {
        "title": "Applications", "singular": "application", "key": "id", "label": "name",
        "hint": "A player application calls /v2 with its id. Every policy it uses must allow a new stream; "
                "applications that share a policy count their streams together.",
        "columns": [["id", "Id", "code"], ["tenant", "Tenant", "text"], ["name", "Name", "text"],
                    ["heartbeatInterval", "Heartbeat", "seconds"], ["enabled", "Enabled", "yesno"],
                    ["policies", "Policies", "policies"]],
        "fields": [_f("id", "Id", required=True, createOnly=True, help=IDENT_HELP),
                   _f("tenant", "Tenant", "select", source="tenants", required=True),
                   _f("name", "Name", required=True),
                   _f("heartbeatInterval", "Heartbeat interval (seconds)", "number", default=60, min=1, max=86400,
                      help="how long a stream stays admitted without calling again"),
                   _f("enabled", "Enabled (disabled: every call gets 403)", "checkbox", default=True),
                   _f("policies", "Policies", "picker", source="policies", byTenant=True,
                      help="only the tenant's own policies are offered")],
        "empty": "No applications yet: add a tenant and a policy first, then the application.",
    },
    "policies": {
        "title": "Policies", "singular": "policy", "key": "id", "label": "name",
        "hint": "A policy is a set of rules; a new stream is admitted only when every rule allows it.",
        "columns": [["id", "Id", "code"], ["tenant", "Tenant", "text"], ["name", "Name", "text"],
                    ["rules", "Rules", "rules"]],
        "fields": [_f("id", "Id", required=True, createOnly=True, help=IDENT_HELP),
                   _f("tenant", "Tenant", "select", source="tenants", required=True),
                   _f("name", "Name", required=True),
                   _f("rules", "Rules", "rules", default=[{"name": "3 streams", "threshold": 3}])],
        "empty": "No policies yet: press New to write the first rule.",
    },
    "token-keys": {
        "title": "Token keys", "singular": "token key", "key": "id", "label": "id",
        "hint": "Keys that verify the viewer tokens of /oxm/v1. Enter the secret or public key again when you edit.",
        "columns": [["id", "Id", "code"], ["tenant", "Tenant", "text"], ["algorithm", "Algorithm", "text"],
                    ["issuer", "Issuer", "text"], ["audience", "Audience", "text"]],
        "fields": [_f("id", "Id", required=True, createOnly=True, help=IDENT_HELP),
                   _f("tenant", "Tenant", "select", source="tenants", required=True),
                   _f("algorithm", "Algorithm", "select", options=["HS256", "RS256", "ES256"], default="HS256"),
                   _f("secret", "Shared secret (HS256)", "password", omitEmpty=True,
                      help="at least 32 characters", showIf={"algorithm": "HS256"}),
                   _f("publicKey", "Public key, PEM (RS256, ES256)", "textarea", omitEmpty=True,
                      showIf={"algorithm": ["RS256", "ES256"]}),
                   _f("issuer", "Issuer (iss)", default=DEFAULT_ISSUER),
                   _f("audience", "Audience (aud)", default=DEFAULT_AUDIENCE)],
        "empty": "No token keys yet. Add one for each tenant whose viewers call /oxm/v1 with a token.",
    },
    **PLAYBACK_KINDS,
}


@router.get("/console/admin")
async def index(request: Request, login=Admin) -> Response:
    return RedirectResponse("/console/admin/users", status_code=303)


@router.get("/console/admin/{kind}")
async def kind_page(kind: str, request: Request, login=Admin) -> Response:
    spec = KINDS.get(kind)
    if spec is None:
        return render(request, "error.html", login, status=404, message=f"No administration page {kind!r}.")
    me = login.identity.principal
    return render(request, "admin.html", login, kind=kind, spec=spec, kinds=KINDS,
                  me={"id": me.user_id, "username": me.username})
