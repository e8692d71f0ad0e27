"""The admission engine: given a viewer's live sessions, may one more start, and at whose cost?

Pure functions over plain data; the stores make them atomic, the APIs render the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .policy import Application, Policy, PolicyCatalog, Rule
from .session import StreamSession, started_order


@dataclass(slots=True)  # not frozen: a frozen dataclass pays object.__setattr__ per field, per denial
class Violation:
    """A rule that the new session would break, and the sessions standing in its way."""

    policy: Policy
    rule: Rule
    scope: dict[str, str]
    current: int
    conflicts: tuple[StreamSession, ...]


@dataclass(slots=True)
class Decision:
    missing: tuple[str, ...] = ()
    denials: list[Violation] = field(default_factory=list)
    evictions: list[tuple[StreamSession, Violation]] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.missing and not self.denials


def missing_metadata(catalog: PolicyCatalog, app: Application, metadata: Mapping[str, str]) -> tuple[str, ...]:
    return tuple([a for a in catalog.required_metadata(app.id) if not metadata.get(a)])


def _oldest_first(live: Sequence[StreamSession]) -> Sequence[StreamSession]:
    """`live` in the order the streams started (ties by id). Stores mostly keep a viewer's
    records in that order already: checked in one pass, copied and sorted only when it is not
    (the engine never changes the sequence it is given)."""
    last = None
    for s in live:
        started = s.started
        if last is not None and started <= last:  # out of order, or a tie the ids must break
            return sorted(live, key=started_order)
        last = started
    return live


def _in_scope(scope: tuple[str, ...], metadata: Mapping[str, str], theirs: Mapping[str, str]) -> bool:
    for a in scope:
        if theirs.get(a) != metadata[a]:
            return False
    return True


def _distinct_units(distinct: str, metadata: Mapping[str, str],
                    peers: Sequence[StreamSession]) -> tuple[int, list[list[StreamSession]]]:
    """Distinct values counted with the new session's included, and the peers grouped by the
    other values, oldest first."""
    groups: dict[str, list[StreamSession]] = {}
    for p in peers:
        groups.setdefault(p.metadata.get(distinct, ""), []).append(p)
    value = metadata.get(distinct, "")
    current = len(groups) + (0 if value in groups else 1)
    return current, [g for v, g in groups.items() if v != value]


def evaluate(
    catalog: PolicyCatalog,
    app: Application,
    metadata: Mapping[str, str],
    live: Sequence[StreamSession],
) -> Decision:
    """Decide whether a new session of `app` with `metadata` may start next to `live`.

    FIFO rules are settled first (their evictions may relieve other rules), then every
    LIFO rule must hold. A FIFO rule that cannot be satisfied even by evicting every
    peer (threshold 0) denies like a LIFO rule.
    """
    get = metadata.get
    for attribute in catalog.required_metadata(app.id):
        if not get(attribute):
            return Decision(missing=missing_metadata(catalog, app, metadata))
    denials: list[Violation] = []
    evictions: list[tuple[StreamSession, Violation]] = []
    standing = _oldest_first(live)  # the sessions not evicted (yet)
    for planned in catalog.plan(app.id):
        condition = planned.condition
        clause = planned.clause
        if clause is not None:  # Condition.matches of one clause, inlined (as below)
            attribute, values, negate = clause.attribute, clause.values, clause.negate
            if (get(attribute) in values) == negate:
                continue
        elif condition is not None and not condition.matches(metadata):
            continue
        apps = planned.applications
        only = planned.only
        value = metadata[only] if only is not None else None
        scope = planned.scope
        peers = []
        for s in standing:
            theirs = s.metadata
            if only is not None:
                if theirs.get(only) != value:
                    continue
            elif scope and not _in_scope(scope, metadata, theirs):
                continue
            if s.app_id not in apps:
                continue
            if clause is not None:
                if (theirs.get(attribute) in values) == negate:
                    continue
            elif condition is not None and not condition.matches(theirs):
                continue
            peers.append(s)
        distinct = planned.distinct
        threshold = planned.threshold
        if distinct is None:  # streams are counted: each peer is a unit of its own
            current = len(peers) + 1
            if current <= threshold:
                continue
            units = None
        else:
            current, units = _distinct_units(distinct, metadata, peers)
            if current <= threshold:
                continue
        violation = Violation(planned.policy, planned.rule, {only: metadata[only]} if only is not None else
                              {a: metadata[a] for a in planned.scope}, current, tuple(peers))
        excess = current - threshold
        if planned.fifo and excess <= (len(peers) if units is None else len(units)):
            doomed = peers[:excess] if units is None else [s for unit in units[:excess] for s in unit]
            for s in doomed:
                evictions.append((s, violation))
            gone = {s.id for s in doomed}
            standing = [s for s in standing if s.id not in gone]
        else:
            denials.append(violation)
    if denials:
        return Decision((), denials, [])
    return Decision((), denials, evictions)


def survivors(catalog: PolicyCatalog, app_of: Callable[[StreamSession], Application | None],
              live: Sequence[StreamSession]) -> set[str]:
    """The ids of `live` that a policy would keep if the viewer's streams started again, in the
    order they started, under `catalog`: what remains once a policy has been tightened.

    Each stream is judged as a new one beside those kept so far: a LIFO refusal drops the
    stream itself, a FIFO rule drops the oldest it would evict. A stream whose application is
    gone (`app_of` gives None) is kept here: that is the catalog's business, not the policy's.
    Missing metadata do not count against a stream that was admitted once."""
    kept: list[StreamSession] = []
    for s in _oldest_first(live):
        app = app_of(s)
        if app is None:
            kept.append(s)
            continue
        decision = evaluate(catalog, app, s.metadata, kept)
        if decision.denials:
            continue
        if decision.evictions:
            gone = {e.id for e, _ in decision.evictions}
            kept = [k for k in kept if k.id not in gone]
        kept.append(s)
    return {s.id for s in kept}
