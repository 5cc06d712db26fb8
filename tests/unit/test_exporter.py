"""Contract §3 names and labels, computed at scrape time; no series without a denominator."""

from __future__ import annotations

import math

import orjson
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from ccpulse.alerts.engine import AlertEvaluator
from ccpulse.alerts.rules import Thresholds
from ccpulse.exporter import KpiCollector, MetricsConfig, exposition
from ccpulse.processors import catalogue
from ccpulse.processors.decode import REASONS, decode
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import floor_now, snapshot
from ccpulse.processors.timefmt import format_ms
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator
from ccpulse.textformat import render
from tests.support import EventFactory, at, morning_pipeline

REQUIRED = [
    "ccpulse_agent_occupancy_ratio", "ccpulse_team_occupancy_ratio",
    "ccpulse_agent_utilization_ratio", "ccpulse_team_utilization_ratio",
    "ccpulse_agent_load_ratio", "ccpulse_agent_aht_seconds", "ccpulse_team_aht_seconds",
    "ccpulse_agent_interactions_per_hour", "ccpulse_team_csat_score", "ccpulse_agent_csat_score",
    "ccpulse_team_fcr_ratio", "ccpulse_team_sales_conversion_ratio",
    "ccpulse_team_request_capture_ratio", "ccpulse_team_revenue_per_interaction",
    "ccpulse_queue_service_level_ratio", "ccpulse_queue_abandon_ratio",
    "ccpulse_queue_asa_seconds", "ccpulse_agent_state",
]


@pytest.fixture
def pipeline() -> Pipeline:
    ev = EventFactory()
    pipe = morning_pipeline(ev, ev("agent.login", "09:00:00", agent_id="a2",
                                   team_id="t1"))  # never available
    pipe.feed(b"{not json", "cc.interactions", now_ms=at("09:20:00"))
    return pipe


def registry_for(pipeline: Pipeline, now: int, metrics: MetricsConfig | None = None,
                 ) -> CollectorRegistry:
    # a low threshold with no hold: a1 (occupancy 0.29) fires at the first evaluation
    evaluator = AlertEvaluator(Thresholds(occupancy_high=0.2, occupancy_resolve=0.2,
                                          occupancy_hold_ms=0))
    evaluator.evaluate(pipeline.snapshot(now))
    registry = CollectorRegistry()
    registry.register(KpiCollector(lambda: pipeline.snapshot(now), pipeline.stats,  # type: ignore[arg-type]
                                   alerts=evaluator, clock_ms=lambda: now, metrics=metrics))
    return registry


def per_agent(registry: CollectorRegistry, agent: str) -> set[tuple[str, str]]:
    return {(s.name, s.labels.get("window", "")) for family in registry.collect()
            for s in family.samples if s.labels.get("agent") == agent
            and not s.name.startswith(("ccpulse_alert", "ccpulse_agent_scorecard"))}


def test_each_agent_gets_the_budget_and_a_config_changes_it(pipeline: Pipeline) -> None:
    """Issue 19: per agent, the catalogue's default set; every KPI and window on request."""
    now = at("09:20:00")
    default = per_agent(registry_for(pipeline, now), "a1")
    assert ("ccpulse_agent_occupancy_ratio", "1h") in default
    assert ("ccpulse_agent_occupancy_ratio", "15m") not in default
    assert len(default) <= MetricsConfig().series_per_agent() + 2  # + state, time in it
    everything = per_agent(registry_for(pipeline, now, MetricsConfig(
        agent_series=catalogue.agent_series("all"), agent_channels=True)), "a1")
    assert default < everything
    assert {w for _, w in everything} == {"15m", "1h", "8h", ""}
    chosen = per_agent(registry_for(pipeline, now, MetricsConfig(
        agent_series=catalogue.agent_series(["aht_seconds:15m", "occupancy"]))), "a1")
    assert chosen == {("ccpulse_agent_aht_seconds", "15m"), ("ccpulse_agent_state", ""),
                      ("ccpulse_agent_state_seconds", ""),
                      *(("ccpulse_agent_occupancy_ratio", w) for w in ("15m", "1h", "8h"))}


