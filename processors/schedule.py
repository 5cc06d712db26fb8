"""Schedules and real-time adherence (contract §7.1), exact at window edges.

An agent's schedule is the set of its publications. A ``schedule.published`` covers its span
(earliest start to latest end); inside it, time no segment covers is ``offline``. Where
several publications cover an instant, the one with the latest ``ts`` wins (ties: the later
``event_id``), so the answer does not depend on the order they arrived in.

Adherence and absence over a window are sums over the pieces where both the schedule and the
agent's activity are constant (:class:`AdherenceLedger`, :func:`measure_windows`): scheduled
time (not offline), time in adherence, scheduled work, and absent time (scheduled work while
logged out).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

from ccpulse.processors.timeline import (
    ACW,
    AT_WORK,
    HANDLING,
    IDLE,
    LOGGED_OUT,
    NOT_READY_OTHER,
    NOT_READY_PRODUCTIVE,
    Timeline,
    next_stamp,
)

WORK, BREAK, LUNCH, TRAINING, MEETING, COACHING, OFFLINE = (
    "work", "break", "lunch", "training", "meeting", "coaching", "offline")
# In adherence (§7.1): the agent's activity categories that match each scheduled activity.
ADHERENT: dict[str, frozenset[int]] = {
    WORK: frozenset({HANDLING, ACW, IDLE}),
    BREAK: frozenset({NOT_READY_PRODUCTIVE, NOT_READY_OTHER, LOGGED_OUT}),
    LUNCH: frozenset({NOT_READY_PRODUCTIVE, NOT_READY_OTHER, LOGGED_OUT}),
    TRAINING: frozenset({NOT_READY_PRODUCTIVE}),
    MEETING: frozenset({NOT_READY_PRODUCTIVE}),
    COACHING: frozenset({NOT_READY_PRODUCTIVE}),
}


class Publication(NamedTuple):
    ts: int
    event_id: str
    start: int  # the span: earliest segment start …
    end: int  # … to latest segment end
    # segments sorted by start, their times unboxed: an agent holds a day or two of
    # publications, and a tuple of int objects was 40 bytes a time (BENCHMARKS.md, issue 19,
    # twenty-fifth round)
    starts: array[int]
    ends: array[int]
    activities: tuple[str, ...]
    team: str | None = None  # the team the publication names

    def activity_at(self, t: int) -> str:
        """What this publication plans for the instant just after ``t`` (``[t, t+1)``)."""
        i = bisect_right(self.starts, t) - 1
        return self.activities[i] if i >= 0 and t < self.ends[i] else OFFLINE


@dataclass
class AgentSchedule:
    publications: list[Publication] = field(default_factory=list)  # by (ts, event_id)
    stamp: int = field(default_factory=next_stamp)  # changes with the publications
    # (schedule stamp, presence stamp, the ledger): see ``ledger``
    _ledger: tuple[int, int, AdherenceLedger] | None = field(default=None, repr=False)

    def publish(self, publication: Publication) -> None:
        self.publications.append(publication)
        self.publications.sort(key=lambda p: (p.ts, p.event_id))
        self.stamp = next_stamp()

    def ledger(self, timeline: Timeline, since: int) -> AdherenceLedger:
        """This schedule against ``timeline``'s activity from ``since`` on: the one built
        before while neither has changed and it reaches back that far."""
        cached = self._ledger
        presence = timeline.presence.stamp
        if (cached is not None and cached[0] == self.stamp and cached[1] == presence
                and cached[2].since <= since):
            return cached[2]
        built = AdherenceLedger(self.pieces(since, FAR), timeline.presence_pieces(since, FAR),
                                since)
        self._ledger = (self.stamp, presence, built)
        return built

    def pieces(self, start: int, end: int) -> Iterator[tuple[int, int, str, str | None]]:
        """``(a, b, activity, team the publication names)`` over ``(start, end]`` wherever
        some publication covers it; time no publication covers is left out (no schedule:
        not scheduled time)."""
        covering = [p for p in self.publications if p.start < end and p.end > start]
        if not covering:
            return
        edges = {start, end}
        for p in covering:
            edges.update(t for t in (p.start, p.end, *p.starts, *p.ends) if start < t < end)
        ordered = sorted(edges)
        for a, b in pairwise(ordered):
            winner = None
            for p in covering:  # sorted oldest first: the last one covering [a, b) wins
                if p.start <= a and b <= p.end:
                    winner = p
            if winner is not None:
                yield a, b, winner.activity_at(a), winner.team

    def activity_at(self, t: int) -> str | None:
        """The activity scheduled at instant ``t``; None where no publication covers it."""
        for p in reversed(self.publications):
            if p.start <= t < p.end:
                return p.activity_at(t)
        return None

    def expire(self, before: int) -> None:
        kept = [p for p in self.publications if p.end > before]
        if len(kept) < len(self.publications):
            self.publications = kept
            self.stamp = next_stamp()


def publication(ts: int, event_id: str, segments: Iterable[tuple[int, int, str]],
                team: str | None = None) -> Publication:
    ordered = sorted(segments)
    return Publication(ts, event_id, ordered[0][0], max(end for _, end, _ in ordered),
                       array("q", [s for s, _, _ in ordered]),
                       array("q", [e for _, e, _ in ordered]),
                       tuple(a for _, _, a in ordered), team)


class Adherence(NamedTuple):
    """Millisecond sums over a window (the additive components of §7.1's KPIs)."""

    scheduled: int = 0  # scheduled time, offline excluded
    adherent: int = 0
    work: int = 0  # scheduled work
    absent: int = 0  # scheduled work while logged out


# The timeline's presence view merges runs of AT_WORK (``Timeline.presence_pieces``): right
# only while every set in ADHERENT holds all of them or none.
assert all(kept >= AT_WORK or not AT_WORK & kept for kept in ADHERENT.values())


class _Runs:
    """One team's adherence pieces in time order, with the sums before each: the sums over
    any span are two binary searches away, as a timeline's times are."""

    __slots__ = ("cums", "ends", "flags", "starts")

    def __init__(self) -> None:
        self.starts = array("q")
        self.ends = array("q")
        self.flags = array("b")  # ADHERENT_BIT | WORK_BIT | ABSENT_BIT
        self.cums = array("q")  # Adherence's four sums before each piece, flattened

    def add(self, a: int, b: int, flags: int) -> None:
        if self.starts:
            last = len(self.starts) - 1
            part = _sums(self.ends[last] - self.starts[last], self.flags[last])
            self.cums.extend(x + y for x, y in zip(self.cums[4 * last:], part, strict=True))
        else:
            self.cums.extend((0, 0, 0, 0))
        self.starts.append(a)
        self.ends.append(b)
        self.flags.append(flags)

    def upto(self, t: int) -> tuple[int, int, int, int]:
        """The sums over every piece's part before ``t``."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return 0, 0, 0, 0
        s, a, w, b = _sums(min(t, self.ends[i]) - self.starts[i], self.flags[i])
        c, j = self.cums, 4 * i  # spelled out: this runs four times per agent per snapshot
        return c[j] + s, c[j + 1] + a, c[j + 2] + w, c[j + 3] + b


def _sums(span: int, flags: int) -> tuple[int, int, int, int]:
    """What ``span`` ms of a piece with ``flags`` adds to Adherence's four sums."""
    return (span, span if flags & ADHERENT_BIT else 0, span if flags & WORK_BIT else 0,
            span if flags & ABSENT_BIT else 0)


ADHERENT_BIT, WORK_BIT, ABSENT_BIT = 1, 2, 4
FAR = 1 << 62  # past any event time: the open last activity goes on until a change


class AdherenceLedger:
    """An agent's adherence pieces — where both its schedule and its activity are constant —
    as running sums per team (:func:`measure_windows` sums any windows of them). Built once
    per version of the schedule and of the timeline's presence view (``AgentSchedule.ledger``):
    those change a few times a shift, while every scrape asks for three windows ending now.
    The open last activity is taken to go on for ever; a window ending at ``end`` counts it
    up to ``end``, as the open interval counts up to now."""

    __slots__ = ("by_team", "since")

    def __init__(self, schedule: Iterable[tuple[int, int, str, str | None]],
                 activity: Iterable[tuple[int, int, int, str | None]], since: int) -> None:
        """``schedule``: ``(a, b, activity, team)`` from :meth:`AgentSchedule.pieces`;
        ``activity``: ``(a, b, category, team)`` covering the same span, from the agent's
        timeline, both from ``since`` on. Time before the timeline knew the agent's team
        counts for the team the schedule names (None: unknown). Both lists are in time order
        without overlaps, so one merge walk pairs them."""
        self.since = since
        self.by_team: dict[str | None, _Runs] = {}
        actual = list(activity)
        first = 0
        for a, b, planned, planned_team in schedule:
            if planned == OFFLINE:
                continue
            adherent, work = ADHERENT[planned], planned == WORK
            while first < len(actual) and actual[first][1] <= a:
                first += 1  # pieces ending before this one: no later schedule piece needs them
            k = first
            while k < len(actual) and actual[k][0] < b:
                x, y, category, team = actual[k]
                lo, hi = max(a, x), min(b, y)
                k += 1
                if hi <= lo:
                    continue
                key = planned_team if team is None else team
                flags = ((ADHERENT_BIT if category in adherent else 0)
                         | (WORK_BIT if work else 0)
                         | (ABSENT_BIT if work and category == LOGGED_OUT else 0))
                runs = self.by_team.get(key)
                if runs is None:
                    runs = self.by_team[key] = _Runs()
                runs.add(lo, hi, flags)


def measure_windows(ledger: AdherenceLedger, starts: Sequence[int], end: int,
                    ) -> list[dict[str | None, Adherence]]:
    """Adherence sums per team of windows ``(start, end]`` for each of ``starts`` (none
    before ``ledger.since``): a team appears in a window where it had scheduled time."""
    out: list[dict[str | None, Adherence]] = [{} for _ in starts]
    for team, runs in ledger.by_team.items():
        s, a, w, b = runs.upto(end)
        for window, start in zip(out, starts, strict=True):
            s0, a0, w0, b0 = runs.upto(start)
            if s > s0:
                window[team] = Adherence(s - s0, a - a0, w - w0, b - b0)
    return out
