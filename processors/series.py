"""Windowed sums of event contributions, exact at window edges.

A :class:`PrefixSeries` keeps, per cell (e.g. one agent × team × queue × channel), the event
times in order and the running totals of a small vector of measures. The sum over any window
``(start, end]`` is two binary searches and one subtraction, so a scrape costs O(log n) per
cell whatever the window length, and an event on the very millisecond of an edge falls on the
correct side (contract §2: ``now − W < ts ≤ now``).

Per-minute buckets were the alternative; they cannot split the edge minute exactly without
keeping the individual events anyway, and an agent has only a few events a minute.
"""

from __future__ import annotations

import operator
from bisect import bisect_right, insort_right

Vector = tuple[float, ...]


def add(a: Vector, b: Vector) -> Vector:
    # map over operator.add is ~3x faster than a generator; this is the hottest line
    return tuple(map(operator.add, a, b))


def sub(a: Vector, b: Vector) -> Vector:
    return tuple(map(operator.sub, a, b))


class PrefixSeries:
    """Running totals of a measure vector over time-ordered contributions."""

    __slots__ = ("_base", "_cum", "_ts", "_zero")

    def __init__(self, width: int) -> None:
        self._zero: Vector = (0,) * width
        self._base: Vector = self._zero  # totals of the contributions already trimmed away
        self._ts: list[int] = []
        self._cum: list[Vector] = []

    def __len__(self) -> int:
        return len(self._ts)

    def add(self, ts: int, values: Vector) -> None:
        """Add a contribution at ``ts``; out-of-order times are inserted in place."""
        if not self._ts or ts >= self._ts[-1]:
            prev = self._cum[-1] if self._cum else self._base
            self._ts.append(ts)
            self._cum.append(add(prev, values))
            return
        # Late contribution: rare, so an O(n) rebuild of the totals after it is acceptable.
        index = bisect_right(self._ts, ts)
        insort_right(self._ts, ts)
        prev = self._cum[index - 1] if index else self._base
        self._cum.insert(index, add(prev, values))
        for i in range(index + 1, len(self._cum)):
            self._cum[i] = add(self._cum[i], values)

    def window(self, start: int, end: int) -> Vector | None:
        """Sum of the contributions with ``start < ts <= end``; ``None`` if there are none."""
        lo = bisect_right(self._ts, start)
        hi = bisect_right(self._ts, end)
        if hi == lo:
            return None
        return sub(self._cum[hi - 1], self._cum[lo - 1] if lo else self._base)

    def trim(self, before: int) -> None:
        """Forget contributions at or before ``before``; windows starting there stay exact."""
        cut = bisect_right(self._ts, before)
        if cut:
            self._base = self._cum[cut - 1]
            del self._ts[:cut]
            del self._cum[:cut]
