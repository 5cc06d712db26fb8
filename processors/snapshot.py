"""Every KPI of every scope and window at one instant, computed from the engine's state.

Team, queue and channel values are ratios of sums over their cells (contract §2), never means
of agent ratios: the snapshot first sums the measure vectors per scope, then applies the
formulas of :mod:`processors.kpis` once per scope.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ccpulse.processors.agent import UNKNOWN_TEAM
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
    AT_WORK,
    OFFLINE,
    WORK,
    Adherence,
    measure_windows,
)
from ccpulse.processors.series import Vector, add
from ccpulse.processors.staffing import QueueChannel, QueueStaffing, staffing
from ccpulse.processors.timeline import STATE_NAMES, ZERO_TIME

Sums = dict[str, Vector]


@dataclass
class WindowKpis:
    """KPIs of each scope over one window; a missing key means no denominator."""

    agent: dict[str, Kpis] = field(default_factory=dict)
    team: dict[str, Kpis] = field(default_factory=dict)
    queue: dict[str, Kpis] = field(default_factory=dict)
    channel: dict[str, Kpis] = field(default_factory=dict)
    # (queue, channel): the unit of staffing, since one queue may mix channels
    queue_channel: dict[tuple[str, str], Kpis] = field(default_factory=dict)
    agent_iph: dict[tuple[str, str], float] = field(default_factory=dict)  # (agent, channel)
    team_iph: dict[tuple[str, str], float] = field(default_factory=dict)  # (team, channel)


@dataclass
class AgentNow:
    team: str
    state: str  # handling, acw, idle, not_ready, logged_out
    reason: str = ""  # not_ready: the reason's label (configured reasons, else "other")
    state_seconds: float | None = None  # since the activity began; None: before our history
    hold_seconds: float | None = None  # the longest interaction on hold now, while handling
    scheduled: str | None = None  # the activity scheduled now (§7.1); None: no schedule
    in_adherence: bool | None = None  # None: nothing (or offline) scheduled now


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

    def team_of(self, agent: str) -> str:
        """The agent's team now; ``unknown`` where it has none (contract §2) or is no longer
        tracked."""
        now = self.agents.get(agent)
        return now.team if now is not None else UNKNOWN_TEAM


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


def _accumulate(sums: dict, key: object, vector: Vector) -> None:
    previous = sums.get(key)
    sums[key] = vector if previous is None else add(previous, vector)


def _zero(family: str) -> Vector:
    return (0,) * WIDTH[family]


def period_sums(engine: KpiEngine, start: int, end: int,
                adherence: dict[tuple[str, str | None], Adherence] | None = None,
                ) -> PeriodSums:
    """Every cell's components over ``(start, end]``; cells with nothing in it are left out.
    ``adherence``: already measured (:func:`adherence_windows`), else measured here."""
    out = PeriodSums()
    for agent_id, machine in engine.agents.items():
        for team, vector in machine.timeline.window(start, end):
            out.time[(agent_id, team)] = vector
    for family, cells in engine.families.items():
        target = out.cells[family]
        for key, series in cells.items():
            vector = series.window(start, end)
            if vector is not None and any(vector):  # not a count a correction took back
                target[key] = vector
    out.adherence = adherence if adherence is not None else adherence_windows(
        engine, end, [end - start])[0]
    return out


def adherence_windows(engine: KpiEngine, end: int, lengths: list[int],
                      ) -> list[dict[tuple[str, str | None], Adherence]]:
    """Every scheduled agent's adherence sums per team, for windows of ``lengths`` ending at
    ``end``: one walk of each agent's pieces for all of them."""
    widest = max(lengths)
    starts: list[int | None] = [end - length for length in lengths]
    out: list[dict[tuple[str, str | None], Adherence]] = [{} for _ in lengths]
    for agent_id, schedule in engine.schedules.items():
        machine = engine.agents.get(agent_id)
        if machine is None:
            continue
        measured = measure_windows(schedule.pieces(end - widest, end),
                                   machine.timeline.pieces(end - widest, end, AT_WORK),
                                   starts)
        for window, per_team in zip(out, measured, strict=True):
            for team, sums in per_team.items():
                window[(agent_id, team)] = sums
    return out


