"""The memory bench's walk: every object once, shared ones in the first part reaching them."""

from __future__ import annotations

import sys
from array import array
from collections import deque

from bench.footprint import deep_size


class Slotted:
    __slots__ = ("items", "name")

    def __init__(self, name: str, items: list[object]) -> None:
        self.name, self.items = name, items


def test_an_object_reached_twice_is_counted_once_in_the_first_walk() -> None:
    shared = "an interaction id held by its record and its customer's history"
    times = array("q", range(100))
    first = Slotted("first", [shared, (1_000_001, shared), times])
    seen: set[int] = set()
    got = deep_size(first, seen)
    pair = (1_000_001, shared)
    want = (sys.getsizeof(first) + sys.getsizeof("first") + sys.getsizeof(first.items)
            + sys.getsizeof(shared) + sys.getsizeof(pair) + sys.getsizeof(1_000_001)
            + sys.getsizeof(times))
    assert got == want
    assert sys.getsizeof(times) > 100 * 8  # an array's size includes its buffer
    second = {"history": [shared]}
    assert deep_size(second, seen) == sys.getsizeof(second) + sys.getsizeof("history") + \
        sys.getsizeof(second["history"])  # the id: counted with the first part already


def test_a_deques_items_are_counted() -> None:
    """Its items were not, which hid an agent's recent transitions from the walk (~1.8 KiB
    an agent, BENCHMARKS.md, issue 19, twenty-fourth round)."""
    item = (1_000_001, "a transition")
    assert deep_size(deque([item]), set()) == (
        sys.getsizeof(deque([item])) + sys.getsizeof(item) + sys.getsizeof(1_000_001)
        + sys.getsizeof("a transition"))
