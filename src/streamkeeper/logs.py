"""Where the server's logs go and how they look: one line per event on stderr, for people
(`text`: time, level, logger, message; tracebacks as they are) or for machines (`json`: one
object a line, see ops.logs). `auto` picks text when stderr is a terminal, JSON otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

from .ops.logs import _STANDARD, request_id


class TextFormatter(logging.Formatter):
    """`2026-12-07 15:04:18.123 INFO  streamkeeper: message key=value`, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        rid = extras.pop("request_id", None) or request_id.get()
        if rid:
            extras = {"request_id": rid, **extras}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def resolve_format(log_format: str, stream: TextIO | None = None) -> str:
    """`text` or `json`: `auto` becomes text when the stream (stderr) is a terminal."""
    if log_format != "auto":
        return log_format
    stream = sys.stderr if stream is None else stream
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def log_config(level: str = "info", log_format: str = "json") -> dict[str, Any]:
    """A `logging.config.dictConfig` for uvicorn, granian and the app: stderr, in `log_format`
    (text or json)."""
    level = level.upper()
    formatter = {"text": "streamkeeper.logs.TextFormatter", "json": "streamkeeper.ops.logs.JsonFormatter"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"()": formatter[resolve_format(log_format)]}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "line", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": True},
            # Alembic names each of its plugins at INFO on every start; upgrades stay visible.
            "alembic.runtime.plugins": {"handlers": [], "level": "WARNING", "propagate": True},
        },
    }
