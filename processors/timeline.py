"""An agent's time history as segments of constant activity, with running totals.

Each segment starts at ``starts[i]`` and lasts until the next one starts; the last one is the
open interval, which counts up to whatever instant is asked (contract §2: "an open call counts
up to now"). Every :data:`STRIDE`-th segment keeps the running totals at its start, so the
time spent in each activity up to any instant ``t`` is one binary search and at most
``STRIDE`` − 1 whole segments away, and a window ``(start, end]`` is
``total(end) − total(start)``: split exactly at both edges, never approximated by buckets.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from itertools import count

from ccpulse.processors.series import NARROW, WIDE, Vector, add, extended, sub

# Activity categories, by the contract's precedence. Indexes into the time vector.
HANDLING = 0
ACW = 1
IDLE = 2
NOT_READY_PRODUCTIVE = 3
NOT_READY_OTHER = 4
LOGGED_OUT = -1
# Slot 5 of the time vector is Σ weight × ms over active interactions (the numerator of load).
LOAD = 5
# Slot 6: handling time on channels with more than one slot (chat, email, …): whether the
# agent's work was "mostly multi-slot" (contract §7.4), for which occupancy says little.
MULTI_SLOT = 6
TIME_WIDTH = 7
ZERO_TIME: Vector = (0,) * TIME_WIDTH
# A segment's running totals are kept in two arrays: the integer milliseconds (the five
# activities' and the multi-slot handling's) in 4-byte integers while they fit, the load's
# (Σ weight × ms, not an integer) in a double.
MS_WIDTH = TIME_WIDTH - 1
MS_MULTI = MS_WIDTH - 1  # MULTI_SLOT's place among them (the activities' are their own)
ZERO_MS = (0,) * MS_WIDTH
# Running totals are kept at every STRIDE-th segment only: a row at every segment was 28 of a
# segment's 46 bytes (4.2 KiB an agent at steady state, BENCHMARKS.md, issue 19,
# twenty-fifth round), and a total adds the whole segments since its row, 3.5 on average,
# in the order the rows were summed in (so loads, which are not integers, come out the same).
STRIDE = 8

# Activities no schedule tells apart (contract §7.1: every scheduled activity is adhered to by
# all of them or by none): the presence view below keeps runs of them as one piece.
AT_WORK = frozenset({HANDLING, ACW, IDLE})


class Stamps:
    """Versions of what adherence reads (a presence view, a schedule): a new one at each
    change, unique across objects, so a result cached for one version is never read for
    another — not even one of an agent forgotten and tracked again, nor one of an engine
    loaded from a checkpoint (:meth:`beyond`)."""

    __slots__ = ("_counter",)

    def __init__(self) -> None:
        self._counter = count(1)

    def __call__(self) -> int:
        return next(self._counter)

    def beyond(self, stamp: int) -> None:
        """Issue stamps above ``stamp`` from now on. An engine unpickled in another process
        holds the stamps of the process that pickled it: a new stamp equal to one of them
        passed a cached adherence ledger off as current (a worker restarted from its
        checkpoint reported an agent's adherence as 0 where it was 0.83)."""
        self._counter = count(max(next(self._counter), stamp + 1))


next_stamp = Stamps()

STATE_NAMES = {
    HANDLING: "handling",
    ACW: "acw",
    IDLE: "idle",
    NOT_READY_PRODUCTIVE: "not_ready",
    NOT_READY_OTHER: "not_ready",
    LOGGED_OUT: "logged_out",
}


def accrued(category: int, weight: float, duration: int, multi: bool = False) -> Vector:
    """The time vector of ``duration`` ms spent in one segment; ``multi``: handling on
    multi-slot channels only."""
    if category == LOGGED_OUT or duration <= 0:
        return ZERO_TIME
    out = [0, 0, 0, 0, 0, weight * duration, duration if multi else 0]
    out[category] = duration
    return tuple(out)


# What a segment is, besides its times: (category, load weight, team, not_ready reason's label
# ("" in other activities), handling on multi-slot channels only).
Kind = tuple[int, float, str, str, bool]


class Kinds:
    """Every :data:`Kind` of segment the timelines sharing it have marked, each kept once: a
    segment keeps its kind's number (2 bytes) instead of a category, a weight, a team and a
    reason of its own (26 bytes: 3.4 KiB an agent at steady state, BENCHMARKS.md, issue 19,
    twenty-fourth round). A floor has about ten kinds a team (320 for the simulator's 33);
    the table is never pruned, so it holds those of teams gone too."""

    __slots__ = ("_numbers", "kinds")

    def __init__(self) -> None:
        self.kinds: list[Kind] = []
        self._numbers: dict[Kind, int] = {}

    def number(self, kind: Kind) -> int:
        number = self._numbers.get(kind)
        if number is None:
            number = self._numbers[kind] = len(self.kinds)
            self.kinds.append(kind)
        return number


class Timeline:
    """Append-only segments; :meth:`truncate` undoes appends when a late event rewinds time."""

    __slots__ = ("cums", "dropped", "kinds", "loads", "presence", "since", "starts",
                 "team_change_index", "what")
    _stride = STRIDE  # a class attribute: tests compare it with a row at every segment

    def __init__(self, kinds: Kinds | None = None) -> None:
        """``kinds``: the table shared with the floor's other timelines (its own if None)."""
        # Typed arrays, not lists: boxed numbers cost several times the memory, and an agent
        # keeps a segment for every change of activity over the longest window.
        self.starts = array("q")
        # running totals at the start of every STRIDE-th segment (the first kept one's too:
        # trims cut at rows): MS_WIDTH integers a row (the time vector without its LOAD slot;
        # widened to 8 bytes the day one outgrows 4: totals run from the first segment, and
        # an agent logged in for weeks would), and the LOAD slot's
        self.cums = array(NARROW)
        self.loads = array("d")
        # each segment's kind, by its number in ``kinds`` (4 bytes each from the 65,536th on)
        self.kinds = Kinds() if kinds is None else kinds
        self.what = array("H")
        # how long before its start the activity the segment belongs to began (0 when with
        # it): time in state (contract §7.2) is one lookup, exact after a trim or a rewind;
        # 4 bytes hold 24.8 days of an activity, 8 from the first longer one
        self.since = array(NARROW)
        # Indexes below are absolute (they count trimmed segments too) so that snapshots taken
        # for rewinding stay valid across a trim; ``dropped`` is a multiple of STRIDE.
        self.dropped = 0
        # Index of the newest segment whose team differs from its predecessor's: windows that
        # start after it belong to one team, the common case that needs no per-segment split.
        self.team_change_index = 0
        self.presence = Presence()

    @property
    def count(self) -> int:
        """Segments ever appended and not truncated, trimmed ones included."""
        return self.dropped + len(self.starts)

    def mark(self, t: int, category: int, weight: float, team: str, *, reason: str = "",
             multi: bool = False) -> None:
        """From ``t`` on, the agent is in ``category`` with load ``weight`` in ``team``;
        ``reason`` is the not_ready reason's label ("" in other activities); ``multi``: the
        interactions handled are all on multi-slot channels."""
        since = t
        starts = self.starts
        if starts:
            last = len(starts) - 1
            last_cat, last_weight, last_team, last_reason, last_multi = self._kind(last)
            same_state = reason == last_reason and (
                last_cat == category or STATE_NAMES[last_cat] == STATE_NAMES[category])
            if (same_state and last_cat == category and last_weight == weight
                    and last_team == team and last_multi == multi):
                return
            if same_state:
                since = starts[last] - self.since[last]  # the same activity goes on
            if last_team != team:
                self.team_change_index = self.count
            else:
                team = last_team  # one string object per team, not one per event
        # the presence view changes at a few segments a shift: checked here, inline, since
        # this runs for every segment of every agent
        presence, kind = self.presence, HANDLING if category in AT_WORK else category
        if not presence.cats or presence.cats[-1] != kind or presence.teams[-1] != team:
            presence.add(self.dropped + len(starts), t, kind, team)
        number = self.kinds.number((category, weight, team, reason, multi))
        try:
            self.what.append(number)
        except OverflowError:
            self.what = array("I", self.what)
            self.what.append(number)
        if not len(starts) % self._stride:  # a row of running totals at its start
            ms, load = self._totals_to(len(starts) - 1, t) if starts else (ZERO_MS, 0.0)
            self.cums = extended(self.cums, MS_WIDTH, ms)  # 8 bytes a total once one outgrows 4
            self.loads.append(load)
        starts.append(t)
        try:
            self.since.append(t - since)
        except OverflowError:
            self.since = array(WIDE, self.since)
            self.since.append(t - since)

    def _kind(self, i: int) -> Kind:
        return self.kinds.kinds[self.what[i]]

    def truncate(self, count: int, team_change_index: int) -> None:
        """Drop segments appended after a snapshot was taken (see ``AgentMachine``)."""
        keep = count - self.dropped
        for column in self._columns():
            del column[keep:]
        rows = -(-keep // self._stride)  # those of the segments kept
        del self.cums[rows * MS_WIDTH:]
        del self.loads[rows:]
        self.team_change_index = team_change_index
        # none left (the rewind reached back to the first kept segment): no runs either,
        # though the run that segment was part of began before it
        self.presence.truncate(count if keep > 0 else 0)

    def _columns(self) -> tuple:
        return self.starts, self.what, self.since

    def _totals_to(self, i: int, t: int) -> tuple[list[int], float]:
        """The running totals at ``t``, within segment ``i`` or at its end: the row at or
        before it, plus each segment since, whole, and segment ``i`` up to ``t`` — added to
        its one activity's slot (and the multi-slot one), as :func:`accrued` would give them.
        """
        row = i // self._stride
        at = row * MS_WIDTH
        ms = list(self.cums[at:at + MS_WIDTH])
        load = self.loads[row]
        kinds, what, starts = self.kinds.kinds, self.what, self.starts
        for j in range(row * self._stride, i + 1):
            category, weight, _, _, multi = kinds[what[j]]
            duration = (starts[j + 1] if j < i else t) - starts[j]
            if category != LOGGED_OUT and duration > 0:
                load += weight * duration
                ms[category] += duration
                if multi:
                    ms[MS_MULTI] += duration
        return ms, load

    def _segment_at(self, t: int) -> int:
        return bisect_right(self.starts, t) - 1

    def total(self, t: int) -> Vector:
        """Time spent in each activity from the first segment up to instant ``t``."""
        i = self._segment_at(t)
        if i < 0:
            return ZERO_TIME
        (handling, acw, idle, productive, other, multi), load = self._totals_to(i, t)
        return handling, acw, idle, productive, other, load, multi

    def window(self, start: int, end: int) -> list[tuple[str, Vector]]:
        """Time per team within ``(start, end]``; teams with no time are left out."""
        return self.windows((start,), end)[0]

    def windows(self, starts: tuple[int, ...], end: int) -> list[list[tuple[str, Vector]]]:
        """:meth:`window` for several starts and one end: the end is looked up once."""
        last = self._segment_at(end)
        if last < 0:
            return [[] for _ in starts]
        at_end: Vector | None = None
        out: list[list[tuple[str, Vector]]] = []
        for start in starts:
            first = max(self._segment_at(start), 0)
            if first + self.dropped >= self.team_change_index:  # one team all along
                if at_end is None:
                    at_end = self.total(end)
                out.append([(self._kind(last)[2], sub(at_end, self.total(start)))])
                continue
            per_team: dict[str, Vector] = {}
            for i in range(first, last + 1):
                seg_start = max(self.starts[i], start)
                seg_end = min(self.starts[i + 1], end) if i + 1 < len(self.starts) else end
                category, weight, team, _, multi = self._kind(i)
                piece = accrued(category, weight, seg_end - seg_start, multi)
                per_team[team] = add(per_team[team], piece) if team in per_team else piece
            out.append(list(per_team.items()))
        return out

    def pieces(self, start: int, end: int) -> list[tuple[int, int, int, str | None]]:
        """``(a, b, category, team)`` covering ``(start, end]`` segment by segment; before
        the first segment the agent was logged out, of a team we did not know (None)."""
        kinds = self.kinds.kinds
        return _pieces(self.starts, lambda a, b: [kinds[number][0:3:2]
                                                  for number in self.what[a:b]], start, end)

    def presence_pieces(self, start: int, end: int) -> list[tuple[int, int, int, str | None]]:
        """:meth:`pieces`, with each run of segments of one team and one category — handling,
        ACW and idle counting as one (:data:`AT_WORK`) — as one piece: what adherence needs,
        a dozen pieces for an 8-hour shift instead of a few hundred calls and wrap-ups."""
        view = self.presence
        return _pieces(view.starts, lambda a, b: zip(view.cats[a:b], view.teams[a:b],
                                                     strict=True), start, end)

    def category_at(self, t: int) -> int:
        i = self._segment_at(t)
        return self._kind(i)[0] if i >= 0 else LOGGED_OUT

    def state_at(self, t: int) -> tuple[int, str, int | None, str | None]:
        """(category, not_ready reason label, when that activity began, team) at instant
        ``t``; the start and team are None before the first segment (logged out since we
        know the agent). One lookup for all four: a worker reads them for every agent at
        every scrape."""
        i = self._segment_at(t)
        if i < 0:
            return LOGGED_OUT, "", None, None
        category, _, team, reason, _ = self._kind(i)
        return category, reason, self.starts[i] - self.since[i], team

    def team_at(self, t: int) -> str | None:
        i = self._segment_at(t)
        return self._kind(i)[2] if i >= 0 else None

    def trim(self, before: int) -> None:
        """Forget segments that ended at or before ``before``, down to a row of totals (up to
        STRIDE − 1 more are kept); later windows stay exact."""
        cut = self._segment_at(before) // self._stride
        if cut > 0:
            for column in self._columns():
                del column[:cut * self._stride]
            del self.cums[:cut * MS_WIDTH]
            del self.loads[:cut]
            self.dropped += cut * self._stride
            self.presence.trim(self.dropped)


class Presence:
    """A timeline's runs of one team and one category, handling, ACW and idle as one: kept
    as segments are marked, so that adherence walks a dozen pieces per agent, not every
    segment of 8 hours (it was the largest part of a snapshot: BENCHMARKS.md)."""

    __slots__ = ("cats", "first", "stamp", "starts", "teams")

    def __init__(self) -> None:
        self.starts = array("q")
        self.cats = array("b")  # HANDLING stands for every category of AT_WORK
        self.teams: list[str] = []
        self.first = array("q")  # the absolute index of the timeline segment starting a run
        self.stamp = next_stamp()  # changes with the runs (the open last one may grow)

    def add(self, index: int, t: int, kind: int, team: str) -> None:
        """A run starts at ``t`` with timeline segment ``index``: of ``kind`` (HANDLING for
        any of AT_WORK) in ``team``, unlike the run before it."""
        self.starts.append(t)
        self.cats.append(kind)
        self.teams.append(team)
        self.first.append(index)
        self.stamp = next_stamp()

    def _columns(self) -> tuple:
        return self.starts, self.cats, self.teams, self.first

    def truncate(self, count: int) -> None:
        """The timeline kept its first ``count`` segments: drop the runs starting after."""
        keep = bisect_left(self.first, count)
        if keep < len(self.first):
            for column in self._columns():
                del column[keep:]
            self.stamp = next_stamp()

    def trim(self, dropped: int) -> None:
        """The timeline forgot its segments before index ``dropped``: forget the runs that
        ended before it (the run it is part of stays, starting earlier: no window asks)."""
        cut = bisect_right(self.first, dropped) - 1
        if cut > 0:
            for column in self._columns():
                del column[:cut]
            self.stamp = next_stamp()


def _pieces(starts: array, what: Callable[[int, int], Iterable[tuple[int, str]]], start: int,
            end: int) -> list[tuple[int, int, int, str | None]]:
    """``what(a, b)``: the (category, team) of segments ``a`` to ``b`` (excluded)."""
    out: list[tuple[int, int, int, str | None]] = []
    first = bisect_right(starts, start) - 1
    if first < 0:
        head = min(end, starts[0]) if starts else end
        if head > start:
            out.append((start, head, LOGGED_OUT, None))
        first = 0
    last = bisect_left(starts, end)  # segments from ``first`` to before ``last`` start < end
    if first >= last:
        return out
    # one pass over slices (no per-segment index lookups): edges clipped to the window
    bounds = list(starts[first + 1:last])
    ends = [*bounds, end]
    begins = [max(starts[first], start), *bounds]
    for a, b, (category, team) in zip(begins, ends, what(first, last), strict=True):
        if b > a:
            out.append((a, b, category, team))
    return out
