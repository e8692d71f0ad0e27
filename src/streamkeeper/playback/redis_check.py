"""The playback check on Redis in one round trip (service.py decides, this reads and writes).

The general way, `transact`, reads the viewer's records (one script) and, when the check writes
the fetch (every `RENEW_EVERY` seconds per session), commits by compare-and-set on the viewer's
version (a second script). A check looks at one session only, once the session was judged under
the current policy (`PlaybackService._fits`), so here it is decided on the record this process
saw last, and one script confirms that the stored record is still exactly that one and, in the
same step, writes the fetch:

- the record is the one expected: the decision stands (and the new record is written, the
  viewer's version moved, as any commit moves it, so that a concurrent transaction retries);
- it is not (changed by another call or process, ended, gone): the script answers the stored
  record, the decision is made again on it, and a write it needs is tried again the same way.

Keys: the viewer's hash and its ended sessions, under the viewer's hash tag (so on a cluster
too), and on a single Redis server the two live indexes a renewal keeps (redis_record.py).
"""

from __future__ import annotations

import math
from typing import Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..caches import make_room
from ..concurrency.redis_pipe import Script
from ..concurrency.redis_record import decode, encode
from ..concurrency.redis_store import TTL_MARGIN, RedisStore, StoreUnavailable
from ..concurrency.session import GRACE_SECONDS, RETENTION_SECONDS, StreamSession, SubjectKey
from ..concurrency.store import SubjectView

# KEYS[1] the viewer's hash, KEYS[2] its ended sessions, KEYS[3] and KEYS[4] (optional, together)
# the live index and the live index of the session's application.
# ARGV: session id, the record expected ('' : none, just read it), the record to write in its
# place ('' : nothing to write), its live-until (index score), the key's lifetime it needs.
# Returns {1} when the stored record was the one expected (and is now the one written), else
# {0, the stored record (live, else ended)} or {0} when there is none.
CHECK = """
local body = redis.call('HGET', KEYS[1], ARGV[1])
if not body then
  local gone = redis.call('HGET', KEYS[2], ARGV[1])
  if gone then return {0, gone} end
  return {0}
end
if body ~= ARGV[2] then return {0, body} end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('HINCRBY', KEYS[1], '', 1)
  local ttl = tonumber(ARGV[5])
  if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
  if KEYS[3] then
    redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
    redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
  end
end
return {1}
"""
SCRIPT = Script(CHECK)
SEEN_MAX = 200_000
ATTEMPTS = 4  # then the general way (a record that keeps changing under us)

Look = Callable[[SubjectView], "str | None"]


class RedisCheck:
    """One round trip per check on a :class:`RedisStore`; see the module's text."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        # session id -> (the record last seen in Redis, its session)
        self._seen: dict[str, tuple[bytes, StreamSession]] = {}
        self._keys: dict[SubjectKey, list[str]] = {}  # viewer -> its hash and its ended sessions' hash

    async def check(self, key: SubjectKey, sid: str, now: float, look: Look) -> str | None:
        """`look` (the service's decision on a view of the session alone: it must not need the
        viewer's other sessions) on the stored record of `sid`, and the change it makes written;
        None when the session may play, else why not."""
        store = self.store
        read = self._keys.get(key)
        if read is None:
            make_room(self._keys, SEEN_MAX)
            hkey = store.viewer_key(key)
            read = self._keys[key] = [hkey, hkey + ":ended"]
        seen = self._seen.get(sid)
        expected = b""
        put: StreamSession | None = None
        if seen is not None:
            view = SubjectView(key, {sid: seen[1]})
            if look(view) is None:  # else the record may have changed since: read it first
                expected = seen[0]
                put = view.touched.get(sid) or view.written.get(sid)
        for _ in range(ATTEMPTS):
            if put is None:
                body = b""
                keys, args = read, [sid, expected, body, b"", 0]
            else:
                body = encode(put)
                keys = read if store.index_key is None else \
                    [*read, store.index_key, store.app_index_key(put.app_id)]
                args = [sid, expected, body, repr(put.expires + GRACE_SECONDS), _lifetime(put, now)]
            try:
                reply = await store.run_script(SCRIPT, keys, args)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                raise StoreUnavailable(f"the session store is unreachable: {exc}") from exc
            if reply[0] == 1:
                if put is not None:
                    self._remember(sid, body, put)
                return None
            stored = reply[1] if len(reply) > 1 else None
            session = self._decoded(key, sid, stored) if stored is not None else None
            view = SubjectView(key, {sid: session} if session is not None else {})
            why = look(view)
            if why is not None:
                self._seen.pop(sid, None)
                return why
            put = view.touched.get(sid) or view.written.get(sid)
            if put is None:  # live, and nothing to write
                return None
            expected = stored
        return await store.transact(key, look)

    def _decoded(self, key: SubjectKey, sid: str, stored: bytes) -> StreamSession:
        seen = self._seen.get(sid)
        if seen is not None and seen[0] == stored:
            return seen[1]
        session = decode(key, sid, stored)
        if session.ended is None:
            self._remember(sid, stored, session)
        return session

    def _remember(self, sid: str, stored: bytes, session: StreamSession) -> None:
        if sid not in self._seen:
            make_room(self._seen, SEEN_MAX)
        self._seen[sid] = (stored, session)


def _lifetime(session: StreamSession, now: float) -> int:
    """Seconds the viewer's keys must live for `session` (as the renewal script counts them)."""
    return math.ceil(session.expires + GRACE_SECONDS - now + RETENTION_SECONDS) + TTL_MARGIN
