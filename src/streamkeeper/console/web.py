"""Rendering and request plumbing shared by the console pages: templates, the caller, forms."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, quote

from fastapi import Depends, Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from ..hmp.accounts import service as accounts
from ..hmp.deps import COOKIE, set_session_cookie

STATIC = Path(__file__).with_name("static")
templates = Environment(loader=PackageLoader("streamkeeper.console", "templates"),
                        autoescape=select_autoescape(["html"]))


class NotSignedIn(Exception):
    """A page asked for without a valid login: the browser goes to the sign-in page."""

    def __init__(self, path: str) -> None:
        self.path = path


class Forbidden(Exception):
    """A page the caller's role does not allow (403, rendered as a page)."""


def nav(principal) -> list[tuple[str, str]]:
    """The pages this principal may open, in menu order (hidden pages are also refused)."""
    items = []
    if principal.admin:
        items += [("/console/dashboard", "Dashboard"), ("/console/playground", "Playground")]
    if principal.can("Sources", "VIEW") or principal.can("Sessions", "VIEW"):
        items.append(("/console/media", "Live"))
    if principal.can("Recordings", "VIEW"):
        items.append(("/console/library", "Library"))
    if principal.admin:
        items += [("/console/viewers", "Viewer experience"), ("/console/admin", "Administration")]
    return items


def render(request: Request, template: str, login: accounts.Login | None = None, status: int = 200,
           **values) -> HTMLResponse:
    principal = login.identity.principal if login else None
    body = templates.get_template(template).render(
        request=request, user=principal, nav=nav(principal) if principal else [],
        path=request.url.path, roles=[r.name for r in login.identity.roles] if login else [], **values)
    response = HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
    if login is not None:
        now = request.app.state.ctx.clock()
        set_session_cookie(request, response, login.token, login.expires, now)
    return response


async def signed_in(request: Request) -> accounts.Login:
    """The caller's `/apis` login (the same cookie), or a redirect to the sign-in page."""
    ctx = request.app.state.ctx
    async with ctx.sessions() as db:
        login = await accounts.current(db, request.cookies.get(COOKIE), ctx.clock())
    if login is None:
        raise NotSignedIn(request.url.path)
    return login


async def administrator(login: accounts.Login = Depends(signed_in)) -> accounts.Login:
    if not login.identity.principal.admin:
        raise Forbidden()
    return login


Login = Depends(signed_in)
Admin = Depends(administrator)


async def read_form(request: Request) -> dict[str, str]:
    """An url-encoded form body, read up to the settings' body limit (larger: empty form)."""
    limit = request.app.state.settings.max_body_bytes
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            return {}
    return dict(parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True))


def login_url(path: str) -> str:
    return "/console/login?next=" + quote(path, safe="/")
