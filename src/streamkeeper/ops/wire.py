"""Response header names in canonical case on the wire (`Location`, `Expires`, `Date`, ...).

HTTP says header names are case-insensitive, but real players of the original service read
`allHeaderFields["Location"]` case-sensitively. The application already sends canonical names;
uvicorn's httptools writer lower-cases every name it writes (and granian's does too, with no
option). uvicorn_protocol.py writes the header block of each response through
:class:`ResponseWriter`, with canonical names. Bodies are never touched.
"""

from __future__ import annotations

from typing import Any

# Names whose usual spelling is not plain Title-Case.
_SPECIAL = {
    b"www-authenticate": b"WWW-Authenticate",
    b"etag": b"ETag",
    b"x-request-id": b"X-Request-ID",
    b"te": b"TE",
}
_canonical: dict[bytes, bytes] = dict(_SPECIAL)


def canonical(name: bytes) -> bytes:
    """`cache-control` -> `Cache-Control` (remembered; a few dozen names ever occur)."""
    found = _canonical.get(name)
    if found is None:
        found = b"-".join(part[:1].upper() + part[1:] for part in name.lower().split(b"-"))
        if len(_canonical) < 4096:
            _canonical[name] = found
    return found


def recase(block: bytes) -> bytes:
    """The status line and header block of `block` with canonical names; the rest unchanged."""
    head, sep, rest = block.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for i in range(1, len(lines)):
        name, colon, value = lines[i].partition(b":")
        lines[i] = canonical(name) + colon + value
    return b"\r\n".join(lines) + sep + rest


class ResponseWriter:
    """The connection's transport as one response sees it: the first write of a final (non-1xx)
    status line and headers goes out recased, everything after it as is."""

    __slots__ = ("_transport", "_headers_sent")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._headers_sent = False

    def write(self, data: bytes) -> None:
        if not self._headers_sent and data[:7] == b"HTTP/1.":
            if data[9:10] != b"1":  # informational answers (100 Continue) come before the real one
                self._headers_sent = True
            data = recase(data)
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
