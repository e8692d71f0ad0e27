"""Memo tables forget their oldest entries a few at a time, never all at once."""

from streamkeeper.caches import make_room


def test_a_full_table_forgets_its_oldest_sixteenth_and_keeps_the_rest_in_order():
    table = {n: str(n) for n in range(160)}
    make_room(table, 160)
    assert list(table) == list(range(10, 160))
    make_room(table, 160)  # below the bound: nothing is forgotten
    assert len(table) == 150


def test_a_tiny_bound_still_makes_room():
    table = {"a": 1, "b": 2}
    make_room(table, 2)
    assert table == {"b": 2}
