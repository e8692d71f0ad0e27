"""What a valid source is: UDP (unicast or multicast) or SRT (caller, listener, rendezvous).

Plain Python: takes the merged JSON object, returns the normalised fields or raises ValueError.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

TYPES = ("UDP", "SRT")
SRT_MODES = ("CALLER", "LISTENER", "RENDEZVOUS")
LATENCY_MS = (20, 8000)
PASSPHRASE_LENGTH = (10, 79)  # what SRT accepts
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _is_hostname(host: str) -> bool:
    if len(host) > 253:
        return False
    labels = host.rstrip(".").split(".")
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def _ip(host: str):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _text(data: dict, key: str, required: bool, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    if len(value) > limit:
        raise ValueError(f"{key} is longer than {limit} characters")
    return value


def _bool(data: dict, key: str) -> bool | None:
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def _int(data: dict, key: str) -> int | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError(f"{key} must be an integer")
    return value


def validate(data: dict[str, Any]) -> dict[str, Any]:
    name = _text(data, "name", True, 256)
    if not name or not name.strip():
        raise ValueError("name must not be empty")
    kind = _text(data, "type", True, 8)
    if kind not in TYPES:
        raise ValueError("type must be UDP or SRT")
    port = _int(data, "port")
    if port is None:
        raise ValueError("port is required")
    if not 1 <= port <= 65535:
        raise ValueError("port must be between 1 and 65535")
    host = (_text(data, "host", False, 253) or "").strip()
    description = _text(data, "description", False, 4096) or ""
    out: dict[str, Any] = {"name": name.strip(), "type": kind, "port": port, "description": description,
                           "multicast": False, "mode": None, "latency": None, "passphrase": None}
    if host and _ip(host) is None and not _is_hostname(host):
        raise ValueError(f"host {host!r} is neither an IP address nor a host name")
    if kind == "UDP":
        multicast = _bool(data, "multicast")
        if multicast is None:
            raise ValueError("multicast is required for UDP sources")
        if multicast:
            addr = _ip(host)
            if addr is None or not addr.is_multicast:
                raise ValueError("a multicast source needs a multicast group address as host")
        elif host and _ip(host) is None:
            raise ValueError("the host of a unicast UDP source is a local IP address to listen on")
        out.update(multicast=multicast, host=host or "0.0.0.0", continuous=bool(_bool(data, "continuous")))
        return out
    mode = _text(data, "mode", True, 16)
    if mode not in SRT_MODES:
        raise ValueError("mode must be CALLER, LISTENER or RENDEZVOUS")
    if mode in ("CALLER", "RENDEZVOUS") and not host:
        raise ValueError(f"host is required for SRT {mode.lower()} sources")
    if _bool(data, "multicast"):
        raise ValueError("SRT sources cannot be multicast")
    latency = _int(data, "latency")
    if latency is not None and not LATENCY_MS[0] <= latency <= LATENCY_MS[1]:
        raise ValueError(f"latency must be between {LATENCY_MS[0]} and {LATENCY_MS[1]} ms")
    passphrase = _text(data, "passphrase", False, 128)
    if passphrase and not PASSPHRASE_LENGTH[0] <= len(passphrase) <= PASSPHRASE_LENGTH[1]:
        raise ValueError(f"passphrase must have {PASSPHRASE_LENGTH[0]} to {PASSPHRASE_LENGTH[1]} characters")
    out.update(mode=mode, host=host or "0.0.0.0", continuous=True, latency=latency, passphrase=passphrase or "")
    return out


def listens(fields: dict[str, Any]) -> bool:
    """Whether the source takes a local UDP port (everything but an SRT caller)."""
    return not (fields["type"] == "SRT" and fields["mode"] == "CALLER")


def clashes(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two sources that would need the same local port."""
    if not (listens(a) and listens(b)) or a["port"] != b["port"]:
        return False
    if a.get("multicast") and b.get("multicast"):
        return a["host"] == b["host"]
    wild = ("0.0.0.0", "")
    return a["host"] == b["host"] or a["host"] in wild or b["host"] in wild or bool(a.get("multicast")) != bool(b.get("multicast"))
