"""`streamkeeper admin playback ...` (grants and application options) and `streamkeeper admin
playback-key rotate`, working on the catalog database and the data dir directly."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..settings import Settings


def add_commands(kinds: argparse._SubParsersAction) -> None:
    from ..cli import command, list_command

    playback = command(kinds, "playback", "sources and videos available for enforced playback, per "
                       "application (/v2) or tenant (/oxm/v1); application playback options")
    actions = playback.add_subparsers(dest="action", required=True, metavar="ACTION")
    list_command(actions, "list the grants")
    for name, text in (("grant", "make a source or video available for playback (prints nothing)"),
                       ("revoke", "withdraw it: players holding a URL for it are refused at their next fetch")):
        p = command(actions, name, text)
        owner = p.add_mutually_exclusive_group(required=True)
        owner.add_argument("--application", help="a /v2 application id")
        owner.add_argument("--tenant", help="a tenant id (its /oxm/v1 streams)")
        asset = p.add_mutually_exclusive_group(required=True)
        asset.add_argument("--video", help="a video id (/apis/assets)")
        asset.add_argument("--source", help="a live source id (/apis/sources)")
    options = command(actions, "options", "show or change an application's playback options; prints them as JSON")
    options.add_argument("application")
    options.add_argument("--fetch-heartbeat", choices=("on", "off"),
                         help="whether playlist and segment fetches keep the session alive (default on)")
    playback.set_defaults(func=run)

    keys = command(kinds, "playback-key", "the keys of playback tokens in the data dir")
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(key_actions, "rotate", "sign with a new key from now on, the current one still verifies; "
            "prints the key ids, newest first (servers take it up within seconds)")
    keys.set_defaults(func=rotate_keys)


async def _with_grants(settings: Settings, fn) -> Any:
    from ..database import on_catalog
    from .grants import GrantService

    return await on_catalog(settings, lambda sessions: fn(GrantService(sessions)))


async def apply_section(settings: Settings, path: Path) -> list[str]:
    """The `[playback]` section of a config file, for `streamkeeper admin apply`."""
    from ..database import on_catalog
    from .config import apply_config_file, read_section

    section = read_section(path)
    if not section.grants and not section.applications:
        return []
    await on_catalog(settings, lambda sessions: apply_config_file(sessions, path), migrated=False)
    return [f"applied   playback-grant {g.application or g.tenant} {g.video or g.source}" for g in section.grants] + \
           [f"applied   playback-options {a.id}" for a in section.applications]


def run(args: argparse.Namespace) -> int:
    from ..cli import run_admin
    from .grants import Grant

    async def go(grants) -> Any:
        if args.action == "list":
            return [g.to_wire() for g in (await grants.grants()).listed]
        if args.action == "options":
            if args.fetch_heartbeat is None:
                return await grants.options(args.application)
            return await grants.set_options(args.application, fetch_heartbeat=args.fetch_heartbeat == "on")
        grant = Grant("application" if args.application else "tenant", args.application or args.tenant,
                      "video" if args.video else "source", args.video or args.source)
        if args.action == "grant":
            await grants.grant(grant)
        else:
            await grants.revoke(grant)
        return None

    return run_admin(args, lambda settings: _with_grants(settings, go),
                     columns=("application", "tenant", "video", "source"))


def rotate_keys(args: argparse.Namespace) -> int:
    from ..cli import run_admin
    from .keys import rotate

    async def go(settings: Settings) -> dict:
        return {"keys": rotate(settings)}

    return run_admin(args, go, uses_files=True)
