"""Collections: the `data`/`paging` envelope, `page`/`pageSize`, `sort`/`asc`, `q` and `filter`.

Lists are filtered after the permission check in Python: every object a user may see is
already loaded to decide that, and doing it here keeps SQLite and PostgreSQL identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import urlencode

from fastapi import Request

from .errors import NO_RESULTS, HmpError, invalid
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


def _positive_int(raw: str, name: str, upper: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"{name} must be an integer") from None
    if not 1 <= value <= upper:
        raise invalid(f"{name} must be between 1 and {upper}")
    return value


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def list_params(request: Request) -> ListParams:
    """FastAPI dependency reading the collection parameters of a list call."""
    args = request.query_params
    page = _positive_int(args["page"], "page", 10**9) if "page" in args else 1
    size = _positive_int(args["pageSize"], "pageSize", MAX_PAGE_SIZE) if "pageSize" in args else DEFAULT_PAGE_SIZE
    sort = args.get("sort") or None
    if sort is not None and sort not in SORT_FIELDS:
        raise invalid(f"sort must be one of {', '.join(SORT_FIELDS)}")
    asc = args.get("asc", "1")
    if asc not in ("1", "-1"):
        raise invalid("asc must be 1 or -1")
    q = _unquote(args["q"]) if args.get("q") else None
    flt = parse_filter(args["filter"]) if args.get("filter", "").strip() else None
    return ListParams(page, size, sort, asc == "1", q or None, flt, dict(args))


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
