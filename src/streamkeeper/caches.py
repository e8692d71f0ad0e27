"""Bounded memo tables kept as plain dicts (insertion order is age)."""

from __future__ import annotations

from itertools import islice


def make_room(table: dict, most: int) -> None:
    """Forget the oldest sixteenth of `table` once it holds `most` entries. A few at a time: emptying
    it all would make every caller recompute at once, and freeing many entries in one go stalls
    the event loop for milliseconds."""
    if len(table) >= most:
        for key in list(islice(table, max(1, most // 16))):
            del table[key]
