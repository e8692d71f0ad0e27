"""Tenants, applications, policies and rules: the static configuration the engine reads."""

from __future__ import annotations

import re
from sys import intern
from dataclasses import dataclass, field
from typing import Literal, Mapping

ConflictMode = Literal["LIFO", "FIFO"]
CONFLICT_MODES: tuple[str, ...] = ("LIFO", "FIFO")


class PolicyError(ValueError):
    """A policy, rule or condition that cannot be used as written."""


@dataclass(frozen=True, slots=True)
class Clause:
    """One comparison of a metadata attribute: `attr = v`, `attr != v` or `attr in (a, b)`."""

    attribute: str
    negate: bool
    values: frozenset[str]

    def __post_init__(self) -> None:  # interned, as the metadata they are compared with (cm)
        object.__setattr__(self, "attribute", intern(self.attribute))
        object.__setattr__(self, "values", frozenset(map(intern, self.values)))

    def matches(self, metadata: Mapping[str, str]) -> bool:
        value = metadata.get(self.attribute)
        hit = value is not None and value in self.values
        return not hit if self.negate else hit

    def render(self) -> str:
        if len(self.values) == 1:
            (only,) = self.values
            return f"{self.attribute} {'!=' if self.negate else '='} {only}"
        joined = ", ".join(sorted(self.values))
        return f"{self.attribute} {'not in' if self.negate else 'in'} ({joined})"


_NAME = r"[A-Za-z_][A-Za-z0-9_.:-]*"
_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s,()\"']+)"
_CLAUSE = re.compile(
    rf"^\s*(?P<attr>{_NAME})\s*(?:(?P<op>!=|=)\s*(?P<value>{_VALUE})"
    rf"|(?P<neg>not\s+)?in\s*\((?P<list>[^)]*)\))\s*$",
    re.IGNORECASE,
)


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


@dataclass(frozen=True, slots=True)
class Condition:
    """A conjunction of clauses over session metadata, e.g. ``contentType = live and hba != true``."""

    clauses: tuple[Clause, ...]

    @classmethod
    def parse(cls, text: str) -> "Condition":
        parts = re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE)
        clauses = []
        for part in parts:
            m = _CLAUSE.match(part)
            if not m:
                raise PolicyError(f"cannot read condition clause {part!r}")
            if m.group("op"):
                values = frozenset([_unquote(m.group("value"))])
                negate = m.group("op") == "!="
            else:
                items = [_unquote(v) for v in m.group("list").split(",") if v.strip()]
                if not items:
                    raise PolicyError(f"empty value list in {part!r}")
                values = frozenset(items)
                negate = bool(m.group("neg"))
            clauses.append(Clause(m.group("attr"), negate, values))
        return cls(tuple(clauses))

    def matches(self, metadata: Mapping[str, str]) -> bool:
        for clause in self.clauses:  # Clause.matches inlined: this runs per session per rule
            value = metadata.get(clause.attribute)
            if (value is not None and value in clause.values) == clause.negate:
                return False
        return True

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(c.attribute for c in self.clauses)

    def render(self) -> str:
        return " and ".join(c.render() for c in self.clauses)


@dataclass(frozen=True, slots=True)
class Rule:
    """At most `threshold` streams (or distinct values of `distinct`) per scope value."""

    name: str
    threshold: int
    condition: Condition | None = None
    scope: tuple[str, ...] = ()
    distinct: str | None = None
    conflict: ConflictMode = "LIFO"

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise PolicyError(f"rule {self.name!r}: threshold must be >= 0")
        if self.conflict not in CONFLICT_MODES:
            raise PolicyError(f"rule {self.name!r}: conflict must be LIFO or FIFO")
        if not self.name:
            raise PolicyError("a rule needs a name")
        object.__setattr__(self, "scope", tuple(map(intern, self.scope)))
        if self.distinct is not None:
            object.__setattr__(self, "distinct", intern(self.distinct))

    @property
    def attributes(self) -> tuple[str, ...]:
        """Metadata a session must carry for this rule to be evaluated."""
        attrs = list(self.condition.attributes if self.condition else ())
        attrs.extend(self.scope)
        if self.distinct:
            attrs.append(self.distinct)
        return tuple(dict.fromkeys(attrs))

    @property
    def counted(self) -> str:
        """What the rule counts, as named in advice: an attribute, or `sessionId` for streams."""
        return self.distinct or "sessionId"


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    tenant: str
    name: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Application:
    id: str
    tenant: str
    name: str
    policies: tuple[str, ...] = ()
    heartbeat_interval: int = 60
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str


