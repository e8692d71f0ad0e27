"""`--help` of every command says what it does; `serve --help` lists every setting with its
default and its STREAMKEEPER_* variable."""

from __future__ import annotations

import argparse
import contextlib
import io
import re

from streamkeeper.cli import build_parser
from streamkeeper.settings import OPTIONS, env_name, flag_name, shown_default

from .conftest import run


def flat(text: str) -> str:
    return " ".join(text.split())


def test_serve_help_shows_every_setting_with_default_and_variable():
    shown = run("serve", "--help")
    assert shown.returncode == 0, shown.stderr
    text = flat(shown.stdout)
    # One entry per option: "--port PORT  help (default: 8080; STREAMKEEPER_PORT)", maybe on two lines.
    options = shown.stdout.split("options:", 1)[1].split("\n\n", 1)[0]
    entries = {flat(e).split()[0]: flat(e) for e in re.split(r"\n(?=  -)", options) if e.strip()}
    for option in OPTIONS:
        if option.flag:
            entry = entries[flag_name(option.name)]
            assert entry.endswith(f"(default: {shown_default(option)}; {env_name(option.name)})"), entry
        else:  # secrets: variables only, listed after the options
            assert re.search(rf"{env_name(option.name)} .*\(default: {re.escape(shown_default(option))}\)",
                             shown.stdout), option.name
    for name in ("log_format", "log_level"):
        assert flag_name(name) in text
    assert "STREAMKEEPER_LOG_FORMAT" in text and "text when stderr is a terminal" in text
    assert "streamkeeper admin user update admin --password" in text
    assert "Exit status" in text


def _parents(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every command that has subcommands, with the names of those subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield path, list(action.choices)
            for name, child in action.choices.items():
                yield from _parents(child, (*path, name))


def _help(*path: str) -> str:
    """What `streamkeeper <path> --help` prints, from the parser the command builds (in this
    process: thirty commands would start thirty interpreters; the command itself is run above)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        build_parser().parse_args([*path, "--help"])
    return out.getvalue()


def test_every_subcommand_has_a_one_line_description(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # as `run` does: help texts not wrapped
    parents = list(_parents(build_parser()))
    assert len(parents) >= 9  # the command, admin, and admin's tenant/policy/app/user/group/role/token-key
    assert _help("admin") == run("admin", "--help").stdout  # the same text as the command's
    for path, children in parents:
        shown = _help(*path)
        descriptions = {}
        for child in children:
            described = re.search(rf"^ {{4}}{re.escape(child)} +(\S.*)$", shown, re.MULTILINE)
            assert described and len(described.group(1)) > 10, (path, child, shown)
            descriptions[child] = described.group(1)
        # ... and a subcommand's own help says the same
        assert descriptions[children[-1]] in flat(_help(*path, children[-1]))


def test_admin_help_says_everything_it_manages():
    text = flat(run("admin", "--help").stdout)
    for managed in ("tenants", "policies", "applications", "users", "groups", "roles", "token keys",
                    "config file", "admin key", "viewer tokens"):
        assert managed in text, managed
    assert "STREAMKEEPER_DATA_DIR" in text
