"""``/api/v1/<scope>/<id>``: every KPI of one agent, team, queue or channel, in every window.

``/metrics`` carries each agent's per-agent budget only (a floor of 50,000 agents × every KPI
× 3 windows is millions of series); drill-down, coaching pages and the web views ask here for
the rest, one scope at a time. Keys are the metric names of contract §3 without the
``ccpulse_<scope>_`` prefix, as in contract §7.5's report JSON (``occupancy_ratio``,
``aht_seconds``, …); a KPI without a denominator in a window is absent, never null or NaN.
Example::

    GET /api/v1/agent/agent-00042
    {"scope": "agent", "id": "agent-00042", "at": "2026-11-30T10:00:00.000Z",
     "team": "team-003", "state": "handling",
     "windows": {"15m": {"occupancy_ratio": 0.91, …}, "1h": {…}, "8h": {…}},
     "interactions_per_hour_by_channel": {"1h": {"voice": 7.5}, …}}
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ccpulse.processors import catalogue
from ccpulse.processors.kpis import Kpis
from ccpulse.processors.snapshot import FloorNow, Snapshot, WindowKpis
from ccpulse.processors.timefmt import format_ms

if TYPE_CHECKING:
    from ccpulse.streams.pipeline import Pipeline

SCOPES = (catalogue.AGENT, catalogue.TEAM, catalogue.QUEUE, catalogue.CHANNEL)
IPH = catalogue.BY_KEY["interactions_per_hour"]


def named(scope: str, kpis: Kpis) -> dict[str, float]:
    """KPI keys as metric names (without ``ccpulse_<scope>_``); only catalogue KPIs."""
    out = {}
    for key, value in kpis.items():
        kpi = catalogue.BY_KEY.get(key)
        if kpi is not None and scope in kpi.scopes:
            out[kpi.metric] = value
    return out


def scope_kpis(window: WindowKpis, scope: str) -> Mapping[str, Kpis]:
    """One scope's KPIs of a window, by id (of agents: computed as they are read)."""
    return {catalogue.AGENT: window.agent, catalogue.TEAM: window.team,
            catalogue.QUEUE: window.queue, catalogue.CHANNEL: window.channel}[scope]


def scope_view(snap: Snapshot, scope: str, ident: str, live: FloorNow | None = None,
               ) -> dict[str, Any] | None:
    """The JSON document of one scope: its KPIs at ``snap.now`` (``at``), its states and
    waits at ``live.now`` where given, else the snapshot's (``states_at``); None for a scope
    or id unknown here."""
    if scope not in SCOPES:
        return None
    floor = live or snap.floor_now()
    windows = {name: named(scope, scope_kpis(window, scope).get(ident, {}))
               for name, window in snap.windows.items()}
    known = any(ident in scope_kpis(window, scope) for window in snap.windows.values())
    out: dict[str, Any] = {"scope": scope, "id": ident, "at": format_ms(snap.now),
                           "states_at": format_ms(floor.now)}
    if scope == catalogue.AGENT:
        now = floor.agents.get(ident)
        known = known or now is not None
        if now is not None:
            out |= {"team": now.team, "state": now.state}
    elif scope == catalogue.TEAM:
        states = floor.team_states.get(ident)
        known = known or states is not None
        if states is not None:
            out["agents_by_state"] = dict(states)
    elif scope == catalogue.QUEUE and ident in floor.waiting:
        known = True
        waiting, longest = floor.waiting[ident]
        out |= {"waiting_interactions": waiting, "longest_wait_seconds": longest}
    if not known:
        return None
    out["windows"] = windows
    if scope in (catalogue.AGENT, catalogue.TEAM):
        out[f"{IPH.metric}_by_channel"] = {
            name: {channel: value for (who, channel), value in
                   (window.agent_iph if scope == catalogue.AGENT else window.team_iph).items()
                   if who == ident}
            for name, window in snap.windows.items()}
    return out


SNAPSHOT_MAX_AGE_MS = 1000
# A snapshot is taken while its instant is within this many times what a new one takes to
# compute: a reader then computes one at most every four snapshot-times, a quarter of the
# process however often it is asked (BENCHMARKS.md, issue 19, thirteenth round).
SNAPSHOT_AGE_FACTOR = 4