def window_kpis(period: PeriodSums) -> WindowKpis:
    """The KPIs of every scope from a period's cell sums: ratios of sums, never means."""
    time_by_agent: Sums = {}
    time_by_team: Sums = {}
    for (agent_id, team), vector in period.time.items():
        _accumulate(time_by_agent, agent_id, vector)
        _accumulate(time_by_team, team, vector)

    # family -> scope -> key -> summed vector
    sums: dict[str, dict[str, dict]] = {}
    for family, cells in period.cells.items():
        by_scope: dict[str, dict] = {"agent": {}, "team": {}, "queue": {}, "channel": {},
                                     "agent_channel": {}, "team_channel": {},
                                     "queue_channel": {}}
        for key, vector in cells.items():
            if not any(vector):
                continue  # corrections summed back to zero: as if nothing happened
            if family in ("contact", "abandon", "queue_answer"):
                queue, channel = key
                _accumulate(by_scope["queue"], queue, vector)
                _accumulate(by_scope["channel"], channel, vector)
                _accumulate(by_scope["queue_channel"], key, vector)
                continue
            agent, team = key[0], key[1]
            _accumulate(by_scope["agent"], agent, vector)
            _accumulate(by_scope["team"], team, vector)
            if len(key) == 4:
                queue, channel = key[2], key[3]
                _accumulate(by_scope["queue"], queue, vector)
                _accumulate(by_scope["channel"], channel, vector)
                _accumulate(by_scope["queue_channel"], (queue, channel), vector)
                _accumulate(by_scope["agent_channel"], (agent, channel), vector)
                _accumulate(by_scope["team_channel"], (team, channel), vector)
        sums[family] = by_scope

    out = WindowKpis()
    for scope, time_sums, target in (
        ("agent", time_by_agent, out.agent),
        ("team", time_by_team, out.team),
    ):
        ids = set(time_sums) | set(sums["wrap"][scope]) | set(sums["survey"][scope])
        ids |= set(sums["answer"][scope])
        for scope_id in sorted(ids):
            time = time_sums.get(scope_id, ZERO_TIME)
            wrap = sums["wrap"][scope].get(scope_id, _zero("wrap"))
            kpis = time_kpis(time)
            kpis |= wrap_kpis(wrap)
            kpis |= survey_kpis(sums["survey"][scope].get(scope_id, _zero("survey")))
            kpis |= answer_kpis(sums["answer"][scope].get(scope_id, _zero("answer")))
            iph = interactions_per_hour(wrap[Wrap.COUNT], logged_in_ms(time))
            if iph is not None:
                kpis["interactions_per_hour"] = iph
            target[scope_id] = kpis
        for (scope_id, channel), wrap in sums["wrap"][f"{scope}_channel"].items():
            logged_in = logged_in_ms(time_sums.get(scope_id, ZERO_TIME))
            iph = interactions_per_hour(wrap[Wrap.COUNT], logged_in)
            if iph is not None:
                (out.agent_iph if scope == "agent" else out.team_iph)[(scope_id, channel)] = iph

    for scope, target in (("queue", out.queue), ("channel", out.channel),
                          ("queue_channel", out.queue_channel)):
        ids = set(sums["contact"][scope]) | set(sums["abandon"][scope])
        ids |= set(sums["queue_answer"][scope]) | set(sums["wrap"][scope])
        for scope_id in sorted(ids):
            kpis = queue_kpis(
                sums["contact"][scope].get(scope_id, _zero("contact")),
                sums["abandon"][scope].get(scope_id, _zero("abandon")),
                sums["queue_answer"][scope].get(scope_id, _zero("queue_answer")),
            )
            if scope_id in sums["wrap"][scope]:
                kpis |= wrap_kpis(sums["wrap"][scope][scope_id])
            target[scope_id] = kpis
    _adherence(period.adherence, out)  # after: it adds to the agents' and teams' KPIs
    return out


def _adherence(pieces: dict[tuple[str, str | None], Adherence], out: WindowKpis) -> None:
    """§7.1's adherence (agents, teams) and absence (teams), as ratios of the sums of every
    scheduled agent's pieces; no value without scheduled time."""
    agents: dict[str, Adherence] = {}
    teams: dict[str, Adherence] = {}
    for (agent_id, team), sums in pieces.items():
        agents[agent_id] = agents.get(agent_id, Adherence()) + sums
        # neither the timeline nor the schedule named a team: unknown (contract §2)
        key = UNKNOWN_TEAM if team is None else team
        teams[key] = teams.get(key, Adherence()) + sums
    for agent_id, total in agents.items():
        if total.scheduled:
            out.agent.setdefault(agent_id, {})["adherence"] = total.adherent / total.scheduled
    for team, sums in teams.items():
        kpis = out.team.setdefault(team, {})
        if sums.scheduled:
            kpis["adherence"] = sums.adherent / sums.scheduled
        if sums.work:
            kpis["absence"] = sums.absent / sums.work


def snapshot(engine: KpiEngine, now: int) -> Snapshot:
    """KPIs of every window ending at ``now`` (inclusive), and the current agent states."""
    lengths = engine.config.windows
    adherence = dict(zip(lengths, adherence_windows(engine, now, list(lengths.values())),
                         strict=True))
    windows = {name: window_kpis(period_sums(engine, now - length, now, adherence[name]))
               for name, length in lengths.items()}
    agents: dict[str, AgentNow] = {}
    team_states: dict[str, Counter[str]] = {}
    holds = engine.holds_by_agent()
    absent: dict[str, int] = {}
    for agent_id, machine in engine.agents.items():
        timeline = machine.timeline
        category, reason, since = timeline.state_at(now)
        state = STATE_NAMES[category]
        team = timeline.team_at(now) or machine.team
        hold = holds.get(agent_id)
        schedule = engine.schedules.get(agent_id)
        planned = schedule.activity_at(now) if schedule is not None else None
        agents[agent_id] = AgentNow(
            team, state, reason, None if since is None else (now - since) / 1000,
            (now - hold) / 1000 if hold is not None and hold <= now and state == "handling"
            else None, planned,
            None if planned in (None, OFFLINE) else category in ADHERENT[planned])
        if planned == WORK and state == "logged_out":
            absent[team] = absent.get(team, 0) + 1
        team_states.setdefault(team, Counter())[state] += 1
    waiting = {}
    for queue, entries in engine.waiting.items():
        started = [t for t in entries.values() if t <= now]
        if started:
            waiting[queue] = (len(started), (now - min(started)) / 1000)
    plan = staffing(engine, {name: w.queue_channel for name, w in windows.items()},
                    {agent_id: a.state for agent_id, a in agents.items()}, now)
    return Snapshot(now, windows, agents, team_states, waiting, staffing=plan,
                    entities=engine.entities(), over_limit=dict(engine.over_limit),
                    absent=absent)
