"""The `streamkeeper` command: `serve`, and `admin ...` to manage the catalog without the API."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from .settings import Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings.from_env(host=args.host, port=args.port, data_dir=args.data_dir, config=args.config,
                                 workers=args.workers)
    if bool(args.tls_cert) != bool(args.tls_key):
        print("streamkeeper: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    if settings.workers > 1 and not settings.redis_url:
        print("streamkeeper: --workers > 1 needs STREAMKEEPER_REDIS_URL: the embedded session store "
              "lives in one process", file=sys.stderr)
        return 2
    from .ops.logs import log_config
    from .ops.lane import LaneProtocol

    if settings.workers > 1:
        try:
            _prepare_for_workers(settings)
        except Exception as exc:  # noqa: BLE001 - unreachable database, bad config file, ...
            print(f"streamkeeper: start failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return STARTUP_FAILED
    os.environ.update(settings.to_env())
    if settings.workers > 1:
        os.environ.pop("STREAMKEEPER_CONFIG", None)  # applied once above, not once per worker
    if args.server == "granian":
        from .ops.servers import run_granian

        tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
        return run_granian(settings, log_config(settings.log_level), tls=tls)
    config = uvicorn.Config(
        "streamkeeper.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http=LaneProtocol,  # httptools, header names in canonical case, hot routes without ASGI
        date_header=False,
        server_header=False,
        # Only STREAMKEEPER_TRUSTED_PROXIES decides whose X-Forwarded-For is believed.
        proxy_headers=False,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        access_log=False,
        timeout_graceful_shutdown=30,  # in-flight requests get this long to finish on SIGTERM
        # A worker busy with a burst must not be mistaken for a hung one (killed with its connections).
        timeout_worker_healthcheck=30,
        ssl_certfile=args.tls_cert,  # HTTPS when both are given (PEM files); login cookies are then Secure
        ssl_keyfile=args.tls_key,
    )
    return _run_uvicorn(config)


STARTUP_FAILED = 3  # uvicorn's own status for a server that could not start


def _run_uvicorn(config) -> int:
    """uvicorn.run, except that a worker that failed to start makes the exit status non-zero
    (uvicorn's supervisor stops then, but returns as after a clean shutdown)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if config.workers <= 1:
        server = uvicorn.Server(config)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        return 0 if server.started else STARTUP_FAILED
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(worker.exitcode == STARTUP_FAILED for worker in supervisor.processes):
        print("streamkeeper: a worker failed to start; stopped", file=sys.stderr)
        return STARTUP_FAILED
    return 0


def _prepare_for_workers(settings: Settings) -> None:
    """Do once, before N workers start, what each would otherwise race for: generated secrets
    and the one-time set-up (schema, configuration file or demo catalog, default roles, first
    administrator). Each worker runs the set-up again under its lock, finding it done."""
    from .app import setup_once
    from .database import create_engine

    settings.session_secret()
    key, generated = settings.resolve_admin_key()
    if generated:
        print(f"streamkeeper: generated admin API key (stored in {settings.data_dir / 'admin.key'}): {key}",
              file=sys.stderr)

    async def once() -> None:
        engine = create_engine(settings)
        try:
            await setup_once(settings, engine)
        finally:
            await engine.dispose()

    asyncio.run(once())


async def _with_admin(settings: Settings, fn) -> Any:
    from .admin.service import AdminService
    from .database import create_engine, migrate, sessionmaker

    engine = create_engine(settings)
    try:
        await migrate(engine)
        return await fn(AdminService(sessionmaker(engine)))
    finally:
        await engine.dispose()


def _print(value: Any) -> None:
    if isinstance(value, list):
        value = [v.model_dump(by_alias=True) for v in value]
    elif hasattr(value, "model_dump"):
        value = value.model_dump(by_alias=True)
    if value is not None:
        print(json.dumps(value, indent=2))


def _admin(args: argparse.Namespace) -> int:
    from .admin import schemas
    from .admin.config_file import ConfigFileError, load_config
    from .admin.service import AdminError

    settings = Settings.from_env(data_dir=args.data_dir)
    kind, action = args.kind, args.action

    async def run(admin):
        if kind == "apply":
            await admin.apply(load_config(Path(args.file)))
            from .oxm.cli import apply_section

            await apply_section(settings, Path(args.file))
            return None
        if kind == "key":
            return {"adminKey": settings.resolve_admin_key()[0]}
        plural = {"tenant": "tenants", "policy": "policies", "app": "applications"}[kind]
        singular = {"tenant": "tenant", "policy": "policy", "app": "application"}[kind]
        if action == "list":
            return await getattr(admin, f"list_{plural}")()
        if action == "show":
            return await getattr(admin, f"get_{singular}")(args.id)
        if action == "delete":
            await getattr(admin, f"delete_{singular}")(args.id)
            return None
        model = {"tenant": schemas.Tenant, "policy": schemas.Policy, "app": schemas.Application}[kind]
        data = json.loads(args.json) if args.json else {}
        data["id"] = args.id
        if kind == "app":
            for attr, key in (("name", "name"), ("tenant", "tenant"), ("interval", "heartbeatInterval")):
                if getattr(args, attr, None) is not None:
                    data[key] = getattr(args, attr)
            if args.policies is not None:
                data["policies"] = [p for p in args.policies.split(",") if p]
            if args.disable:
                data["enabled"] = False
            if args.enable:
                data["enabled"] = True
            if action == "update":
                current = (await admin.get_application(args.id)).model_dump(by_alias=True)
                data = {**current, **data}
        elif getattr(args, "name", None) is not None:
            data["name"] = args.name
        if getattr(args, "tenant", None) is not None and kind == "policy":
            data["tenant"] = args.tenant
        spec = model.model_validate(data)
        return await getattr(admin, f"save_{singular}")(spec, create=(action == "create"))

    try:
        _print(asyncio.run(_with_admin(settings, run)))
    except (AdminError, ConfigFileError) as exc:
        print(f"streamkeeper: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # pydantic validation and bad JSON
        print(f"streamkeeper: invalid input: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamkeeper", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--data-dir")
    serve.add_argument("--config", help="TOML file of tenants, policies and applications")
    serve.add_argument("--workers", type=int)
    serve.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM, may include the chain)")
    serve.add_argument("--tls-key", help="the certificate's private key (PEM)")
    serve.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn",
                       help="HTTP server: uvicorn (default; header names in canonical case) or granian")
    serve.set_defaults(func=_serve)

    admin = sub.add_parser("admin", help="manage tenants, policies and applications")
    admin.add_argument("--data-dir")
    kinds = admin.add_subparsers(dest="kind", required=True)
    from .hmp.accounts.cli import register as register_accounts

    register_accounts(kinds)
    apply = kinds.add_parser("apply", help="create or replace everything a TOML file lists")
    apply.add_argument("file")
    apply.set_defaults(action="apply")
    kinds.add_parser("key", help="print the admin API key").set_defaults(action="key")
    for kind in ("tenant", "policy", "app"):
        k = kinds.add_parser(kind)
        actions = k.add_subparsers(dest="action", required=True)
        actions.add_parser("list")
        for action in ("show", "delete"):
            actions.add_parser(action).add_argument("id")
        for action in ("create", "update"):
            a = actions.add_parser(action)
            a.add_argument("id")
            a.add_argument("--name")
            a.add_argument("--json", help="the full object as JSON (fields given as flags win)")
            if kind != "tenant":
                a.add_argument("--tenant")
            if kind == "app":
                a.add_argument("--interval", type=int, help="heartbeat interval in seconds")
                a.add_argument("--policies", help="comma-separated policy ids")
                a.add_argument("--disable", action="store_true")
                a.add_argument("--enable", action="store_true")
    from .oxm.cli import add_commands

    add_commands(kinds)
    admin.set_defaults(func=_admin)
    from .media.cli import register as register_media

    register_media(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
