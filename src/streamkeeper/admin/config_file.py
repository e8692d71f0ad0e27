"""Declarative configuration files (TOML) and the demo configuration shipped with the project."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from .schemas import ConfigFile

DEMO = Path(__file__).resolve().parent.parent / "demo.toml"


class ConfigFileError(ValueError):
    pass


def load_config(path: Path) -> ConfigFile:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigFileError(f"{path}: {exc}") from None
    try:
        return ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(f"{path}: {exc}") from None