def test_a_scrape_says_how_old_the_snapshot_it_serves_is(pipeline: Pipeline) -> None:
    """A scrape may serve a snapshot computed before it (the alert evaluation's): its age is
    on /metrics, from the scrape's clock to the instant its KPIs are exact at."""
    clock = [at("09:20:00")]
    served = pipeline.snapshot(at("09:19:48.5"))
    registry = CollectorRegistry()
    registry.register(KpiCollector(lambda: served, pipeline.stats,  # type: ignore[arg-type]
                                   clock_ms=lambda: clock[0]))
    assert registry.get_sample_value("ccpulse_snapshot_age_seconds") == 11.5
    clock[0] = at("09:19:48.5")
    assert registry.get_sample_value("ccpulse_snapshot_age_seconds") == 0
    # the states are of the snapshot here: no age of their own
    assert registry.get_sample_value("ccpulse_states_age_seconds") is None
    no_clock = CollectorRegistry()  # a replay's exposition: no scrape, no age
    no_clock.register(KpiCollector(lambda: served, pipeline.stats))  # type: ignore[arg-type]
    assert no_clock.get_sample_value("ccpulse_snapshot_age_seconds") is None
    # read apart, at the scrape: their age is the scrape's own, beside the snapshot's
    apart = CollectorRegistry()
    clock[0] = at("09:20:00")
    apart.register(KpiCollector(lambda: served, pipeline.stats,  # type: ignore[arg-type]
                                clock_ms=lambda: clock[0],
                                floor_now=lambda now, *_: pipeline.floor_now(now)))
    assert apart.get_sample_value("ccpulse_states_age_seconds") == 0
    assert apart.get_sample_value("ccpulse_snapshot_age_seconds") == 11.5


def test_required_metrics_and_labels(pipeline: Pipeline) -> None:
    registry = registry_for(pipeline, at("09:20:00"))
    value = registry.get_sample_value
    labels = {"agent": "a1", "team": "t1", "window": "1h"}
    # a1: idle 09:00-09:00:10, handling 290 s to 09:05, acw 60 s to 09:06, idle to 09:20
    assert value("ccpulse_agent_occupancy_ratio", labels) == pytest.approx(350 / 1200)
    assert value("ccpulse_agent_aht_seconds", labels) == 350
    assert value("ccpulse_agent_interactions_per_hour", {**labels, "channel": "all"}) == 3
    # the per-channel split per agent is opt-in ([metrics] agent_channels)
    assert value("ccpulse_agent_interactions_per_hour", {**labels, "channel": "voice"}) is None
    split = registry_for(pipeline, at("09:20:00"), MetricsConfig(agent_channels=True))
    assert split.get_sample_value("ccpulse_agent_interactions_per_hour",
                                  {**labels, "channel": "voice"}) == 3
    assert value("ccpulse_team_sales_conversion_ratio", {"team": "t1", "window": "15m"}) == 1
    assert value("ccpulse_team_revenue_per_interaction", {"team": "t1", "window": "8h"}) == 20
    assert value("ccpulse_team_request_capture_ratio", {"team": "t1", "window": "8h"}) == 0
    assert value("ccpulse_team_csat_score", {"team": "t1", "window": "15m"}) == 4
    assert value("ccpulse_queue_service_level_ratio", {"queue": "q1", "window": "1h"}) == 1
    assert value("ccpulse_queue_asa_seconds", {"queue": "q1", "window": "1h"}) == 10
    assert value("ccpulse_agent_state", {"agent": "a1", "team": "t1", "state": "idle"}) == 1
    assert value("ccpulse_agent_state", {"agent": "a2", "team": "t1", "state": "not_ready"}) == 1
    assert value("ccpulse_team_agents", {"team": "t1", "state": "idle"}) == 1
    assert value("ccpulse_events_processed_total",
                 {"topic": "cc.interactions", "type": "interaction.wrapped"}) == 1
    assert value("ccpulse_events_dead_lettered_total", {"reason": "not_json"}) == 1
    assert value("ccpulse_event_lag_seconds") == 1200  # last processed: a2 login at 09:00
    assert value("ccpulse_alerts_firing",
                 {"alertname": "QueueAbandonRateHigh", "severity": "warning"}) == 0
    assert value("ccpulse_alerts_firing",
                 {"alertname": "AgentOccupancyHigh", "severity": "warning"}) == 1
    assert value("ccpulse_alert_firing_info",
                 {"alertname": "AgentOccupancyHigh", "severity": "warning",
                  "audience": "supervisor", "agent": "a1", "team": "t1", "queue": "",
                  "channel": "", "state": "", "reason": ""}) == 1
    text = exposition(KpiCollector(lambda: pipeline.snapshot(at("09:20:00"))))
    names = {f.name for f in text_string_to_metric_families(text.decode())}
    for name in REQUIRED:
        assert name.removesuffix("_total") in names, name


