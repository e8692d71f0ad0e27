"""A hypothesis state machine drives the real service and store with random steps and checks
them against a deliberately naive reference model: same admissions, same live sessions, and
never more live sessions than a rule allows, also after restarts (clean, and like `kill -9`:
between journal writes or in the middle of one)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import sqlite3

from streamkeeper.concurrency.embedded import EmbeddedStore, JournalUnavailable
from streamkeeper.concurrency.ids import SessionIds
from streamkeeper.concurrency.policy import Application, Condition, Policy, PolicyCatalog, Rule, Tenant
from streamkeeper.concurrency.service import ConcurrencyError, ConcurrencyService, PolicyDenied
from streamkeeper.concurrency.session import GRACE_SECONDS
from tests.conftest import FakeClock

RULES = {
    "total": Rule("3 streams", 3),
    "channel": Rule("2 per channel", 2, scope=("channel",)),
    "devices": Rule("2 devices", 2, distinct="deviceId", conflict="FIFO"),
    "live": Rule("1 live", 1, condition=Condition.parse("contentType = live"), conflict="FIFO"),
}
CATALOG = PolicyCatalog(
    tenants={"t": Tenant("t", "T")},
    policies={
        "shared": Policy("shared", "t", "shared", (RULES["total"], RULES["live"])),
        "tv": Policy("tv", "t", "tv", (RULES["channel"],)),
        "mobile": Policy("mobile", "t", "mobile", (RULES["devices"],)),
    },
    applications={
        "tv": Application("tv", "t", "tv", ("shared", "tv"), heartbeat_interval=60),
        "mobile": Application("mobile", "t", "mobile", ("shared", "mobile"), heartbeat_interval=30),
    },
)
APP_RULES = {"tv": ["total", "live", "channel"], "mobile": ["total", "live", "devices"]}
SHARING = {"total": {"tv", "mobile"}, "live": {"tv", "mobile"}, "channel": {"tv"}, "devices": {"mobile"}}


class Model:
    """What should be live: a list of dicts, decided by brute force."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict] = {}

    def live(self, now: float) -> list[dict]:
        return [s for s in self.sessions.values() if s["ended"] is None and now < s["expires"] + GRACE_SECONDS]

    @staticmethod
    def peers(name: str, meta: dict, live: list[dict]) -> list[dict]:
        r = RULES[name]
        out = []
        for s in live:
            if s["app"] not in SHARING[name]:
                continue
            if r.condition and not r.condition.matches(s["meta"]):
                continue
            if any(s["meta"].get(a) != meta.get(a) for a in r.scope):
                continue
            out.append(s)
        return sorted(out, key=lambda s: s["started"])

    def admit(self, app: str, meta: dict, now: float, codes: set[str]) -> tuple[bool, list[dict]]:
        live = [s for s in self.live(now) if s["code"] not in codes]
        applicable = [n for n in APP_RULES[app] if not RULES[n].condition or RULES[n].condition.matches(meta)]
        gone: list[dict] = []
        for name in [n for n in applicable if RULES[n].conflict == "FIFO"]:
            rule = RULES[name]
            peers = [p for p in self.peers(name, meta, live) if p not in gone]
            if rule.distinct:
                values = []
                for p in peers:
                    if p["meta"][rule.distinct] not in values:
                        values.append(p["meta"][rule.distinct])
                if meta[rule.distinct] in values:
                    continue
                while len(values) + 1 > rule.threshold and values:
                    oldest = values.pop(0)
                    gone.extend(p for p in peers if p["meta"][rule.distinct] == oldest)
            else:
                while len(peers) + 1 > rule.threshold and peers:
                    gone.append(peers.pop(0))
        remaining = [s for s in live if s not in gone]
        for name in [n for n in applicable if RULES[n].conflict == "LIFO"]:
            if len(self.peers(name, meta, remaining)) + 1 > RULES[name].threshold:
                return False, []
        return True, gone


class SimulatedCrash(Exception):
    """The process died before its transaction committed."""


