"""`/console/api/lists/...`: an `/apis` list as the console's pages want it, where empty is no error.

The `/apis` contract answers an empty list with 404 NoResults, which a browser logs as a failed
request on every refresh of a page with nothing recording. The console asks here instead: the same
`/apis` request is made inside this process, with the caller's cookie (so the same permission
checks apply), and only that one answer is turned into an empty page. API clients see no change.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..hmp.deps import COOKIE
from ..hmp.errors import NO_RESULTS
from .web import Login

router = APIRouter(include_in_schema=False)


@router.get("/console/api/lists/{path:path}")
async def listing(path: str, request: Request, login=Login) -> Response:
    if any(part in ("", ".", "..") for part in path.split("/")):
        return JSONResponse({"message": "not an /apis list"}, status_code=404)
    transport = httpx.ASGITransport(app=request.app, client=(request.client.host if request.client else "127.0.0.1", 0))
    async with httpx.AsyncClient(transport=transport, base_url=str(request.base_url)) as client:
        answer = await client.get("/apis/" + path, params=list(request.query_params.multi_items()),
                                  cookies={COOKIE: request.cookies.get(COOKIE, "")})
    headers = {"Cache-Control": "no-store"}
    if answer.status_code == NO_RESULTS.status:
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        if body.get("code") == NO_RESULTS.code:
            size = request.query_params.get("pageSize")
            return JSONResponse({"data": [], "paging": {"results": 0, "pageSize": int(size) if (size or "").isdigit() else None}},
                                headers=headers)
    return Response(answer.content, status_code=answer.status_code, headers=headers,
                    media_type=answer.headers.get("content-type"))
