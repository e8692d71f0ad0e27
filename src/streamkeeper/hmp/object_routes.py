"""`GET`, `PUT` and `DELETE` of one catalog object (`/apis/sources/{id}`, `/apis/sessions/{id}`,
`/apis/assets/{id}`), written once: each loads the object with the caller's right for the
operation (or answers the kind's documented 404/403) and hands it to the resource's service.

No `from __future__ import annotations` here: FastAPI reads the body model of the generated
endpoints from their annotations, which must be real classes, not names to look up.
"""

import inspect
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from fastapi import APIRouter, Depends, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from .bodies import HmpBody
from .collections import ListParams, list_params, page
from .deps import Db, User, get_clock
from .recordings import MediaBackend, media_of
from .permissions.guard import Kind, load
from .permissions.rights import Principal


@dataclass(frozen=True)
class ObjectService:
    """What the routes of one kind call: its service's read, update and delete."""

    read: Callable[[AsyncSession, Any, MediaBackend], dict | Awaitable[dict]]
    update: Callable[[AsyncSession, Any, dict, float, MediaBackend], Awaitable[dict]]
    delete: Callable[[AsyncSession, Any, MediaBackend], Awaitable[None]]


def add_object_routes(router: APIRouter, kind: Kind, path: str, singular: str, fields: type[HmpBody],
                      service: ObjectService) -> None:
    """Mount the three routes at `path` (with `{object_id}`), named `get_<singular>`,
    `update_<singular>` and `delete_<singular>` (the OpenAPI operation ids)."""

    async def read(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
        row, _ = await load(db, user, kind, object_id, "VIEW")
        data = service.read(db, row, media_of(request.app))
        return {"data": await data if inspect.isawaitable(data) else data}

    async def update(object_id: str, request: Request, body: fields, user: Principal = User,  # type: ignore[valid-type]
                     db: AsyncSession = Db):
        row, _ = await load(db, user, kind, object_id, "EDIT")
        return {"data": await service.update(db, row, body.fields(), get_clock(request)(), media_of(request.app))}

    async def delete(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db):
        row, _ = await load(db, user, kind, object_id, "DELETE")
        await service.delete(db, row, media_of(request.app))
        return Response(status_code=200)

    router.add_api_route(path, read, methods=["GET"], name=f"get_{singular}")
    router.add_api_route(path, update, methods=["PUT"], name=f"update_{singular}")
    router.add_api_route(path, delete, methods=["DELETE"], name=f"delete_{singular}")


@dataclass(frozen=True)
class ChildService:
    """What the routes of an object's children (a video's HotMarks, a session's events) call."""

    get: Callable[[AsyncSession, Any, str], Awaitable[Any]]  # the child of that parent, or its 404
    out: Callable[[Any], dict]
    update: Callable[[AsyncSession, Any, Any, dict], Awaitable[dict]]  # (db, parent, child, fields)


def add_child_routes(router: APIRouter, kind: Kind, path: str, child_id: str, singular: str,
                     fields: type[HmpBody], service: ChildService) -> None:
    """`GET`, `PUT` and `DELETE` of one child at `path` (with `{object_id}` and `{<child_id>}`):
    reading takes VIEW on the parent, changing it EDIT."""

    async def read(object_id: str, child: str = Path(alias=child_id), user: Principal = User, db: AsyncSession = Db):
        parent, _ = await load(db, user, kind, object_id, "VIEW")
        return {"data": service.out(await service.get(db, parent, child))}

    async def update(object_id: str, body: fields, child: str = Path(alias=child_id),  # type: ignore[valid-type]
                     user: Principal = User, db: AsyncSession = Db):
        parent, _ = await load(db, user, kind, object_id, "EDIT")
        row = await service.get(db, parent, child)
        return {"data": await service.update(db, parent, row, body.fields())}

    async def delete(object_id: str, child: str = Path(alias=child_id), user: Principal = User,
                     db: AsyncSession = Db):
        parent, _ = await load(db, user, kind, object_id, "EDIT")
        await db.delete(await service.get(db, parent, child))
        await db.commit()
        return Response(status_code=200)

    router.add_api_route(path, read, methods=["GET"], name=f"get_{singular}")
    router.add_api_route(path, update, methods=["PUT"], name=f"update_{singular}")
    router.add_api_route(path, delete, methods=["DELETE"], name=f"delete_{singular}")


def add_children_route(router: APIRouter, kind: Kind, path: str, name: str,
                       children: Callable[[AsyncSession, Any], Awaitable[list[dict]]]) -> None:
    """`GET` of one page of an object's children (VIEW on the object)."""

    async def listing(object_id: str, request: Request, user: Principal = User, db: AsyncSession = Db,
                      params: ListParams = Depends(list_params)):
        parent, _ = await load(db, user, kind, object_id, "VIEW")
        return page(request, await children(db, parent), params)

    router.add_api_route(path, listing, methods=["GET"], name=name)
