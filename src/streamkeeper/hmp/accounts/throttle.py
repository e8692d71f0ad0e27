"""Failed-login throttle: after too many failures in a window, refuse until the window ends.

Counted per user name and per client address, so neither guessing one account from many
addresses nor many accounts from one address gets far.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_SECONDS = 15 * 60
MAX_PER_USER = 5
MAX_PER_ADDRESS = 20


@dataclass(frozen=True, slots=True)
class Failures:
    count: int
    since: float


def limit_for(key: str) -> int:
    return MAX_PER_USER if key.startswith("user:") else MAX_PER_ADDRESS


def retry_after(key: str, failures: Failures | None, now: float) -> float | None:
    """Seconds until this key may try again, or None when it may try now."""
    if failures is None or now >= failures.since + WINDOW_SECONDS:
        return None
    if failures.count < limit_for(key):
        return None
    return failures.since + WINDOW_SECONDS - now


def after_failure(failures: Failures | None, now: float) -> Failures:
    if failures is None or now >= failures.since + WINDOW_SECONDS:
        return Failures(1, now)
    return Failures(failures.count + 1, failures.since)
