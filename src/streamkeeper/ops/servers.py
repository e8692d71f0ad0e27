"""The optional granian server (`streamkeeper serve --server granian`).

uvicorn stays the default: granian (a Rust HTTP server) answers a bare ASGI app faster, but it
writes every response header name in lower case and has no option to change that, while some
players read `Location`/`Expires` case-sensitively (see wire.py). Everything else the server
must do is kept: the app's lifespan, workers, TLS, JSON logs and graceful shutdown on SIGTERM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..settings import Settings


def run_granian(settings: Settings, logging_config: dict[str, Any], tls: tuple[str, str] | None = None) -> int:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    config = dict(logging_config)
    loggers = dict(config.get("loggers", {}))
    # granian's own loggers go to the same JSON handler; its access log stays off (ours is on).
    loggers["_granian"] = {"handlers": [], "level": settings.log_level.upper(), "propagate": True}
    loggers["granian.access"] = {"handlers": [], "level": "WARNING", "propagate": True}
    config["loggers"] = loggers
    options: dict[str, Any] = {}
    if tls is not None:
        options["ssl_cert"], options["ssl_key"] = Path(tls[0]), Path(tls[1])
    Granian(
        "streamkeeper.app:create_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        loop=Loops.uvloop,
        websockets=False,
        log_level=settings.log_level.lower(),
        log_dictconfig=config,
        log_access=False,
        workers_kill_timeout=30,  # in-flight requests get this long to finish on SIGTERM
        **options,
    ).serve()
    return 0
