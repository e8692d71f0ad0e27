"""Declarative configuration files (TOML) and the demo configuration shipped with the project."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from pydantic import ValidationError

from .schemas import ConfigFile

DEMO = Path(__file__).resolve().parent.parent / "demo.toml"


class ConfigFileError(ValueError):
    pass


def load_config(path: Path) -> ConfigFile:
    """The file, validated; a mistake is reported in one line naming the file, the line when
    it can be found, and the key."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path}: not valid TOML: {exc}") from None
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        loc = tuple(first["loc"])
        line = _line_of(text, loc)
        where = f"{path}:{line}" if line else str(path)
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigFileError(f"{where}: {_dotted(loc)}: {message}{more}") from None


def _dotted(loc: tuple) -> str:
    """("applications", 0, "policies") -> "applications[0].policies"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(text: str, loc: tuple) -> int | None:
    """The line of the key an error is about, for the usual layout of these files: the Nth
    `[[section]]` table, then the key's own line in it (or the table's line)."""
    if len(loc) < 2 or not isinstance(loc[1], int):
        return None
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\[\s*{re.escape(str(loc[0]))}\s*\]\]")
    starts = [n for n, line in enumerate(lines) if header.match(line)]
    if loc[1] >= len(starts):
        return None
    start = starts[loc[1]]
    key = loc[2] if len(loc) > 2 and isinstance(loc[2], str) else None
    if key:
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for n in range(start + 1, len(lines)):
            if lines[n].lstrip().startswith("[") and not lines[n].lstrip().startswith(f"[[{loc[0]}."):
                break
            if pattern.match(lines[n]):
                return n + 1
    return start + 1
