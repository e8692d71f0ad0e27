"""A session's record in Redis: which fields it has, in which order, how each is encoded.

A record is the value of one field (the session id) of a viewer's hash: a compact JSON array
whose items are :data:`FIELDS`, in that order. The viewer (idp, subject) and the session id
are already in the key and the field name, so they are not repeated. The expiry comes last,
so the renewal script rewrites only the tail of the text. Python encodes and decodes here; the
Lua scripts find the fields they read through :func:`lua_positions`, made from the same list.

Older layouts are converted at start by :func:`upgrade` (redis_store.py runs the migration);
nothing reads them afterwards.

The keys records live in, under the store's prefix `P` (built by the `RedisStore` methods named):

- `P{idp\0subject}` (`viewer_key`): a hash, a viewer's sessions that have not ended (field: the
  session id, value: its record) and the version (field ""); `...:ended` and `...:forget`
  (`ended_keys`) its ended sessions and when each can be forgotten; `...:rate:<bucket>:<window>`
  (`rate_key`) rate counters. One hash tag per viewer: all on one Redis Cluster node.
- On a single Redis server only (they span hash slots): `Plive` (`index_key`), a sorted set of the
  live sessions (member: session id, score: the time it stops being live, expiry plus grace);
  `Plive:app:<application id>` (`app_index_key`), the same for one application's sessions; and
  `Plive:apps` (`apps_key`), a set of the application ids that had a live session, which is where
  the per-application counts find their keys (an application deleted since is counted 0). The
  COMMIT and RENEW scripts keep the three beside the records; members past their score are
  trimmed at the next commit of their index. `Pindexes` (`indexes_key`) says the indexes were
  filled from the records written before they existed, `Playout` (`layout_key`) the same of the
  migration.
"""

from __future__ import annotations

from typing import Any

import orjson

from .session import Ending, StreamSession, SubjectKey

#: The current layout, the record's first item.
LAYOUT = 2
#: The items of a record, in order (positions in Python count from 0, in Lua from 1).
FIELDS = ("layout", "app_id", "tenant", "metadata", "started", "code", "interval", "ended", "extra", "expires")
assert FIELDS[-1] == "expires", "the renewal script rewrites the last item as the expiry"
_AT = {name: i for i, name in enumerate(FIELDS)}
_APP, _TENANT, _META, _STARTED, _CODE, _INTERVAL, _ENDED, _EXTRA, _EXPIRES = (
    _AT["app_id"], _AT["tenant"], _AT["metadata"], _AT["started"], _AT["code"], _AT["interval"], _AT["ended"],
    _AT["extra"], _AT["expires"])

#: Layout 1, written by versions before the renewal script: the expiry in the middle, `extra`
#: optional at the end, no layout number. Only :func:`upgrade` knows it.
LAYOUT_1 = ("app_id", "tenant", "metadata", "started", "expires", "code", "interval", "ended", "extra")


def encode(session: StreamSession) -> bytes:
    """The record of `session`, items in the order of :data:`FIELDS`."""
    return orjson.dumps([LAYOUT, session.app_id, session.tenant, session.metadata, session.started, session.code,
                         session.interval, session.ended.to_dict() if session.ended else None,
                         session.extra or None, session.expires])


def decode(key: SubjectKey, sid: str, raw: bytes) -> StreamSession:
    body = orjson.loads(raw)
    if body[0] != LAYOUT:
        raise ValueError(f"session {sid!r} is stored in an unknown layout (the store's migration did not run)")
    ended = body[_ENDED]
    return StreamSession(
        id=sid, app_id=body[_APP], tenant=body[_TENANT], idp=key[0], subject=key[1], metadata=body[_META],
        started=body[_STARTED], expires=float(body[_EXPIRES]), code=body[_CODE], interval=body[_INTERVAL],
        ended=Ending.from_dict(ended) if ended else None, extra=body[_EXTRA] or {},
    )


def lua_positions(*names: str) -> str:
    """Lua locals naming the positions of `names` in a decoded record (``local EXPIRES = 10``),
    to put in front of a script that reads them."""
    return "".join(f"local {name.upper()} = {_AT[name] + 1}\n" for name in names)


def upgrade(raw: bytes) -> bytes | None:
    """`raw` in the current layout, or None when it is in it already."""
    body = orjson.loads(raw)
    if body and body[0] == LAYOUT and len(body) == len(FIELDS):
        return None
    old: dict[str, Any] = dict(zip(LAYOUT_1, body))
    items = [LAYOUT if name == "layout" else old.get(name) for name in FIELDS]
    items[_EXTRA] = items[_EXTRA] or None
    return orjson.dumps(items)
