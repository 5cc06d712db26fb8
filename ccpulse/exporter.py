"""Contract §3 metrics, computed at scrape time from a KPI snapshot.

A custom collector rather than long-lived Gauges: the windows end at the snapshot's instant,
so an open call is counted up to it, and a scope whose KPI has no denominator simply yields
no sample (never NaN). That instant is the scrape's, or a recent one's
(:class:`ccpulse.api.RecentSnapshot`; a worker renders the text ahead of scrapes that keep a
rhythm, :mod:`ccpulse.scrape_ahead`); ``ccpulse_snapshot_age_seconds`` says how recent.
Example exposition::

    ccpulse_team_occupancy_ratio{team="team-001",window="1h"} 0.83
    ccpulse_agent_interactions_per_hour{agent="a1",channel="all",team="t1",window="1h"} 7.5
    ccpulse_queue_service_level_ratio{queue="billing-voice-001",window="15m"} 0.8
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ccpulse.alerts.engine import AlertEvaluator
from ccpulse.processors import catalogue
from ccpulse.processors.decode import REASONS
from ccpulse.processors.kpis import Kpis
from ccpulse.processors.scorecard import WINDOW, Scorecards
from ccpulse.processors.snapshot import FloorNow, Snapshot
from ccpulse.scorecard_metrics import scorecard_metrics
from ccpulse.staffing_metrics import staffing_metrics
from ccpulse.streams.pipeline import PipelineStats
from ccpulse.textformat import LabelledGauge, render

STATES = ("handling", "acw", "idle", "not_ready", "logged_out")


@dataclass(frozen=True)
class MetricsConfig:
    """What ``/metrics`` holds per agent (``[metrics]`` in the config file). Teams, queues and
    channels get every KPI in every window; an agent gets the per-agent budget, because a
    floor of 50,000 agents × 3 windows × every KPI is millions of series and a scrape that
    outlasts Prometheus' timeout. The rest is one request away: ``/api/v1/agent/ID``."""

    agent_series: catalogue.AgentSeries = field(
        default_factory=lambda: dict(catalogue.DEFAULT_AGENT_SERIES))
    # interactions per hour of each agent split by channel too (channel "all" is always there)
    agent_channels: bool = False
    # a worker exports the per-agent series of the agents of its partitions only
    # (ccpulse.sharding); off: every worker exports every agent
    shard_agents: bool = True
    # render the next scrape's text before it comes, once scrapes keep a rhythm
    # (ccpulse.scrape_ahead); off: every scrape renders the snapshot it reads
    render_ahead: bool = True
    # read the floor's states and waits for each scrape (KpiCollector's floor_now); off:
    # they are the snapshot's, as old as its KPIs
    states_at_scrape: bool = True

    def share_windows(self) -> frozenset[str]:
        """The windows a worker's own agents' series read: the budget's, and the
        scorecard's (a sharded worker's snapshot of its agents computes only these)."""
        return frozenset(w for w, keys in self.agent_series.items() if keys) | {WINDOW}

    def series_per_agent(self) -> int:
        """KPI series an agent with a value for each has (state and scorecard not counted)."""
        return sum(len(keys) for keys in self.agent_series.values())


def _families(scope: str, labels: list[str], agent_set: catalogue.AgentSeries | None = None,
              ) -> dict[str, LabelledGauge]:
    """One family per KPI of the scope in the catalogue (per agent: of the budget)."""
    return {
        kpi.key: LabelledGauge(f"ccpulse_{scope}_{kpi.metric}", kpi.help_for(scope),
                               labels=labels)
        for kpi in catalogue.in_scope(scope, agent_set=agent_set) if not kpi.by_channel
    }


def _fill(families: dict[str, LabelledGauge], kpis: Kpis, labels: tuple[str, ...],
          only: frozenset[str] | None = None) -> None:
    """One tuple of label values for every KPI of a scope and window (of ``only``, where
    given): stored once, and the exposition renders it once."""
    # An agent's budget is a few KPIs of the ~30 its dict holds: look those up, not all.
    # Rows are appended straight to the families (every one of them has ``labels``' names,
    # _families): add_metric's checks per row were a sixth of a scrape's collect.
    for key in kpis if only is None else only:
        value, family = kpis.get(key), families.get(key)
        if value is not None and family is not None:
            family.rows.append((labels, value))


