"""Schedules and real-time adherence (contract §7.1), exact at window edges.

An agent's schedule is the set of its publications. A ``schedule.published`` covers its span
(earliest start to latest end); inside it, time no segment covers is ``offline``. Where
several publications cover an instant, the one with the latest ``ts`` wins (ties: the later
``event_id``), so the answer does not depend on the order they arrived in.

Adherence and absence over a window are sums over the pieces where both the schedule and the
agent's activity are constant (:func:`measure_windows`): scheduled time (not offline), time in
adherence, scheduled work, and absent time (scheduled work while logged out).
"""

from __future__ import annotations

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
    starts: tuple[int, ...]  # segments sorted by start
    ends: tuple[int, ...]
    activities: tuple[str, ...]
    team: str | None = None  # the team the publication names

    def activity_at(self, t: int) -> str:
        """What this publication plans for the instant just after ``t`` (``[t, t+1)``)."""
        i = bisect_right(self.starts, t) - 1
        return self.activities[i] if i >= 0 and t < self.ends[i] else OFFLINE


@dataclass
class AgentSchedule:
    publications: list[Publication] = field(default_factory=list)  # by (ts, event_id)

    def publish(self, publication: Publication) -> None:
        self.publications.append(publication)
        self.publications.sort(key=lambda p: (p.ts, p.event_id))

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
        self.publications = [p for p in self.publications if p.end > before]


def publication(ts: int, event_id: str, segments: Iterable[tuple[int, int, str]],
                team: str | None = None) -> Publication:
    ordered = sorted(segments)
    return Publication(ts, event_id, ordered[0][0], max(end for _, end, _ in ordered),
                       tuple(s for s, _, _ in ordered), tuple(e for _, e, _ in ordered),
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


def measure_windows(schedule: Iterable[tuple[int, int, str, str | None]],
                    activity: Iterable[tuple[int, int, int, str | None]],
                    starts: Sequence[int | None]) -> list[dict[str | None, Adherence]]:
    """Adherence sums per team of several windows ending together, from the pieces of the
    widest: each window counts the part of every piece after its own start (None: all of
    it). ``schedule``: ``(a, b, activity, team)`` from :meth:`AgentSchedule.pieces`;
    ``activity``: ``(a, b, category, team)`` covering the same span, from the agent's
    timeline. Time before the timeline knew the agent's team counts for the team the
    schedule names (None: unknown).

    Both piece lists are in time order without overlaps, so one merge walk pairs them: the
    nested loop it replaces was two thirds of a 2,000-agent snapshot, and one walk for the
    three windows a third of what was left (cProfile, BENCHMARKS.md)."""
    sums: list[dict[str | None, list[int]]] = [{} for _ in starts]
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
            is_adherent, absent = category in adherent, work and category == LOGGED_OUT
            for window, since in zip(sums, starts, strict=True):
                span = hi - (lo if since is None or since <= lo else since)
                if span <= 0:
                    continue
                acc = window.get(key)
                if acc is None:
                    acc = window[key] = [0, 0, 0, 0]
                acc[0] += span
                if is_adherent:
                    acc[1] += span
                if work:
                    acc[2] += span
                    if absent:
                        acc[3] += span
    return [{key: Adherence(*values) for key, values in window.items()} for window in sums]