def max_age_ms(new_ms: int, floor_ms: int = SNAPSHOT_MAX_AGE_MS) -> int:
    """How old what was computed may be and still be taken, when a new one takes ``new_ms``
    to compute: :data:`SNAPSHOT_AGE_FACTOR` times that, at least ``floor_ms`` (a snapshot
    here; a rendering of one in :mod:`ccpulse.scrape_ahead`)."""
    return max(floor_ms, SNAPSHOT_AGE_FACTOR * new_ms)


class RecentSnapshot:
    """The floor's snapshot for /metrics, /api/v1 and the pages, computed only when none is
    recent enough, by what a new one would cost.

    A wallboard polling twenty scopes a second and a Prometheus scrape cost one snapshot,
    not twenty-one; and the pipeline's own (``recent``: the alert evaluation's, finished or
    still being finished on its thread) is taken too (issue 19: one snapshot per instant
    shared by /metrics and the alerts). "Recent enough" is within :data:`SNAPSHOT_AGE_FACTOR`
    times what a new one takes to compute — the last one this computed, or the pipeline's
    last one (``cost_ms``) — and at least ``max_age_ms``: a reader's own snapshots then cost
    at most a quarter of the process. On the lease holder, whose alert evaluation computes
    the floor every 15 s, a scrape takes the evaluation's snapshot wherever the floor takes
    over about 5 s (15 s plus one snapshot-time, within four), where it computed a second
    floor beside each evaluation on one interpreter lock and fell further behind with each
    (twelfth round); the price is an answer up to four snapshot-times old where a new one
    arrives one snapshot-time old. Each answer is exact at its own instant
    (``Snapshot.now``, the API's ``at``)."""

    def __init__(self, compute: Callable[[int], Snapshot], clock_ms: Callable[[], int],
                 max_age_ms: int = SNAPSHOT_MAX_AGE_MS,
                 recent: Callable[[int, float], Snapshot | None] | None = None,
                 cost_ms: Callable[[], int] | None = None) -> None:
        self._compute = compute
        self._clock_ms = clock_ms
        self._max_age_ms = max_age_ms
        self._recent = recent
        self._cost_ms = cost_ms
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._took_ms = 0  # what the last snapshot computed here took, by this clock

    def new_ms(self) -> int:
        """What a new snapshot takes to compute, as far as this reader knows."""
        # the pipeline's own figure counts too: a reader that takes the evaluation's snapshots
        # computes few itself, and its first would otherwise compete with one under way
        return max(self._took_ms, self._cost_ms() if self._cost_ms is not None else 0)

    def max_age_ms(self) -> int:
        """How old a snapshot may be and still be taken."""
        return max_age_ms(self.new_ms(), self._max_age_ms)

    def _young(self, candidate: Snapshot | None, now: int, max_age: int) -> bool:
        return candidate is not None and 0 <= now - candidate.now < max_age

    def newest(self) -> Snapshot | None:
        """The newest floor snapshot at hand, of any age: this reader's last or the pipeline's
        last finished. Never computed nor waited for, nor this reader's lock taken (held
        while it computes one)."""
        mine = self._latest
        shared = self._recent(0, 0) if self._recent is not None else None
        if mine is None or (shared is not None and shared.now > mine.now):
            return shared
        return mine

    def young(self) -> Snapshot | None:
        """:meth:`newest` where it is recent enough to be taken, else None."""
        newest = self.newest()
        return newest if self._young(newest, self._clock_ms(), self.max_age_ms()) else None

    def __call__(self) -> Snapshot:
        with self._lock:
            now, max_age = self._clock_ms(), self.max_age_ms()
            if self._recent is not None:
                # waiting for one under way: up to twice what one takes, then compute anew
                wait_s = 2 * max(self._max_age_ms, self.new_ms()) / 1000
                shared = self._recent(now - max_age + 1, wait_s)
                if self._young(shared, now, max_age) and (
                        self._latest is None or shared.now >= self._latest.now):  # type: ignore[union-attr]
                    # not kept here: the pipeline keeps it, and a copy here kept a floor
                    # snapshot (~230 MB at 50,000 agents) alive after the pipeline's next
                    # had replaced it, until the next request (BENCHMARKS.md, issue 19,
                    # twentieth round)
                    self._latest = None
                    return shared  # type: ignore[return-value]
            if not self._young(self._latest, now, max_age):
                self._latest = self._compute(now)
                self._took_ms = max(0, self._clock_ms() - now)
            return self._latest  # type: ignore[return-value]


