"""Collections: the `data`/`paging` envelope, `page`/`pageSize`, `sort`/`asc`, `q` and `filter`.

Lists are filtered after the permission check in Python: every object a user may see is
already loaded to decide that, and doing it here keeps SQLite and PostgreSQL identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping
from urllib.parse import urlencode

from fastapi import Query, Request

from .errors import NO_RESULTS, HmpError
from .query import Filter, parse_filter

DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 1000
SORT_FIELDS = ("title", "description", "duration", "ctime")


@dataclass(frozen=True, slots=True)
class ListParams:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    sort: str | None = None
    ascending: bool = True
    q: str | None = None
    filter: Filter | None = None
    raw: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Entry:
    """One listable object: what is rendered, and what `q` and `filter` look at."""

    out: dict
    texts: tuple[str, ...] = ()
    categories: Mapping[str, list[str]] = field(default_factory=dict)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


SORT_PATTERN = "^(" + "|".join(SORT_FIELDS) + ")?$"


def list_params(
    request: Request,
    q: str = Query("", max_length=1024, description="Text searched in titles and descriptions (quotes optional)"),
    filter: str = Query("", max_length=8192, description='Categories: `category::"label" IN ("v1", ...) & ...` '
                                                         "(also `NOT IN`; `IN (\"\")` means any value)"),
    sort: str = Query("", pattern=SORT_PATTERN, description="Sort field"),
    asc: Literal["1", "-1"] = Query("1", description="1 ascending (default), -1 descending"),
    page: int = Query(1, ge=1, le=10**9, description="Page number, from 1"),
    pageSize: int = Query(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Results per page"),
) -> ListParams:
    """FastAPI dependency reading the collection parameters of a list call (declared here, so every
    list operation documents them in the OpenAPI description)."""
    q = _unquote(q) if q else ""
    flt = parse_filter(filter) if filter.strip() else None
    return ListParams(page, pageSize, sort or None, asc == "1", q or None, flt, dict(request.query_params))


def _sort_key(name: str):
    def key(entry: Entry) -> tuple:
        value = entry.out.get(name)
        if isinstance(value, str):
            return (1, value.casefold())
        if value is None:
            return (0, "")
        return (1, value)
    return key


def select(entries: Iterable[Entry], params: ListParams) -> list[Entry]:
    """Apply `q`, `filter` and `sort` (stable; objects keep their natural order otherwise)."""
    chosen = list(entries)
    if params.q:
        needle = params.q.casefold()
        chosen = [e for e in chosen if any(needle in t.casefold() for t in e.texts if t)]
    if params.filter is not None:
        chosen = [e for e in chosen if params.filter.matches(e.categories)]
    if params.sort:
        chosen.sort(key=_sort_key(params.sort), reverse=not params.ascending)
    return chosen


def page(request: Request, entries: Iterable[Entry | dict], params: ListParams | None = None) -> dict:
    """The envelope of one page; an empty page is the documented 404 NoResults."""
    params = params or ListParams()
    items = [e.out if isinstance(e, Entry) else e for e in entries]
    start = (params.page - 1) * params.page_size
    chunk = items[start:start + params.page_size]
    if not chunk:
        raise HmpError(NO_RESULTS)
    paging: dict[str, Any] = {"results": len(items), "pageSize": params.page_size}
    if start + params.page_size < len(items):
        query = dict(request.query_params)
        query["page"] = str(params.page + 1)
        query["pageSize"] = str(params.page_size)
        paging["next"] = str(request.url.replace(query=urlencode(query)))
    return {"data": chunk, "paging": paging}


def listing(request: Request, entries: Iterable[Entry], params: ListParams) -> dict:
    return page(request, select(entries, params), params)
