"""The agent activity state machine of contract §2, applied in event-time order.

Activity by precedence: handling (an interaction answered, not ended) › acw (ended, not
wrapped) › idle (available) › not_ready › logged_out. Each change appends a segment to the
agent's :class:`~processors.timeline.Timeline`.

Events of one agent reach us over two topics, so they can arrive slightly out of order. The
machine keeps a snapshot before each event of the last ``lateness`` of event time; a late event
rewinds to the snapshot before its time, is applied, and the younger events are re-applied,
so the time history is the same as if everything had arrived in order.
"""

from __future__ import annotations

from typing import NamedTuple

from ccpulse.processors.timeline import (
    ACW,
    HANDLING,
    IDLE,
    LOGGED_OUT,
    NOT_READY_OTHER,
    NOT_READY_PRODUCTIVE,
    Kinds,
    Timeline,
)

UNKNOWN_TEAM = "unknown"

# Transition kinds: the part of an event that the state machine cares about.
LOGIN = "login"
AVAILABLE = "available"
NOT_READY = "not_ready"
LOGOUT = "logout"
ANSWERED = "answered"
ENDED = "ended"
WRAPPED = "wrapped"
TEAM = "team"
# Order of transitions at the same millisecond, whatever order they arrive in: presence first,
# then a call closes before the next one opens (a wrap and the next answer often share a
# millisecond, and the idle gap between them is 0, not absent), logout last. Without it, the
# same events in another arrival order gave other numbers (found by the reliability suite).
RANK = {TEAM: 0, LOGIN: 1, AVAILABLE: 2, NOT_READY: 2, ENDED: 3, WRAPPED: 4, ANSWERED: 5,
        LOGOUT: 6}


class Transition(NamedTuple):
    kind: str
    team: str | None = None
    interaction_id: str = ""
    productive: bool = False  # not_ready: is the reason a productive one?
    reason: str = ""  # login / not_ready: the reason's label (configured reasons, else other)
    weight: float = 0.0  # answered/ended: the slot the interaction takes, 1/capacity


# The interactions an agent is on: (interaction id, HANDLING or ACW, 1/capacity of its
# channel) in the order they began. A tuple, replaced, never mutated, so that rewind snapshots
# share it: a dict of one was 240 bytes, its tuple 112, and an agent's snapshots of the last
# minutes hold a few (BENCHMARKS.md, issue 19, twenty-fifth round).
Active = tuple[tuple[str, int, float], ...]
NO_CUT: frozenset[str] = frozenset()  # one empty set for every agent: each its own was 216 bytes


def _put(active: Active, iid: str, phase: int, weight: float) -> Active:
    """``active`` with ``iid`` in ``phase``: in its place if there, else last."""
    for i, entry in enumerate(active):
        if entry[0] == iid:
            return (*active[:i], (iid, phase, weight), *active[i + 1:])
    return (*active, (iid, phase, weight))


def _weight_of(active: Active, iid: str) -> float | None:
    for key, _, weight in active:
        if key == iid:
            return weight
    return None


class _State(NamedTuple):
    """Everything :meth:`AgentMachine._apply` reads or writes, to restore on a rewind."""

    team: str
    logged_in: bool
    presence: int
    reason: str
    active: Active
    cut: frozenset[str]
    free_since: int | None
    segments: int
    team_change_index: int