def test_no_series_without_a_denominator(pipeline: Pipeline) -> None:
    registry = registry_for(pipeline, at("09:20:00"))
    # a2 was never available: no occupancy, but utilization (0) exists
    labels = {"agent": "a2", "team": "t1", "window": "1h"}
    assert registry.get_sample_value("ccpulse_agent_occupancy_ratio", labels) is None
    assert registry.get_sample_value("ccpulse_agent_utilization_ratio", labels) == 0
    assert registry.get_sample_value("ccpulse_agent_aht_seconds", labels) is None
    for family in registry.collect():
        for sample in family.samples:
            assert not math.isnan(sample.value), sample


def test_every_dead_letter_reason_is_exported_from_zero(pipeline: Pipeline) -> None:
    registry = registry_for(pipeline, at("09:20:00"))
    for reason in REASONS:
        assert registry.get_sample_value("ccpulse_events_dead_lettered_total",
                                         {"reason": reason}) is not None


def test_label_values_are_escaped_not_injected() -> None:
    pipe = Pipeline()
    hostile = 'a"} ccpulse_fake 1 \\'  # (newlines never get this far: invalid_value)
    ev = EventFactory()
    pipe.feed(orjson.dumps(ev("agent.login", "09:00:00", agent_id=hostile, team_id="t")), None,
              now_ms=None)
    text = exposition(KpiCollector(lambda: pipe.snapshot(at("09:10:00")))).decode()
    parsed = [s for f in text_string_to_metric_families(text) for s in f.samples
              if s.name == "ccpulse_agent_state"]
    assert [s.labels["agent"] for s in parsed] == [hostile]
    assert "\nccpulse_fake" not in text
    assert format_ms(at("09:10:00")) not in text  # no timestamps on samples


def test_scorecard_series(pipeline: Pipeline) -> None:
    value = registry_for(pipeline, at("09:20:00")).get_sample_value
    a1 = {"agent": "a1", "team": "t1", "window": "8h"}
    # a1: occupancy 0.29 red, AHT = the team's (ratio 1) green, FCR 1 green, CSAT 4 green;
    # efficiency (0 + 1) / 2, quality 1, empathy 1: (40 x 0.5 + 40 + 20) / 100
    assert value("ccpulse_agent_scorecard_points",
                 {**a1, "kpi": "occupancy", "group": "efficiency"}) == 0
    assert value("ccpulse_agent_scorecard_points",
                 {**a1, "kpi": "aht_non_emotional_seconds", "group": "efficiency"}) == 1
    assert value("ccpulse_agent_scorecard_points", {**a1, "kpi": "csat", "group": "empathy"}) == 1
    assert value("ccpulse_agent_scorecard_score", a1) == pytest.approx(80)
    assert value("ccpulse_team_scorecard_score", {"team": "t1", "window": "8h"}) is not None
    assert value("ccpulse_agent_scorecard_score", {**a1, "window": "1h"}) is None  # shift only


@pytest.fixture(scope="module")
def floor() -> KpiEngine:
    """A simulated floor of 40 agents over 3 h (read only by the tests below)."""
    engine = KpiEngine()
    for event in Simulator(SimConfig(agents=40, duration_ms=3 * HOUR, seed=5)).events():
        engine.apply(decode(orjson.dumps(event)))  # type: ignore[arg-type]
    return engine


def _sample_lines(body: bytes) -> set[str]:
    return {line for line in body.decode().splitlines() if not line.startswith("#")}


def test_a_share_of_the_agents_is_exactly_their_part_of_the_floor(floor: KpiEngine) -> None:
    """A sharded worker's scrape computes its own agents only (issue 19): their KPIs and
    states equal the whole floor's, value for value, and so does the team AHT their
    scorecards compare with (the scorecard lines themselves: the test below)."""
    engine = floor
    now = engine.max_ts or 0
    mine = {a for i, a in enumerate(sorted(engine.agents)) if i % 3 == 0}
    full, share = snapshot(engine, now), snapshot(engine, now, mine.__contains__)
    assert full.floor and not share.floor
    assert share.agents == {a: s for a, s in full.agents.items() if a in mine}
    for name, window in share.windows.items():
        whole = full.windows[name]
        assert window.agent == {a: k for a, k in whole.agent.items() if a in mine}
        assert window.agent_iph == {k: v for k, v in whole.agent_iph.items() if k[0] in mine}
        assert window.queue == window.channel == window.queue_channel == {}
        for team, kpis in window.team.items():  # what agents' scorecards compare with
            assert kpis.get("aht_seconds") == whole.team[team].get("aht_seconds")
    assert share.staffing == {} and share.team_states == {} and share.waiting == {}