class CrashingConnection:
    """A journal connection whose next COMMIT never happens, as when `kill -9` lands mid-write."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args):
        if sql == "COMMIT":
            raise SimulatedCrash()
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, rows):
        return self._conn.executemany(sql, rows)

    def close(self) -> None:
        self._conn.close()


class EngineMachine(RuleBasedStateMachine):
    # The embedded store writes plain heartbeats lazily: a kill may lose the ones not yet flushed.
    DEFERRED_HEARTBEATS = True

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.store = self.open_store()
        self.run(self.store.start())
        self.service = ConcurrencyService(self.store, SessionIds(b"k" * 32), CATALOG, clock=self.clock)
        self.model = Model()
        self.ids: list[str] = []

    def open_store(self):
        # Deferred heartbeats are flushed only by the `flush` step, so the model knows what is on disk.
        return EmbeddedStore(self.dir / "sessions.db", clock=self.clock, lazy_flush_seconds=1e6)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def reopen(self, *, kill: bool) -> None:
        """Stop the store (cleanly, or losing whatever is not yet written) and start a new one."""
        self.run(self.store.abandon() if kill else self.store.close())
        for entry in self.model.sessions.values():
            if kill:
                entry["expires"] = entry["persisted"]
            else:
                entry["persisted"] = entry["expires"]
        self.store = self.open_store()
        self.run(self.store.start())
        self.service.store = self.store

    @rule()
    def flush(self):
        self.run(self.store.flush_deferred())
        for entry in self.model.sessions.values():
            entry["persisted"] = entry["expires"]

    @rule(kill=st.booleans())
    def restart(self, kill):
        self.reopen(kill=kill)

    @precondition(lambda self: isinstance(self.store, EmbeddedStore) and self.ids)
    @rule(index=st.integers(min_value=0), app=st.sampled_from(["tv", "mobile"]))
    def kill_during_write(self, index, app):
        """A stop or a start whose journal commit is cut short is not acknowledged and not kept."""
        journal = self.store._journal
        journal._conn = CrashingConnection(journal._conn)
        try:
            if index % 2:
                sid = self.ids[index % len(self.ids)]
                entry = self.model.sessions[sid]
                self.run(self.service.stop(CATALOG.applications[entry["app"]], "idp", "u", sid))
            else:
                meta = {"contentType": "vod", "channel": "c1"} if app == "tv" else {"contentType": "vod",
                                                                                   "deviceId": "d1"}
                self.run(self.service.start(CATALOG.applications[app], "idp", "u", meta))
        except JournalUnavailable as exc:  # the API answers 503: nothing was decided
            assert isinstance(exc.__cause__, SimulatedCrash)
        except ConcurrencyError:
            pass  # refused before anything was written
        else:
            raise AssertionError("a write whose commit failed was acknowledged")
        self.reopen(kill=True)

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(
        app=st.sampled_from(["tv", "mobile"]),
        channel=st.sampled_from(["c1", "c2"]),
        device=st.sampled_from(["d1", "d2", "d3"]),
        content=st.sampled_from(["live", "vod"]),
        terminate=st.integers(min_value=0, max_value=3),
    )
    def init(self, app, channel, device, content, terminate):
        self.clock.advance(0.001)  # players never start two streams in the same microsecond
        meta = {"contentType": content}
        meta["channel" if app == "tv" else "deviceId"] = channel if app == "tv" else device
        now = self.clock.now
        live = self.model.live(now)
        codes = {s["code"] for s in live[:terminate]}
        expected, evicted = self.model.admit(app, meta, now, codes)
        try:
            started = self.run(self.service.start(CATALOG.applications[app], "idp", "u", meta, codes))
        except PolicyDenied:
            assert not expected, f"denied but the model admits {app} {meta}"
            return
        assert expected, f"admitted but the model denies {app} {meta}"
        assert {s.id for s in started.evicted} == {e["id"] for e in evicted}
        for s in live:
            if s["code"] in codes:
                s["ended"] = "terminated"
        for e in evicted:
            e["ended"] = "evicted"
        s = started.session
        self.model.sessions[s.id] = {"id": s.id, "app": app, "meta": meta, "started": now, "expires": s.expires,
                                     "persisted": s.expires, "code": s.code, "ended": None}
        self.ids.append(s.id)

    @precondition(lambda self: self.ids)
    @rule(index=st.integers(min_value=0), stop=st.booleans())
    def touch(self, index, stop):
        sid = self.ids[index % len(self.ids)]
        entry = self.model.sessions[sid]
        app = CATALOG.applications[entry["app"]]
        alive = entry in self.model.live(self.clock.now)
        try:
            if stop:
                self.run(self.service.stop(app, "idp", "u", sid))
            else:
                renewed = self.run(self.service.heartbeat(app, "idp", "u", sid, {}))
        except ConcurrencyError:
            assert not alive, "an active session was refused"
            return
        assert alive, "a dead session was accepted"
        if stop:
            entry["ended"] = "deleted"
        else:
            entry["expires"] = renewed.expires
            if not self.DEFERRED_HEARTBEATS:
                entry["persisted"] = renewed.expires

    @rule(seconds=st.sampled_from([1, 20, 45, 61, 95, 200]))
    def wait(self, seconds):
        self.clock.advance(seconds)

    @invariant()
    def same_live_sessions_and_within_limits(self):
        now = self.clock.now
        app = CATALOG.applications["tv"]
        running = self.run(self.service.running(app, "idp", "u"))
        assert {s.id for s in running.mine} == {s["id"] for s in self.model.live(now)}
        live = self.model.live(now)
        assert len(live) <= 3
        assert len([s for s in live if s["meta"]["contentType"] == "live"]) <= 1
        for channel in ("c1", "c2"):
            assert len([s for s in live if s["meta"].get("channel") == channel]) <= 2
        assert len({s["meta"]["deviceId"] for s in live if s["app"] == "mobile"}) <= 2

    @invariant()
    def same_live_sessions_per_application(self):
        """What the usage history and the dashboard read (Redis: its per-application indexes)."""
        now = self.clock.now
        expected: dict[str, int] = {}
        for s in self.model.live(now):
            expected[s["app"]] = expected.get(s["app"], 0) + 1
        assert self.run(self.store.live_by_application(now)) == expected
        assert self.run(self.store.count_live(now)) == sum(expected.values())


EngineMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestEngineMachine = EngineMachine.TestCase
