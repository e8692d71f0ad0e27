"""Who is on the other end of a request: the peer address, or, when the peer is one of
`STREAMKEEPER_TRUSTED_PROXIES`, the nearest untrusted hop of its `X-Forwarded-For`. uvicorn's
own proxy-header handling is off (see cli.py), so this is the only place that decides."""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

Networks = tuple  # of ipaddress.IPv4Network / IPv6Network


def parse_trusted(spec: str | None) -> Networks:
    nets = []
    for part in (spec or "").split(","):
        if part.strip():
            nets.append(ipaddress.ip_network(part.strip(), strict=False))
    return tuple(nets)


def is_trusted(address: str, trusted: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(request: Request) -> str:
    """The client's address; the trusted networks are parsed once per app (`trusted_networks`)."""
    peer = request.client.host if request.client else ""
    return address_of(peer, request.headers.getlist("x-forwarded-for"), trusted_networks(request.app.state))


def address_of(peer: str, forwarded_values: list[str], trusted: Networks) -> str:
    """The peer, or the nearest untrusted hop of X-Forwarded-For when the peer is a trusted proxy
    (plain values, for hot paths that read headers without a Request)."""
    if not trusted or not is_trusted(peer, trusted):
        return peer or "unknown"
    forwarded = ",".join(forwarded_values)
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                break
    return peer


def trusted_networks(state) -> Networks:
    """The app's trusted proxies (`app.state`), parsed on first use."""
    trusted = getattr(state, "trusted_proxies", None)
    if trusted is None:
        trusted = state.trusted_proxies = parse_trusted(getattr(state.settings, "trusted_proxies", None))
    return trusted
