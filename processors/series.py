"""Windowed sums of event contributions, exact at window edges.

A :class:`PrefixSeries` keeps, per cell (e.g. one agent × team × queue × channel), the event
times in order and the running totals of a small vector of measures. The sum over any window
``(start, end]`` is two binary searches and one subtraction, so a scrape costs O(log n) per
cell whatever the window length, and an event on the very millisecond of an edge falls on the
correct side (contract §2: ``now − W < ts ≤ now``).

Per-minute buckets were the alternative; they cannot split the edge minute exactly without
keeping the individual events anyway, and an agent has only a few events a minute.

Running totals live in one flat typed array and the times in another: a tuple of boxed
Python numbers per contribution cost five times the memory, and a list of boxed times 40
bytes a contribution instead of 8. Durations are integer milliseconds and counts are
integers, so the totals are kept in 4-byte integers (:data:`NARROW`), counts in 2-byte ones
(:data:`COUNTS`) where a series keeps them apart (a family of counts alone, a wrap's), each
widened the day a total outgrows them (a queue busy for hours, a cell busy for weeks: totals
run from the cell's first contribution); the times as 4-byte differences from the first,
widened alike. A family with some measures that are not integers keeps those in doubles of
their own (:class:`SplitSeries`). The totals of the contributions trimmed away are the first
row of each array: a tuple of int objects each was ~0.6 KiB an agent (BENCHMARKS.md, issue
19, twenty-fifth round).
"""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_right
from collections.abc import Sequence

Vector = tuple[float, ...]
Cell = tuple[str, ...]  # what a series sums over, e.g. (agent, team, queue, channel)

COUNTS = "h"  # totals of counts alone: 2 bytes a value while they fit, then NARROW
NARROW = "i"  # integer totals: 4 bytes a value while they fit, then WIDE
WIDE = "q"
_WIDER = {COUNTS: NARROW, NARROW: WIDE}


def widened(totals: array, width: int) -> array:
    """Rows of ``width`` integer totals in the next wider integers (2 → 4 → 8 bytes). An
    ``extend`` that overflowed has appended its row up to the value that did not fit: only
    whole rows are kept."""
    return array(_WIDER[totals.typecode], totals[:len(totals) - len(totals) % width])


def extended(totals: array, width: int, row: Sequence[float]) -> array:
    """``totals`` with ``row`` appended: the array itself, or a copy in integers as much
    wider as the row needs (2 → 4 → 8 bytes), to keep from then on."""
    while True:
        try:
            totals.extend(row)
            return totals
        except OverflowError:
            totals = widened(totals, width)


def add(a: Vector, b: Vector) -> Vector:
    # map over operator.add is ~3x faster than a generator; this is a hot line
    return tuple(map(operator.add, a, b))


def sub(a: Vector, b: Vector) -> Vector:
    return tuple(map(operator.sub, a, b))


