"""Request plumbing shared by every `/apis` router: the database session, the clock, the caller."""

from __future__ import annotations

from typing import AsyncIterator, Callable

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from .accounts import service as accounts
from .errors import UNSUPPORTED_MEDIA_TYPE, USER_NOT_AUTHORIZED, HmpError
from .permissions.rights import Principal

COOKIE = "calypso-session-id"


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.ctx.sessions() as db:
        yield db


async def end_transaction(db: AsyncSession) -> None:
    """Commit what the request did so far before it waits on media, the network or a timer:
    no transaction (on SQLite, BEGIN IMMEDIATE holds the one write lock) may stay open across a
    wait, or every other request queues behind it. The session opens a new one if used again."""
    await db.commit()


def get_clock(request: Request) -> Callable[[], float]:
    return request.app.state.ctx.clock


def set_session_cookie(request: Request, response: Response, token: str, expires: float, now: float) -> None:
    secure = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(COOKIE, token, max_age=max(0, int(expires - now)), path="/", httponly=True,
                        samesite="lax", secure=secure)


async def current_login(request: Request, response: Response, db: AsyncSession = Depends(get_db)) -> accounts.Login:
    now = get_clock(request)()
    login = await accounts.current(db, request.cookies.get(COOKIE), now)
    if login is None:
        raise HmpError(USER_NOT_AUTHORIZED)
    set_session_cookie(request, response, login.token, login.expires, now)
    return login


async def current_user(login: accounts.Login = Depends(current_login)) -> Principal:
    return login.identity.principal


Db = Depends(get_db)
User = Depends(current_user)

JSON_TYPES = ("application/json",)


async def json_only(request: Request) -> None:
    """POST and PUT take JSON; anything else is 415 before the body is looked at."""
    if request.method not in ("POST", "PUT"):
        return
    ctype = request.headers.get("content-type")
    if ctype is None:
        return  # an empty body is then an input error, a JSON one is accepted
    media = ctype.split(";", 1)[0].strip().lower()
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise HmpError(UNSUPPORTED_MEDIA_TYPE, f"Content type {media or '(empty)'} is not supported; use application/json")
