"""The balanced scorecard: 5–7 KPIs in groups, each KPI in a green/yellow/red band, one score.

How contact centres that run well measure an agent: efficiency × quality × empathy, on a few
KPIs the agent can explain back. The arithmetic is deliberately simple enough to do by hand:

- each KPI scores by its band: **green 1, yellow ½, red 0** (inclusive band edges);
- a group scores the mean of its KPIs that have a value;
- the score is the weighted mean of the groups that have a value, × 100.

Bands are ranges, not caps: AHT is green within ±15 % of its target and red far *below* it as
well as far above, because rushed calls are a quality problem. AHT here leaves emotional
interactions out (an agent who takes longer with a distressed caller is not marked down), and
its target is the team's own AHT unless the team configures one.

The agent-experience signal (idle time between interactions) is on the card with weight 0 by
default: a supervisor sees it beside the score, but an agent with no breathing room between
calls is a staffing problem, not the agent's, so it does not lower their score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ccpulse.processors.catalogue import DEFAULT_BANDS, GREEN, RED, WINDOW_8H, YELLOW, Band
from ccpulse.processors.kpis import Kpis

WINDOW = WINDOW_8H  # scorecards are of the shift: the period a supervisor talks about

POINTS = {GREEN: 1.0, YELLOW: 0.5, RED: 0.0}
AHT = "aht_non_emotional_seconds"  # judged as a ratio to its target (catalogue: its band)

DEFAULT_KPIS: tuple[tuple[str, str], ...] = (
    ("occupancy", "efficiency"),
    (AHT, "efficiency"),
    ("fcr", "quality"),
    ("qa_score", "quality"),
    ("csat", "empathy"),
    ("felt_heard", "empathy"),
    ("idle_between_seconds", "experience"),
)
DEFAULT_WEIGHTS: dict[str, float] = {"efficiency": 40, "quality": 40, "empathy": 20,
                                     "experience": 0}


@dataclass(frozen=True)
class Scorecard:
    """One team's card (or the floor's default)."""

    kpis: tuple[tuple[str, str], ...] = DEFAULT_KPIS  # (KPI key, group)
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bands: dict[str, Band] = field(default_factory=lambda: dict(DEFAULT_BANDS))
    aht_target_seconds: float | None = None

    def __post_init__(self) -> None:
        if not 5 <= len(self.kpis) <= 7:
            raise ValueError(f"a scorecard has 5 to 7 KPIs, this one {len(self.kpis)}")
        for key, group in self.kpis:
            if key not in self.bands:
                known = ", ".join(sorted(self.bands))
                raise ValueError(f"no band for KPI {key!r} (known: {known})")
            if group not in self.weights:
                raise ValueError(f"KPI {key!r} is in group {group!r}, which has no weight")


class KpiMark(NamedTuple):
    """A named tuple, not a frozen dataclass: a scrape builds one per KPI of every agent's
    card (~35,000 at 5,000 agents), and a frozen dataclass' ``__init__`` costs four times
    the time (BENCHMARKS.md, issue 19, seventh round)."""

    key: str
    group: str
    value: float
    judged: float  # the value the band applies to (AHT: value / target)
    colour: str

    @property
    def points(self) -> float:
        return POINTS[self.colour]


@dataclass(frozen=True)
class Result:
    marks: tuple[KpiMark, ...]
    groups: dict[str, float]  # group -> mean points of its KPIs with a value
    score: float | None  # 0…100; None when no weighted group has a value


def mark(kpis: Kpis, card: Scorecard, aht_target: float | None) -> Result:
    """Score one agent or team from its KPIs over a window.

    ``aht_target`` is the AHT the band is centred on: the card's configured target, else
    (for an agent) the team's AHT; without one, AHT is not scored.
    """
    target = card.aht_target_seconds or aht_target
    bands = card.bands
    marks = []
    groups: dict[str, list[float]] = {}
    for key, group in card.kpis:
        value = kpis.get(key)
        if value is None:
            continue
        if key == AHT:
            if not target:
                continue
            judged = value / target
        else:
            judged = value
        colour = bands[key].colour(judged)
        marks.append(KpiMark(key, group, value, judged, colour))
        groups.setdefault(group, []).append(POINTS[colour])
    means = {g: sum(p) / len(p) for g, p in groups.items()}
    weighted = {g: card.weights[g] for g in means if card.weights[g] > 0}
    total = sum(weighted.values())
    score = (sum(means[g] * w for g, w in weighted.items()) / total * 100) if total else None
    return Result(tuple(marks), means, score)


def spread(values: list[float]) -> float | None:
    """Coefficient of variation (population std dev / mean) of agents' values: how unevenly a
    team performs. None with fewer than two values or a zero mean."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    if mean == 0:
        return None
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) / abs(mean)


@dataclass
class TeamCards:
    team: Result
    agents: dict[str, Result]
    spread: dict[str, float]  # KPI key (and "score") -> coefficient of variation


def team_cards(team_kpis: Kpis, agent_kpis: Mapping[str, Kpis], card: Scorecard) -> TeamCards:
    """The team's card, each agent's card (AHT target: the team's AHT) and the spread of the
    agents' values per KPI."""
    agents = {a: mark(k, card, team_kpis.get(AHT)) for a, k in agent_kpis.items()}
    spreads: dict[str, float] = {}
    for key, _ in card.kpis:
        value = spread([k[key] for k in agent_kpis.values() if key in k])
        if value is not None:
            spreads[key] = value
    score_spread = spread([r.score for r in agents.values() if r.score is not None])
    if score_spread is not None:
        spreads["score"] = score_spread
    return TeamCards(mark(team_kpis, card, None), agents, spreads)


@dataclass(frozen=True)
class Scorecards:
    """The floor's default card and the teams that configure their own."""

    default: Scorecard = field(default_factory=Scorecard)
    teams: dict[str, Scorecard] = field(default_factory=dict)

    def for_team(self, team: str) -> Scorecard:
        return self.teams.get(team, self.default)
