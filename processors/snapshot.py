"""Every KPI of every scope and window at one instant, computed from the engine's state.

Team, queue and channel values are ratios of sums over their cells (contract §2), never means
of agent ratios: the snapshot first sums the measure vectors per scope, then applies the
formulas of :mod:`processors.kpis` once per scope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TypeVar

from ccpulse.processors.agent import UNKNOWN_TEAM, AgentMachine
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.kpis import (
    Kpis,
    answer_kpis,
    interactions_per_hour,
    logged_in_ms,
    queue_kpis,
    survey_kpis,
    time_kpis,
    wrap_kpis,
)
from ccpulse.processors.measures import WIDTH, Wrap
from ccpulse.processors.schedule import (
    ADHERENT,
    OFFLINE,
    WORK,
    Adherence,
    measure_windows,
)
from ccpulse.processors.scorecard import WINDOW as SCORECARD_WINDOW
from ccpulse.processors.series import Vector
from ccpulse.processors.staffing import (
    QueueChannel,
    QueueStaffing,
    StaffingReading,
    read_staffing,
    staffing,
)
from ccpulse.processors.timeline import STATE_NAMES, ZERO_TIME

Sums = dict[str, Vector]
AgentFilter = Callable[[str], bool]  # which agents a snapshot is of
# offered between two chunks of a reading (:func:`read`): a replica that has held its
# engine long enough lets go of it there for a moment, so that the events that arrived
# meanwhile are applied and a scrape reads its states (it decides when: no clock here)
Pause = Callable[[], None]
# agents, cells or schedules read between two offers: a few ms of a 50,000-agent floor's
# reading, which held the engine for 3–5 s at once before (BENCHMARKS.md, issue 19,
# twenty-seventh round)
CHUNK = 500

K = TypeVar("K")
V = TypeVar("V")


def _chunked(items: Mapping[K, V], pause: Pause | None) -> Iterator[tuple[K, V]]:
    """``items``' pairs; with ``pause``, from a copy taken now, calling ``pause()`` after
    every :data:`CHUNK` of them: the engine may change during a pause (a new agent, a cell
    expired), and each pair is read whole between two."""
    if pause is None:
        yield from items.items()
        return
    pairs = list(items.items())
    for start in range(0, len(pairs), CHUNK):
        if start:
            pause()
        yield from pairs[start:start + CHUNK]


class AgentKpis(Mapping[str, Kpis]):
    """The agents' KPIs of one window, each agent's computed when it is first read.

    A floor's snapshot has every agent in every window, and what reads it does not read them
    all: the alert rules read every agent's 1h and 8h, a worker's /metrics its own agents'
    budget (1h and 8h by default), the scorecards 8h, /api one agent. Every agent's 15m KPIs
    were computed for nobody: a snapshot and the evaluation that reads it now take 0.92 of
    the time, and a snapshot kept after both 0.83 of the memory (BENCHMARKS.md, issue 19,
    seventeenth round). Iterated in the order every agent's computed at once had. Two
    threads reading one agent at once may both compute it; they get equal dicts, one kept.

    Once every agent's is computed, the function that computes them is let go, and with it
    the window's per-agent sums it reads: a snapshot kept for the scrapes after the alert
    rules read every agent's 1h and 8h no longer holds them (at 50,000 agents, two floor
    snapshots alive took 0.67 of the memory: BENCHMARKS.md, issue 19, nineteenth round)."""

    __slots__ = ("_all", "_compute", "_done", "_ids", "_known")

    def __init__(self, ids: list[str], compute: Callable[[str], Kpis]) -> None:
        self._ids = ids  # in order
        self._known = frozenset(ids)  # for membership
        self._compute = compute
        self._done: dict[str, Kpis] = {}
        self._all: dict[str, Kpis] | None = None  # every one, in order (compute_all)

    def __getitem__(self, agent: str) -> Kpis:
        kpis = self._done.get(agent)
        if kpis is None:
            if agent not in self._known:
                raise KeyError(agent)
            done = self._done
            kpis = done.setdefault(agent, self._compute(agent))
            if len(done) == len(self._ids):
                self._let_go(done)
        return kpis

    def _let_go(self, done: dict[str, Kpis]) -> None:
        """Every agent's is in ``done``: drop the computing function (and the sums it
        holds). A thread that found an agent missing just before reads it from ``done``."""
        self._compute = done.__getitem__

    def get(self, agent: str, default: Kpis | None = None) -> Kpis | None:  # type: ignore[override]
        """:meth:`__getitem__` without an exception for an agent not here (the rules look
        up every agent's 8h this way)."""
        return self[agent] if agent in self._known else default

    def __contains__(self, agent: object) -> bool:
        return agent in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"AgentKpis({dict(self.items())!r})"

    def compute_all(self) -> None:
        """Every agent's, now: on a thread that may wait, for readers on one that must not.
        Then kept in order, and :meth:`items` and :meth:`values` are the dict's own."""
        done, compute = self._done, self._compute
        self._done = self._all = {agent: done[agent] if agent in done else compute(agent)
                                  for agent in self._ids}
        self._let_go(self._all)

    def items(self) -> ItemsView[str, Kpis]:
        # after compute_all, the dict's own view, at C speed (the rules iterate every agent
        # every 15 s); before, read in the order of the ids, whatever order they were read in
        return self._all.items() if self._all is not None else super().items()

    def values(self) -> ValuesView[Kpis]:
        return self._all.values() if self._all is not None else super().values()

    @property
    def computed(self) -> int:
        """How many agents' KPIs have been computed so far (tests, benchmarks)."""
        return len(self._done)


@dataclass
class WindowKpis:
    """KPIs of each scope over one window; a missing key means no denominator."""

    agent: Mapping[str, Kpis] = field(default_factory=dict)  # an AgentKpis from a snapshot
    team: dict[str, Kpis] = field(default_factory=dict)
    queue: dict[str, Kpis] = field(default_factory=dict)
    channel: dict[str, Kpis] = field(default_factory=dict)
    # (queue, channel): the unit of staffing, since one queue may mix channels
    queue_channel: dict[tuple[str, str], Kpis] = field(default_factory=dict)
    agent_iph: dict[tuple[str, str], float] = field(default_factory=dict)  # (agent, channel)
    team_iph: dict[tuple[str, str], float] = field(default_factory=dict)  # (team, channel)


@dataclass(slots=True)
class AgentNow:
    team: str
    state: str  # handling, acw, idle, not_ready, logged_out
    reason: str = ""  # not_ready: the reason's label (configured reasons, else "other")
    state_seconds: float | None = None  # since the activity began; None: before our history
    hold_seconds: float | None = None  # the longest interaction on hold now, while handling
    scheduled: str | None = None  # the activity scheduled now (§7.1); None: no schedule
    in_adherence: bool | None = None  # None: nothing (or offline) scheduled now


@dataclass
class FloorNow:
    """What the floor is doing at one instant, of no window: each agent's activity, the
    teams' counts of them, who is absent, who waits in each queue, what the engine tracks.
    Part of every snapshot, and read on its own at every scrape of a worker
    (:func:`floor_now`): it costs one lookup per agent, where a snapshot's windows cost
    seconds at 50,000 agents, and a wallboard's states and waits should be of the scrape,
    not of the last snapshot (BENCHMARKS.md, issue 19, twenty-first round).

    ``floor`` False: of some agents only, with their states alone (``team_states`` counts
    theirs; nothing of queues or what the engine tracks)."""

    now: int
    agents: dict[str, AgentNow]
    team_states: dict[str, Counter[str]] = field(default_factory=dict)
    absent: dict[str, int] = field(default_factory=dict)  # team -> agents absent now (§7.1)
    waiting: dict[str, tuple[int, float]] = field(default_factory=dict)
    # the queues a wallboard lists: named by an event within the longest window, or waited in
    queues: frozenset[str] = frozenset()
    entities: dict[str, tuple[int, int]] = field(default_factory=dict)
    over_limit: dict[str, int] = field(default_factory=dict)
    floor: bool = True


@dataclass
class Snapshot:
    now: int
    windows: dict[str, WindowKpis]
    agents: dict[str, AgentNow]
    team_states: dict[str, Counter[str]]
    waiting: dict[str, tuple[int, float]]  # queue -> (waiting now, longest wait in seconds)
    staffing: dict[QueueChannel, QueueStaffing] = field(default_factory=dict)
    entities: dict[str, tuple[int, int]] = field(default_factory=dict)  # scope -> (n, limit)
    absent: dict[str, int] = field(default_factory=dict)  # team -> agents absent now (§7.1)
    over_limit: dict[str, int] = field(default_factory=dict)  # scope -> events refused so far
    # False: the snapshot of some agents only (snapshot(..., agents=)): their KPIs are whole;
    # of teams only the wrap KPIs of the scorecard's window, which agents' cards compare
    # with; no queue, channel, staffing or floor counts
    floor: bool = True
    queues: frozenset[str] = frozenset()  # FloorNow.queues

    def floor_now(self) -> FloorNow:
        """The snapshot's instant's :class:`FloorNow` (the same objects, not copies)."""
        return FloorNow(self.now, self.agents, self.team_states, self.absent, self.waiting,
                        self.queues, self.entities, self.over_limit, self.floor)

    def team_of(self, agent: str) -> str:
        """The agent's team now; ``unknown`` where it has none (contract §2) or is no longer
        tracked."""
        now = self.agents.get(agent)
        return now.team if now is not None else UNKNOWN_TEAM

    def team_members(self, window: str, team: str) -> dict[str, Kpis]:
        """The KPIs in ``window`` of the agents in ``team`` now: theirs alone are computed
        (:class:`AgentKpis`)."""
        kpis, agents = self.windows[window].agent, self.agents
        return {agent: kpis[agent] for agent in kpis
                if agent in agents and agents[agent].team == team}


@dataclass
class PeriodSums:
    """The additive components of every KPI over one period, cell by cell: what a window sums
    at one instant, and what a history interval keeps (contract §7.5). KPIs of any scope over
    a union of periods are :func:`window_kpis` of the cell-wise sum, so a period of history
    and a window of the same span give the same numbers."""

    time: dict[tuple[str, str], Vector] = field(default_factory=dict)  # (agent, team)
    cells: dict[str, dict[tuple[str, ...], Vector]] = field(  # family -> cell -> vector
        default_factory=lambda: {family: {} for family in WIDTH})
    adherence: dict[tuple[str, str | None], Adherence] = field(  # (agent, team or None)
        default_factory=dict)

    def size(self) -> int:
        """Cells with something in them."""
        return (len(self.time) + len(self.adherence)
                + sum(len(cells) for cells in self.cells.values()))


_ZERO: dict[str, Vector] = {family: (0,) * width for family, width in WIDTH.items()}
_WRAPPED = int(Wrap.COUNT)  # an IntEnum lookup costs ~60 ns; this runs per scope and window


def period_sums(engine: KpiEngine, start: int, end: int, pause: Pause | None = None,
                ) -> PeriodSums:
    """Every cell's components over ``(start, end]``; cells with nothing in it are left out.
    ``pause``: see :func:`read`."""
    return window_sums(engine, end, (start,), pause=pause)[0]


def window_sums(engine: KpiEngine, end: int, starts: tuple[int, ...],
                agents: AgentFilter | None = None, pause: Pause | None = None,
                ) -> list[PeriodSums]:
    """:func:`period_sums` of the spans from each of ``starts`` to one ``end`` (a snapshot's
    windows): each agent's and cell's history is looked up at the end once, and adherence
    is measured in one walk of each agent's pieces for all of them. ``agents``: only the
    cells of the agents it accepts (no queue cells). ``pause``: see :func:`read`."""
    outs = [PeriodSums() for _ in starts]
    for agent_id, machine in _chunked(engine.agents, pause):
        if agents is not None and not agents(agent_id):
            continue
        for out, per_team in zip(outs, machine.timeline.windows(starts, end), strict=True):
            for team, vector in per_team:
                out.time[(agent_id, team)] = vector
    for family, cells in engine.families.items():
        if agents is not None and family in _QUEUE_FAMILIES:
            continue
        targets = [out.cells[family] for out in outs]
        if pause is not None:
            pause()
        for key, series in _chunked(cells, pause):
            if agents is not None and not agents(key[0]):
                continue
            for target, vector in zip(targets, series.windows(starts, end), strict=True):
                if vector is not None and any(vector):  # not a count a correction took back
                    target[key] = vector
    adherence = adherence_windows(engine, end, [end - start for start in starts], agents, pause)
    for out, sums in zip(outs, adherence, strict=True):
        out.adherence = sums
    return outs


def _team_wraps(engine: KpiEngine, end: int, start: int,
                teams: Collection[str], pause: Pause | None = None) -> dict[str, Kpis]:
    """The wrap KPIs of ``teams`` over ``(start, end]`` from their agents' wrap cells: what a
    snapshot of some agents still needs of their teams (an agent's AHT is scored against its
    team's over the scorecard's window, :func:`processors.scorecard.team_cards`). Summed as
    the floor's snapshot sums them (:func:`_team_rollup`; a team's cells keep their order),
    so the numbers are the same to the last bit. Only those teams' windows are looked up:
    every team's was most of a snapshot of one agent at 50,000 (BENCHMARKS.md)."""
    cells: dict = {}
    for key, series in _chunked(engine.families["wrap"], pause):
        if key[1] not in teams:
            continue
        vector = series.window(start, end)
        if vector is not None and any(vector):
            cells[key] = vector
    return {team: wrap_kpis(vector) for team, vector in _team_rollup(cells)["team"].items()}


def adherence_windows(engine: KpiEngine, end: int, lengths: list[int],
                      agents: AgentFilter | None = None, pause: Pause | None = None,
                      ) -> list[dict[tuple[str, str | None], Adherence]]:
    """Every scheduled agent's adherence sums per team, for windows of ``lengths`` ending at
    ``end``, from its ledger (built again only when its schedule or presence changed)."""
    starts = [end - length for length in lengths]
    since = min(starts)
    out: list[dict[tuple[str, str | None], Adherence]] = [{} for _ in lengths]
    for agent_id, schedule in _chunked(engine.schedules, pause):
        machine = engine.agents.get(agent_id)
        if machine is None or (agents is not None and not agents(agent_id)):
            continue
        measured = measure_windows(schedule.ledger(machine.timeline, since), starts, end)
        for window, per_team in zip(out, measured, strict=True):
            for team, sums in per_team.items():
                window[(agent_id, team)] = sums
    return out


# Families whose cells are (queue, channel); the others start with (agent, team).
_QUEUE_FAMILIES = frozenset({"contact", "abandon", "queue_answer"})


_AGENT = itemgetter(0)
_AGENT_CHANNEL = itemgetter(0, 3)  # of an (agent, team, queue, channel) cell
_TEAM_QUEUE_CHANNEL = itemgetter(1, 2, 3)
_TEAM_CHANNEL_OF_TQC = itemgetter(0, 2)
_QUEUE_CHANNEL_OF_TQC = itemgetter(1, 2)
_SECOND = itemgetter(1)


def _sum_by(sums: dict, key: Callable[[tuple], object]) -> dict:
    """``sums`` added up column by column per ``key`` of their keys, in the order they came
    (what a chain of :func:`~processors.series.add` gives, without a tuple at every step).
    Most groups hold one vector (an agent's cells of one channel, its time in one team):
    those are taken as they are, with no list built for them."""
    out: dict = {}
    more: dict = {}
    for k, vector in sums.items():
        group = key(k)
        if group in out:
            if group in more:
                more[group].append(vector)
            else:
                more[group] = [out[group], vector]
        else:
            out[group] = vector
    for group, vectors in more.items():
        out[group] = tuple(map(sum, zip(*vectors, strict=True)))
    return out


def _team_rollup(cells: dict[tuple[str, ...], Vector]) -> dict[str, dict]:
    """The team, queue and channel scopes of (agent, team, queue, channel) cells, summed as a
    rollup: first per (team, queue, channel), then each coarser scope from the finer one
    beside it. A cell is added once, not once per scope: with 15 agents a team, summing
    every scope from the cells was most of a floor snapshot's grouping (BENCHMARKS.md)."""
    tqc = _sum_by(cells, _TEAM_QUEUE_CHANNEL)
    team_channel = _sum_by(tqc, _TEAM_CHANNEL_OF_TQC)
    queue_channel = _sum_by(tqc, _QUEUE_CHANNEL_OF_TQC)
    return {"team": _sum_by(team_channel, _AGENT), "team_channel": team_channel,
            "queue_channel": queue_channel, "queue": _sum_by(queue_channel, _AGENT),
            "channel": _sum_by(queue_channel, _SECOND)}


def _by_scope(family: str, cells: dict[tuple[str, ...], Vector],
              floor: bool = True) -> dict[str, dict]:
    """scope -> key -> the family's vectors summed over the cells of that key. ``floor``
    False: the agent scopes alone (the others empty), summed exactly as the floor's are, so
    a worker's share of the agents reports what one worker reports."""
    # corrections summed back to zero: as if nothing happened
    cells = {key: vector for key, vector in cells.items() if any(vector)}
    out: dict[str, dict] = {scope: {} for scope in (
        "agent", "agent_channel", "team", "team_channel", "queue", "channel", "queue_channel")}
    if family in _QUEUE_FAMILIES:  # (queue, channel) cells
        if floor:
            out |= {"queue_channel": cells, "queue": _sum_by(cells, _AGENT),
                    "channel": _sum_by(cells, _SECOND)}
        return out
    if not cells or len(next(iter(cells))) != 4:  # (agent, team) cells: surveys
        out["agent"] = _sum_by(cells, _AGENT)
        if floor:
            out["team"] = _sum_by(cells, _SECOND)
        return out
    out["agent_channel"] = _sum_by(cells, _AGENT_CHANNEL)
    out["agent"] = _sum_by(out["agent_channel"], _AGENT)
    if floor:
        out |= _team_rollup(cells)
    return out


def window_kpis(period: PeriodSums, floor: bool = True) -> WindowKpis:
    """The KPIs of every scope from a period's cell sums: ratios of sums, never means.
    ``floor`` False: of the agents only (a period of some agents' cells says nothing whole
    about their teams and queues)."""
    time_by_agent: Sums = _sum_by(period.time, _AGENT)  # (agent, team) keys
    time_by_team: Sums = _sum_by(period.time, _SECOND) if floor else {}
    # family -> scope -> key -> summed vector
    sums = {family: _by_scope(family, cells, floor) for family, cells in period.cells.items()}

    out = WindowKpis()
    wraps, surveys, answers = (sums[f]["team"] for f in ("wrap", "survey", "answer"))
    for team in sorted(set(time_by_team).union(wraps, surveys, answers)):
        out.team[team] = _kpis_of(time_by_team.get(team, ZERO_TIME), wraps.get(team),
                                  surveys.get(team), answers.get(team))
    out.agent = _agent_kpis(time_by_agent, sums, period.adherence)
    for scope, time_sums, iph_target in (("agent", time_by_agent, out.agent_iph),
                                         ("team", time_by_team, out.team_iph)):
        for (scope_id, channel), wrap in sums["wrap"][f"{scope}_channel"].items():
            logged_in = logged_in_ms(time_sums.get(scope_id, ZERO_TIME))
            iph = interactions_per_hour(wrap[_WRAPPED], logged_in)
            if iph is not None:
                iph_target[(scope_id, channel)] = iph

    for scope, target in (("queue", out.queue), ("channel", out.channel),
                          ("queue_channel", out.queue_channel)):
        contacts, abandons, answered, wraps = (
            sums[f][scope] for f in ("contact", "abandon", "queue_answer", "wrap"))
        for scope_id in sorted(set(contacts).union(abandons, answered, wraps)):
            kpis = queue_kpis(contacts.get(scope_id, _ZERO["contact"]),
                              abandons.get(scope_id, _ZERO["abandon"]),
                              answered.get(scope_id, _ZERO["queue_answer"]))
            if scope_id in wraps:
                kpis |= wrap_kpis(wraps[scope_id])
            target[scope_id] = kpis
    if floor:
        _team_adherence(period.adherence, out)  # after: it adds to the teams' KPIs
    return out


def _kpis_of(time: Vector, wrap: Vector | None, survey: Vector | None,
             answer: Vector | None) -> Kpis:
    """An agent's or a team's KPIs from its sums of one window."""
    wrap = wrap or _ZERO["wrap"]
    kpis = time_kpis(time)
    kpis |= wrap_kpis(wrap)
    kpis |= survey_kpis(survey or _ZERO["survey"])
    kpis |= answer_kpis(answer or _ZERO["answer"])
    iph = interactions_per_hour(wrap[_WRAPPED], logged_in_ms(time))
    if iph is not None:
        kpis["interactions_per_hour"] = iph
    return kpis


def _agent_kpis(time_by_agent: Sums, sums: dict[str, dict[str, dict]],
                pieces: dict[tuple[str, str | None], Adherence]) -> AgentKpis:
    """The agents' KPIs of a window, computed as read (:class:`AgentKpis`): of every agent
    with time or a count in it, and §7.1's adherence of every agent with scheduled time in
    it (an agent with that alone has that alone)."""
    wraps, surveys, answers = (sums[f]["agent"] for f in ("wrap", "survey", "answer"))
    measured = set(time_by_agent).union(wraps, surveys, answers)
    adherence = {agent: adherent / scheduled
                 for agent, (scheduled, adherent, _, _) in _sum_by(pieces, _AGENT).items()
                 if scheduled}
    ids = sorted(measured)
    ids += [agent for agent in adherence if agent not in measured]

    def compute(agent: str) -> Kpis:
        kpis = (_kpis_of(time_by_agent.get(agent, ZERO_TIME), wraps.get(agent),
                         surveys.get(agent), answers.get(agent))
                if agent in measured else {})
        if agent in adherence:
            kpis["adherence"] = adherence[agent]
        return kpis

    return AgentKpis(ids, compute)


def _team_adherence(pieces: dict[tuple[str, str | None], Adherence], out: WindowKpis) -> None:
    """§7.1's adherence and absence of teams, as ratios of the sums of every scheduled
    agent's pieces; no value without scheduled time."""
    for team, (scheduled, adherent, work, absent) in _sum_by(pieces, _team_or_unknown).items():
        kpis = out.team.setdefault(team, {})
        if scheduled:
            kpis["adherence"] = adherent / scheduled
        if work:
            kpis["absence"] = absent / work


def _team_or_unknown(key: tuple[str, str | None]) -> str:
    """The team of an (agent, team) adherence key: neither the timeline nor the schedule
    named one, unknown (contract §2)."""
    return UNKNOWN_TEAM if key[1] is None else key[1]


@dataclass
class Reading:
    """What a snapshot reads of the engine at one instant: every window's cell sums, the
    agents' states, the queues' waits and the staffing inputs, all fresh objects or
    immutable values. The ratios, scores and staffing plan are then computed from it alone
    (:func:`finish`), so a caller that must hold the engine still while it reads (a replica
    applying events) holds it for the reading only."""

    now: int
    periods: dict[str, PeriodSums]
    state: FloorNow  # of some agents only where its ``floor`` is False
    team_wraps: dict[str, Kpis] | None = None  # of some agents only: their teams' wrap KPIs
    staffing: StaffingReading | None = None  # of the floor only


def read(engine: KpiEngine, now: int, agents: AgentFilter | None = None,
         windows: Collection[str] | None = None, pause: Pause | None = None) -> Reading:
    """The engine's part of :func:`snapshot` (see there for ``agents`` and ``windows``).

    ``pause``: offered between chunks of the reading (every :data:`CHUNK` agents, cells or
    schedules, and between its parts), where a caller that holds the engine still while it
    reads may let it go for a moment. Each agent's timeline, each cell and each schedule is
    read whole, all at ``now``, so what an event applied during a pause changes is either
    all in the reading or all out of it, agent by agent and cell by cell; the reading as a
    whole is of the events applied by the time each part was read, as a reading without
    pauses is of those applied by the time it began. A window's numbers depend only on the
    events at or before ``now``: an event after it, applied during a pause, changes none."""
    lengths = engine.config.windows
    if windows is not None:
        if agents is None:
            raise ValueError("a snapshot of the floor has every window: windows= needs agents=")
        lengths = {name: length for name, length in lengths.items() if name in windows}
    starts = tuple(now - length for length in lengths.values())
    periods = dict(zip(lengths, window_sums(engine, now, starts, agents, pause), strict=True))
    if pause is not None:
        pause()
    state = floor_now(engine, now, agents, pause=pause)
    if agents is not None:
        # the teams its agents are scored against: theirs now, or unknown (Snapshot.team_of)
        team_wraps = (_team_wraps(engine, now, now - lengths[SCORECARD_WINDOW],
                                  {*state.team_states, UNKNOWN_TEAM}, pause)
                      if SCORECARD_WINDOW in lengths else None)
        return Reading(now, periods, state, team_wraps=team_wraps)
    if pause is not None:
        pause()
    plan = read_staffing(engine, {agent_id: a.state for agent_id, a in state.agents.items()},
                         now, {name: period.cells["answer"] for name, period in periods.items()})
    return Reading(now, periods, state, staffing=plan)


def floor_now(engine: KpiEngine, now: int, agents: AgentFilter | None = None, *,
              detail: AgentFilter | None = None, pause: Pause | None = None) -> FloorNow:
    """The floor at ``now`` (see :class:`FloorNow`); ``agents``: of the agents it accepts
    only. ``detail``: of the whole floor, but with an :class:`AgentNow` only for the agents
    it accepts, the others only counted (the lease holder of several workers counts every
    team's agents and exports its own: 0.04 s less a scrape at 50,000 agents, BENCHMARKS.md
    issue 19, twenty-second round). ``pause``: see :func:`read`; an agent's state and its
    count in its team are read together, the holds under way as the reading begins (the
    engine knows its holds as they stand, not at an instant), the queues' waits after
    every agent."""
    agent_states: dict[str, AgentNow] = {}
    team_states: dict[str, Counter[str]] = {}
    holds = engine.holds_by_agent()
    absent: dict[str, int] = {}
    schedules = engine.schedules
    for agent_id, machine in _chunked(engine.agents, pause):
        if agents is not None and not agents(agent_id):
            continue
        category, reason, since, team = machine.timeline.state_at(now)
        state = STATE_NAMES[category]
        team = team or machine.team  # as _team_now
        schedule = schedules.get(agent_id)
        planned = schedule.activity_at(now) if schedule is not None else None
        if detail is None or detail(agent_id):
            hold = holds.get(agent_id)
            agent_states[agent_id] = AgentNow(
                team, state, reason, None if since is None else (now - since) / 1000,
                (now - hold) / 1000 if hold is not None and hold <= now and state == "handling"
                else None, planned,
                None if planned in (None, OFFLINE) else category in ADHERENT[planned])
        if planned == WORK and state == "logged_out":
            absent[team] = absent.get(team, 0) + 1
        counts = team_states.get(team)
        if counts is None:  # not setdefault(team, Counter()): a Counter made per agent
            counts = team_states[team] = Counter()
        counts[state] += 1
    if agents is not None:
        return FloorNow(now, agent_states, team_states, floor=False)
    waiting = {}
    for queue, entries in engine.waiting.items():
        started = [t for t in entries.values() if t <= now]
        if started:
            waiting[queue] = (len(started), (now - min(started)) / 1000)
    since = now - max(engine.config.windows.values())
    queues = frozenset(waiting).union(
        queue for queue, last in engine.queues.items() if last > since)
    return FloorNow(now, agent_states, team_states, absent, waiting, queues,
                    engine.entities(), dict(engine.over_limit))


def _team_now(machine: AgentMachine, now: int) -> str:
    """An agent's team at ``now``: its timeline's there, else the last it was given."""
    return machine.timeline.team_at(now) or machine.team


def teammates(engine: KpiEngine, agent_id: str, now: int) -> frozenset[str]:
    """``agent_id`` and every agent in its team at ``now`` (the team a snapshot at ``now``
    gives it, :class:`AgentNow`): the agents an agent's page compares it with. Itself alone
    where the engine has no such agent."""
    machine = engine.agents.get(agent_id)
    if machine is None:
        return frozenset((agent_id,))
    team = _team_now(machine, now)
    return frozenset(other for other, m in engine.agents.items() if _team_now(m, now) == team)


def finish(reading: Reading) -> Snapshot:
    """The snapshot of a :class:`Reading`: no engine involved."""
    state = reading.state
    windows = {name: window_kpis(period, floor=state.floor)
               for name, period in reading.periods.items()}
    if reading.team_wraps is not None:
        windows[SCORECARD_WINDOW].team = reading.team_wraps
    if not state.floor:
        return Snapshot(reading.now, windows, state.agents, {}, {}, floor=False)
    plan = staffing(reading.staffing, {name: w.queue_channel for name, w in windows.items()})
    return Snapshot(reading.now, windows, state.agents, state.team_states, state.waiting,
                    staffing=plan, entities=state.entities, over_limit=state.over_limit,
                    absent=state.absent, queues=state.queues)


def snapshot(engine: KpiEngine, now: int, agents: AgentFilter | None = None,
             windows: Collection[str] | None = None) -> Snapshot:
    """KPIs of every window ending at ``now`` (inclusive), and the current agent states.

    ``agents``: the snapshot of the agents it accepts only, their KPIs and states exactly as
    in the whole floor's (a sharded worker's /metrics: the per-agent work of a scrape is then
    its share of the floor, BENCHMARKS.md); of teams only the wrap KPIs their scorecards
    compare with (the scorecard's window), and nothing of queues, channels, staffing and
    the floor's counts. ``windows`` (with ``agents`` only): of these windows alone — what
    that worker's per-agent series and scorecards read; the rest of a window's cost is
    saved. :func:`read` then :func:`finish`."""
    return finish(read(engine, now, agents, windows))