def test_a_share_of_some_windows_has_those_windows_of_the_whole_share(floor: KpiEngine) -> None:
    """A follower computes only the windows its series read (issue 19): each of them is
    exactly the share's of every window, and no other window is there."""
    engine = floor
    now = engine.max_ts or 0
    mine = {a for i, a in enumerate(sorted(engine.agents)) if i % 2 == 0}.__contains__
    every = snapshot(engine, now, mine)
    assert set(every.windows) == {"15m", "1h", "8h"}
    some = snapshot(engine, now, mine, frozenset({"8h"}))
    assert set(some.windows) == {"8h"}
    assert some.windows["8h"] == every.windows["8h"]
    assert some.agents == every.agents
    with pytest.raises(ValueError, match="needs agents"):
        snapshot(engine, now, None, frozenset({"8h"}))


def test_a_followers_windows_are_its_budgets_and_the_scorecards() -> None:
    assert MetricsConfig().share_windows() == {"1h", "8h"}
    assert MetricsConfig(catalogue.agent_series(["occupancy:15m"])).share_windows() == {
        "15m", "8h"}


@pytest.mark.parametrize("budget", ["default", ["occupancy:15m", "csat"]])
def test_followers_export_their_agents_and_the_leader_the_floor_one_worker_in_all(
        floor: KpiEngine, budget: str | list[str]) -> None:
    """Three workers: the leader exports the floor (teams, queues, channels, staffing) and
    its own agents; each follower its own agents from a share of the windows they need.
    Together: every line of one worker's exposition, once — with the default budget and
    with one that asks for a window the default does not."""
    engine = floor
    now = engine.max_ts or 0
    metrics = MetricsConfig(catalogue.agent_series(budget))

    def owner(agent: str) -> int:
        return sorted(engine.agents).index(agent) % 3

    def scrape(index: int, leading: bool) -> bytes:
        def owns(agent: str) -> bool:
            return owner(agent) == index
        return exposition(KpiCollector(
            lambda: snapshot(engine, now), owns_agent=owns, metrics=metrics,
            share=lambda windows: snapshot(engine, now, owns, windows),
            floor=lambda: leading))

    one = _sample_lines(exposition(KpiCollector(lambda: snapshot(engine, now),
                                                metrics=metrics)))
    parts = [_sample_lines(scrape(0, True)), _sample_lines(scrape(1, False)),
             _sample_lines(scrape(2, False))]
    assert set().union(*parts) == one
    assert sum(len(p) for p in parts) == len(one)  # no line twice
    assert all('agent="' in line for line in parts[1] | parts[2])
    assert any(line.startswith("ccpulse_team_") for line in parts[0])
    assert len(parts[1]) > 100 and len(parts[2]) > 100


def _families(text: bytes) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text.decode())}


