"""The admission engine: given a viewer's live sessions, may one more start, and at whose cost?

Pure functions over plain data; the stores make them atomic, the APIs render the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from .policy import Application, PlannedRule, Policy, PolicyCatalog, Rule
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


def _peers(
    planned: PlannedRule,
    metadata: Mapping[str, str],
    sessions: Iterable[StreamSession],
    removed: set[str],
) -> list[StreamSession]:
    """Live sessions that count against a rule together with a session carrying `metadata`
    (in the order of `sessions`: oldest first)."""
    rule = planned.rule
    apps = planned.applications
    condition = rule.condition
    scope = rule.scope
    # The usual scope is one attribute: compared directly, without a loop per session.
    only, value = (scope[0], metadata.get(scope[0])) if len(scope) == 1 else (None, None)
    wanted = [(a, metadata.get(a)) for a in scope] if len(scope) > 1 else None
    peers = []
    for s in sessions:
        if s.app_id not in apps or (removed and s.id in removed):
            continue
        theirs = s.metadata
        if condition is not None and not condition.matches(theirs):
            continue
        if only is not None:
            if theirs.get(only) != value:
                continue
        elif wanted is not None and any(theirs.get(a) != v for a, v in wanted):
            continue
        peers.append(s)
    return peers


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
    removed: set[str] = set()
    ordered = sorted(live, key=started_order) if len(live) > 1 else live
    for planned in catalog.plan(app.id):
        rule = planned.rule
        condition = rule.condition
        if condition is not None and not condition.matches(metadata):
            continue
        peers = _peers(planned, metadata, ordered, removed) if ordered else []
        distinct = rule.distinct
        threshold = rule.threshold
        if distinct is None:  # streams are counted: each peer is a unit of its own
            current = len(peers) + 1
            if current <= threshold:
                continue
            units = None
        else:
            current, units = _distinct_units(distinct, metadata, peers)
            if current <= threshold:
                continue
        scope = rule.scope
        violation = Violation(planned.policy, rule, {scope[0]: metadata[scope[0]]} if len(scope) == 1 else
                              {a: metadata[a] for a in scope}, current, tuple(peers))
        excess = current - threshold
        if rule.conflict == "FIFO" and excess <= (len(peers) if units is None else len(units)):
            doomed = peers[:excess] if units is None else [s for unit in units[:excess] for s in unit]
            for s in doomed:
                removed.add(s.id)
                evictions.append((s, violation))
        else:
            denials.append(violation)
    if denials:
        return Decision((), denials, [])
    return Decision((), denials, evictions)