class PrefixSeries:
    """Running totals of a vector of integer measures (counts, milliseconds) over
    time-ordered contributions."""

    __slots__ = ("_cum", "_origin", "_ts", "_width", "cell")

    def __init__(self, width: int, cell: Cell, code: str = NARROW) -> None:
        """``code``: the integers the totals start in (:data:`COUNTS` for counts alone)."""
        self._width = width
        self.cell = cell
        # event times, unboxed like the totals, from the first one's (``_origin``): 4 bytes
        # hold ±24.8 days of them, 8 from the first that is further (a cell busy for weeks)
        self._ts = array(NARROW)
        self._origin = 0
        # row 0 (width values) = totals of the contributions trimmed away; row i + 1 = totals
        # through contribution i
        self._cum = array(code, (0,) * width)

    def __len__(self) -> int:
        return len(self._ts)

    def _row(self, i: int) -> Vector:
        """Totals through contribution ``i``; ``-1`` means before the first one kept."""
        w = self._width
        return tuple(self._cum[(i + 1) * w:(i + 2) * w])

    def add(self, ts: int, values: Vector) -> None:
        """Add a contribution at ``ts``; out-of-order times are inserted in place."""
        times = self._ts
        if not times:
            self._origin = ts
        at = ts - self._origin
        if not times or at >= times[-1]:
            self._extend(add(self._row(len(times) - 1), values))
            try:
                times.append(at)
            except OverflowError:  # widened by the general case
                self._keep_time(len(times), at)
            return
        # Late contribution: rare, so an O(n) rebuild of the totals after it is acceptable.
        index = bisect_right(self._ts, at)
        tail = [self._row(i) for i in range(index, len(self._ts))]
        self._truncate(index)
        self._extend(add(self._row(index - 1), values))
        for row in tail:
            self._extend(add(row, values))
        self._keep_time(index, at)

    def _keep_time(self, index: int, at: int) -> None:
        """Keep contribution ``index``'s time, ``at`` from the origin."""
        try:
            self._ts.insert(index, at)
        except OverflowError:
            self._ts = array(WIDE, self._ts)
            self._ts.insert(index, at)

    def _extend(self, row: Vector) -> None:
        """Append one row of totals."""
        self._cum = extended(self._cum, self._width, row)

    def _truncate(self, index: int) -> None:
        """Drop the rows of totals from contribution ``index`` on."""
        del self._cum[(index + 1) * self._width:]

    def window(self, start: int, end: int) -> Vector | None:
        """Sum of the contributions with ``start < ts <= end``; ``None`` if there are none."""
        return self.windows((start,), end)[0]

    def windows(self, starts: tuple[int, ...], end: int) -> list[Vector | None]:
        """:meth:`window` for several starts and one end (a snapshot's 15m, 1h and 8h): the
        end is looked up once."""
        times, origin = self._ts, self._origin
        hi = bisect_right(times, end - origin)
        if not hi:
            return [None] * len(starts)
        w, cum, minus = self._width, self._cum, operator.sub
        top = cum[hi * w:(hi + 1) * w]  # rows subtracted as array slices: no tuple between
        out: list[Vector | None] = []
        for start in starts:
            lo = bisect_right(times, start - origin)
            if lo >= hi:
                out.append(None)
            else:
                out.append(tuple(map(minus, top, cum[lo * w:(lo + 1) * w])))
        return out

    def trim(self, before: int) -> None:
        """Forget contributions at or before ``before``; windows starting there stay exact."""
        cut = bisect_right(self._ts, before - self._origin)
        if cut:
            self._drop(cut)
            del self._ts[:cut]

    def _drop(self, cut: int) -> None:
        """Forget the first ``cut`` contributions' totals: the last of them is the new first
        row, the totals trimmed away."""
        del self._cum[:cut * self._width]


