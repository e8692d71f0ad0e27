"""Server settings: command-line flags win over STREAMKEEPER_* environment variables,
which win over defaults. `OPTIONS` describes each one once, for `serve --help` and the flags."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

ENV_PREFIX = "STREAMKEEPER_"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("auto", "text", "json")
SERVERS = ("uvicorn", "granian")
MIN_SECRET_BYTES = 16  # the HMAC key of session ids (concurrency.ids)
_INTERNAL = frozenset({"extra", "sources"})
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


class SettingsError(ValueError):
    """A setting with a value the server cannot use; the message names the flag and variable."""


@dataclass(slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    config: Path | None = None
    workers: int = 1
    server: str = "uvicorn"
    tls_cert: str | None = None
    tls_key: str | None = None
    database_url: str | None = None
    database_schema: str | None = None
    redis_url: str | None = None
    redis_prefix: str | None = None
    trusted_proxies: str | None = None  # addresses/networks (comma-separated) whose X-Forwarded-For is believed
    multicast_interface: str | None = None  # read by the media feature from the environment
    media_networks: str | None = None  # idem
    media_dir: Path | None = None  # recordings, HLS state, uploads; shared storage for several servers
    media_listen: str = "127.0.0.1:0"  # the media owner's internal listener (host:port)
    admin_key: str | None = None
    admin_password: str | None = None  # first media-platform administrator (generated when unset)
    secret: str | None = None
    playback_keys: str | None = None  # id:secret,... (the first signs playback tokens); else a file in the data dir
    log_level: str = "info"
    log_format: str = "auto"  # text on a terminal, JSON lines otherwise
    # Request bodies are counted while they are read; past the limit the answer is 413.
    max_body_bytes: int = 1 << 20  # JSON, forms and everything else
    max_upload_bytes: int = 16 << 30  # upload endpoints (media import), streamed to disk
    # Enforced playback at an edge that checks signed URLs itself (nginx secure_link): the shared
    # secret (none: the signed mode is off) and the path under which the edge serves the files.
    edge_secret: str | None = None
    edge_prefix: str = "/hls"
    extra: dict = field(default_factory=dict)
    # Where each value came from ("--flag", "STREAMKEEPER_X"; absent: the default), for messages.
    sources: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict = {}
        sources: dict[str, str] = {}
        for f in fields(cls):
            if f.name in _INTERNAL:
                continue
            raw = environ.get(env_name(f.name))
            if raw not in (None, ""):
                values[f.name] = raw
                sources[f.name] = env_name(f.name)
        for name, value in overrides.items():
            if value is not None:
                values[name] = value
                sources[name] = flag_name(name)
        settings = cls(**values, sources=sources)
        for name in ("port", "workers", "max_body_bytes", "max_upload_bytes"):
            value = getattr(settings, name)
            try:
                setattr(settings, name, int(value))
            except ValueError:
                raise SettingsError(f"{settings.origin(name)}: {value!r} is not a whole number") from None
        settings.data_dir = Path(settings.data_dir)
        if settings.media_dir is not None:
            settings.media_dir = Path(settings.media_dir)
        if settings.config is not None:
            settings.config = Path(settings.config)
        return settings

    def origin(self, name: str) -> str:
        """How the user set a setting: `--port`, `STREAMKEEPER_PORT`, or its flag and variable."""
        return self.sources.get(name) or f"{flag_name(name)} / {env_name(name)}"

    def validate(self) -> None:
        """Refuse values the server cannot use, before anything starts."""

        def bad(name: str, why: str) -> SettingsError:
            return SettingsError(f"{self.origin(name)} = {getattr(self, name)!r}: {why}")

        if not 1 <= self.port <= 65535:
            raise bad("port", "a port is between 1 and 65535")
        if not _valid_host(self.host):
            raise bad("host", "not an IP address or host name")
        if self.workers < 1:
            raise bad("workers", "at least 1")
        if self.log_level.lower() not in LOG_LEVELS:
            raise bad("log_level", f"one of {', '.join(LOG_LEVELS)}")
        if self.log_format not in LOG_FORMATS:
            raise bad("log_format", f"one of {', '.join(LOG_FORMATS)}")
        if self.server not in SERVERS:
            raise bad("server", f"one of {', '.join(SERVERS)}")
        for name in ("max_body_bytes", "max_upload_bytes"):
            if getattr(self, name) < 1:
                raise bad(name, "at least 1")
        if self.secret is not None and len(self.secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError(f"{self.origin('secret')} is too short: {len(self.secret.encode())} bytes, "
                                f"at least {MIN_SECRET_BYTES} are needed")
        if self.edge_secret is not None or self.edge_prefix != "/hls":
            from .playback.edge import edge_settings_problem

            why = edge_settings_problem(self.edge_secret, self.edge_prefix)
            if why is not None:
                raise SettingsError(f"{self.origin(why[0])}: {why[1]}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise SettingsError("--tls-cert and --tls-key go together")
        if _listen_address(self.media_listen) is None:
            raise bad("media_listen", "host:port, the host an address the other processes can reach "
                                      "(not 0.0.0.0 or ::)")
        if self.workers > 1 and not self.redis_url:
            raise SettingsError("--workers > 1 needs STREAMKEEPER_REDIS_URL: the embedded session store "
                                "lives in one process")

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a worker process."""
        env = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in _INTERNAL and value is not None:
                env[env_name(f.name)] = str(value)
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

    @property
    def media_root(self) -> Path:
        """Where media files live: `--media-dir`, else `<data dir>/media`."""
        return self.media_dir if self.media_dir is not None else self.data_dir / "media"

    def session_secret(self) -> bytes:
        if self.secret:
            return self.secret.encode()
        return self._file_secret("session.secret", 32)[0].encode()

    def resolve_admin_key(self) -> tuple[str, bool]:
        """The admin API key, and whether it was generated just now (to print it once)."""
        if self.admin_key:
            return self.admin_key, False
        return self._file_secret("admin.key", 24)


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _listen_address(text: str) -> tuple[str, int] | None:
    """`host:port` (port 0: any free port) as a pair, None when it is not one."""
    host, sep, port = str(text).rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535 or not _valid_host(host):
        return None
    try:
        if ipaddress.ip_address(host).is_unspecified:
            return None  # written into the media lease: it must be an address others can connect to
    except ValueError:
        pass  # a host name
    return host, int(port)


