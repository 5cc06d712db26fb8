"""Alert quality on a simulated day: ``python -m bench alerts`` (300 agents × 8 h).

The same events go through the rules twice: as contract §4 wrote them in v1
(``literal_v1_rules``) and with §7.4's refinements (load for multi-slot work, holds and
keep-firing for divergence and burnout). Counted: transitions per agent-hour, the most alerts
firing at once, and the agent and team alerts about workload and wellbeing that fire on teams
the scenarios did not make hot (team-001 runs hot, team-002's AHT rises while CSAT falls;
any occupancy, burnout or divergence alert elsewhere is noise a supervisor learns to ignore).
"""

from __future__ import annotations

from collections import Counter

import orjson

from ccpulse.alerts.engine import Alert, AlertEvaluator
from ccpulse.alerts.rules import Thresholds
from ccpulse.runtime import Monitor
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator

MADE_HOT = {"team-001", "team-002"}  # default_scenarios: "hot" and "csat_aht"
WORKLOAD = {"AgentOccupancyHigh", "TeamOccupancyHigh", "AgentBurnoutRisk", "CsatAhtDivergence"}


class _Count:
    def __init__(self, evaluator: AlertEvaluator) -> None:
        self.evaluator = evaluator
        self.most_firing = 0
        self.transitions: Counter[str] = Counter()
        self.unprovoked: set[tuple[str, str]] = set()

    def notify(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            name = alert.labels["alertname"]
            self.transitions[name] += 1
            if (alert.status == "firing" and name in WORKLOAD
                    and alert.labels.get("team") not in MADE_HOT):
                self.unprovoked.add((name, alert.labels.get("agent") or alert.labels["team"]))
        self.most_firing = max(self.most_firing,
                               sum(n for _, _, n in self.evaluator.firing_counts()))


def _run(events: list[bytes], thresholds: Thresholds, agent_hours: float) -> dict[str, object]:
    evaluator = AlertEvaluator(thresholds)
    count = _Count(evaluator)
    monitor = Monitor(Pipeline(), evaluator, [count])
    for raw in events:  # as `ccpulse replay` does: evaluations due before each event first
        monitor.pipeline.feed(raw, None, now_ms=None, before_apply=monitor.before_event)
    total = sum(count.transitions.values())
    return {"transitions_per_agent_hour": round(total / agent_hours, 3),
            "transitions": dict(sorted(count.transitions.items())),
            "most_firing_at_once": count.most_firing,
            "workload_alerts_on_teams_not_made_hot": len(count.unprovoked)}


def bench_alerts(agents: int, hours: float) -> dict[str, object]:
    config = SimConfig(agents=agents, duration_ms=int(hours * HOUR), seed=7)
    events = [orjson.dumps(e) for e in Simulator(config).events()]
    agent_hours = agents * hours
    literal = _run(events, Thresholds(literal_v1_rules=True), agent_hours)
    refined = _run(events, Thresholds(), agent_hours)
    return {"events": len(events), "literal_v1": literal, "refined": refined}
