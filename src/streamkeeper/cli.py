"""The `streamkeeper` command: `serve` runs the server, `admin ...` manages what it serves
(tenants, policies, applications, accounts, viewer token keys) on the catalog database directly.

Exit status: 0 done (or the server stopped cleanly); 1 an `admin` command failed; 2 invalid
command line or setting (nothing was started); 3 the server could not start (config file,
database, Redis, port: the cause is logged in one line)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.config
import os
import socket
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from .settings import OPTIONS, Settings, SettingsError, env_name, flag_name, shown_default
from .media import cli as media_cli

ADMIN_FAILED = 1
USAGE = 2
STARTUP_FAILED = 3  # also uvicorn's own status for a server that could not start

log = logging.getLogger("streamkeeper")


class StartFailure(Exception):
    """A server that cannot start, with the cause in one line for the log."""


# -- serve --------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(**{o.name: getattr(args, o.name) for o in OPTIONS if o.flag})
        settings.validate()
    except SettingsError as exc:
        print(f"streamkeeper serve: {exc}", file=sys.stderr)
        return USAGE
    from .logs import log_config, resolve_format

    settings.log_format = resolve_format(settings.log_format)  # workers inherit the decision
    logging_config = log_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(logging_config)
    log.info("data dir %s (%s)", settings.data_dir.resolve(), _data_dir_source(settings))
    try:
        sock = _listen_socket(settings)
        data_dir_lock = _prepare(settings)
    except StartFailure as exc:
        log.error("cannot start: %s", exc)
        return STARTUP_FAILED
    scheme = "https" if settings.tls_cert else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    log.info("listening on %s://%s:%d", scheme, host, sock.getsockname()[1])
    os.environ.update(settings.to_env())
    if settings.workers > 1:
        _share_metrics()
    os.environ.pop(env_name("config"), None)  # applied once above, not again by each process
    if settings.server == "granian":
        from .ops.servers import run_granian

        sock.close()  # granian binds its own; the port was free a moment ago
        if data_dir_lock is not None:  # granian's worker process takes it for the app's store
            from .concurrency.embedded import DataDirLock

            DataDirLock.release(data_dir_lock)
        tls = (settings.tls_cert, settings.tls_key) if settings.tls_cert else None
        return run_granian(settings, logging_config, tls=tls)
    import uvicorn

    from .ops.uvicorn_protocol import LaneProtocol

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
        log_config=logging_config,
        access_log=False,
        timeout_graceful_shutdown=30,  # in-flight requests get this long to finish on SIGTERM
        # A worker busy with a burst must not be mistaken for a hung one (killed with its connections).
        timeout_worker_healthcheck=30,
        ssl_certfile=settings.tls_cert,  # HTTPS when both are given (PEM files); login cookies are then Secure
        ssl_keyfile=settings.tls_key,
    )
    return _run_uvicorn(config, sock)


def _share_metrics() -> None:
    """A directory of this server's own where its workers leave their counters, so that any
    of them answers /metrics for all (ops/metrics.py: SharedCounters); removed at exit."""
    import atexit
    import shutil
    import tempfile

    from .ops.metrics import WORKERS_DIR_ENV

    where = tempfile.mkdtemp(prefix="streamkeeper-metrics-")
    atexit.register(shutil.rmtree, where, ignore_errors=True)
    os.environ[WORKERS_DIR_ENV] = where


def _run_uvicorn(config, sock: socket.socket) -> int:
    """uvicorn.run on our bound socket, except that a worker that failed to start makes the exit
    status non-zero (uvicorn's supervisor stops then, but returns as after a clean shutdown)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if config.workers <= 1:
        server = uvicorn.Server(config)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass
        return 0 if server.started else STARTUP_FAILED
    supervisor = Multiprocess(config, sockets=[sock])
    supervisor.run()
    if any(worker.exitcode == STARTUP_FAILED for worker in supervisor.processes):
        log.error("cannot start: a worker failed to start; stopped")
        return STARTUP_FAILED
    return 0


def _hold_data_dir(settings: Settings) -> Path | None:
    """Without Redis the sessions live in this process and its data dir's journal: refuse to
    start when another server holds that data dir (the lock is kept for the life of the process,
    shared with the app's store, and dropped by the kernel when the process ends)."""
    if settings.redis_url:
        return None
    from .concurrency.embedded import DataDirInUse, DataDirLock

    try:
        return DataDirLock.acquire(settings.data_dir)
    except DataDirInUse as exc:
        raise StartFailure(str(exc)) from None
    except OSError as exc:
        raise StartFailure(f"cannot write to the data dir {settings.data_dir}: {exc.strerror or exc}") from None


def _listen_socket(settings: Settings) -> socket.socket:
    """The server's socket, bound now so that a port in use is reported before anything else."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host.strip("[]"), settings.port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        hint = " (another server runs there? choose another --port)" if exc.errno == 98 else ""
        raise StartFailure(f"cannot listen on {settings.host}:{settings.port}: {reason}{hint}") from None
    sock.set_inheritable(True)
    return sock


def _prepare(settings: Settings) -> Path | None:
    """Check what the server needs and do the one-time set-up once, before the server (or N
    workers) start: Redis answers, generated secrets, then the set-up (schema, configuration
    file or demo catalog, default roles, first administrator). Each process runs the set-up
    again under its lock, finding it done. A failure is a StartFailure naming its cause.
    Without Redis the data dir is taken for this process first (returned: see _hold_data_dir)."""
    if settings.config is not None:
        from .admin.config_file import ConfigFileError, load_config

        try:
            load_config(settings.config)  # a typo is reported before anything is created
        except ConfigFileError as exc:
            raise StartFailure(str(exc)) from None
    if settings.redis_url:
        asyncio.run(_check_redis(settings.redis_url))
    held = _hold_data_dir(settings)
    try:
        settings.session_secret()
        key, generated = settings.resolve_admin_key()
    except OSError as exc:
        raise StartFailure(f"cannot write to the data dir {settings.data_dir}: {exc.strerror or exc}") from None
    if generated:
        log.warning("generated admin API key (stored in %s): %s", settings.data_dir / "admin.key", key)
    asyncio.run(_setup(settings))
    return held


# Kept under its old name for callers that prepare a data dir for workers.
_prepare_for_workers = _prepare


async def _check_redis(url: str) -> None:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    try:
        client = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    except ValueError as exc:
        raise StartFailure(f"STREAMKEEPER_REDIS_URL: {exc}") from None
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise StartFailure(f"cannot reach Redis at {_safe_url(url)}: {_first_line(exc)}") from None
    finally:
        await client.aclose()


async def _setup(settings: Settings) -> None:
    from sqlalchemy.exc import DBAPIError

    from .admin.config_file import ConfigFileError
    from .admin.service import AdminError
    from .app import setup_once
    from .database import create_engine

    try:
        engine = create_engine(settings)
    except Exception as exc:  # noqa: BLE001 - a URL SQLAlchemy cannot use
        raise StartFailure(f"STREAMKEEPER_DATABASE_URL: {_first_line(exc)}") from None
    where = f"the catalog database {_safe_url(settings.database_url or settings.catalog_url)}"
    try:
        admins_before = await _any_user(engine)
        await setup_once(settings, engine)
        if settings.admin_password and admins_before:
            log.warning("STREAMKEEPER_ADMIN_PASSWORD is ignored: the media-platform administrator exists "
                        "already (to change a password: streamkeeper admin user update admin --password ...)")
    except ConfigFileError as exc:
        raise StartFailure(str(exc)) from None
    except AdminError as exc:  # the configuration file (or the demo) does not fit the catalog
        raise StartFailure(f"{settings.config or 'demo configuration'}: {exc.message}") from None
    except (DBAPIError, OSError, asyncio.TimeoutError) as exc:
        cause = _first_line(exc.orig if isinstance(exc, DBAPIError) else exc) or type(exc).__name__
        raise StartFailure(f"cannot reach {where}: {cause}") from None
    finally:
        await engine.dispose()


async def _any_user(engine) -> bool:
    """Whether the catalog has media-platform users already (False on a new database)."""
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from .hmp.accounts.models import UserRow

    try:
        async with engine.connect() as conn:
            return (await conn.scalar(select(UserRow.id).limit(1))) is not None
    except DBAPIError as exc:
        from .database import unreachable

        if unreachable(exc) and exc.statement is None:
            raise  # cannot connect: reported by the caller
        return False  # no table yet


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads (Redis URLs are)
        return url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _data_dir_source(settings: Settings) -> str:
    source = settings.sources.get("data_dir")
    return f"from {source}" if source else f"the default ./data, in {Path.cwd()}"


# -- what every `admin` command shares ----------------------------------------------------------


def command(sub: argparse._SubParsersAction, name: str, text: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose one-line description shows in its parent's help and its own."""
    return sub.add_parser(name, help=text, description=text, **kwargs)


def list_command(sub: argparse._SubParsersAction, text: str, **kwargs) -> argparse.ArgumentParser:
    """A `list` subcommand: a table on a terminal, JSON otherwise; `--table`/`--json` choose."""
    parser = command(sub, "list", f"{text} (a table on a terminal, else JSON)", **kwargs)
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", dest="output", action="store_const", const="json", help="JSON, whatever stdout is")
    form.add_argument("--table", dest="output", action="store_const", const="table", help="a table, whatever stdout is")
    return parser


class AdminFailure(Exception):
    """An `admin` command that cannot do what was asked; the message is for the user."""


def admin_settings(args: argparse.Namespace, *, creates: bool = False, uses_files: bool = False) -> Settings:
    """Settings of an `admin` command, found as `serve` finds them. Says on stderr which data dir
    it uses and refuses one that does not exist (unless the command `creates` it): a wrong
    directory would otherwise get a catalog or key of its own that the server never sees.
    The dir matters for the SQLite catalog and for `uses_files` (the generated admin key)."""
    settings = Settings.from_env(data_dir=args.data_dir)
    needed = uses_files or not settings.database_url
    if needed:
        print(f"streamkeeper: data dir {settings.data_dir.resolve()} ({_data_dir_source(settings)})", file=sys.stderr)
        if not creates and not settings.data_dir.is_dir():
            raise AdminFailure(
                f"no data dir at {settings.data_dir.resolve()} ({_data_dir_source(settings)}): give the "
                f"server's with --data-dir or STREAMKEEPER_DATA_DIR (serve creates it at its first start)")
    return settings


def run_admin(args: argparse.Namespace, work: Callable[[Settings], Awaitable[Any]], *,
              errors: tuple[type[Exception], ...] = (), columns: Iterable[str] = (),
              creates: bool = False, uses_files: bool = False) -> int:
    """Run one `admin` command: settings, `work` on them, its result on stdout (see `emit`),
    and any of `errors` (or a missing data dir, bad input, an unreachable database) as one line
    on stderr with status 1."""
    from sqlalchemy.exc import DBAPIError

    from .admin.config_file import ConfigFileError
    from .admin.service import AdminError

    try:
        settings = admin_settings(args, creates=creates, uses_files=uses_files)
        result = asyncio.run(work(settings))
    except (AdminFailure, AdminError, ConfigFileError, *errors) as exc:
        print(f"streamkeeper: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return ADMIN_FAILED
    except DBAPIError as exc:
        print(f"streamkeeper: catalog database: {_first_line(exc.orig)}", file=sys.stderr)
        return ADMIN_FAILED
    except ValueError as exc:  # pydantic validation and bad JSON
        print(f"streamkeeper: invalid input: {exc}", file=sys.stderr)
        return ADMIN_FAILED
    emit(result, getattr(args, "output", None), columns)
    return 0


def emit(value: Any, output: str | None = None, columns: Iterable[str] = ()) -> None:
    """A command's result on stdout: a string as is (a token), a list as a table when asked for
    (or on a terminal, when `columns` are known), anything else as JSON."""
    if value is None:
        return
    if isinstance(value, str):
        print(value)
        return
    if isinstance(value, list):
        value = [v.model_dump(by_alias=True) if hasattr(v, "model_dump") else v for v in value]
        columns = list(columns)
        if output == "table" or (output is None and columns and sys.stdout.isatty()):
            print(table(value, columns or sorted({k for row in value for k in row})))
            return
    elif hasattr(value, "model_dump"):
        value = value.model_dump(by_alias=True)
    print(json.dumps(value, indent=2))


def table(rows: list[dict], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, (list, tuple)):
            return ",".join(cell(v) for v in value) or "-"
        if isinstance(value, dict):
            return ",".join(value) or "-"
        return "-" if value in (None, "") else str(value)

    grid = [[c.upper() for c in columns]] + [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in grid)


# -- admin: catalog ------------------------------------------------------------------------------

_KINDS = {  # command: (singular name in the service, plural, schema attribute, table columns)
    "tenant": ("tenant", "tenants", "Tenant", ("id", "name")),
    "policy": ("policy", "policies", "Policy", ("id", "tenant", "name", "rules")),
    "app": ("application", "applications", "Application",
            ("id", "tenant", "name", "heartbeatInterval", "enabled", "policies")),
}


def _catalog(args: argparse.Namespace) -> int:
    from .admin import schemas

    kind, action = args.kind, args.action
    singular, plural, model_name, columns = _KINDS[kind]

    async def run(admin):
        if action == "list":
            return await getattr(admin, f"list_{plural}")()
        if action == "show":
            return await getattr(admin, f"get_{singular}")(args.id)
        if action == "delete":
            await getattr(admin, f"delete_{singular}")(args.id)
            return None
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
        spec = getattr(schemas, model_name).model_validate(data)
        return await getattr(admin, f"save_{singular}")(spec, create=(action == "create"))

    return run_admin(args, lambda settings: _with_admin(settings, run), columns=columns)


def _apply(args: argparse.Namespace) -> int:
    from .admin.config_file import load_config
    from .oxm.cli import apply_section
    from .playback.cli import apply_section as apply_playback

    path = Path(args.file)

    async def run(settings: Settings) -> None:
        config = load_config(path)  # before the data dir and catalog are made for it
        done = await _with_admin(settings, lambda admin: admin.apply(config))
        for kind, ident, outcome in done:
            print(f"{outcome:<9} {kind} {ident}")
        for line in await apply_section(settings, path) + await apply_playback(settings, path):
            print(line)

    return run_admin(args, run, creates=True)


def _key(args: argparse.Namespace) -> int:
    async def run(settings: Settings) -> dict:
        return {"adminKey": settings.resolve_admin_key()[0]}

    return run_admin(args, run, uses_files=not os.environ.get(env_name("admin_key")))


async def _with_admin(settings: Settings, fn) -> Any:
    from .admin.service import AdminService
    from .database import on_catalog

    return await on_catalog(settings, lambda sessions: fn(AdminService(sessions)))


# -- the parser ----------------------------------------------------------------------------------


def _add_serve(sub: argparse._SubParsersAction) -> None:
    secrets = "\n".join(f"  {env_name(o.name):<30} {o.help} (default: {shown_default(o)})"
                        for o in OPTIONS if not o.flag)
    serve = command(sub, "serve", "run the server (every API, the console, media) on one port",
                    formatter_class=argparse.RawDescriptionHelpFormatter,
                    epilog="Each option can also be given by its STREAMKEEPER_* variable; a flag wins over "
                           "its variable.\nSecrets are variables only (a command line is visible to every "
                           f"user of the machine):\n{secrets}\n\nExit status: 0 stopped cleanly; 2 invalid "
                           "option or variable; 3 could not start (the cause is logged in one line).")
    for option in OPTIONS:
        if option.flag:
            serve.add_argument(flag_name(option.name), choices=option.choices,
                               metavar=None if option.choices else option.name.upper(),
                               help=f"{option.help} (default: {shown_default(option)}; {env_name(option.name)})")
    serve.set_defaults(func=_serve)


def _add_admin(sub: argparse._SubParsersAction) -> None:
    admin = command(sub, "admin", "manage the catalog without the API: tenants, policies, applications, "
                    "media-platform users, groups and roles, viewer token keys, playback grants and keys; apply a config file; "
                    "print the admin key, mint viewer tokens")
    admin.add_argument("--data-dir", help=f"the server's data dir (default: ./data; {env_name('data_dir')}); "
                       "it must exist (serve creates it), except for apply")
    kinds = admin.add_subparsers(dest="kind", required=True, metavar="COMMAND")
    apply = command(kinds, "apply", "create or replace everything a TOML file lists; prints what was "
                    "created, changed or left unchanged")
    apply.add_argument("file")
    apply.set_defaults(func=_apply)
    command(kinds, "key", 'print the admin API key as {"adminKey": ...}').set_defaults(func=_key)
    described = {"tenant": "tenants (the owners of policies and applications)",
                 "policy": "concurrency policies (rules that limit streams)",
                 "app": "applications (the clients of /v2, with their policies)"}
    for kind, what in described.items():
        actions = command(kinds, kind, what).add_subparsers(dest="action", required=True, metavar="ACTION")
        list_command(actions, f"list the {_KINDS[kind][1]}")
        command(actions, "show", f"print one {_KINDS[kind][0]} as JSON").add_argument("id")
        command(actions, "delete", f"delete a {_KINDS[kind][0]}").add_argument("id")
        for action, verb in (("create", "create a"), ("update", "replace a")):
            a = command(actions, action, f"{verb} {_KINDS[kind][0]}; prints it as JSON")
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
        for parser in actions.choices.values():
            parser.set_defaults(func=_catalog, kind=kind)
    from .hmp.accounts.cli import register as register_accounts
    from .oxm.cli import add_commands as register_token_keys
    from .playback.cli import add_commands as register_playback

    register_accounts(kinds)
    register_token_keys(kinds)
    register_playback(kinds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streamkeeper", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Top-level commands, one line each: a function adding its parser(s) to `sub` with
    # `set_defaults(func=...)`; `func(args)` returns the exit status.
    _add_serve(sub)
    _add_admin(sub)
    media_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
