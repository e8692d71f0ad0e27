"""`streamkeeper admin token-key ...` (viewer token keys) and `streamkeeper admin token ...`
(mint a viewer token for testing), working on the catalog database directly."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from ..settings import Settings


def add_commands(kinds: argparse._SubParsersAction) -> None:
    keys = kinds.add_parser("token-key", help="keys that verify viewer tokens of /oxm/v1")
    actions = keys.add_subparsers(dest="action", required=True)
    actions.add_parser("list")
    for action in ("show", "delete"):
        actions.add_parser(action).add_argument("id")
    create = actions.add_parser("create", help="create or replace a key")
    create.add_argument("id")
    create.add_argument("--tenant", required=True)
    create.add_argument("--algorithm", choices=("HS256", "RS256", "ES256"), default="HS256")
    create.add_argument("--secret", help="HS256 shared secret (generated and printed when omitted)")
    create.add_argument("--public-key", help="RS256/ES256 public key file (PEM)")
    create.add_argument("--issuer")
    create.add_argument("--audience")
    keys.set_defaults(func=run)

    token = kinds.add_parser("token", help="mint a viewer token (for testing)")
    token.add_argument("key", help="token key id")
    token.add_argument("user", help="user id (the `sub` claim)")
    token.add_argument("--admin", action="store_true", help="with the tenant admin role")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    token.add_argument("--private-key", help="RS256/ES256 private key file (PEM) to sign with")
    token.set_defaults(func=run, action="mint")


async def _with_keys(settings: Settings, fn) -> Any:
    from ..database import create_engine, migrate, sessionmaker
    from .keys import TokenKeys

    engine = create_engine(settings)
    try:
        await migrate(engine)
        return await fn(TokenKeys(sessionmaker(engine)))
    finally:
        await engine.dispose()


async def apply_section(settings: Settings, path: Path) -> None:
    """The `[oxm]` section of a config file, for `streamkeeper admin apply`."""
    from ..database import create_engine, sessionmaker
    from .config import apply_config_file

    engine = create_engine(settings)
    try:
        await apply_config_file(sessionmaker(engine), path)
    finally:
        await engine.dispose()


def run(args: argparse.Namespace) -> int:
    from ..admin.service import AdminError
    from .keys import TokenKeySpec
    from .tokens import KeyError_, mint

    settings = Settings.from_env(data_dir=args.data_dir)
    generated: list[str] = []

    async def go(keys) -> Any:
        if args.kind == "token":
            key = await keys.signing(args.key)
            private = Path(args.private_key).read_text() if args.private_key else None
            return mint(key, args.user, signing_key=private, ttl=args.ttl, admin=args.admin)
        if args.action == "list":
            return [k.model_dump(by_alias=True) for k in await keys.list()]
        if args.action == "show":
            return (await keys.get(args.id)).model_dump(by_alias=True)
        if args.action == "delete":
            await keys.delete(args.id)
            return None
        data: dict[str, Any] = {"id": args.id, "tenant": args.tenant, "algorithm": args.algorithm}
        if args.algorithm == "HS256":
            if not args.secret:
                generated.append(secrets.token_urlsafe(32))
            data["secret"] = args.secret or generated[0]
        elif args.public_key:
            data["publicKey"] = Path(args.public_key).read_text()
        for name in ("issuer", "audience"):
            if getattr(args, name):
                data[name] = getattr(args, name)
        saved = (await keys.save(TokenKeySpec.model_validate(data))).model_dump(by_alias=True)
        if generated:
            saved["secret"] = generated[0]  # shown once: listings never include it
        return saved

    try:
        result = asyncio.run(_with_keys(settings, go))
    except (AdminError, KeyError_, OSError) as exc:
        print(f"streamkeeper: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # pydantic validation
        print(f"streamkeeper: invalid input: {exc}", file=sys.stderr)
        return 1
    if isinstance(result, str):
        print(result)
    elif result is not None:
        print(json.dumps(result, indent=2))
    return 0