@dataclass(slots=True)
class PolicyCatalog:
    """An immutable snapshot of every tenant, application and policy, indexed for the hot path."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    applications: dict[str, Application] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    _required: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _app_policies: dict[str, tuple[Policy, ...]] = field(default_factory=dict)
    _plans: dict[str, tuple["PlannedRule", ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for app in self.applications.values():
            if app.tenant not in self.tenants:
                raise PolicyError(f"application {app.id!r}: unknown tenant {app.tenant!r}")
            resolved = []
            for pid in app.policies:
                policy = self.policies.get(pid)
                if policy is None:
                    raise PolicyError(f"application {app.id!r}: unknown policy {pid!r}")
                if policy.tenant != app.tenant:
                    raise PolicyError(f"application {app.id!r}: policy {pid!r} belongs to another tenant")
                resolved.append(policy)
            self._app_policies[app.id] = tuple(resolved)
            attrs: dict[str, None] = {}
            for policy in resolved:
                for rule in policy.rules:
                    attrs.update(dict.fromkeys(rule.attributes))
            self._required[app.id] = tuple(attrs)
        for policy in self.policies.values():
            if policy.tenant not in self.tenants:
                raise PolicyError(f"policy {policy.id!r}: unknown tenant {policy.tenant!r}")
        sharing: dict[str, frozenset[str]] = {
            pid: frozenset(a.id for a in self.applications.values() if pid in a.policies) for pid in self.policies}
        for app_id, resolved in self._app_policies.items():
            planned = [PlannedRule(p, r, sharing[p.id]) for p in resolved for r in p.rules]
            # FIFO rules first (their evictions may relieve the others), else in written order.
            planned.sort(key=lambda pr: pr.rule.conflict != "FIFO")
            self._plans[app_id] = tuple(planned)

    def plan(self, app_id: str) -> tuple["PlannedRule", ...]:
        """Every rule that applies to an application's streams, in the order the engine settles them."""
        return self._plans.get(app_id, ())

    def required_metadata(self, app_id: str) -> tuple[str, ...]:
        return self._required.get(app_id, ())


@dataclass(frozen=True, slots=True)
class PlannedRule:
    """A rule of a policy as the engine walks it, with the applications whose streams it counts.
    The rule's parts the engine reads for every start are copied flat (`only`: the attribute of
    a one-attribute scope, the usual case), so the walk reads one object instead of three."""

    policy: Policy
    rule: Rule
    applications: frozenset[str]
    condition: Condition | None = field(init=False)
    scope: tuple[str, ...] = field(init=False)
    only: str | None = field(init=False)
    distinct: str | None = field(init=False)
    threshold: int = field(init=False)
    fifo: bool = field(init=False)
    # A one-clause condition (the usual kind), inlined by the engine: its clause, else None.
    clause: Clause | None = field(init=False)

    def __post_init__(self) -> None:
        rule = self.rule
        for name, value in (("condition", rule.condition), ("scope", rule.scope), ("distinct", rule.distinct),
                            ("only", rule.scope[0] if len(rule.scope) == 1 else None),
                            ("threshold", rule.threshold), ("fifo", rule.conflict == "FIFO"),
                            ("clause", rule.condition.clauses[0] if rule.condition and
                             len(rule.condition.clauses) == 1 else None)):
            object.__setattr__(self, name, value)

