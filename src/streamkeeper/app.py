"""The ASGI application: one app, one port, every API surface mounted on shared services."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from starlette.responses import Response
from starlette.routing import Match

from . import __version__
from .admin.config_file import DEMO, load_config
from .admin.service import AdminService
from .concurrency.embedded import EmbeddedStore
from .concurrency.ids import SessionIds
from .concurrency.policy import PolicyCatalog
from .concurrency.service import RETRY_AFTER_SECONDS, ConcurrencyService
from .concurrency.store import SessionStore
from .catalog_version import CatalogWatcher
from .feature import ErrorRenderer, Feature, Problem, plain_error
from .database import UNREACHABLE, create_engine, migrate, sessionmaker, setup_lock, unreachable
from .ops.hot import HotRoutes, answer_over_asgi
from .settings import Settings

log = logging.getLogger("streamkeeper")


# Collector thresholds (CPython's defaults: 700, 10, 10), see settle_heap.
GC_THRESHOLDS = (1000, 20, 100)


def settle_heap() -> None:
    """Move everything built at start (modules, routes, models, the catalog, the sessions read
    back from the journal) out of the garbage collector's sight: a full collection otherwise
    walks all of it, a pause of tens to hundreds of milliseconds that lands in the p99 of the
    hot paths. Objects made later are still collected.

    Then make full collections rarer. Sessions live for minutes, so nearly all of them reach the
    oldest generation, and with the default thresholds a full collection (walking every session
    record) ran every second or two under load: in 15 s of the init bench, 10 pauses of 40-50 ms,
    about 3 % of the server's CPU. With these thresholds a full collection is considered ten
    times less often, and a young one stays under about 3 ms."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def build_store(settings: Settings, clock: Callable[[], float]) -> SessionStore:
    if settings.redis_url:
        from .concurrency.redis_store import RedisStore

        return RedisStore(settings.redis_url, prefix=settings.redis_prefix, clock=clock)
    return EmbeddedStore(settings.data_dir / "sessions.db", clock=clock)


async def _load_configuration(settings: Settings, admin: AdminService) -> None:
    if settings.config is not None:
        await admin.apply(load_config(settings.config))
    elif await admin.is_empty():
        log.info("empty catalog and no --config: loading the demo configuration")
        await admin.apply(load_config(DEMO))


