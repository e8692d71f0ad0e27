"""Where the playback token keys come from: `STREAMKEEPER_PLAYBACK_KEYS`, else a file in the data
dir made at first use (like the session secret), which `streamkeeper admin playback-key rotate`
turns over: a new signing key in front, the previous one kept to verify what it signed."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from ..settings import Settings
from .tokens import SigningKey, parse_keys

FILE = "playback.keys"


def _new_line() -> str:
    return f"k{int(time.time())}:{secrets.token_urlsafe(32)}"


def _write(path: Path, text: str, *, exclusive: bool) -> bool:
    """Write aside and move (or link, when `exclusive`) into place: a reader never sees half a file,
    and of processes starting together one file wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        if not exclusive:
            os.replace(draft, path)
            return True
        try:
            os.link(draft, path)
            return True
        except FileExistsError:
            return False
    finally:
        if draft.exists():
            draft.unlink()


def load_keys(settings: Settings) -> list[SigningKey]:
    if settings.playback_keys:
        return parse_keys(settings.playback_keys)
    path = Path(settings.data_dir) / FILE
    if not path.exists():
        _write(path, _new_line() + "\n", exclusive=True)
    return parse_keys(path.read_text())


def rotate(settings: Settings) -> list[str]:
    """A new signing key in the data dir's file, the current one kept to verify (older ones go);
    the key ids, newest first. Servers read the file when they start."""
    if settings.playback_keys:
        raise ValueError("the keys come from STREAMKEEPER_PLAYBACK_KEYS: rotate them there")
    current = load_keys(settings)[0]
    fresh = _new_line()
    while fresh.partition(":")[0] == current.id:
        time.sleep(1)
        fresh = _new_line()
    _write(Path(settings.data_dir) / FILE, f"{fresh}\n{current.id}:{current.secret.decode()}\n", exclusive=False)
    return [fresh.partition(":")[0], current.id]
