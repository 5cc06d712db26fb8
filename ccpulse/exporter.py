"""Contract §3 metrics, computed at scrape time from a KPI snapshot.

A custom collector rather than long-lived Gauges: every scrape computes the windows ending
*now*, so an open call is counted up to the scrape instant, and a scope whose KPI has no
denominator simply yields no sample (never NaN). Example exposition::

    ccpulse_team_occupancy_ratio{team="team-001",window="1h"} 0.83
    ccpulse_agent_interactions_per_hour{agent="a1",channel="all",team="t1",window="1h"} 7.5
    ccpulse_queue_service_level_ratio{queue="billing-voice-001",window="15m"} 0.8
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from alerts.engine import AlertEvaluator
from ccpulse.scorecard_metrics import scorecard_metrics
from ccpulse.staffing_metrics import staffing_metrics
from ccpulse.textformat import LabelledGauge, render
from processors.decode import REASONS
from processors.kpis import Kpis
from processors.scorecard import Scorecards
from processors.snapshot import Snapshot
from streams.pipeline import PipelineStats

# KPI key -> (metric name suffix, help). Shared by agent and team scopes.
PEOPLE_KPIS: dict[str, tuple[str, str]] = {
    "occupancy": ("occupancy_ratio", "(handling + acw) / (handling + acw + idle) time"),
    "utilization": ("utilization_ratio",
                    "(handling + acw + productive not-ready) / logged-in time"),
    "load": ("load_ratio", "time-weighted share of interaction slots in use while available"),
    "logged_in_seconds": ("logged_in_seconds", "logged-in time in the window"),
    "answered": ("answered_interactions", "interactions answered in the window"),
    "repeat_contact": ("repeat_contact_ratio",
                       "answered interactions whose customer had another in the last 24 h"),
    "idle_between_seconds": ("idle_between_interactions_seconds",
                             "mean time between wrapping one interaction and the next answer"),
    "surveys": ("surveys", "surveys received in the window"),
    "csat": ("csat_score", "mean CSAT (1-5) of surveys received in the window"),
    "csat_top2": ("csat_top2_ratio", "share of CSAT answers of 4 or 5"),
    "felt_heard": ("felt_heard_ratio", "share of surveyed customers who felt heard"),
}
OUTCOME_KPIS: dict[str, tuple[str, str]] = {
    "wrapped": ("wrapped_interactions", "interactions wrapped in the window"),
    "aht_seconds": ("aht_seconds", "mean handle time (talk + hold + acw) of wrapped interactions"),
    "talk_seconds": ("talk_seconds", "mean talk time of wrapped interactions"),
    "hold_seconds": ("hold_seconds", "mean hold time of wrapped interactions"),
    "acw_seconds": ("acw_seconds", "mean after-call work of wrapped interactions"),
    "acw_share": ("acw_share_ratio", "after-call work / handle time"),
    "aht_non_emotional_seconds": ("aht_non_emotional_seconds",
                                  "mean handle time of interactions not marked emotional"),
    "aht_emotional_seconds": ("aht_emotional_seconds",
                              "mean handle time of interactions marked emotional"),
    "fcr": ("fcr_ratio", "wrapped interactions resolved on first contact / wrapped"),
    "sales_conversion": ("sales_conversion_ratio", "wrapped with a sale / wrapped"),
    "request_capture": ("request_capture_ratio", "wrapped with the request captured / wrapped"),
    "revenue_per_interaction": ("revenue_per_interaction", "revenue / wrapped interactions"),
    "escalation": ("escalation_ratio", "wrapped and escalated / wrapped"),
    "transfer": ("transfer_ratio", "wrapped and transferred / wrapped"),
    "emotional": ("emotional_ratio", "wrapped interactions marked emotional / wrapped"),
    "sentiment": ("sentiment_score", "mean sentiment (-1..1) of wrapped interactions"),
    "qa_score": ("qa_score", "mean QA score (0-100) of wrapped interactions"),
}
QUEUE_KPIS: dict[str, tuple[str, str]] = {
    "service_level": ("service_level_ratio",
                      "answered within threshold / (answered + abandoned after short-abandon)"),
    "abandon": ("abandon_ratio", "abandoned / queued, each counted at its own time"),
    "asa_seconds": ("asa_seconds", "mean wait of answered interactions"),
    "queued": ("queued_interactions", "interactions queued in the window"),
    "abandoned": ("abandoned_interactions", "interactions abandoned in the window"),
    "answered_from_queue": ("answered_interactions", "queued interactions answered"),
    "repeat_contact": ("repeat_contact_ratio",
                       "interactions whose customer had another in the last 24 h"),
}
STATES = ("handling", "acw", "idle", "not_ready", "logged_out")
# Per agent only what a supervisor acts on (contract §3's list, the burnout signals and the
# default scorecard's KPIs): a
# floor of 5,000 agents × 3 windows × every KPI would be millions of series. Teams, queues
# and channels get everything.
AGENT_KEYS = ("occupancy", "utilization", "load", "logged_in_seconds", "aht_seconds",
              "aht_non_emotional_seconds", "acw_share", "fcr", "escalation", "csat", "surveys",
              "wrapped", "idle_between_seconds", "qa_score", "felt_heard")


def _families(prefix: str, kpis: Mapping[str, tuple[str, str]], labels: list[str],
              ) -> dict[str, LabelledGauge]:
    return {
        key: LabelledGauge(f"ccpulse_{prefix}_{suffix}", help_text, labels=labels)
        for key, (suffix, help_text) in kpis.items()
    }


def _fill(families: dict[str, LabelledGauge], kpis: Kpis, labels: tuple[str, ...]) -> None:
    """One tuple of label values for every KPI of a scope and window: stored once, and the
    exposition renders it once."""
    for key, value in kpis.items():
        family = families.get(key)
        if family is not None:
            family.add_metric(labels, value)


ALERT_LABELS = ["alertname", "severity", "audience", "team", "agent", "queue", "channel"]


def _alert_metrics(alerts: AlertEvaluator) -> Iterator[Metric]:
    firing = GaugeMetricFamily("ccpulse_alerts_firing", "alerts firing now",
                               labels=["alertname", "severity"])
    for alertname, severity, count in alerts.firing_counts():
        firing.add_metric([alertname, severity], count)
    yield firing
    # One series per firing alert, so a dashboard can list a team's alerts; scope labels an
    # alert does not have are empty, which Prometheus treats as absent.
    info = GaugeMetricFamily("ccpulse_alert_firing_info", "1 for each alert firing now",
                             labels=ALERT_LABELS)
    for alert in alerts.firing():
        info.add_metric([alert.labels.get(name, "") for name in ALERT_LABELS], 1)
    yield info


class KpiCollector:
    """A prometheus-client collector over a snapshot source and pipeline stats."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        stats: PipelineStats | None = None,
        *,
        alerts: AlertEvaluator | None = None,
        clock_ms: Callable[[], int] | None = None,
        last_event_ms: Callable[[], int | None] | None = None,
        scorecards: Scorecards | None = None,
    ) -> None:
        """``last_event_ms`` overrides where the lag comes from: in a worker, counters are the
        consumer's own but the lag is that of the replica behind ``/metrics``."""
        self._snapshot = snapshot
        self._stats = stats
        self._alerts = alerts
        self._scorecards = scorecards or Scorecards()
        self._clock_ms = clock_ms
        self._last_event_ms = last_event_ms or (lambda: stats.last_event_ms if stats else None)

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield from self._kpi_metrics(snap)
        yield from self._state_metrics(snap)
        yield from staffing_metrics(snap)
        yield from scorecard_metrics(snap, self._scorecards)
        if self._alerts is not None:
            yield from _alert_metrics(self._alerts)
        if self._stats is not None:
            yield from self._pipeline_metrics(self._stats)

    def _kpi_metrics(self, snap: Snapshot) -> Iterator[Metric]:
        agent_labels = ["agent", "team", "window"]
        every = PEOPLE_KPIS | OUTCOME_KPIS
        agent = _families("agent", {k: every[k] for k in AGENT_KEYS}, agent_labels)
        team = _families("team", PEOPLE_KPIS | OUTCOME_KPIS, ["team", "window"])
        queue = _families("queue", QUEUE_KPIS | OUTCOME_KPIS, ["queue", "window"])
        channel = _families("channel", QUEUE_KPIS | OUTCOME_KPIS, ["channel", "window"])
        iph_help = "interactions wrapped / logged-in hours (channel 'all' for the total)"
        agent_iph = LabelledGauge("ccpulse_agent_interactions_per_hour", iph_help,
                                  labels=["agent", "team", "window", "channel"])
        team_iph = LabelledGauge("ccpulse_team_interactions_per_hour", iph_help,
                                 labels=["team", "window", "channel"])
        for window, kpis in snap.windows.items():
            for agent_id, values in kpis.agent.items():
                now = snap.agents.get(agent_id)
                team_id = now.team if now is not None else "unknown"
                _fill(agent, values, (agent_id, team_id, window))
                if "interactions_per_hour" in values:
                    agent_iph.add_metric([agent_id, team_id, window, "all"],
                                         values["interactions_per_hour"])
            for (agent_id, ch), value in kpis.agent_iph.items():
                now = snap.agents.get(agent_id)
                agent_iph.add_metric([agent_id, now.team if now else "unknown", window, ch],
                                     value)
            for team_id, values in kpis.team.items():
                _fill(team, values, (team_id, window))
                if "interactions_per_hour" in values:
                    team_iph.add_metric([team_id, window, "all"], values["interactions_per_hour"])
            for (team_id, ch), value in kpis.team_iph.items():
                team_iph.add_metric([team_id, window, ch], value)
            for queue_id, values in kpis.queue.items():
                _fill(queue, values, (queue_id, window))
            for ch, values in kpis.channel.items():
                _fill(channel, values, (ch, window))
        for group in (agent, team, queue, channel):
            yield from group.values()
        yield agent_iph
        yield team_iph

    @staticmethod
    def _state_metrics(snap: Snapshot) -> Iterator[Metric]:
        state = LabelledGauge("ccpulse_agent_state",
                              "1 for the agent's current activity (handling > acw > idle > "
                              "not_ready > logged_out)", labels=["agent", "team", "state"])
        for agent_id, now in snap.agents.items():
            state.add_metric([agent_id, now.team, now.state], 1)
        yield state
        agents = GaugeMetricFamily("ccpulse_team_agents", "agents of the team in each activity now",
                                   labels=["team", "state"])
        for team_id, counts in snap.team_states.items():
            for name in STATES:
                agents.add_metric([team_id, name], counts.get(name, 0))
        yield agents
        waiting = GaugeMetricFamily("ccpulse_queue_waiting_interactions",
                                    "interactions queued and not yet answered or abandoned",
                                    labels=["queue"])
        longest = GaugeMetricFamily("ccpulse_queue_longest_wait_seconds",
                                    "wait so far of the oldest interaction still queued",
                                    labels=["queue"])
        # Every queue with KPIs in some window gets a sample, 0 when nobody waits: a
        # wallboard should show an empty queue as 0, not as "no data".
        known = set(snap.waiting)
        for kpis in snap.windows.values():
            known.update(kpis.queue)
        for queue_id in sorted(known):
            count, oldest = snap.waiting.get(queue_id, (0, 0.0))
            waiting.add_metric([queue_id], count)
            longest.add_metric([queue_id], oldest)
        yield waiting
        yield longest
        tracked = GaugeMetricFamily("ccpulse_tracked_entities",
                                    "agents, teams and queues the engine tracks now",
                                    labels=["scope"])
        limit = GaugeMetricFamily("ccpulse_tracked_entities_limit",
                                  "most the engine will track ([engine] max_agents, …)",
                                  labels=["scope"])
        refused = CounterMetricFamily("ccpulse_events_over_limit",
                                      "events refused because they would track one entity "
                                      "more than the limit", labels=["scope"])
        for scope, (count, most) in snap.entities.items():
            tracked.add_metric([scope], count)
            limit.add_metric([scope], most)
            refused.add_metric([scope], snap.over_limit.get(scope, 0))
        yield from (tracked, limit, refused)

    def _pipeline_metrics(self, stats: PipelineStats) -> Iterator[Metric]:
        processed = CounterMetricFamily("ccpulse_events_processed", "valid events applied",
                                        labels=["topic", "type"])
        for (topic, event_type), count in sorted(stats.processed.items()):
            processed.add_metric([topic, event_type], count)
        yield processed
        dead = CounterMetricFamily("ccpulse_events_dead_lettered",
                                   "events refused and sent to the dead-letter topic",
                                   labels=["reason"])
        for reason in REASONS:
            dead.add_metric([reason], stats.dead_lettered.get(reason, 0))
        yield dead
        duplicates = CounterMetricFamily("ccpulse_events_duplicate",
                                         "events ignored because their event_id was seen")
        duplicates.add_metric([], stats.duplicates)
        yield duplicates
        last = self._last_event_ms()
        if last is not None and self._clock_ms is not None:
            lag = GaugeMetricFamily("ccpulse_event_lag_seconds",
                                    "now minus the event time of the last processed event")
            lag.add_metric([], (self._clock_ms() - last) / 1000)
            yield lag


def exposition(collector: KpiCollector) -> bytes:
    """The text exposition of one collector, as ``ccpulse replay --metrics-out`` writes it."""
    return render(collector.collect())
