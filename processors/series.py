"""Windowed sums of event contributions, exact at window edges.

A :class:`PrefixSeries` keeps, per cell (e.g. one agent × team × queue × channel), the event
times in order and the running totals of a small vector of measures. The sum over any window
``(start, end]`` is two binary searches and one subtraction, so a scrape costs O(log n) per
cell whatever the window length, and an event on the very millisecond of an edge falls on the
correct side (contract §2: ``now − W < ts ≤ now``).

Per-minute buckets were the alternative; they cannot split the edge minute exactly without
keeping the individual events anyway, and an agent has only a few events a minute.

Running totals live in one flat typed array and the times in an ``array('q')``: a tuple of
boxed Python numbers per contribution cost five times the memory, and a list of boxed times
40 bytes a contribution instead of 8. Durations are integer milliseconds and counts are
integers, all exact in a double up to 2^53; a family whose every measure is an integer keeps
its totals in 4-byte integers instead (:data:`NARROW`), widened to 8-byte ones the day a
total outgrows them (a cell busy for weeks: totals run from the cell's first contribution).
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_right

Vector = tuple[float, ...]
Cell = tuple[str, ...]  # what a series sums over, e.g. (agent, team, queue, channel)

NARROW = "i"  # integer totals: 4 bytes a value while they fit, then WIDE
WIDE = "q"


def add(a: Vector, b: Vector) -> Vector:
    # map over operator.add is ~3x faster than a generator; this is a hot line
    return tuple(map(operator.add, a, b))


def sub(a: Vector, b: Vector) -> Vector:
    return tuple(map(operator.sub, a, b))


class PrefixSeries:
    """Running totals of a measure vector over time-ordered contributions."""

    __slots__ = ("_base", "_cum", "_ts", "_width", "cell")

    def __init__(self, width: int, cell: Cell, *, integral: bool = False) -> None:
        """``integral``: every contribution is a vector of ints (counts, milliseconds),
        kept in integer arrays; otherwise in doubles."""
        self._width = width
        self.cell = cell
        # totals of the contributions trimmed away
        self._base: Vector = (0,) * width if integral else (0.0,) * width
        self._ts = array("q")  # event times; unboxed, like the totals
        # row i (width values) = totals through contribution i
        self._cum = array(NARROW if integral else "d")

    def __len__(self) -> int:
        return len(self._ts)

    def _row(self, i: int) -> Vector:
        """Totals through contribution ``i``; ``-1`` means before the first one kept."""
        if i < 0:
            return self._base
        w = self._width
        return tuple(self._cum[i * w:(i + 1) * w])

    def add(self, ts: int, values: Vector) -> None:
        """Add a contribution at ``ts``; out-of-order times are inserted in place."""
        if not self._ts or ts >= self._ts[-1]:
            self._extend(add(self._row(len(self._ts) - 1), values))
            self._ts.append(ts)
            return
        # Late contribution: rare, so an O(n) rebuild of the totals after it is acceptable.
        index = bisect_right(self._ts, ts)
        w = self._width
        tail = self._cum[index * w:]
        del self._cum[index * w:]
        self._extend(add(self._row(index - 1), values))
        for at in range(0, len(tail), w):
            self._extend(add(tail[at:at + w], values))
        self._ts.insert(index, ts)

    def _extend(self, row: Vector) -> None:
        """Append one row of totals; integer totals in 8 bytes from the first that outgrows
        4 on."""
        try:
            self._cum.extend(row)
        except OverflowError:  # appended up to the value that did not fit: whole rows kept
            cum = self._cum
            self._cum = array(WIDE, cum[:len(cum) - len(cum) % self._width])
            self._cum.extend(row)

    def window(self, start: int, end: int) -> Vector | None:
        """Sum of the contributions with ``start < ts <= end``; ``None`` if there are none."""
        return self.windows((start,), end)[0]

    def windows(self, starts: tuple[int, ...], end: int) -> list[Vector | None]:
        """:meth:`window` for several starts and one end (a snapshot's 15m, 1h and 8h): the
        end is looked up once."""
        times = self._ts
        hi = bisect_right(times, end)
        if not hi:
            return [None] * len(starts)
        w, cum, minus = self._width, self._cum, operator.sub
        top = cum[(hi - 1) * w:hi * w]  # rows subtracted as array slices: no tuple between
        out: list[Vector | None] = []
        for start in starts:
            lo = bisect_right(times, start)
            if lo >= hi:
                out.append(None)
            else:
                out.append(tuple(map(minus, top, cum[(lo - 1) * w:lo * w] if lo else self._base)))
        return out

    def trim(self, before: int) -> None:
        """Forget contributions at or before ``before``; windows starting there stay exact."""
        cut = bisect_right(self._ts, before)
        if cut:
            self._base = self._row(cut - 1)
            del self._ts[:cut]
            del self._cum[:cut * self._width]