# The least floor-time the drill-downs' budget counts with (AgentSnapshots): before a floor
# snapshot was computed, and where the one computed was of a nearly empty floor (a worker's
# first, at its start: milliseconds), which made every drill-down but one a whole floor of
# ~10 s at 50,000 agents (BENCHMARKS.md, issue 19, eighteenth round).
MIN_FLOOR_MS = 1000


class AgentSnapshots:
    """The snapshot an answer about one agent needs: ``/api/v1/agent/ID`` (the agent), its
    page (it and its teammates, ``team=True``).

    A recent floor snapshot serves where there is one (a scrape's, the alert evaluation's).
    Where there is none, as on a worker that does not evaluate the alerts, the floor's took
    6-10 s at 50,000 agents for one agent's answer; the agent's own (or its team's) snapshot
    takes a tenth to a fifth of a second there and gives it the same numbers
    (``Pipeline.drill``). Many answers at once (every agent's page polled) would cost more
    than one floor shared by all, so they are computed so only while those of the last
    :data:`~ccpulse.api.SNAPSHOT_AGE_FACTOR` floor-times took less than one floor-time
    (at least :data:`MIN_FLOOR_MS`): at most a quarter of the process,
    as a reader's floor snapshots (:class:`RecentSnapshot`). Past that, the floor's is
    computed and serves every answer until it ages."""

    def __init__(self, floor: RecentSnapshot, drill: Callable[[int, str, bool], Snapshot],
                 clock_ms: Callable[[], int]) -> None:
        self._floor = floor
        self._drill = drill
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._spent: deque[tuple[int, int]] = deque()  # (began, took) of recent drill-downs

    def __call__(self, agent: str, team: bool = False) -> Snapshot:
        young = self._floor.young()
        if young is not None:
            return young
        began = self._clock_ms()
        with self._lock:
            budget_ms = max(self._floor.new_ms(), MIN_FLOOR_MS)
            while self._spent and self._spent[0][0] <= began - SNAPSHOT_AGE_FACTOR * budget_ms:
                self._spent.popleft()
            over = sum(took for _, took in self._spent) >= budget_ms
        if over:
            return self._floor()
        snap = self._drill(began, agent, team)
        with self._lock:
            self._spent.append((began, max(1, self._clock_ms() - began)))
        return snap


def readers(pipeline: Pipeline, clock_ms: Callable[[], int],
            cost_ms: Callable[[], int]) -> tuple[RecentSnapshot, AgentSnapshots]:
    """What /metrics, /api/v1 and the pages of a worker or the demo read: the floor's
    snapshot, shared with the alert evaluation's while it is within four times what a new one
    takes to compute (``cost_ms``, by ``clock_ms``); one agent's where no floor is recent."""
    floor = RecentSnapshot(pipeline.snapshot, clock_ms, recent=pipeline.recent_floor,
                           cost_ms=cost_ms)
    return floor, AgentSnapshots(floor, pipeline.drill, clock_ms)


def api(snapshots: Callable[[], Snapshot], agents: AgentSnapshots | None = None, *,
        floor_now: Callable[[], FloorNow] | None = None,
        ) -> Callable[[str, str], dict[str, Any] | None]:
    """The handler the HTTP server calls with (scope, id): an agent from ``agents`` where
    given, the floor's snapshot otherwise; a team's states and a queue's waits read at the
    request by ``floor_now`` where given, as the boards read them (an agent's answer keeps
    its snapshot's: reading the whole floor for one agent would cost ~0.2 s at 50,000)."""
    def answer(scope: str, ident: str) -> dict[str, Any] | None:
        if agents is not None and scope == catalogue.AGENT:
            return scope_view(agents(ident), scope, ident)
        snap = snapshots()  # first: the states are then never older than the KPIs
        live = floor_now() if floor_now is not None and scope in (
            catalogue.TEAM, catalogue.QUEUE) else None
        return scope_view(snap, scope, ident, live)
    return answer
