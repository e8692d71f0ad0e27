"""`PUT /oxm/v1/streams/{assetID}/streaming` as a hot route (every player, every two minutes):
the path, the Bearer header, the query string and an optional form body are read by hand, the
answer is a bare 204. FastAPI's routing walk over every route and
its dependency solving cost several times the decision itself. The FastAPI route with the same
path stays in the routing table for the OpenAPI description (and is reached only if this
hot path is bypassed); both call :func:`stream_params` and the same service. The
answer is a plain (status, headers, body) triple that either transport of ops/hot.py sends.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy.exc import DBAPIError

from ..client_address import address_of, trusted_networks
from ..concurrency.service import ServiceUnavailable
from ..database import UNREACHABLE, unreachable
from ..ops.forms import form_pairs
from ..ops.hot import Answer, BadLength, BodyTooLarge, Claim, HotRequest, HotRoutes, StepsInline, Template, in_task
from . import errors
from .service import MAX_PROGRESS, OxmService, check_id

PREFIX = "/oxm/v1/streams/"
SUFFIX = "/streaming"
STREAMING = Template("/oxm/v1/streams/{assetID}/streaming")


def stream_params(query: str, form: bytes | None, peer: str, forwarded: list[str],
                  state: Any) -> tuple[str, int | None]:
    """`device` and `progress` from the query string (or a form body, as some players send)."""
    device = progress = None
    pairs: list[tuple[str, str]] = []
    if query:
        pairs = form_pairs(query)
    if form:
        pairs.extend(form_pairs(form.decode("utf-8", "replace")))
    for key, value in pairs:
        if key == "device" and value:
            device = value
        elif key == "progress" and value:
            progress = value
    if device is not None:
        check_id(device, "device")
    number = None
    if progress is not None:
        if not progress.isascii() or not progress.isdigit() or len(progress) > 13 or int(progress) > MAX_PROGRESS:
            raise errors.bad_request("progress must be a whole number of seconds")
        number = int(progress)
    if device is None:
        device = address_of(peer, forwarded, trusted_networks(state))
    return device, number


async def streaming(state, limit: int, request: HotRequest) -> Answer:
    service: OxmService = state.oxm
    auth = ctype = None
    forwarded: list[str] = []
    for name, value in request.headers:
        if name == b"authorization":
            auth = value
        elif name == b"content-type":
            ctype = value
        elif name == b"x-forwarded-for":
            forwarded.append(value.decode("latin-1"))
    try:
        who = service.authenticate(auth.decode("latin-1") if auth is not None else None)
        form = None
        if ctype is not None and ctype.startswith(b"application/x-www-form-urlencoded"):
            try:
                form = await request.body(limit)
            except BodyTooLarge as exc:
                raise errors.OxmError(413, errors.BAD_REQUEST, str(exc)) from None
            except BadLength:
                raise errors.bad_request("Content-Length is not a number") from None
        client = request.client
        device, progress = stream_params(request.query.decode("latin-1"), form,
                                         client[0] if client else "", forwarded, state)
        asset = check_id(request.path[len(PREFIX):-len(SUFFIX)], "assetID")
        if progress is not None:
            await in_task()  # progress goes to the SQL database, whose drivers want a task
        await service.streaming(who, asset, device, progress)
    except errors.OxmError as exc:
        return exc.answer()
    except ServiceUnavailable as exc:
        return errors.unavailable(str(exc)).answer()
    except DBAPIError as exc:  # the progress write: a catalog database that cannot be reached
        if not unreachable(exc):
            raise
        return errors.unavailable(UNREACHABLE).answer()
    return 204, [], b""


def hot(method: str, path: str, routes: HotRoutes) -> tuple[Claim, None] | None:
    """The handler of `PUT .../streaming`, answered in front of the framework (see ops/hot.py)."""
    if method != "PUT":
        return None
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX) and path.count("/") == 5
            and len(path) > len(PREFIX) + len(SUFFIX)):
        return None
    claim = routes.claims.get(STREAMING)
    if claim is None:
        state = routes.state
        service = getattr(state, "oxm", None)
        if service is None:
            return None
        claim = routes.claims[STREAMING] = Claim(STREAMING, partial(streaming, state, routes.limit),
                                                 isinstance(service.store, StepsInline))
    return claim, None
