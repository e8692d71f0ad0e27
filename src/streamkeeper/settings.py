"""Server settings: command-line flags win over STREAMKEEPER_* environment variables,
which win over defaults."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

ENV_PREFIX = "STREAMKEEPER_"


@dataclass(slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    config: Path | None = None
    database_url: str | None = None
    database_schema: str | None = None
    redis_url: str | None = None
    redis_prefix: str | None = None
    trusted_proxies: str | None = None  # addresses/networks (comma-separated) whose X-Forwarded-For is believed
    admin_key: str | None = None
    admin_password: str | None = None  # first media-platform administrator (generated when unset)
    secret: str | None = None
    workers: int = 1
    log_level: str = "info"
    # Request bodies are counted while they are read; past the limit the answer is 413.
    max_body_bytes: int = 1 << 20  # JSON, forms and everything else
    max_upload_bytes: int = 16 << 30  # upload endpoints (media import), streamed to disk
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw not in (None, ""):
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.port = int(settings.port)
        settings.workers = int(settings.workers)
        settings.max_body_bytes = int(settings.max_body_bytes)
        settings.max_upload_bytes = int(settings.max_upload_bytes)
        settings.data_dir = Path(settings.data_dir)
        if settings.config is not None:
            settings.config = Path(settings.config)
        return settings

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a worker process."""
        env = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "extra" and value is not None:
                env[ENV_PREFIX + f.name.upper()] = str(value)
        return env

    @property
    def catalog_url(self) -> str:
        """SQLAlchemy URL of the catalog database (SQLite under the data dir by default)."""
        url = self.database_url
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'streamkeeper.db').resolve()}"
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain):]
        if url.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + url[len("sqlite://"):]
        return url

    def _file_secret(self, name: str, nbytes: int) -> tuple[str, bool]:
        """Read a generated secret from the data dir, creating it on first use. Written aside and
        linked into place, so processes starting together agree on one value and none reads a
        half-written file."""
        path = self.data_dir / name
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            value = secrets.token_urlsafe(nbytes)
            draft = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(value + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(draft, path)  # fails if another process got there first
                return value, True
            except FileExistsError:
                pass
            finally:
                os.unlink(draft)
        return path.read_text().strip(), False

    def session_secret(self) -> bytes:
        if self.secret:
            return self.secret.encode()
        return self._file_secret("session.secret", 32)[0].encode()

    def resolve_admin_key(self) -> tuple[str, bool]:
        """The admin API key, and whether it was generated just now (to print it once)."""
        if self.admin_key:
            return self.admin_key, False
        return self._file_secret("admin.key", 24)
