"""The alert rules of contract §4 (and QueueUnderstaffed), as pure checks over a KPI snapshot.

``RULES`` is the one table: a row carries the rule's labels, its finder (per scope — an agent,
a team, a queue — whether its condition holds, whether a firing alert should stay firing, its
resolve threshold, and the values that explain it) and how long the condition must hold. A
new rule is one row and its finder. Holding periods and the firing/resolved life cycle live
in :mod:`alerts.engine`; here is only "what is true right now".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ccpulse.processors.catalogue import (
    OCCUPANCY_HEALTHY_HIGH,
    OCCUPANCY_OVERSTAFFED_BELOW,
    WINDOW_1H,
    WINDOW_8H,
    WINDOW_15M,
)
from ccpulse.processors.kpis import Kpis
from ccpulse.processors.snapshot import Snapshot
from ccpulse.processors.staffing import NOW, QueueStaffing

RUNBOOK_BASE = "https://github.com/ccpulse/ccpulse/blob/main/docs/runbooks.md"


@dataclass(frozen=True)
class Thresholds:
    """Defaults from contract §4; every one can be overridden in the config file."""

    occupancy_high: float = OCCUPANCY_HEALTHY_HIGH
    occupancy_resolve: float = 0.80
    occupancy_hold_ms: int = 10 * 60_000
    team_occupancy_resolve: float = OCCUPANCY_HEALTHY_HIGH
    overstaffed_below: float = OCCUPANCY_OVERSTAFFED_BELOW
    overstaffed_min_agents: int = 3
    overstaffed_hold_ms: int = 15 * 60_000
    aht_up: float = 0.15
    csat_down: float = 0.3
    # Hysteresis for CsatAhtDivergence, off by default (the contract resolves it at the first
    # evaluation where the condition is false). Set e.g. 0.10 / 0.2 to stop a signal hovering
    # at the threshold from firing and resolving every few minutes.
    aht_up_resolve: float | None = None
    csat_down_resolve: float | None = None
    acw_share_up: float = 0.25
    escalation_up: float = 0.50
    idle_between_below_s: float = 10.0
    burnout_min_signals: int = 3
    min_wrapped_1h: int = 5
    min_surveys_1h: int = 5
    min_wrapped_8h: int = 20
    min_surveys_8h: int = 20
    min_gaps_1h: int = 5
    service_level_target: float = 0.80
    queue_service_level_target: dict[str, float] = field(default_factory=dict)
    abandon_high: float = 0.05
    # QueueUnderstaffed: the "now" staffing gap above this many agents (0.5 rounds to one
    # whole agent to add), held this long.
    understaffed_gap: float = 0.5
    understaffed_hold_ms: int = 10 * 60_000
    # Contract §7.4. A chat or email agent with one interaction open is "occupied" all the
    # time: where more than multi_slot_share of the handling time was on channels with
    # several slots, the occupancy rules and the burnout signal use load instead.
    multi_slot_share: float = 0.5
    # CsatAhtDivergence and AgentBurnoutRisk hold this long before firing and resolve only
    # after their condition has been false this long (Prometheus' keep_firing_for).
    divergence_hold_ms: int = 5 * 60_000
    burnout_hold_ms: int = 5 * 60_000
    keep_firing_ms: int = 5 * 60_000
    # true: the rules of contract §4 exactly as v1 wrote them (occupancy for every agent, no
    # hold and no keep-firing for divergence and burnout)
    literal_v1_rules: bool = False
    # Schedules (contract §7.3): held this long before firing
    adherence_hold_ms: int = 10 * 60_000
    team_adherence_low: float = 0.90
    team_adherence_hold_ms: int = 15 * 60_000
    team_absence_high: float = 0.10
    team_absence_hold_ms: int = 15 * 60_000
    # AgentStateTooLong (contract §7.3): how long an activity may last before the supervisor
    # is asked to look. A long ACW or hold is a prompt to ask whether the agent needs help.
    acw_limit_s: float = 300
    not_ready_limit_s: float = 1200
    # per not_ready reason label (contract §7.2's reason), over not_ready_limit_s
    not_ready_reason_limits_s: dict[str, float] = field(
        default_factory=lambda: {"break": 900, "lunch": 3600})
    hold_limit_s: float = 180
    # Empathy guardrail: emotional calls may take longer; they never raise an AHT signal alone.
    exclude_emotional_from_aht: bool = True
    runbook_base: str = RUNBOOK_BASE
    # team -> {field: value}: overrides for that team's agents and the team itself
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)

    def sl_target(self, queue: str) -> float:
        return self.queue_service_level_target.get(queue, self.service_level_target)

    def for_team(self, team: str) -> Thresholds:
        """The thresholds that apply to ``team`` (the shared ones where it overrides none)."""
        overrides = self.teams.get(team)
        return replace(self, teams={}, **overrides) if overrides else self


Watched = Collection[str]  # agents with a pending or firing alert of a rule (Finder)


@dataclass(frozen=True)
class Finding:
    """One scope's verdict at one evaluation."""

    labels: dict[str, str]  # scope labels: agent/team/queue
    active: bool  # the firing condition holds
    keep_firing: bool  # a firing alert stays firing (its resolve threshold is not crossed)
    description: str
    values: dict[str, float] = field(default_factory=dict)


