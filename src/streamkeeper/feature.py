"""What an API surface (a *feature*) gives the app, declared in one value.

Each surface module exports one :class:`Feature`; `app.features()` lists them and `create_app`
mounts them: routers and plain routes, hot paths, middleware, start and stop, one-time set-up,
OpenAPI, and the renderer of the errors of requests under its URL prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Literal, Sequence

from starlette.responses import Response

ProblemKind = Literal["invalid", "http", "unavailable", "too-large"]


@dataclass(frozen=True, slots=True)
class Problem:
    """A failure found outside a surface's own code (the framework refused the request, the
    catalog database is unreachable, the body is over the limit), to be answered in the error
    body of the surface the request belongs to.

    `kind`: ``invalid`` (request validation; `errors` holds the framework's list), ``http`` (a
    bare HTTP status: unknown route, wrong method), ``unavailable`` (503, retry later),
    ``too-large`` (413, the body is over the limit). `message` is a readable summary."""

    kind: ProblemKind
    status: int
    message: str
    headers: dict[str, str] | None = None
    errors: Sequence[dict[str, Any]] = ()


ErrorRenderer = Callable[[Problem], Response]


@dataclass(frozen=True, slots=True)
class Feature:
    """One surface of the app. Every field but `name` is optional.

    - `router`: a FastAPI router included in the app; `routes`: plain Starlette routes put first
      in the routing table (then described by `openapi_paths()`).
    - `hot(method, path, hot_routes)`: claims the requests answered in front of the framework
      (see ops/hot.py).
    - `install(app)`: called once when the app is built (middleware: the first installed is the
      innermost; exception handlers of the surface's own errors).
    - `setup(settings, sessions, clock)`: idempotent one-time set-up, run under the set-up lock.
    - `startup(app, ctx)` / `shutdown(app, ctx)`: run in the order of `app.features()`,
      shutdown in reverse.
    - `describe_openapi(schema)`: completes the OpenAPI document once it is built.
    - `prefix` and `error_renderer`: the errors of requests whose path is `prefix` or below it
      are rendered by `error_renderer` (other paths get the app's plain `{code, message}`)."""

    name: str
    router: Any = None
    routes: Sequence[Any] = ()
    hot: Callable[..., Any] | None = None
    install: Callable[[Any], None] | None = None
    setup: Callable[[Any, Any, Callable[[], float]], Awaitable[None]] | None = None
    startup: Callable[[Any, Any], Awaitable[None]] | None = None
    shutdown: Callable[[Any, Any], Awaitable[None]] | None = None
    openapi_paths: Callable[[], dict] | None = None
    describe_openapi: Callable[[dict], None] | None = None
    prefix: str | None = None
    error_renderer: ErrorRenderer | None = None

    def owns(self, path: str) -> bool:
        """Whether the errors of a request to `path` are this feature's to render."""
        prefix = self.prefix
        return prefix is not None and (path == prefix or path.startswith(prefix + "/"))


_PLAIN_CODES = {"invalid": "invalid", "http": "http-error", "unavailable": "unavailable", "too-large": "too-large"}


def plain_error(problem: Problem) -> Response:
    """The plain `{code, message}` error body: `/admin/v1`'s, and that of paths no surface owns."""
    from starlette.responses import JSONResponse

    return JSONResponse({"code": _PLAIN_CODES[problem.kind], "message": problem.message},
                        status_code=problem.status, headers=problem.headers)