async def setup_once(settings: Settings, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
    """Everything a first start creates (schema, configuration or demo catalog, each feature's
    `setup`: default roles, first administrator, config-file keys), under the set-up lock so that
    several workers or servers starting together on one empty database do it once. Idempotent:
    run by `serve --workers N` before the workers start, and again (cheaply) by every process."""
    async with setup_lock(settings, engine):
        await migrate(engine)
        sessions = sessionmaker(engine)
        await _load_configuration(settings, AdminService(sessions))
        for feature in features():
            if feature.setup is not None:
                await feature.setup(settings, sessions, clock)


@dataclass(slots=True)
class Context:
    """What every API surface shares: settings, the catalog database, the clock, the CM service."""

    settings: Settings
    clock: Callable[[], float]
    engine: AsyncEngine
    sessions: async_sessionmaker
    concurrency: ConcurrencyService
    admin: AdminService
    catalog_watch: CatalogWatcher


def features() -> list[Feature]:
    """The features mounted on the app, each declared by its surface module as `feature` (see
    feature.py), in the order they are installed and started (the first installed middleware is
    the innermost, so the body limit sits inside the ops middleware)."""
    from . import limits
    from .admin import endpoints as admin
    from .cm import endpoints as cm
    from .console import feature as console
    from .hmp import api as hmp
    from .hmp.recordings import feature as recordings
    from .ops import endpoints as ops
    from .oxm import endpoints as oxm
    from .playback import edge_endpoints as edge
    from .playback import feature as playback

    # `edge` before `playback`: its hot paths under /play/ are more specific than /play/<token>/<file>.
    return [module.feature for module in (cm, limits, admin, ops, oxm, recordings, hmp, edge, playback, console)]


#: How long one feature may take to stop before the server goes on stopping without it.
SHUTDOWN_SECONDS = 20.0


async def _shut_down(feature: Feature, app: FastAPI, ctx) -> None:
    """A feature's shutdown, bounded: one that hangs (a peer that never answers) is logged by
    name and left behind, so that the others, the session store and the database still close and
    the process exits."""
    try:
        await asyncio.wait_for(feature.shutdown(app, ctx), SHUTDOWN_SECONDS)
    except asyncio.TimeoutError:
        log.error("the %s feature did not stop within %.0f s; stopping without it", feature.name,
                  SHUTDOWN_SECONDS)
    except Exception:  # noqa: BLE001 - the rest must still stop
        log.exception("the %s feature failed to stop", feature.name)


def create_app(settings: Settings | None = None, clock: Callable[[], float] = time.time) -> FastAPI:
    settings = settings or Settings.from_env()
    mounted = features()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = create_engine(settings)
        store = build_store(settings, clock)
        watcher = CatalogWatcher(engine)
        store_started = False
        started: list[Feature] = []
        try:
            await setup_once(settings, engine, clock)
            await store.start()
            store_started = True
            service = ConcurrencyService(store, SessionIds(settings.session_secret()), PolicyCatalog(), clock=clock)

            async def republish() -> None:
                service.catalog = await admin.catalog()

            sessions = sessionmaker(engine)
            admin = AdminService(sessions, on_change=watcher.refresh)
            ctx = Context(settings, clock, engine, sessions, service, admin, watcher)
            await watcher.start()  # reads the version before the first read of the catalog
            await watcher.subscribe(republish)
            key, generated = settings.resolve_admin_key()
            if generated:
                log.warning("generated admin API key (stored in %s): %s", settings.data_dir / "admin.key", key)
            app.state.ctx = ctx
            app.state.settings = settings
            app.state.concurrency = service
            app.state.admin = admin
            app.state.admin_key = key
            for feature in mounted:
                if feature.startup is not None:
                    await feature.startup(app, ctx)
                started.append(feature)
            settle_heap()
            yield
        finally:
            await watcher.close()
            for feature in reversed(started):
                if feature.shutdown is not None:
                    await _shut_down(feature, app, ctx)
            if store_started:
                await store.close()
            await engine.dispose()

    app = FastAPIOffline(
        title="streamkeeper",
        version=__version__,
        description="Concurrency monitoring (`/v2`), viewer experience (`/oxm/v1`) and media platform "
                    "(`/apis`) for video services. Administration under `/admin/v1`.",
        lifespan=lifespan,
        # Our own Prometheus metrics cover requests; FastAPI's OpenTelemetry probe costs per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings  # what `install(app)` of a feature may configure itself from
    app.state.errors = errors = ErrorDispatch(mounted)  # how middleware renders a refusal
    for feature in mounted:
        if feature.router is not None:
            app.include_router(feature.router)
        if feature.install is not None:
            feature.install(app)
    # Hot-path routes (plain Starlette) go first, so matching them never walks the other routes.
    app.router.routes[0:0] = [route for feature in mounted for route in feature.routes]
    _install_error_handlers(app, errors)
    _install_openapi(app, mounted)
    _install_front(app, mounted)
    return app


class HotFront:
    """The outermost of the app's middleware (only Starlette's last-resort 500 is outside it):
    hot paths (`/v2`, OXM `streaming`, see ops/hot.py) claimed by their feature go through the
    operations middleware (request id, metrics, access log) straight to their handler; everything
    else goes on down the app's stack. Skipping the framework's routing, dependency injection and
    inner middleware is most of what a heartbeat used to cost (hot handlers catch their own errors
    and read bodies with a limit). Under uvicorn the lane (ops/lane.py) answers the same claims
    before the app is even called."""

    def __init__(self, app, routes: HotRoutes, metrics, all_routes: Callable[[], list]) -> None:
        from .ops.middleware import OpsMiddleware

        self.app = app
        self.routes = routes
        self.ops = OpsMiddleware(_run_hot, metrics=metrics, routes=all_routes)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            found = self.routes.claim(scope["method"], scope["path"])
            if found is not None:
                claim, params = found
                scope["route"] = claim.template
                scope["streamkeeper.hot"] = (claim, params)
                await self.ops(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _run_hot(scope, receive, send) -> None:
    claim, params = scope["streamkeeper.hot"]
    await answer_over_asgi(claim, params, scope, receive, send)


def _install_front(app: FastAPI, mounted: list[Feature]) -> None:
    """Add :class:`HotFront` as the last (outermost) middleware; the same hot routes are left in
    `app.state.hot_routes` for the uvicorn lane."""
    paths = [feature.hot for feature in mounted if feature.hot is not None]
    routes = HotRoutes(paths, app.state, app.state.settings.max_body_bytes)
    app.state.hot_routes = routes
    app.add_middleware(HotFront, routes=routes, metrics=app.state.metrics, all_routes=lambda: app.router.routes)


class ErrorDispatch:
    """Finds the error renderer of the surface a request belongs to (by the features' prefixes)."""

    def __init__(self, mounted: list[Feature]) -> None:
        self.owners = [feature for feature in mounted if feature.error_renderer is not None and feature.prefix]

    def renderer(self, path: str) -> ErrorRenderer:
        for feature in self.owners:
            if feature.owns(path):
                return feature.error_renderer  # type: ignore[return-value]
        return plain_error

    def render(self, path: str, problem: Problem) -> Response:
        return self.renderer(path)(problem)


def _install_error_handlers(app: FastAPI, errors: ErrorDispatch) -> None:
    """Failures found outside the surfaces' own code, each answered in its surface's error body.
    (The surfaces' own exceptions have handlers that their features install.)"""

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError):
        if not unreachable(exc):
            raise exc  # a real bug: the server's 500
        log.warning("catalog database unreachable on %s: %s", request.url.path, exc.orig or exc)
        return errors.render(request.url.path, Problem("unavailable", 503, UNREACHABLE,
                                                       {"Retry-After": str(RETRY_AFTER_SECONDS)}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        found = list(exc.errors())
        problems = "; ".join(f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg')}" for err in found)
        return errors.render(request.url.path, Problem("invalid", 400, problems, None, found))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope))
        return errors.render(request.url.path, Problem("http", exc.status_code, str(exc.detail), headers))


def allowed_methods(app: FastAPI, scope: dict) -> list[str]:
    """Every method some route accepts at this path (Starlette only names the first route's)."""
    methods: set[str] = set()
    for route in app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches({**scope, "method": "GET"})[0] != Match.NONE:
            methods.update(route_methods)
    return sorted(methods)


def _one_description_per_parameter(schema: dict) -> None:
    """A parameter described by hand (`openapi_extra`) replaces the one FastAPI derived from the
    signature, instead of appearing twice (clients and fuzzers would pick the laxer one)."""
    for operations in schema["paths"].values():
        for op in operations.values():
            params = op.get("parameters") if isinstance(op, dict) else None
            if params:
                last = {(p.get("name"), p.get("in")): p for p in params}
                op["parameters"] = [p for p in params if last[(p.get("name"), p.get("in"))] is p]


def _install_openapi(app: FastAPI, mounted: list[Feature]) -> None:
    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for feature in mounted:
            if feature.openapi_paths is not None:
                schema["paths"] = {**feature.openapi_paths(), **schema["paths"]}
        for feature in mounted:
            if feature.describe_openapi is not None:
                feature.describe_openapi(schema)
        _one_description_per_parameter(schema)
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["cmBasic"] = {
            "type": "http", "scheme": "basic",
            "description": "Username: the application id; password: empty",
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