class AgentMachine:
    """One agent's presence, active interactions and time history."""

    __slots__ = (
        "active",
        "capacity",
        "cut",
        "free_since",
        "gap_corrections",
        "last_rank",
        "last_ts",
        "logged_in",
        "presence",
        "reason",
        "recent",
        "team",
        "timeline",
    )

    def __init__(self, team: str = UNKNOWN_TEAM, kinds: Kinds | None = None) -> None:
        """``kinds``: what its timeline's segments are, shared with the floor's others."""
        self.team = team
        self.logged_in = False
        self.presence = NOT_READY_OTHER
        self.reason = ""  # the label of the not_ready reason while presence is not ready
        self.active: Active = ()
        # interactions that a logout stopped counting; their later ended/wrapped add no time
        self.cut = NO_CUT
        # when the agent's last interaction was wrapped (idle-between-interactions signal)
        self.free_since: int | None = None
        # per-channel slots from the latest login; None means the configured defaults
        self.capacity: dict[str, int] | None = None
        self.timeline = Timeline(kinds)
        self.last_ts: int | None = None
        self.last_rank = 0
        # (ts, transition, state before it, idle gap it produced) of the last lateness_ms
        # A list, not a deque: it holds a few transitions, and an empty deque is a 624-byte
        # block (0.6 KiB an agent, BENCHMARKS.md, issue 19, twenty-fourth round)
        self.recent: list[tuple[int, Transition, _State, int | None]] = []
        # answers whose idle gap changed when an older event was slotted in before them:
        # (interaction id, gap counted, gap now); the engine corrects its counts
        self.gap_corrections: list[tuple[str, int | None, int | None]] = []

    # -- derived state ---------------------------------------------------------------------
    def now(self) -> tuple[int, float, bool]:
        """(activity category, load weight, multi-slot) from one pass over the active
        interactions. Multi-slot: handling, and every interaction handled is on a channel
        with more than one slot (contract §7.4: where occupancy says little)."""
        if not self.logged_in:
            return LOGGED_OUT, 0.0, False
        if not self.active:
            return self.presence, 0.0, False
        handling, multi, total = False, True, 0.0
        for _, phase, weight in self.active:
            total += weight
            if phase == HANDLING:
                handling = True
                if weight >= 1:
                    multi = False
        return (HANDLING, total, multi) if handling else (ACW, total, False)

    def category(self) -> int:
        return self.now()[0]

    def weight(self) -> float:
        return self.now()[1]

    # -- applying --------------------------------------------------------------------------
    def apply(self, ts: int, transition: Transition, lateness_ms: int) -> int | None:
        """Apply a transition at ``ts``, rewinding if it is older than the newest one.

        Returns the idle gap (ms) before an ``answered`` that started from no active
        interaction, else ``None``. The caller has checked that ``ts`` is not too late.
        """
        rank = RANK[transition.kind]
        if self.last_ts is None or (ts, rank) >= (self.last_ts, self.last_rank):
            gap = self._apply_recorded(ts, transition)
            self.last_ts, self.last_rank = ts, rank
            recent, horizon = self.recent, ts - lateness_ms
            if recent[0][0] < horizon:  # inline: it runs for every transition
                old = 1  # the newest, just appended, is never older than ``horizon``
                while recent[old][0] < horizon:
                    old += 1
                del recent[:old]
            return gap
        younger: list[tuple[int, Transition, _State, int | None]] = []
        while self.recent and (self.recent[-1][0], RANK[self.recent[-1][1].kind]) > (ts, rank):
            younger.append(self.recent.pop())
        younger.reverse()
        if younger:
            self._restore(younger[0][2])
        gap = self._apply_recorded(ts, transition)
        for when, later, _, counted in younger:
            now = self._apply_recorded(when, later)
            if later.kind == ANSWERED and now != counted:
                # e.g. a wrap that arrives after the next answer: that answer's idle gap
                # exists only now (found by the reliability suite's reordering test)
                self.gap_corrections.append((later.interaction_id, counted, now))
        return gap

    def _apply_recorded(self, ts: int, transition: Transition) -> int | None:
        state = self._snapshot()
        gap = self._apply(ts, transition)
        self.recent.append((ts, transition, state, gap))
        return gap

    def _snapshot(self) -> _State:
        # tuple.__new__, not _State(...): a NamedTuple's own __new__ is Python code, and this
        # runs for every transition (BENCHMARKS.md, issue 19, twenty-second round)
        return tuple.__new__(_State, (
            self.team,
            self.logged_in,
            self.presence,
            self.reason,
            self.active,  # never mutated in place, so sharing it is safe
            self.cut,
            self.free_since,
            self.timeline.count,
            self.timeline.team_change_index,
        ))

    def _restore(self, state: _State) -> None:
        self.team = state.team
        self.logged_in = state.logged_in
        self.presence = state.presence
        self.reason = state.reason
        self.active = state.active
        self.cut = state.cut
        self.free_since = state.free_since
        self.timeline.truncate(state.segments, state.team_change_index)

    def _apply(self, ts: int, tr: Transition) -> int | None:
        if tr.team is not None and tr.team != self.team:
            self.team = tr.team  # only when it changes: each event brings its own equal copy
        gap = None
        kind = tr.kind
        if kind == LOGIN:
            self._login(NOT_READY_OTHER, tr.reason)
        elif kind == AVAILABLE:
            self._login(IDLE)
        elif kind == NOT_READY:
            self._login(NOT_READY_PRODUCTIVE if tr.productive else NOT_READY_OTHER, tr.reason)
        elif kind == LOGOUT:
            if self.active:
                self.cut = self.cut | {iid for iid, _, _ in self.active}
                self.active = ()
            self.logged_in = False
            self.free_since = None
        elif kind == ANSWERED:
            if not self.logged_in:
                # An agent seen working without a login (a worker started mid-shift) is
                # taken as logged in and available from this moment.
                self._login(IDLE)
            if not self.active and self.free_since is not None:
                gap = ts - self.free_since
            self.active = _put(self.active, tr.interaction_id, HANDLING, tr.weight)
        elif kind == ENDED:
            iid = tr.interaction_id
            weight = _weight_of(self.active, iid)
            if weight is not None:
                self.active = _put(self.active, iid, ACW, weight)
            elif iid not in self.cut:
                # Answered before our history began: after-call work is still real work.
                if not self.logged_in:
                    self._login(IDLE)
                self.active = _put(self.active, iid, ACW, tr.weight)
        elif kind == WRAPPED:
            iid = tr.interaction_id
            if _weight_of(self.active, iid) is not None:
                self.active = tuple(entry for entry in self.active if entry[0] != iid)
                if not self.active:
                    self.free_since = ts
            if iid in self.cut:
                self.cut = (self.cut - {iid}) or NO_CUT
        category, weight, multi = self.now()
        reason = self.reason if category in (NOT_READY_PRODUCTIVE, NOT_READY_OTHER) else ""
        self.timeline.mark(ts, category, weight, self.team, reason=reason, multi=multi)
        return gap

    def _login(self, presence: int, reason: str = "") -> None:
        """Logged in (if not yet) with this presence; ``reason`` labels a not_ready one.
        An ``agent.login`` while logged in only changes presence, as before."""
        if not self.logged_in:
            self.logged_in = True
            self.free_since = None
        self.presence = presence
        self.reason = reason

    def trim(self, before: int) -> None:
        self.timeline.trim(before)