def _aht_key(t: Thresholds) -> str:
    return "aht_non_emotional_seconds" if t.exclude_emotional_from_aht else "aht_seconds"


def _enough_wrapped(now: Kpis, base: Kpis, t: Thresholds) -> bool:
    return now.get("wrapped", 0) >= t.min_wrapped_1h and base.get("wrapped", 0) >= t.min_wrapped_8h


def _enough_surveys(now: Kpis, base: Kpis, t: Thresholds) -> bool:
    return now.get("surveys", 0) >= t.min_surveys_1h and base.get("surveys", 0) >= t.min_surveys_8h


def _at_least(value: float, threshold: float) -> bool:
    """``value >= threshold`` that holds at exactly the threshold despite float rounding
    (345 s vs 300 s is +15 %, though 345 / 300 - 1 is 0.1499999…)."""
    return value >= threshold - 1e-9


def _relative_up(now: Kpis, base: Kpis, key: str) -> float | None:
    """Relative change of ``key`` from the 8h baseline; None where either has no value."""
    if key not in now or not base.get(key):
        return None
    return now[key] / base[key] - 1


def _divergence(now: Kpis, base: Kpis, t: Thresholds,
                ) -> tuple[bool, bool, str, dict[str, float]]:
    """(fires, keeps firing, description, values)."""
    aht = _aht_key(t)
    if not (_enough_wrapped(now, base, t) and _enough_surveys(now, base, t)):
        return False, False, "", {}
    up = _relative_up(now, base, aht)
    drop = base["csat"] - now["csat"]

    def holds(aht_up: float, csat_down: float) -> bool:
        return up is not None and _at_least(up, aht_up) and _at_least(drop, csat_down)

    active = holds(t.aht_up, t.csat_down)
    keep = holds(t.aht_up if t.aht_up_resolve is None else t.aht_up_resolve,
                 t.csat_down if t.csat_down_resolve is None else t.csat_down_resolve)
    text = (f"AHT 1h {now.get(aht, 0):.0f}s vs 8h {base.get(aht, 0):.0f}s "
            f"({(up or 0) * 100:+.0f} %, threshold +{t.aht_up * 100:.0f} %); "
            f"CSAT 1h {now['csat']:.2f} vs 8h {base['csat']:.2f} "
            f"({-drop:+.2f}, threshold -{t.csat_down})")
    return active, keep, text, {"aht_change": up or 0.0, "csat_drop": drop}


def strain(kpis: Kpis, t: Thresholds) -> tuple[str, float | None]:
    """(measure, value) the occupancy rules judge: occupancy, or load where the handling
    time was mostly on multi-slot channels (contract §7.4; off with literal_v1_rules)."""
    if not t.literal_v1_rules and kpis.get("multi_slot_share", 0.0) > t.multi_slot_share:
        return "load", kpis.get("load")
    return "occupancy", kpis.get("occupancy")


def _burnout_signals(now: Kpis, base: Kpis, t: Thresholds) -> list[str]:
    signals = []
    measure, busy = strain(now, t)
    if busy is not None and busy > t.occupancy_high:
        signals.append(f"{measure} 1h {busy:.2f} > {t.occupancy_high}")
    # Each comparison with the baseline needs its own samples: wraps for AHT, ACW and
    # escalations, surveys for CSAT.
    if _enough_surveys(now, base, t) and _at_least(base["csat"] - now["csat"], t.csat_down):
        signals.append(f"CSAT {now['csat']:.2f} vs {base['csat']:.2f}")
    if _enough_wrapped(now, base, t):
        up = _relative_up(now, base, _aht_key(t))
        if up is not None and _at_least(up, t.aht_up):
            signals.append(f"AHT {up * 100:+.0f} % vs 8h")
        acw = _relative_up(now, base, "acw_share")
        if acw is not None and _at_least(acw, t.acw_share_up):
            signals.append(f"ACW share {acw * 100:+.0f} % vs 8h")
        escalation = _relative_up(now, base, "escalation")
        if escalation is not None and _at_least(escalation, t.escalation_up):
            signals.append(f"escalation rate {escalation * 100:+.0f} % vs 8h")
    gaps = now.get("idle_between_seconds")
    if (gaps is not None and now.get("idle_between_samples", 0) >= t.min_gaps_1h
            and gaps < t.idle_between_below_s):
        signals.append(f"idle between interactions {gaps:.1f}s < {t.idle_between_below_s:.0f}s")
    return signals


