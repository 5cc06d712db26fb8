"""Balanced-scorecard metrics (issue 10; additions to contract §3), over the 8h window — the
shift — which is the period a supervisor talks about with an agent.

Example exposition::

    ccpulse_agent_scorecard_score{agent="a1",team="t1",window="8h"} 70.0
    ccpulse_agent_scorecard_points{agent="a1",group="empathy",kpi="csat",team="t1",window="8h"} 0.0
    ccpulse_team_kpi_spread_ratio{kpi="aht_non_emotional_seconds",team="t1",window="8h"} 0.21

Points are 1 (green), 0.5 (yellow) or 0 (red), so a band change never creates a new series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import Metric

from ccpulse.processors.scorecard import POINTS, WINDOW, Result, Scorecards, team_cards
from ccpulse.processors.snapshot import Snapshot
from ccpulse.textformat import LabelledGauge


def scorecard_metrics(snap: Snapshot, cards: Scorecards, window: str = WINDOW,
                      owns_agent: Callable[[str], bool] | None = None) -> Iterator[Metric]:
    """``owns_agent``: whose per-agent series this process exports (all where None); teams
    are scored from all their agents whatever it says."""
    kpis = snap.windows.get(window)
    if kpis is None:
        return
    agent_score = LabelledGauge("ccpulse_agent_scorecard_score",
                                "balanced scorecard, 0-100 (green 1, yellow 0.5, red 0 per "
                                "KPI; weighted groups)", labels=["agent", "team", "window"])
    team_score = LabelledGauge("ccpulse_team_scorecard_score", "balanced scorecard, 0-100",
                               labels=["team", "window"])
    agent_points = LabelledGauge("ccpulse_agent_scorecard_points",
                                 "a scorecard KPI's band: 1 green, 0.5 yellow, 0 red",
                                 labels=["agent", "team", "window", "kpi", "group"])
    team_points = LabelledGauge("ccpulse_team_scorecard_points",
                                "a scorecard KPI's band: 1 green, 0.5 yellow, 0 red",
                                labels=["team", "window", "kpi", "group"])
    spread = LabelledGauge("ccpulse_team_kpi_spread_ratio",
                           "consistency: std dev / mean of the team's agents' values "
                           "(higher = more uneven)", labels=["team", "window", "kpi"])
    by_team: dict[str, dict] = {}
    for agent, values in kpis.agent.items():
        by_team.setdefault(snap.team_of(agent), {})[agent] = values
    # Every team with KPIs (the floor's snapshot) and every team of an agent with some: a
    # snapshot of some agents scores each of them against its team's AHT, as the floor's does.
    teams = [*kpis.team, *(t for t in by_team if t not in kpis.team)] if snap.floor \
        else list(by_team)
    for team in teams:
        team_kpis = kpis.team.get(team, {})
        cards_of_team = team_cards(team_kpis, by_team.get(team, {}), cards.for_team(team))
        for agent, result in cards_of_team.agents.items():
            if owns_agent is None or owns_agent(agent):
                _add(agent_score, agent_points, (agent, team, window), result)
        if snap.floor and team in kpis.team:  # a share of the agents: the leader scores teams
            _add(team_score, team_points, (team, window), cards_of_team.team)
            for key, value in cards_of_team.spread.items():
                spread.add_metric([team, window, key], value)
    yield from (agent_score, agent_points)
    if snap.floor:
        yield from (team_score, team_points, spread)


def _add(score: LabelledGauge, points: LabelledGauge, labels: tuple[str, ...], result: Result,
         ) -> None:
    if result.score is not None:
        score.add_metric(labels, result.score)
    rows = points.rows  # (*labels, kpi, group) are points' label names by construction
    for m in result.marks:
        rows.append(((*labels, m.key, m.group), POINTS[m.colour]))
