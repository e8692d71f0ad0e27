"""Schemathesis cases generated up front (Hypothesis is synchronous; the requests are sent after)."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode


def generate(operation, mode: GenerationMode, count: int) -> list:
    """Up to `count` cases of one operation, valid (POSITIVE) or not (NEGATIVE); no invalid cases
    for an operation that takes no input. The same cases at every run (derandomized), so that a
    failure is reproducible and the suite is not flaky."""
    cases = []

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate], derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def collect(case) -> None:
        cases.append(case)

    try:
        collect()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
    return cases