class SplitSeries(PrefixSeries):
    """A :class:`PrefixSeries` of counts, then integers, then measures that are not integers
    (a wrap's 11 counts, 5 milliseconds and its revenue, sentiment and QA score): the totals
    of each kind in an array of their own, the counts' in 2-byte integers, the others' as a
    PrefixSeries keeps them, and the last kind's in doubles (all 19 in doubles were 3.5 KiB
    an agent more, BENCHMARKS.md, issue 19, twenty-fourth round; the counts in 4 bytes with
    the milliseconds ~1.1 KiB more, twenty-sixth round)."""

    __slots__ = ("_count_width", "_counts", "_double_width", "_doubles")

    def __init__(self, width: int, cell: Cell, doubles: int, counts: int) -> None:
        super().__init__(width - counts - doubles, cell)  # the other integer measures
        self._count_width = counts
        self._counts = array(COUNTS, (0,) * counts)  # rows as the integers' are
        self._double_width = doubles
        self._doubles = array("d", (0.0,) * doubles)

    def add(self, ts: int, values: Vector) -> None:
        times = self._ts
        if times and ts - self._origin < times[-1]:
            super().add(ts, values)  # late: rebuilt row by row (_row, _extend)
            return
        if not times:
            self._origin = ts
        at = ts - self._origin
        # in order, each part added in its own array: joining the rows and splitting them
        # again took an add from 2.2 to 3.2 µs (map stops at the shorter: the counts')
        n, c, w, d, plus = (len(times), self._count_width, self._width, self._double_width,
                            operator.add)
        counts = self._counts
        top = counts[n * c:(n + 1) * c]
        try:
            counts.extend(map(plus, top, values))
        except OverflowError:  # the rows before this one, widened, then this one again
            self._counts = extended(widened(counts, c), c, tuple(map(plus, top, values)))
        cum, rest = self._cum, values[c:]
        top = cum[n * w:(n + 1) * w]
        try:
            cum.extend(map(plus, top, rest))
        except OverflowError:
            self._cum = extended(widened(cum, w), w, tuple(map(plus, top, rest)))
        doubles = self._doubles
        doubles.extend(map(plus, doubles[n * d:(n + 1) * d], rest[w:]))
        try:
            times.append(at)
        except OverflowError:  # widened by the general case
            self._keep_time(n, at)

    def _row(self, i: int) -> Vector:
        c, d = self._count_width, self._double_width
        return (*self._counts[(i + 1) * c:(i + 2) * c], *super()._row(i),
                *self._doubles[(i + 1) * d:(i + 2) * d])

    def _extend(self, row: Vector) -> None:
        c, w = self._count_width, self._width
        self._counts = extended(self._counts, c, row[:c])
        super()._extend(row[c:c + w])
        self._doubles.extend(row[c + w:])

    def _truncate(self, index: int) -> None:
        super()._truncate(index)
        del self._counts[(index + 1) * self._count_width:]
        del self._doubles[(index + 1) * self._double_width:]

    def windows(self, starts: tuple[int, ...], end: int) -> list[Vector | None]:
        # the three parts' rows found once: as separate series, a window took 1.5 times as
        # long. The search is PrefixSeries.windows' own, written out: one helper for both
        # cost 0.5 µs a call (2.3 → 2.9 µs a plain series' three windows, twenty-fifth round)
        times, origin = self._ts, self._origin
        hi = bisect_right(times, end - origin)
        if not hi:
            return [None] * len(starts)
        c, counts, w, cum, d, doubles, minus = (
            self._count_width, self._counts, self._width, self._cum, self._double_width,
            self._doubles, operator.sub)
        top_counts = counts[hi * c:(hi + 1) * c]
        top, top_doubles = cum[hi * w:(hi + 1) * w], doubles[hi * d:(hi + 1) * d]
        out: list[Vector | None] = []
        for start in starts:
            lo = bisect_right(times, start - origin)
            if lo >= hi:
                out.append(None)
            else:
                out.append((*map(minus, top_counts, counts[lo * c:(lo + 1) * c]),
                            *map(minus, top, cum[lo * w:(lo + 1) * w]),
                            *map(minus, top_doubles, doubles[lo * d:(lo + 1) * d])))
        return out

    def _drop(self, cut: int) -> None:
        super()._drop(cut)
        del self._counts[:cut * self._count_width]
        del self._doubles[:cut * self._double_width]


def series_for(width: int, cell: Cell, doubles: int, counts: int) -> PrefixSeries:
    """A series of ``width`` measures: ``counts`` counts first, the last ``doubles`` not
    integers. Counts are kept apart, in 2-byte totals, in a series of counts alone and
    beside doubles; with other integers alone, with them (a third array in each window of an
    answer's, which has one millisecond measure among four counts, cost more time than its
    0.4 KiB an agent: BENCHMARKS.md, issue 19, twenty-sixth round)."""
    if doubles:
        return SplitSeries(width, cell, doubles, counts)
    return PrefixSeries(width, cell, COUNTS if counts == width else NARROW)