def listen_address(text: str) -> tuple[str, int]:
    found = _listen_address(text)
    if found is None:
        raise SettingsError(f"{text!r} is not host:port")
    return found


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host))


@dataclass(frozen=True, slots=True)
class Option:
    """One setting as `serve --help` shows it. Secrets have no flag: a command line is visible
    to every user of the machine (`ps`)."""

    name: str
    help: str
    default: str | None = None  # how to show the default; None: the field's default as is
    flag: bool = True
    choices: tuple[str, ...] | None = None


OPTIONS: tuple[Option, ...] = (
    Option("host", "address to listen on"),
    Option("port", "TCP port to listen on (1-65535)"),
    Option("data_dir", "SQLite catalog, session journal, media files and generated secrets", "./data"),
    Option("config", "TOML file of tenants, policies and applications, applied at every start", "none"),
    Option("workers", "server processes (more than one needs --redis-url)"),
    Option("server", "HTTP server: uvicorn (header names in canonical case) or granian", choices=SERVERS),
    Option("tls_cert", "serve HTTPS with this certificate (PEM, may include the chain); with --tls-key", "none"),
    Option("tls_key", "the certificate's private key (PEM)", "none"),
    Option("database_url", "catalog database, e.g. postgresql://user@host/db", "SQLite in the data dir"),
    Option("database_schema", "PostgreSQL schema (search path) to use", "none"),
    Option("redis_url", "Redis for the concurrency state, e.g. redis://127.0.0.1:6379/0", "none: in process"),
    Option("redis_prefix", "key prefix in Redis", "sk:"),
    Option("trusted_proxies", "addresses or networks (comma-separated) whose X-Forwarded-For is believed", "none"),
    Option("multicast_interface", "local address of the interface for multicast sources and re-streams",
           "127.0.0.1"),
    Option("media_networks", "CIDRs (comma-separated) or 'any': where re-streams may go", "loopback only"),
    Option("media_dir", "media files (recordings, imports, HLS state); several servers share one on NFS "
           "or CephFS", "<data dir>/media"),
    Option("media_listen", "host:port of the internal listener to which the other processes send media "
           "commands when this process receives the sources (port 0: any free one); with several servers, "
           "an address they can reach"),
    Option("log_level", "least important log level written", choices=LOG_LEVELS),
    Option("log_format", "log lines: text (for people) or json (one object a line); auto: text when "
           "stderr is a terminal, else json", choices=LOG_FORMATS),
    Option("max_body_bytes", "largest request body, except uploads"),
    Option("max_upload_bytes", "largest upload (POST /apis/assets/import)"),
    Option("edge_prefix", "path under which an edge serves segment files for signed URLs (nginx secure_link)"),
    Option("edge_secret", "secret shared with an edge that checks signed segment URLs (nginx secure_link_md5), "
           "at least 16 characters", "none: signed URLs off", flag=False),
    Option("admin_key", "key of the /admin/v1 API", "generated into <data>/admin.key", flag=False),
    Option("admin_password", "password of the first media-platform administrator (first start only; "
           "later: streamkeeper admin user update admin --password ...)", "generated, printed once", flag=False),
    Option("secret", f"HMAC key of session ids, at least {MIN_SECRET_BYTES} bytes (same on every server)",
           "generated into <data>/session.secret", flag=False),
    Option("playback_keys", "keys of playback tokens, id:secret comma-separated, the signing key first, the "
           "others still verify (same on every server)", "generated into <data>/playback.keys", flag=False),
)


def shown_default(option: Option) -> str:
    if option.default is not None:
        return option.default
    return str(next(f.default for f in fields(Settings) if f.name == option.name))
