"""`streamkeeper admin token-key ...` (viewer token keys) and `streamkeeper admin token ...`
(mint a viewer token for testing), working on the catalog database directly."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path
from typing import Any

from ..settings import Settings


def add_commands(kinds: argparse._SubParsersAction) -> None:
    from ..cli import command, list_command

    keys = command(kinds, "token-key", "keys that verify the viewer tokens of /oxm/v1")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    list_command(actions, "list the token keys (never their secrets)")
    command(actions, "show", "print one token key as JSON").add_argument("id")
    command(actions, "delete", "delete a token key").add_argument("id")
    create = command(actions, "create", "create or replace a key; prints it as JSON (a generated secret once)")
    create.add_argument("id")
    create.add_argument("--tenant", required=True)
    create.add_argument("--algorithm", choices=("HS256", "RS256", "ES256"), default="HS256")
    create.add_argument("--secret", help="HS256 shared secret (generated and printed when omitted)")
    create.add_argument("--public-key", help="RS256/ES256 public key file (PEM)")
    create.add_argument("--issuer")
    create.add_argument("--audience")
    keys.set_defaults(func=run)

    token = command(kinds, "token", "mint a viewer token for testing; prints the bare token")
    token.add_argument("key", help="token key id")
    token.add_argument("user", help="user id (the `sub` claim)")
    token.add_argument("--admin", action="store_true", help="with the tenant admin role")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires (default 3600)")
    token.add_argument("--private-key", help="RS256/ES256 private key file (PEM) to sign with")
    token.set_defaults(func=run, action="mint")


async def _with_keys(settings: Settings, fn) -> Any:
    from ..database import on_catalog
    from .keys import TokenKeys

    return await on_catalog(settings, lambda sessions: fn(TokenKeys(sessions)))


async def apply_section(settings: Settings, path: Path) -> list[str]:
    """The `[oxm]` section of a config file, for `streamkeeper admin apply`: what it applied."""
    from ..database import on_catalog
    from .config import apply_config_file, read_section

    keys, policies = read_section(path)
    if not keys and not policies:
        return []
    await on_catalog(settings, lambda sessions: apply_config_file(sessions, path), migrated=False)
    return [f"applied   token-key {spec.id}" for spec in keys] + \
           [f"applied   stream-policy {tenant}" for tenant, _ in policies]


def run(args: argparse.Namespace) -> int:
    from .keys import TokenKeySpec
    from .tokens import KeyError_, mint

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

    from ..cli import run_admin

    return run_admin(args, lambda settings: _with_keys(settings, go), errors=(KeyError_, OSError),
                     columns=("id", "tenant", "algorithm", "issuer", "audience"))
