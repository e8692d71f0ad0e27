"""The shared store: every viewer's sessions in Redis, for several server processes.

One hash per viewer holds the bodies (compact JSON) of its sessions that have not ended and,
under the empty field name, a version number; ended sessions, kept an hour for late callers,
move to a second hash, so a start reads only what can stand in its way however often the viewer
zaps (a third key lists the ended ones by the time they can be forgotten). A transaction reads
the hash (HGETALL, and the ended hash when it needs them: one atomic round trip),
lets the service decide on a :class:`SubjectView`, then commits with one Lua script that
writes only if the version is still the one it read (compare-and-set). On a conflict the
read/decide/commit is retried, a bounded number of times with jittered back-off; since
the decision function is pure, a retry is the same decision made on fresher data.

Every key of one viewer carries the same hash tag, so the store works on Redis Cluster.
Keys expire once nobody can ask about their sessions any more, so idle viewers cost
nothing. Time comes from the service's clock (not Redis TIME): all processes must keep
their clocks in sync (NTP), which a fleet behind one load balancer does anyway.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..caches import make_room
from .redis_pipe import PipelinedRedis, Script
from .redis_record import LAYOUT, decode, encode, lua_positions, upgrade
from .service import RateLimited, ServiceUnavailable
from .session import GRACE_SECONDS, RETENTION_SECONDS, StreamSession, SubjectKey
from .store import Rate, SessionStore, SubjectView

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_PREFIX = "sk:"
MAX_ATTEMPTS = 64
MAX_CONNECTIONS = 64
# Decoded records remembered by their bytes (a few hundred bytes each, plus the session).
DECODED_MAX = 20_000
VERSION_FIELD = b""
#: The indexes every record is in (see `indexes_key`): "apps", the per-application live indexes.
INDEXES = "apps"
# Idle keys live this much longer than the last moment their content can matter.
TTL_MARGIN = 60

# KEYS[1] viewer hash, KEYS[2] its ended sessions, KEYS[3] their ids by the time they can be
# forgotten; on a single Redis server (not a cluster) also KEYS[4] the live-session index,
# KEYS[5] the registry of applications and KEYS[6..] the live index of each application the
# commit touches.
# ARGV: expected version, ttl seconds, now, ttl of the ended keys, number of puts, number of
# application indexes (KEYS[6..]) followed by their application ids in the same order, then per put
# (id, body, live until or 0 when not live, forget at or 0 when not ended, application: the place
# of its index after KEYS[5], negated for a session this commit creates, 0 without indexes), then
# per id to drop (id, application place or 0).
COMMIT = """
local cur = redis.call('HGET', KEYS[1], '')
if not cur then cur = '0' end
if cur ~= ARGV[1] then return 0 end
local index = KEYS[4]
local n = tonumber(ARGV[5])
local apps = tonumber(ARGV[6])
local i = 7 + apps
local ended = false
for _ = 1, n do
  local id = ARGV[i]
  if ARGV[i + 3] == '0' then
    redis.call('HSET', KEYS[1], id, ARGV[i + 1])
  else
    redis.call('HSET', KEYS[2], id, ARGV[i + 1])
    redis.call('ZADD', KEYS[3], ARGV[i + 3], id)
    redis.call('HDEL', KEYS[1], id)
    ended = true
  end
  if index then
    local a = tonumber(ARGV[i + 4])
    local by_app = KEYS[5 + math.abs(a)]
    if ARGV[i + 2] == '0' then
      redis.call('ZREM', index, id)
      redis.call('ZREM', by_app, id)
    else
      redis.call('ZADD', index, ARGV[i + 2], id)
      redis.call('ZADD', by_app, ARGV[i + 2], id)
      if a < 0 then redis.call('SADD', KEYS[5], ARGV[6 - a]) end
    end
  end
  i = i + 5
