"""Request body limits, enforced while the body is read, for every HTTP route.

A body is never held whole before it is counted: a declared ``Content-Length`` over the limit
is refused before the application runs, and every body (chunked or not) is counted as the
application reads it. Past the limit the client gets 413 in the error body of the API the path
belongs to, and the application's read ends as if the client had gone away (its own answer to
that, whatever it is, is dropped: the 413 went out first).

Upload endpoints (they stream to disk) get ``Settings.max_upload_bytes``; everything else
``Settings.max_body_bytes``.
"""

from __future__ import annotations

from .feature import Feature, Problem

# (method, path) of the endpoints that take files: the large limit applies to them.
UPLOADS = frozenset({("POST", "/apis/assets/import")})


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """Pure ASGI guard: a 413 for bodies over the limit, checked up front and while reading."""

    def __init__(self, app, max_body: int, max_upload: int, errors, uploads: frozenset = UPLOADS) -> None:
        self.app = app
        self.errors = errors  # the app's ErrorDispatch: a 413 in the body of the request's API
        self.max_body = max_body
        self.max_upload = max_upload
        self.uploads = uploads

    def limit(self, scope) -> int:
        return self.max_upload if (scope["method"], scope["path"]) in self.uploads else self.max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope)
        declared = declared_length(scope["headers"])
        if declared is not None and declared > limit:
            await self.refuse(scope, send, limit)
            return
        received = 0
        started = False  # the application began its answer: a 413 can no longer replace it
        refused = False

        async def counted_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await self.refuse(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message) -> None:
            nonlocal started
            if refused and not started:
                return  # the application's answer to the cut body: the 413 went out instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            # However the application reacted to the cut body (ClientDisconnect, a 400 turned
            # into an exception), the client already has its 413.
            if not (refused and not started):
                raise

    async def refuse(self, scope, send, limit: int) -> None:
        message = f"the request body is larger than the limit of {limit} bytes"
        answer = self.errors.render(scope["path"], Problem("too-large", 413, message))
        # The rest of the body is not read: the connection cannot carry another request.
        await send({"type": "http.response.start", "status": 413,
                    "headers": [*answer.raw_headers, (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": answer.body})


def _error_schema(path: str) -> dict:
    from .cm.openapi import EVALUATION_RESULT
    from .oxm.errors import ERROR_SCHEMA

    if path.startswith("/apis/"):
        return {"$ref": "#/components/schemas/HmpError"}
    if path.startswith("/oxm/"):
        return ERROR_SCHEMA
    if path.startswith("/v2/"):
        return EVALUATION_RESULT
    return {"type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}


def describe_openapi(schema: dict) -> None:
    """Every operation that takes a body documents the 413 it answers past the limit."""
    for path, operations in schema["paths"].items():
        for op in operations.values():
            if isinstance(op, dict) and "requestBody" in op:
                op.setdefault("responses", {}).setdefault("413", {
                    "description": "The request body is over the server's limit",
                    "content": {"application/json": {"schema": _error_schema(path)}}})


def install(app) -> None:
    """Mounted right after `/v2`'s hot paths, so it wraps them too and sits inside the ops
    middleware (the 413s are counted and logged like any answer)."""
    settings = app.state.settings
    app.add_middleware(BodyLimit, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes,
                       errors=app.state.errors)


feature = Feature("limits", install=install, describe_openapi=describe_openapi)