def _understaffed(plan: QueueStaffing) -> str:
    """The workforce manager's answer in one sentence: how many to add now, and why."""
    def add(horizon: str) -> str:
        gap = plan.gap(horizon)
        return f"add {math.ceil(gap - 1e-9)}" if gap > 0 else "enough"
    first = next(iter(plan.offered_load))
    last_horizon = list(plan.required_agents)[-1]
    return (f"{plan.channel} needs {plan.required_agents[NOW]} agents now for "
            f"{plan.service_level_target:.0%} within {plan.threshold_seconds:.0f}s at "
            f"≤ {plan.occupancy_cap:.0%} occupancy: {plan.arrivals_per_hour[NOW]:.0f} arrivals/h "
            f"x AHT {plan.aht_seconds[first]:.0f}s = {plan.offered_load[first]:.1f} Erlangs "
            f"({first}); {plan.staffed_agents:.1f} serving it (predicted service level "
            f"{plan.predicted_service_level:.0%}): {add(NOW)}. In {last_horizon}: "
            f"{plan.required_agents[last_horizon]} needed ({add(last_horizon)}).")


def _agent_occupancy_high(snap: Snapshot, t: Thresholds, watched: Watched,
                          ) -> Iterator[Finding]:
    w1h = snap.windows[WINDOW_1H]
    for agent, kpis in w1h.agent.items():
        team = snap.team_of(agent)
        tt = t.for_team(team)
        measure, occ = strain(kpis, tt)
        if occ is None:
            continue
        active = occ > tt.occupancy_high
        if not active and agent not in watched:
            continue
        yield Finding({"agent": agent, "team": team}, active,
                      occ >= tt.occupancy_resolve,
                      f"{measure} 1h {occ:.2f} (> {tt.occupancy_high}; resolves below "
                      f"{tt.occupancy_resolve})", {f"{measure}_1h": occ})


def _team_occupancy_high(snap: Snapshot, t: Thresholds, _watched: Watched,
                         ) -> Iterator[Finding]:
    w1h = snap.windows[WINDOW_1H]
    for team, kpis in w1h.team.items():
        tt = t.for_team(team)
        measure, occ = strain(kpis, tt)
        if occ is not None:
            yield Finding({"team": team}, occ > tt.occupancy_high,
                          occ > tt.team_occupancy_resolve,
                          f"team {measure} 1h {occ:.2f} (> {tt.occupancy_high})",
                          {f"{measure}_1h": occ})


def _csat_aht_divergence(snap: Snapshot, t: Thresholds, watched: Watched,
                         ) -> Iterator[Finding]:
    w1h = snap.windows[WINDOW_1H]
    w8h = snap.windows[WINDOW_8H]
    for scope, now_by, base_by in (("team", w1h.team, w8h.team),
                                   ("agent", w1h.agent, w8h.agent)):
        for scope_id, now in now_by.items():
            labels = {scope: scope_id}
            if scope == "agent" and scope_id in snap.agents:
                labels["team"] = snap.agents[scope_id].team
            tt = t.for_team(labels.get("team", scope_id))
            active, keep, text, values = _divergence(now, base_by.get(scope_id, {}), tt)
            if not text or (not active and scope == "agent" and scope_id not in watched):
                continue
            yield Finding(labels, active, keep, text, values)


def _agent_burnout_risk(snap: Snapshot, t: Thresholds, watched: Watched,
                        ) -> Iterator[Finding]:
    w1h = snap.windows[WINDOW_1H]
    w8h = snap.windows[WINDOW_8H]
    for agent, now in w1h.agent.items():
        team = snap.team_of(agent)
        tt = t.for_team(team)
        signals = _burnout_signals(now, w8h.agent.get(agent, {}), tt)
        active = len(signals) >= tt.burnout_min_signals
        if not active and agent not in watched:
            continue
        yield Finding({"agent": agent, "team": team}, active, active,
                      f"{len(signals)} of 6 signals: " + ("; ".join(signals) or "none"),
                      {"signals": len(signals)})


