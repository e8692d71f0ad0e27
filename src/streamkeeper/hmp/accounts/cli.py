"""`streamkeeper admin user|group|role ...`: manage media-platform accounts without the API."""

from __future__ import annotations

import argparse
import sys
import time

from ...settings import Settings
from . import service
from .service import AccountError


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v for v in value.split(",") if v]


async def _run(settings: Settings, args: argparse.Namespace):
    from ...database import on_catalog

    async def run(sessions):
        async with sessions() as db:
            generated = await service.ensure_defaults(db, time.time(), settings.admin_password)
            if generated:
                print(f"streamkeeper: created administrator '{service.ADMIN_USERNAME}' with password "
                      f"'{generated}' (shown once)", file=sys.stderr)
            return await _dispatch(db, args)

    return await on_catalog(settings, run)


async def _dispatch(db, args):
    kind, action = args.kind, args.action
    if kind == "role":
        return await service.list_roles(db)
    if kind == "user":
        if action == "list":
            return await service.list_users(db)
        if action == "show":
            return await service.user_out(db, await service.find_user(db, args.name))
        if action == "delete":
            return await service.delete_user(db, args.name)
        data: dict = {}
        if action == "create":
            data["username"] = args.name
        for key, attr in (("password", "password"), ("displayName", "display_name"), ("email", "email")):
            if getattr(args, attr, None) is not None:
                data[key] = getattr(args, attr)
        if args.roles is not None:
            data["roles"] = _csv(args.roles)
        if args.groups is not None:
            data["groups"] = _csv(args.groups)
        if args.disable:
            data["enabled"] = False
        if args.enable:
            data["enabled"] = True
        target = None if action == "create" else (await service.find_user(db, args.name)).id
        return await service.save_user(db, data, time.time(), user_id=target)
    if action == "list":
        return await service.list_groups(db)
    if action == "show":
        return await service.group_out(db, await service.find_group(db, args.name))
    if action == "delete":
        return await service.delete_group(db, args.name)
    data = {"groupname": args.name} if action == "create" else {}
    if args.roles is not None:
        data["roles"] = _csv(args.roles)
    if args.members is not None:
        data["members"] = _csv(args.members)
    if args.disable:
        data["enabled"] = False
    if args.enable:
        data["enabled"] = True
    target = None if action == "create" else (await service.find_group(db, args.name)).id
    return await service.save_group(db, data, group_id=target)


def _main(args: argparse.Namespace) -> int:
    from ...cli import run_admin

    columns = {"user": ("username", "displayName", "email", "enabled", "roles", "groups"),
               "group": ("groupname", "enabled", "roles", "members"),
               "role": ("name", "id", "admin", "builtin")}[args.kind]
    return run_admin(args, lambda settings: _run(settings, args), errors=(AccountError,), columns=columns)


def register(kinds) -> None:
    """Add the `user`, `group` and `role` commands to `streamkeeper admin`."""
    from ...cli import command, list_command

    user = command(kinds, "user", "media-platform users (change the administrator's password: "
                   "user update admin --password ...)").add_subparsers(dest="action", required=True, metavar="ACTION")
    group = command(kinds, "group", "media-platform groups").add_subparsers(dest="action", required=True,
                                                                           metavar="ACTION")
    role = command(kinds, "role", "media-platform roles").add_subparsers(dest="action", required=True,
                                                                        metavar="ACTION")
    list_command(role, "list the roles").set_defaults(func=_main)
    for actions, what in ((user, "user"), (group, "group")):
        list_command(actions, f"list the {what}s").set_defaults(func=_main)
        for action, text in (("show", f"print one {what} as JSON"), ("delete", f"delete a {what}")):
            p = command(actions, action, text)
            p.add_argument("name", help="name or id")
            p.set_defaults(func=_main)
        for action in ("create", "update"):
            verb = "create a" if action == "create" else "change a"
            p = command(actions, action, f"{verb} {what} (only the fields given); prints it as JSON")
            p.add_argument("name", help="name (or id, to update)")
            p.add_argument("--roles", help="comma-separated role ids or names (replaces)")
            p.add_argument("--disable", action="store_true")
            p.add_argument("--enable", action="store_true")
            if actions is user:
                p.add_argument("--password", help="new password (e.g. user update admin --password ...)")
                p.add_argument("--display-name")
                p.add_argument("--email")
                p.add_argument("--groups", help="comma-separated group names or ids (replaces)")
            else:
                p.add_argument("--members", help="comma-separated user names or ids (replaces)")
            p.set_defaults(func=_main)