end
while i <= #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[3], ARGV[i])
  if index then
    redis.call('ZREM', index, ARGV[i])
    local a = tonumber(ARGV[i + 1])
    if a ~= 0 then redis.call('ZREM', KEYS[5 + a], ARGV[i]) end
  end
  i = i + 2
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])) do
  redis.call('HDEL', KEYS[2], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
if ended then
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
redis.call('HSET', KEYS[1], '', tonumber(cur) + 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
if index then
  redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. ARGV[3])
  for k = 6, #KEYS do redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', '(' .. ARGV[3]) end
end
return 1
"""

# Every record of a viewer: {fields of its hash, fields of its ended sessions}.
READ_ALL = """
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""

# KEYS[1] counter of one bucket and window; ARGV[1] its lifetime in milliseconds.
HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# An init's first round trip: count the call (KEYS[2], ARGV[1] lifetime in ms, ARGV[2] limit),
# and if it is within the limit read the viewer's hash (KEYS[1]: the sessions that have not
# ended). Returns {count, field, value, ...}.
READ_LIMITED = """
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
if n > tonumber(ARGV[2]) then return {n} end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, n)
return out
"""

# A heartbeat without metadata in one round trip: rate limit, session check and renewal.
# KEYS[1] viewer hash, KEYS[2] rate counter, KEYS[3] ended sessions, KEYS[4] and KEYS[5] (optional,
# together) the live index and the live index of the session's application.
# ARGV: session id, now, limit (0: not counted), counter lifetime (ms), grace, retention, ttl margin.
# Returns {-1} over the limit; {1, new body} renewed; {0, body or nothing} not renewable (missing,
# ended or expired): the caller says why from it (an ended session's body comes from KEYS[3]).
# A record ends with its expiry (redis_record.py), so a renewal rewrites only that tail.
RENEW = lua_positions("ended", "expires", "interval") + """
local limit = tonumber(ARGV[3])
if limit > 0 then
  local n = redis.call('INCR', KEYS[2])
  if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
  if n > limit then return {-1} end
end
local body = redis.call('HGET', KEYS[1], ARGV[1])
if not body then
  local gone = redis.call('HGET', KEYS[3], ARGV[1])
  if gone then return {0, gone} end
  return {0}
end
local s = cjson.decode(body)
local now = tonumber(ARGV[2])
local grace = tonumber(ARGV[5])
if s[ENDED] ~= cjson.null or now >= s[EXPIRES] + grace then return {0, body} end
local expires = now + s[INTERVAL]
local renewed = string.match(body, '^(.*),') .. ',' .. string.format('%.17g', expires) .. ']'
redis.call('HSET', KEYS[1], ARGV[1], renewed)
redis.call('HINCRBY', KEYS[1], '', 1)
local ttl = math.ceil(expires + grace - now + tonumber(ARGV[6])) + tonumber(ARGV[7])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
if KEYS[4] then
  local live_until = string.format('%.17g', expires + grace)
  redis.call('ZADD', KEYS[4], live_until, ARGV[1])
  redis.call('ZADD', KEYS[5], live_until, ARGV[1])
end
return {1, renewed}
"""

# The per-application indexes' first filling (index_applications), by compare-and-set: KEYS[1] a
# viewer hash, KEYS[2] the registry of applications, KEYS[3..] application indexes; ARGV: their
# number, their application ids, then (id, body read, place of its index after KEYS[2], live until)
# per live session. A session is indexed only if its record is still the one read (one changed
# meanwhile was indexed by whoever changed it). Returns how many were.
INDEX_APPS = """
local apps = tonumber(ARGV[1])
for k = 1, apps do redis.call('SADD', KEYS[2], ARGV[1 + k]) end
local n = 0
for i = 2 + apps, #ARGV, 4 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZADD', KEYS[2 + tonumber(ARGV[i + 2])], ARGV[i + 3], ARGV[i])
    n = n + 1
  end
end
return n
"""

# The migration's compare-and-set: KEYS[1] a hash; ARGV (field, body read, body in the current
# layout) triples. A field is rewritten only if it still holds the body read (a record changed
# meanwhile was written in the current layout by whoever changed it). Returns how many were.
UPGRADE = """
local n = 0
for i = 1, #ARGV, 3 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    n = n + 1
  end
end
return n
"""


class StoreUnavailable(ServiceUnavailable):
    """Redis did not answer, or the viewer's state kept changing under us: try again."""


def _escaped(part: str) -> str:
    if "\\" not in part and "\x00" not in part and "{" not in part and "}" not in part:
        return part  # the usual id: nothing to escape
    return part.replace("\\", "\\\\").replace("\x00", "\\0").replace("{", "\\(").replace("}", "\\)")


def tag(*parts: str) -> str:
    """A Redis Cluster hash tag naming `parts` unambiguously (no braces, no separator clash)."""
    return "{" + "\x00".join([_escaped(p) for p in parts]) + "}"


def _rate_key(hkey: str, bucket: str, start: float) -> str:
    """A viewer's rate counter of one bucket and window, under the viewer's hash tag (`hkey`)."""
    return f"{hkey}:rate:{_escaped(bucket)}:{int(start)}"


def _last_relevant(s: StreamSession) -> float:
    return s.ended.at if s.ended else s.expires + GRACE_SECONDS


def parse_url(url: str) -> tuple[str, bool]:
    """The URL redis-py understands, and whether it names a Redis Cluster.

    Cluster is asked for with a `redis+cluster://` / `rediss+cluster://` scheme or a
    `cluster=true` query parameter.
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    cluster = False
    if scheme.endswith("+cluster"):
        scheme, cluster = scheme[: -len("+cluster")], True
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")
    query = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "cluster":
            cluster = value.lower() in ("1", "true", "yes", "on")
        else:
            query.append((name, value))
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment)), cluster


class RedisStore(SessionStore):
    """Sessions in Redis, shared by every process that uses the same URL and key prefix."""

    def __init__(self, url: str, prefix: str | None = None, clock: Callable[[], float] | None = None,
                 cluster: bool = False, max_connections: int = MAX_CONNECTIONS) -> None:
        self.url, url_cluster = parse_url(url)
        self.cluster = cluster or url_cluster
        self.prefix = DEFAULT_PREFIX if prefix is None else prefix
        if "{" in self.prefix or "}" in self.prefix:
            raise ValueError("the Redis key prefix must not contain braces")
        self._clock = clock or time.time
        self._max_connections = max_connections
        self._client: Any = None
        self._gate = asyncio.Semaphore(max_connections)
        self._registered: dict[str, Any] = {}  # redis-py's registered scripts, by name
        self._pipe: PipelinedRedis | None = None
        self._decoded: dict[tuple[SubjectKey, str], tuple[bytes, StreamSession]] = {}
        self._scripts = {name: Script(source) for name, source in
                         (("commit", COMMIT), ("hit", HIT), ("read_limited", READ_LIMITED), ("read_all", READ_ALL),
                          ("renew", RENEW), ("upgrade", UPGRADE), ("index_apps", INDEX_APPS))}
        # A global index of live sessions (for the active-sessions gauge) and one per application
        # (for the usage history and the dashboard) would span hash slots, so they exist only on
        # a single Redis server.
        self.index_key = None if self.cluster else f"{self.prefix}live"
        self.apps_key = f"{self.prefix}live:apps"

    def app_index_key(self, app_id: str) -> str:
        """The live sessions of one application: a sorted set like the global index (member the
        session id, score the time it stops being live), kept by the same scripts beside it."""
        return f"{self.prefix}live:app:{app_id}"

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self.cluster:
            from redis.asyncio.cluster import RedisCluster

            self._client = RedisCluster.from_url(self.url, max_connections=self._max_connections)
        else:
            # A plain pool is much cheaper per command than redis-py's blocking pool; the
            # semaphore keeps it from ever needing more than its size (a few spare for probes).
            pool = aioredis.ConnectionPool.from_url(self.url, max_connections=self._max_connections + 8)
            self._client = aioredis.Redis.from_pool(pool)
        self._gate = asyncio.Semaphore(self._max_connections)
        self._registered = {name: self._client.register_script(script.source)
                            for name, script in self._scripts.items()}
        try:
            await self._client.ping()
            if not self.cluster:
                # Loaded now, the first call of each script is not a NOSCRIPT and a second trip.
                for script in self._scripts.values():
                    await self._client.script_load(script.source)
            await self.migrate()
            await self.index_applications()
        except RedisError as exc:
            await self.close()
            raise RuntimeError(f"cannot reach Redis at {_redacted(self.url)}: {exc}") from exc
        if not self.cluster and self.pipelined and PipelinedRedis.supports(self.url):
            self._pipe = PipelinedRedis(self.url)

    @property
    def layout_key(self) -> str:
        """Set to the record layout once every record under the prefix is in it."""
        return f"{self.prefix}layout"

    async def migrate(self) -> int:
        """Convert every record in an older layout to the current one (redis_record.py), once:
        skipped when the layout key says it was done. Safe to run in several processes at once
        and to run again after an interruption: each record is rewritten by compare-and-set, and
        the layout key is set only once the whole keyspace was walked. Returns how many records
        this process converted."""
        client = self.client
        if await client.get(self.layout_key) == str(LAYOUT).encode():
            return 0
        converted = 0
        pattern = _glob_escaped(self.prefix) + "{*"
        async for hkey in client.scan_iter(match=pattern, _type="HASH", count=1000):
            triples: list = []
            for field, body in (await client.hgetall(hkey)).items():
                if field != VERSION_FIELD:
                    new = upgrade(body)
                    if new is not None:
                        triples += (field, body, new)
            if triples:
                converted += await self._registered["upgrade"](keys=[hkey], args=triples)
        await client.set(self.layout_key, LAYOUT)
        if converted:
            log.info("converted %d session records in Redis to layout %d", converted, LAYOUT)
        return converted

    @property
    def indexes_key(self) -> str:
        """Set to :data:`INDEXES` once the indexes it names were filled from every record."""
        return f"{self.prefix}indexes"

    async def index_applications(self) -> int:
        """Put the live sessions of a keyspace written by an older version (which kept no
        per-application indexes) into them, once, as :meth:`migrate` does: skipped on a cluster
        and when the indexes key says it was done; safe in several processes at once. Returns
        how many sessions this process indexed."""
        if self.index_key is None:
            return 0
        client = self.client
        if await client.get(self.indexes_key) == INDEXES.encode():
            return 0
        indexed = 0
        pattern = _glob_escaped(self.prefix) + "{*"
        async for hkey in client.scan_iter(match=pattern, _type="HASH", count=1000):
            if hkey.endswith(b":ended"):
                continue
            now = self._clock()
            places: dict[str, int] = {}
            entries: list = []
            for field, body in (await client.hgetall(hkey)).items():
                if field == VERSION_FIELD:
                    continue
                s = decode(("", ""), field.decode(), body)
                if s.is_live(now):
                    place = places.setdefault(s.app_id, len(places) + 1)
                    entries += (field, body, place, repr(s.expires + GRACE_SECONDS))
            if entries:
                keys = [hkey, self.apps_key, *map(self.app_index_key, places)]
                indexed += await self._registered["index_apps"](keys=keys, args=[len(places), *places, *entries])
        await client.set(self.indexes_key, INDEXES)
        if indexed:
            log.info("put %d live sessions in Redis into their application's live index", indexed)
        return indexed

    # Hot-path commands share one pipelined connection (see redis_pipe.py) where possible.
    pipelined = True

    async def _run(self, name: str, keys: list, args: list) -> Any:
        pipe = self._pipe
        if pipe is not None:
            return await pipe.run(self._scripts[name], keys, args)
        async with self._gate:
            return await self._registered[name](keys=keys, args=args)

    async def run_script(self, script: Script, keys: list, args: list) -> Any:
        """Run a Lua script of another module (the playback check) as the store's own run: on the
        pipelined connection when there is one. Redis errors pass through as redis-py raises them."""
        pipe = self._pipe
        if pipe is not None:
            return await pipe.run(script, keys, args)
        registered = self._registered.get(script.sha)
        if registered is None:
            registered = self._registered[script.sha] = self.client.register_script(script.source)
        async with self._gate:
            return await registered(keys=keys, args=args)

    async def _hgetall(self, key: str) -> dict:
        if self._pipe is not None:
            return await self._pipe.hgetall(key)
        async with self._gate:
            return await self.client.hgetall(key)

    async def close(self) -> None:
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            await pipe.close()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def ping(self) -> None:
        """Raise if Redis does not answer (readiness checks)."""
        await self.client.ping()

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("the session store is not started")
        return self._client

    def viewer_key(self, key: SubjectKey) -> str:
        return self.prefix + tag(key[0], key[1])

    def ended_keys(self, hkey: str) -> list[str]:
        """The viewer's ended sessions (a hash) and their ids by the time they can be forgotten
        (a sorted set), under the viewer's hash tag."""
        return [hkey + ":ended", hkey + ":forget"]

    # -- the interface ------------------------------------------------------------------

    # Rate-limit counters live under the viewer's hash tag (one slot per viewer on a cluster).
    def rate_key(self, key: SubjectKey, bucket: str, start: float) -> str:
        return _rate_key(self.viewer_key(key), bucket, start)

    async def transact(self, key: SubjectKey, fn: Callable[[SubjectView], T], *, live_only: bool = False,
                       rate: Rate | None = None) -> T:
        """`rate` is counted in the same round trip as the first read. With `live_only` the view
        leaves out the sessions that have ended (one hash read instead of two)."""
        hkey = self.viewer_key(key)
        ended_keys = self.ended_keys(hkey)
        try:
            for attempt in range(MAX_ATTEMPTS):
                if rate is not None and attempt == 0:
                    bucket, most, window, now = rate
                    start = now - (now % window)
                    reply = await self._run("read_limited", [hkey, _rate_key(hkey, bucket, start)],
                                            [int(window * 2000), most])
                    if reply[0] > most:
                        raise RateLimited(start + window)
                    raw = dict(zip(reply[1::2], reply[2::2]))
                    if not live_only:
                        raw.update(await self._hgetall(ended_keys[0]))
                elif live_only:
                    raw = await self._hgetall(hkey)
                else:
                    current, ended = await self._run("read_all", [hkey, ended_keys[0]], [])
                    raw = dict(zip(current[::2], current[1::2]))
                    raw.update(zip(ended[::2], ended[1::2]))
                version = int(raw.pop(VERSION_FIELD, 0))
                sessions = self._decode_all(key, raw)
                view = SubjectView(key, sessions, version)
                result = fn(view)
                if not view.changed:
                    return result
                committed = await self._run("commit", *self._commit_args(hkey, ended_keys, view))
                if committed:
                    if self.observer is not None:
                        self.observer(view)
                    return result
                await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2 ** attempt)))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(f"the session store is unreachable: {exc}") from exc
        log.warning("gave up on %r after %d conflicting attempts", key, MAX_ATTEMPTS)
        raise StoreUnavailable("too many simultaneous changes to this viewer's sessions; try again")

    def _decode_all(self, key: SubjectKey, raw: dict[bytes, bytes]) -> dict[str, StreamSession]:
        """The viewer's sessions from their hash fields. A record whose bytes are the ones decoded
        last time is the same session (records are replaced, never changed in place), so it is
        not decoded again: most of a viewer's records (ended ones, streams not renewed since)
        are read many times for each time they change."""
        known = self._decoded
        sessions = {}
        for field, body in raw.items():
            sid = field.decode()
            seen = known.get((key, sid))
            if seen is not None and seen[0] == body:
                sessions[sid] = seen[1]
                continue
            session = sessions[sid] = decode(key, sid, body)
            make_room(known, DECODED_MAX)
            known[(key, sid)] = (body, session)
        return sessions

    def _commit_args(self, hkey: str, ended_keys: list[str], view: SubjectView) -> tuple[list, list]:
        """The COMMIT script's keys and arguments for what `view` changed."""
        now = self._clock()
        horizon = max((_last_relevant(s) for s in view.sessions.values()), default=now)
        ttl = max(TTL_MARGIN, math.ceil(horizon - now + RETENTION_SECONDS) + TTL_MARGIN)
        puts = {**view.touched, **view.written}
        keys = [hkey, *ended_keys]
        indexed = self.index_key is not None
        places: dict[str, int] = {}  # application -> place of its index after KEYS[5]
        if indexed:
            for s in puts.values():
                places.setdefault(s.app_id, len(places) + 1)
            for sid in view.dropped:
                before = view.previous.get(sid)
                if before is not None:
                    places.setdefault(before.app_id, len(places) + 1)
            keys += (self.index_key, self.apps_key, *map(self.app_index_key, places))
        args: list = [view.version, ttl, repr(now), int(RETENTION_SECONDS) + TTL_MARGIN, len(puts), len(places),
                      *places]
        for sid, s in puts.items():
            place = places.get(s.app_id, 0)
            if s.ended is None:
                if view.previous.get(sid) is None:
                    place = -place  # a new session: its application goes into the registry
                args += (sid, encode(s), repr(s.expires + GRACE_SECONDS), 0, place)
            else:  # moves to the ended hash until it can be forgotten
                args += (sid, encode(s), 0, repr(s.ended.at + RETENTION_SECONDS), place)
        for sid in view.dropped:
            before = view.previous.get(sid)
            args += (sid, places[before.app_id] if indexed and before is not None else 0)
        return keys, args

    async def renew(self, key: SubjectKey, sid: str, now: float, *, rate: Rate | None = None,
                    app_id: str | None = None) -> tuple[bool, StreamSession | None]:
        """See :meth:`SessionStore.renew`: in one round trip (the RENEW script), given `app_id`
        on a single Redis server (it names the application's live index)."""
        hkey = self.viewer_key(key)
        if rate is None:
            start, limit, window = now, 0, 0.0
            keys = [hkey, hkey]  # (the counter's place: not touched when nothing is counted)
        else:
            bucket, limit, window, _ = rate
            start = now - (now % window)
            keys = [hkey, _rate_key(hkey, bucket, start)]
        keys.append(self.ended_keys(hkey)[0])
        if self.index_key is not None:
            if app_id is None:  # the application's index cannot be named: the general way
                return await super().renew(key, sid, now, rate=rate)
            keys += (self.index_key, self.app_index_key(app_id))
        try:
            reply = await self._run("renew", keys, [sid, repr(now), limit, int(window * 2000), GRACE_SECONDS,
                                                    RETENTION_SECONDS, TTL_MARGIN])
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(f"the session store is unreachable: {exc}") from exc
        if reply[0] < 0:
            raise RateLimited(start + window)
        session = decode(key, sid, reply[1]) if len(reply) > 1 else None
        return reply[0] == 1, session

    async def hit(self, key: SubjectKey, rate: Rate) -> float | None:
        bucket, limit, window, now = rate
        start = now - (now % window)
        try:
            count = await self._run("hit", [self.rate_key(key, bucket, start)], [int(window * 2000)])
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise StoreUnavailable(f"the session store is unreachable: {exc}") from exc
        return start + window if count > limit else None

    async def count_live(self, now: float) -> int | None:
        """Live sessions of every process; None on Redis Cluster, which keeps no global index."""
        if self.index_key is None:
            return None
        return await self.client.zcount(self.index_key, f"({now!r}", "+inf")

    async def live_by_application(self, now: float) -> dict[str, int] | None:
        """Live sessions of every process per application id, from the per-application indexes
        (one SMEMBERS of the registry, then one pipelined ZCOUNT each); None on Redis Cluster.

        Sessions a process of an older version (a rolling upgrade) started or renewed last are
        not in these indexes until a current process renews or changes them, within one
        heartbeat interval, and an application is in the registry once a current process started
        one of its sessions (the sessions live at the first start of this version are put in both
        then: :meth:`index_applications`)."""
        if self.index_key is None:
            return None
        client = self.client
        apps = [app.decode() for app in await client.smembers(self.apps_key)]
        if not apps:
            return {}
        low = f"({now!r}"
        async with client.pipeline(transaction=False) as pipe:
            for app_id in apps:
                pipe.zcount(self.app_index_key(app_id), low, "+inf")
            counts = await pipe.execute()
        return {app_id: n for app_id, n in zip(apps, counts) if n}

    # -- housekeeping -------------------------------------------------------------------

    async def memory_of(self, key: SubjectKey) -> int:
        """Bytes Redis uses for one viewer's hash (MEMORY USAGE, all fields sampled)."""
        return int(await self.client.memory_usage(self.viewer_key(key), samples=0) or 0)


def _glob_escaped(text: str) -> str:
    """`text` matched literally by a SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