def _team_overstaffed(snap: Snapshot, t: Thresholds, _watched: Watched,
                      ) -> Iterator[Finding]:
    w1h = snap.windows[WINDOW_1H]
    for team, kpis in w1h.team.items():
        occ = kpis.get("occupancy")
        if occ is None:
            continue
        states = snap.team_states.get(team, {})
        logged_in = sum(n for s, n in states.items() if s != "logged_out")
        tt = t.for_team(team)
        active = occ < tt.overstaffed_below and logged_in >= tt.overstaffed_min_agents
        yield Finding({"team": team}, active, active,
                      f"team occupancy 1h {occ:.2f} (< {tt.overstaffed_below}) with "
                      f"{logged_in} agents logged in", {"occupancy_1h": occ})


def _queue_service_level_low(snap: Snapshot, t: Thresholds, _watched: Watched,
                             ) -> Iterator[Finding]:
    w15 = snap.windows[WINDOW_15M]
    for queue, kpis in w15.queue.items():
        sl = kpis.get("service_level")
        if sl is not None:
            target = t.sl_target(queue)
            yield Finding({"queue": queue}, sl < target, sl < target,
                          f"service level 15m {sl:.2f} (< target {target})",
                          {"service_level_15m": sl})


def _queue_abandon_rate_high(snap: Snapshot, t: Thresholds, _watched: Watched,
                             ) -> Iterator[Finding]:
    w15 = snap.windows[WINDOW_15M]
    for queue, kpis in w15.queue.items():
        rate = kpis.get("abandon")
        if rate is not None:
            yield Finding({"queue": queue}, rate > t.abandon_high, rate > t.abandon_high,
                          f"abandon rate 15m {rate:.3f} (> {t.abandon_high}) — "
                          f"{kpis['abandoned']:.0f} of {kpis['queued']:.0f} queued",
                          {"abandon_15m": rate})


def _queue_understaffed(snap: Snapshot, t: Thresholds, _watched: Watched,
                        ) -> Iterator[Finding]:
    for (queue, channel), plan in snap.staffing.items():
        gap = plan.gap(NOW)
        active = gap > t.understaffed_gap
        yield Finding({"queue": queue, "channel": channel}, active, active,
                      _understaffed(plan), {"gap_agents": gap})


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _agent_state_too_long(snap: Snapshot, t: Thresholds, _watched: Watched,
                          ) -> Iterator[Finding]:
    """Fires at the first evaluation past the limit; resolves when the activity (or the
    hold) ends, because the finding is gone then (its labels name the activity)."""
    for agent, now in snap.agents.items():
        tt = t.for_team(now.team)
        if now.hold_seconds is not None and now.hold_seconds > tt.hold_limit_s:
            yield Finding({"agent": agent, "team": now.team, "state": "hold"}, True, True,
                          f"an interaction on hold for {_minutes(now.hold_seconds)} (limit "
                          f"{_minutes(tt.hold_limit_s)})", {"hold_seconds": now.hold_seconds})
        if now.state_seconds is None:
            continue
        if now.state == "acw":
            limit, labels = tt.acw_limit_s, {"state": "acw"}
        elif now.state == "not_ready":
            limit = tt.not_ready_reason_limits_s.get(now.reason, tt.not_ready_limit_s)
            labels = {"state": "not_ready", "reason": now.reason}
        else:
            continue
        if now.state_seconds > limit:
            what = " ".join(labels.values()).replace("_", " ")
            yield Finding({"agent": agent, "team": now.team, **labels}, True, True,
                          f"{what} for {_minutes(now.state_seconds)} (limit "
                          f"{_minutes(limit)})", {"state_seconds": now.state_seconds})


def _agent_out_of_adherence(snap: Snapshot, t: Thresholds, watched: Watched,
                            ) -> Iterator[Finding]:
    for agent, now in snap.agents.items():
        if now.in_adherence is None or (now.in_adherence and agent not in watched):
            continue
        doing = now.state.replace("_", " ") + (f" ({now.reason})" if now.reason else "")
        yield Finding({"agent": agent, "team": now.team}, not now.in_adherence,
                      not now.in_adherence, f"scheduled {now.scheduled}, {doing} now")


def _team_schedule_ratio(key: str, bad: Callable[[float, Thresholds], bool], text: str,
                         ) -> Finder:
    """A team rule on a 1h schedule KPI (adherence, absence)."""
    def find(snap: Snapshot, t: Thresholds, _watched: Watched) -> Iterator[Finding]:
        for team, kpis in snap.windows[WINDOW_1H].team.items():
            value = kpis.get(key)
            if value is not None:
                fires = bad(value, t.for_team(team))
                yield Finding({"team": team}, fires, fires, text.format(value=value),
                              {f"{key}_1h": value})
    return find


