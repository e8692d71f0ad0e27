"""Sign in and out with the `/apis` accounts: the same login service and the same cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, RedirectResponse, Response

from ..hmp.accounts import service as accounts
from ..hmp.deps import COOKIE, set_session_cookie
from ..hmp.errors import HmpError
from .web import STATIC, Login, read_form, render

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only a local path (never `//host` or a URL): no open redirect after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/")
async def home(request: Request) -> Response:
    return RedirectResponse("/console/", status_code=303)


@router.get("/favicon.ico")
async def favicon() -> Response:
    """Browsers ask for it on every site; the console's icon (SVG, which they all show)."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/console/")
async def start(request: Request, login=Login) -> Response:
    first = "/console/dashboard" if login.identity.principal.admin else "/console/library"
    response = RedirectResponse(first, status_code=303)
    set_session_cookie(request, response, login.token, login.expires, request.app.state.ctx.clock())
    return response


@router.get("/console/login")
async def login_page(request: Request) -> Response:
    return render(request, "login.html", next=_safe_next(request.query_params.get("next")), error=None)


@router.post("/console/login")
async def log_in(request: Request) -> Response:
    form = await read_form(request)
    username, password = form.get("username", ""), form.get("password", "")
    target = _safe_next(form.get("next"))
    ctx = request.app.state.ctx
    now = ctx.clock()
    address = request.client.host if request.client else "unknown"
    if not username or not password or len(username) > 128 or len(password) > 1024:
        return render(request, "login.html", status=400, next=target, error="Enter a user name and a password.")
    try:
        async with ctx.sessions() as db:
            login = await accounts.login(db, username, password, address, now)
    except HmpError as exc:
        return render(request, "login.html", status=exc.status, next=target, error=exc.message, username=username)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, login.token, login.expires, now)
    return response


@router.post("/console/logout")
async def log_out(request: Request) -> Response:
    ctx = request.app.state.ctx
    async with ctx.sessions() as db:
        await accounts.logout(db, request.cookies.get(COOKIE), ctx.clock())
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response