def test_a_worker_reads_states_and_waits_at_the_scrape_and_kpis_from_the_snapshot() -> None:
    """With ``floor_now`` (a worker, the demo), who is doing what and who waits are read at
    every scrape: a call answered after the snapshot shows at once, and time in state
    counts to the scrape, while the KPI series stay the snapshot's. Without it (a
    replay), both are of the snapshot's instant."""
    ev = EventFactory()
    pipe = morning_pipeline(ev, ev("interaction.queued", "09:20:00", interaction_id="i2",
                                   queue_id="q2", channel="voice"))
    served = pipe.snapshot(at("09:20:05"))  # a1 idle since the wrap; one waits in q2
    pipe.feed(orjson.dumps(ev("interaction.answered", "09:20:30", interaction_id="i2",
                              agent_id="a1", queue_id="q2", channel="voice")), None,
              now_ms=at("09:21:00"))
    clock = [at("09:21:00")]
    worker = KpiCollector(lambda: served, pipe.stats, clock_ms=lambda: clock[0],
                          floor_now=lambda now, *_: pipe.floor_now(now))

    bulk = _families(render(worker.of_snapshot(served)))
    assert not {"ccpulse_agent_state", "ccpulse_team_agents",
                "ccpulse_queue_waiting_interactions"} & bulk.keys()
    live = _families(render(worker.live(served.now)))
    states = {s.labels["state"]: s.value for s in live["ccpulse_agent_state"]}
    assert states == {"handling": 1}
    seconds = live["ccpulse_agent_state_seconds"]
    assert [(s.labels["state"], s.value) for s in seconds] == [("handling", 30.0)]
    waiting = {s.labels["queue"]: s.value for s in live["ccpulse_queue_waiting_interactions"]}
    assert waiting == {"q1": 0, "q2": 0}
    teams = {s.labels["state"]: s.value for s in live["ccpulse_team_agents"]}
    assert teams["handling"] == 1 and teams["idle"] == 0
    assert bulk["ccpulse_team_occupancy_ratio"]  # the KPIs: still the snapshot's
    assert bulk["ccpulse_team_occupancy_ratio"] == _families(exposition(KpiCollector(
        lambda: served)))["ccpulse_team_occupancy_ratio"]
    clock[0] = at("09:21:10")  # the next scrape, the same snapshot: ten seconds more
    live = _families(render(worker.live(served.now)))
    assert [s.value for s in live["ccpulse_agent_state_seconds"]] == [40.0]

    replay = _families(exposition(KpiCollector(lambda: served)))
    assert {s.labels["state"] for s in replay["ccpulse_agent_state"]} == {"idle"}
    waiting = {s.labels["queue"]: s.value for s in replay["ccpulse_queue_waiting_interactions"]}
    assert waiting == {"q1": 0, "q2": 1}


def test_the_queues_listed_are_those_named_within_the_longest_window_or_waited_in() -> None:
    """A queue gets its waiting series (0 when nobody waits) while an event named it within
    the longest window (8h), or while someone waits in it, however long."""
    ev = EventFactory()
    pipe = morning_pipeline(ev, ev("interaction.queued", "09:15:00", interaction_id="i2",
                                   queue_id="q2", channel="chat"))

    def listed(now: str) -> dict[str, float]:
        text = render(KpiCollector(lambda: pipe.snapshot(at(now)), clock_ms=lambda: at(now),
                                   floor_now=lambda t, *_: pipe.floor_now(t)).live(at(now)))
        return {s.labels["queue"]: s.value
                for s in _families(text)["ccpulse_queue_waiting_interactions"]}

    assert listed("17:00:00") == {"q1": 0, "q2": 1}  # q1 named at 09:00:10, within 8 h
    assert listed("17:00:10") == {"q2": 1}  # 8 h after: only the queue still waited in
    assert pipe.floor_now(at("17:00:10")).queues == pipe.snapshot(at("17:00:10")).queues


def test_workers_live_states_are_each_their_agents_and_the_floor_counts_the_leaders(
        floor: KpiEngine) -> None:
    """Three workers' live series: each agent's state from its owner alone, the teams' and
    queues' from the leader; together every line one worker's has, once."""
    engine = floor
    now = engine.max_ts or 0

    def owner(agent: str) -> int:
        return sorted(engine.agents).index(agent) % 3

    def live(index: int | None, leading: bool) -> set[str]:
        def owns(agent: str) -> bool:
            return index is None or owner(agent) == index
        collector = KpiCollector(
            lambda: snapshot(engine, now), owns_agent=owns if index is not None else None,
            share=lambda windows: snapshot(engine, now, owns, windows),
            floor=lambda: leading, clock_ms=lambda: now,
            # as serving wires it: the leader counts every agent, details its own
            floor_now=lambda t, whole, _: floor_now(
                engine, t, None if whole else owns,
                detail=owns if whole and index is not None else None))
        return {line for line in _sample_lines(render(collector.live(now)))
                if not line.startswith(("ccpulse_snapshot_age", "ccpulse_states_age"))}

    one = live(None, True)
    parts = [live(0, True), live(1, False), live(2, False)]
    assert set().union(*parts) == one
    assert sum(len(p) for p in parts) == len(one)
    assert all('agent="' in line for line in parts[1] | parts[2]) and parts[1] and parts[2]
    # and they are what a replay of the same events writes at that instant
    replay = {line for line in _sample_lines(exposition(KpiCollector(
        lambda: snapshot(engine, now))))
        if line.split("{")[0].split(" ")[0] in {line.split("{")[0].split(" ")[0]
                                                  for line in one}}
    assert replay == one
