"""The policy playground: start, keep alive and end real `/v2` sessions from the browser."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .web import Admin, render

router = APIRouter(include_in_schema=False)


@router.get("/console/playground")
async def playground(request: Request, login=Admin) -> Response:
    service = request.app.state.ctx.concurrency
    catalog = service.catalog
    apps = [{"id": a.id, "name": a.name, "tenant": a.tenant, "enabled": a.enabled, "interval": a.heartbeat_interval,
             "metadata": list(catalog.required_metadata(a.id))}
            for a in sorted(catalog.applications.values(), key=lambda a: a.id)]
    return render(request, "playground.html", login, applications=apps)