# Every scope a rule has an opinion about at a snapshot, given the agents it has a pending or
# firing alert for (``watched``): of other agents it may leave out the findings that are not
# active, which the evaluator would drop (nothing to start, nothing to resolve). At 50,000
# agents a finding for every agent and rule was most of the rules' time (BENCHMARKS.md).
Finder = Callable[[Snapshot, Thresholds, Watched], Iterator[Finding]]


def _no_hold(_t: Thresholds) -> int:
    return 0


@dataclass(frozen=True)
class Rule:
    alertname: str
    severity: str
    audience: str
    summary: str
    find: Finder  # every scope the rule has an opinion about at a snapshot
    hold: Callable[[Thresholds], int] = _no_hold  # how long the condition must hold
    # how long a firing alert's resolve condition must have been false before it resolves
    keep_firing: Callable[[Thresholds], int] = _no_hold

    def hold_ms(self, t: Thresholds) -> int:
        """How long the condition must hold at every evaluation before the alert fires."""
        return self.hold(t)

    def runbook_url(self, t: Thresholds) -> str:
        return f"{t.runbook_base}#{self.alertname.lower()}"


RULES: tuple[Rule, ...] = (
    Rule("AgentOccupancyHigh", "warning", "supervisor",
         "Agent occupancy above the healthy band for a sustained period",
         _agent_occupancy_high, hold=lambda t: t.occupancy_hold_ms),
    Rule("TeamOccupancyHigh", "warning", "supervisor,wfm",
         "Team occupancy above the healthy band for a sustained period",
         _team_occupancy_high, hold=lambda t: t.occupancy_hold_ms),
    Rule("CsatAhtDivergence", "warning", "supervisor",
         "Handle time rising while customer satisfaction falls", _csat_aht_divergence,
         hold=lambda t: 0 if t.literal_v1_rules else t.divergence_hold_ms,
         keep_firing=lambda t: 0 if t.literal_v1_rules else t.keep_firing_ms),
    Rule("AgentBurnoutRisk", "critical", "supervisor",
         "Several burnout-risk signals at once for one agent", _agent_burnout_risk,
         hold=lambda t: 0 if t.literal_v1_rules else t.burnout_hold_ms,
         keep_firing=lambda t: 0 if t.literal_v1_rules else t.keep_firing_ms),
    Rule("TeamOverstaffed", "warning", "wfm",
         "Team occupancy below the healthy band: more agents than work", _team_overstaffed,
         hold=lambda t: t.overstaffed_hold_ms),
    Rule("QueueServiceLevelLow", "warning", "operations,wfm", "Queue service level below target",
         _queue_service_level_low),
    Rule("QueueAbandonRateHigh", "warning", "operations,wfm", "Queue abandon rate above target",
         _queue_abandon_rate_high),
    Rule("QueueUnderstaffed", "warning", "wfm",
         "Queue needs more agents to meet its service level at a healthy occupancy",
         _queue_understaffed, hold=lambda t: t.understaffed_hold_ms),
    Rule("AgentOutOfAdherence", "warning", "supervisor",
         "An agent is not doing what the schedule plans for now", _agent_out_of_adherence,
         hold=lambda t: t.adherence_hold_ms),
    Rule("TeamAdherenceLow", "warning", "wfm",
         "Team schedule adherence below target over the last hour",
         _team_schedule_ratio("adherence", lambda v, t: v < t.team_adherence_low,
                              "team adherence 1h {value:.2f}"),
         hold=lambda t: t.team_adherence_hold_ms),
    Rule("TeamAbsenceHigh", "warning", "wfm,supervisor",
         "Agents scheduled to work are not logged in",
         _team_schedule_ratio("absence", lambda v, t: v > t.team_absence_high,
                              "team absence 1h {value:.2f} of scheduled work time"),
         hold=lambda t: t.team_absence_hold_ms),
    Rule("AgentStateTooLong", "warning", "supervisor",
         "An agent has been in one activity longer than usual: check in, they may need help",
         _agent_state_too_long),
)

# The windows whose every agent's KPIs the rules above read. A snapshot computes an agent's
# KPIs when first read (processors.snapshot.AgentKpis); a worker computes these on the thread
# that finishes the evaluation's snapshot, not on its replica's, which runs the rules and
# applies no event meanwhile (ccpulse.runtime.Monitor). A rule reading another window of
# every agent is only slower on that thread: tests/unit/test_agent_kpis.py says so.
AGENT_WINDOWS: tuple[str, ...] = (WINDOW_1H, WINDOW_8H)
