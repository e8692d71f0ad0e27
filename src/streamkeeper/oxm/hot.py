"""`PUT /oxm/v1/streams/{assetID}/streaming` as a bare ASGI handler (every player, every two
minutes): the path, the Bearer header, the query string and an optional form body are read
straight from the scope, the answer is a bare 204. FastAPI's routing walk over every route and
its dependency solving cost several times the decision itself. The FastAPI route with the same
path stays in the routing table for the OpenAPI description (and is reached only if this
hot path is bypassed); both call :func:`endpoints.stream_params` and the same service.
"""

from __future__ import annotations

from ..ops.asgi import BadLength, BodyTooLarge, ClientGone, read_body
from . import errors
from .service import OxmService, check_id

PREFIX = "/oxm/v1/streams/"
SUFFIX = "/streaming"
DEFAULT_MAX_BODY = 1 << 20


class Template:
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


STREAMING = Template("/oxm/v1/streams/{assetID}/streaming")


async def streaming(state, scope: dict, receive, send) -> None:
    from ..client_address import trusted_networks
    from .endpoints import stream_params

    service: OxmService = state.oxm
    auth = ctype = length = None
    chunked = False
    forwarded: list[str] = []
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value
        elif name == b"content-type":
            ctype = value
        elif name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"x-forwarded-for":
            forwarded.append(value.decode("latin-1"))
    try:
        who = service.authenticate(auth.decode("latin-1") if auth is not None else None)
        form = None
        if ctype is not None and ctype.startswith(b"application/x-www-form-urlencoded"):
            settings = getattr(state, "settings", None)
            limit = settings.max_body_bytes if settings is not None else DEFAULT_MAX_BODY
            try:
                form = await read_body(scope, receive, length, chunked, limit)
            except BodyTooLarge as exc:
                raise errors.OxmError(413, errors.BAD_REQUEST, str(exc)) from None
            except BadLength:
                raise errors.bad_request("Content-Length is not a number") from None
        client = scope.get("client")
        device, progress = stream_params(scope["query_string"].decode("latin-1"), form,
                                         client[0] if client else "", forwarded, trusted_networks(state))
        asset = check_id(scope["path"][len(PREFIX):-len(SUFFIX)], "assetID")
        await service.streaming(who, asset, device, progress)
    except errors.OxmError as exc:
        await exc.response()(scope, receive, send)
        return
    except ClientGone:
        return
    # Fresh messages: the middleware above adds its headers to them.
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def hot(scope: dict):
    """The handler of `PUT .../streaming`, answered in front of the framework (see app.py)."""
    if scope["method"] != "PUT":
        return None
    path = scope["path"]
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX) and path.count("/") == 5
            and len(path) > len(PREFIX) + len(SUFFIX)):
        return None
    if getattr(scope["app"].state, "oxm", None) is None:
        return None
    scope["route"] = STREAMING
    return _serve


def _serve(scope, receive, send):
    return streaming(scope["app"].state, scope, receive, send)