ALERT_LABELS = ["alertname", "severity", "audience", "team", "agent", "queue", "channel",
                "state", "reason"]


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
        metrics: MetricsConfig | None = None,
        owns_agent: Callable[[str], bool] | None = None,
        share: Callable[[frozenset[str]], Snapshot] | None = None,
        floor: Callable[[], bool] | None = None,
        shard_key: Callable[[], object] | None = None,
        floor_now: Callable[[int, bool, float | None], FloorNow | None] | None = None,
    ) -> None:
        """``last_event_ms`` overrides where the lag comes from: in a worker, counters are the
        consumer's own but the lag is that of the replica behind ``/metrics``.

        Sharded workers: ``owns_agent`` says whose per-agent series this process exports;
        while ``floor()`` is false (another worker leads), a scrape reads ``share(windows)`` —
        the snapshot of its own agents only, of the windows their series read
        (:meth:`MetricsConfig.share_windows`) — and exports their series alone: teams,
        queues, channels and staffing come from the leader. Where ``floor`` is None, every scrape
        is of the whole floor. ``shard_key``: which partitions this worker owns now (part of
        :meth:`view`).

        ``floor_now(now_ms, whole, wait_s)``: the floor's states, counts and waits at the scrape's
        instant (``whole`` False: of this worker's agents only), read at every scrape
        (:meth:`live`) instead of taken from the snapshot: a wallboard's "who is doing
        what" and "how long the oldest call has waited" are then a second or two old (15 s at
        most: :mod:`ccpulse.scrape_ahead`) where a 50,000-agent floor's snapshot
        is tens of seconds old. Needs ``clock_ms``."""
        self._snapshot = snapshot
        self._floor_now = floor_now if clock_ms is not None else None
        self._shard_key = shard_key
        self._share = share
        self._floor = floor
        self._stats = stats
        self._alerts = alerts
        self._scorecards = scorecards or Scorecards()
        self._metrics = metrics or MetricsConfig()
        # whose per-agent series this process exports (ccpulse.sharding); all where None
        self._owns = owns_agent or (lambda _agent: True)
        self._sharded = owns_agent is not None
        self._clock_ms = clock_ms
        self._last_event_ms = last_event_ms or (lambda: stats.last_event_ms if stats else None)

    def view(self) -> tuple[bool, object]:
        """What a scrape now exports: the whole floor or this worker's share, and of which
        partitions. A rendering kept for later scrapes (:mod:`ccpulse.scrape_ahead`) is
        served only while this is unchanged: a worker that lost the alert lease must not
        export the floor a moment longer, nor agents whose partitions moved."""
        whole = self._floor is None or self._share is None or self._floor()
        return whole, self._shard_key() if self._shard_key is not None else None

    def snapshot(self, whole: bool | None = None) -> Snapshot:
        """The snapshot a scrape reads now: the floor's, or this worker's agents' only
        (``whole``: as a :meth:`view` taken just before said)."""
        if self.view()[0] if whole is None else whole:
            return self._snapshot()
        return self._share(self._metrics.share_windows())  # type: ignore[misc]

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        yield from self.of_snapshot(snap)
        yield from self.live(snap.now)

    def of_snapshot(self, snap: Snapshot) -> Iterator[Metric]:
        """Everything a snapshot alone decides (the bulk of a scrape)."""
        yield from self._kpi_metrics(snap)
        if self._floor_now is None:
            yield from self._state_metrics(snap.floor_now())
        if snap.floor:
            yield from staffing_metrics(snap)
        yield from scorecard_metrics(snap, self._scorecards,
                                     owns_agent=self._owns if self._sharded else None)

    def live(self, snapshot_ms: int) -> Iterator[Metric]:
        """What is read at the scrape itself: :meth:`states` now, then :meth:`at_scrape`."""
        states_ms = None
        if self._clock_ms is not None:
            states_ms = self._clock_ms()
            yield from self.states(states_ms) or ()
        yield from self.at_scrape(snapshot_ms, states_ms=states_ms)

    def states(self, now_ms: int, whole: bool | None = None, wait_s: float | None = None,
               ) -> list[Metric] | None:
        """The floor's states, counts and waits at ``now_ms`` where ``floor_now`` was given
        (of the floor or this worker's agents, as ``whole`` or :meth:`view` says); none
        otherwise (they are of the snapshot then: :meth:`of_snapshot`). ``wait_s``: how long
        to wait for the engine (None: as long as it takes); None where it stayed busy (an
        alert evaluation reads a 50,000-agent floor's engine for ~3 s)."""
        if self._floor_now is None:
            return []
        floor = self._floor_now(now_ms, self.view()[0] if whole is None else whole, wait_s)
        return None if floor is None else list(self._state_metrics(floor))

    def at_scrape(self, snapshot_ms: int, *, states_ms: int | None = None,
                  ) -> Iterator[Metric]:
        """How old the snapshot (exact at ``snapshot_ms``) is, and the states (read at
        ``states_ms``) where they are read apart from it (``floor_now`` given), the alerts,
        the pipeline's counters: read at each scrape, whatever else was read before it."""
        if self._clock_ms is not None:
            scraped_ms = self._clock_ms()
            # a scrape may serve a snapshot computed before it (ccpulse.api.RecentSnapshot),
            # or a rendering of one made before it (ccpulse.scrape_ahead)
            age = GaugeMetricFamily("ccpulse_snapshot_age_seconds",
                                    "seconds from the instant this scrape's KPIs are exact at "
                                    "to the scrape")
            age.add_metric([], max(0, scraped_ms - snapshot_ms) / 1000)
            yield age
            if states_ms is not None and self._floor_now is not None:
                # read just before the scrape, or the last ones read while the engine was
                # busy (ccpulse.scrape_ahead): up to 15 s old
                states = GaugeMetricFamily(
                    "ccpulse_states_age_seconds",
                    "seconds from the instant this scrape's agent states, team counts and "
                    "queue waits were read at to the scrape")
                states.add_metric([], max(0, scraped_ms - states_ms) / 1000)
                yield states
        if self._alerts is not None:
            yield from _alert_metrics(self._alerts)
        if self._stats is not None:
            yield from self._pipeline_metrics(self._stats)

    def _kpi_metrics(self, snap: Snapshot) -> Iterator[Metric]:
        budget = self._metrics.agent_series
        owns = self._owns
        agent = _families(catalogue.AGENT, ["agent", "team", "window"], budget)
        team = _families(catalogue.TEAM, ["team", "window"])
        queue = _families(catalogue.QUEUE, ["queue", "window"])
        channel = _families(catalogue.CHANNEL, ["channel", "window"])
        iph = catalogue.BY_KEY["interactions_per_hour"]
        agent_iph = LabelledGauge(f"ccpulse_agent_{iph.metric}", iph.help,
                                  labels=["agent", "team", "window", "channel"])
        team_iph = LabelledGauge(f"ccpulse_team_{iph.metric}", iph.help,
                                 labels=["team", "window", "channel"])
        for window, kpis in snap.windows.items():
            keys = budget.get(window, frozenset())
            agent_iph_here = iph.key in keys
            agents = kpis.agent if keys else ()  # a window of no agent series: none read
            for agent_id in agents:
                if not owns(agent_id):
                    continue  # another worker's: its KPIs are not computed here
                values = agents[agent_id]
                team_id = snap.team_of(agent_id)
                _fill(agent, values, (agent_id, team_id, window), keys)
                if agent_iph_here and iph.key in values:
                    agent_iph.add_metric([agent_id, team_id, window, "all"], values[iph.key])
            if agent_iph_here and self._metrics.agent_channels:
                for (agent_id, ch), value in kpis.agent_iph.items():
                    if owns(agent_id):
                        agent_iph.add_metric([agent_id, snap.team_of(agent_id), window, ch],
                                             value)
            if not snap.floor:
                continue  # some agents only: their teams and queues are the leader's
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
        yield from agent.values()
        yield agent_iph
        if snap.floor:
            for group in (team, queue, channel):
                yield from group.values()
            yield team_iph

    def _state_metrics(self, floor: FloorNow) -> Iterator[Metric]:
        """The floor's states, counts and waits at one instant (of its agents only where
        ``floor.floor`` is False)."""
        state = LabelledGauge("ccpulse_agent_state",
                              "1 for the agent's current activity (handling > acw > idle > "
                              "not_ready > logged_out)", labels=["agent", "team", "state"])
        seconds = LabelledGauge("ccpulse_agent_state_seconds",
                                "seconds since the agent's current activity began (reason: the "
                                "not_ready reason if configured, else other)",
                                labels=["agent", "team", "state", "reason"])
        scheduled = LabelledGauge("ccpulse_agent_scheduled_activity",
                                  "1 for the activity the agent's schedule plans now",
                                  labels=["agent", "team", "activity"])
        # rows appended as _fill does (every one has the families' label names): read at
        # every scrape of a worker, for each of its agents
        owns, states, times, plans = self._owns, state.rows, seconds.rows, scheduled.rows
        for agent_id, now in floor.agents.items():
            if not owns(agent_id):
                continue
            team, activity = now.team, now.state
            states.append(((agent_id, team, activity), 1))
            if now.state_seconds is not None:
                times.append(((agent_id, team, activity, now.reason), now.state_seconds))
            if now.scheduled is not None:
                plans.append(((agent_id, team, now.scheduled), 1))
        yield state
        yield seconds
        yield scheduled
        if not floor.floor:
            return
        # thousands of teams and queues on a large floor: labelled rows, like the agents'
        absent = LabelledGauge("ccpulse_team_absent_agents",
                               "agents scheduled to work and logged out now", labels=["team"])
        for team_id in sorted(set(floor.team_states) | set(floor.absent)):
            absent.rows.append(((team_id,), floor.absent.get(team_id, 0)))
        yield absent
        agents = LabelledGauge("ccpulse_team_agents", "agents of the team in each activity now",
                               labels=["team", "state"])
        for team_id, counts in floor.team_states.items():
            for name in STATES:
                agents.rows.append(((team_id, name), counts.get(name, 0)))
        yield agents
        waiting = LabelledGauge("ccpulse_queue_waiting_interactions",
                                "interactions queued and not yet answered or abandoned",
                                labels=["queue"])
        longest = LabelledGauge("ccpulse_queue_longest_wait_seconds",
                                "wait so far of the oldest interaction still queued",
                                labels=["queue"])
        # Every queue the floor knows gets a sample, 0 when nobody waits: a wallboard
        # should show an empty queue as 0, not as "no data".
        for queue_id in sorted(floor.queues):
            count, oldest = floor.waiting.get(queue_id, (0, 0.0))
            waiting.rows.append(((queue_id,), count))
            longest.rows.append(((queue_id,), oldest))
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
        for scope, (count, most) in floor.entities.items():
            tracked.add_metric([scope], count)
            limit.add_metric([scope], most)
            refused.add_metric([scope], floor.over_limit.get(scope, 0))
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
