"""The console as a feature of the app (see `app.features()`): its pages, static files and the
background sampler of the dashboard."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from ..feature import Feature
from . import administration, auth, dashboard, lists, media, playground, viewers
from .web import STATIC, Forbidden, NotSignedIn, login_url, render

router = APIRouter(include_in_schema=False)
for _page in (auth, dashboard, playground, media, lists, viewers, administration):
    router.include_router(_page.router)

startup = dashboard.startup
shutdown = dashboard.shutdown


def install(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.exception_handler(NotSignedIn)
    async def _sign_in(request: Request, exc: NotSignedIn):
        if request.url.path.startswith("/console/api/"):
            from starlette.responses import JSONResponse

            return JSONResponse({"message": "sign in first"}, status_code=401)
        return RedirectResponse(login_url(exc.path), status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        from .web import signed_in

        login = await signed_in(request)
        return render(request, "error.html", login, status=403,
                      message="Your role does not allow this page.")


feature = Feature("console", router=router, install=install, startup=startup, shutdown=shutdown)
