"""The Grafana dashboards, one per audience: operations, supervisors, workforce management.

Every KPI query takes ``max by (…)`` over its scope labels: with several workers, each
reports the whole floor (they share one event log), so Prometheus holds one identical series
per worker and the dashboards show one. Pipeline counters are per worker and are summed.
Colour bands are the bands in force (:mod:`ccpulse.bands`: the KPI catalogue's, the
configured ``[scorecard]`` bands over them, and the alert thresholds), so the dashboards of a
deployment follow its configuration: ``ccpulse dashboards --config …`` regenerates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import orjson

from ccpulse.alerts.rules import Thresholds
from ccpulse.bands import bands_in_force
from ccpulse.grafana import (
    Bands,
    Json,
    Panel,
    Query,
    bands_of,
    dashboard,
    query_variable,
    window_variable,
)
from ccpulse.history_dashboards import history_dashboards
from ccpulse.processors.catalogue import WINDOW_1H, WINDOW_8H, WINDOW_15M, WINDOWS, Band
from ccpulse.processors.scorecard import Scorecard
from ccpulse.settings import Costs

Bandset = Mapping[str, Band]
TEAM = 'team=~"$team"'
QUEUE = 'queue=~"$queue"'
WINDOW = 'window="$window"'


def window(name: str) -> str:
    """A label matcher for one of the catalogue's windows."""
    assert name in WINDOWS, name
    return f'window="{name}"'


HOUR, SHIFT = window(WINDOW_1H), window(WINDOW_8H)


def kpi(metric: str, by: str, *matchers: str) -> str:
    """One series per scope, whatever the number of workers reporting it."""
    return f"max by ({by}) (ccpulse_{metric}{{{','.join(matchers)}}})"


def occupancy_bands(t: Thresholds, b: Bandset) -> Bands:
    """Orange where TeamOverstaffed fires, yellow under the healthy band, green inside it,
    red where the occupancy alerts fire (burnout risk)."""
    return Bands("orange", ((t.overstaffed_below, "yellow"), (b["occupancy"].green[0], "green"),
                            (t.occupancy_high, "red")))


def aht_change_bands(t: Thresholds) -> Bands:
    # AHT as a range, not a cap: far below the baseline is as worth a look as far above
    return Bands("yellow", ((1 - t.aht_up, "green"), (1 + t.aht_up, "red")))


GAP_BANDS = Bands("green", ((0.5, "yellow"), (2, "red")))
SCORE_BANDS = Bands("red", ((50, "yellow"), (75, "green")))
POINT_BANDS = Bands("red", ((0.5, "yellow"), (1, "green")))


def operations(t: Thresholds, b: Bandset) -> Json:
    queues = [
        Panel("timeseries", "Service level by queue ($window)",
              [Query(kpi("queue_service_level_ratio", "queue", QUEUE, WINDOW), "{{queue}}")],
              "Answered within the queue's threshold / (answered + abandoned after 5 s). "
              "Red below target.", "percentunit", bands_of(b["service_level"]), min=0, max=1),
        Panel("timeseries", "Abandon rate by queue ($window)",
              [Query(kpi("queue_abandon_ratio", "queue", QUEUE, WINDOW), "{{queue}}")],
              "Abandoned / queued. Red above the alert threshold.", "percentunit",
              bands_of(b["abandon"]), min=0),
        Panel("timeseries", "ASA by queue ($window)",
              [Query(kpi("queue_asa_seconds", "queue", QUEUE, WINDOW), "{{queue}}")],
              "Mean wait of answered interactions.", "s", width=8),
        Panel("bargauge", "Waiting now",
              [Query(kpi("queue_waiting_interactions", "queue", QUEUE), "{{queue}}")],
              "Interactions queued and not yet answered or abandoned.",
              bands=Bands("green", ((5, "yellow"), (15, "red"))), width=8),
        Panel("bargauge", "Longest wait now",
              [Query(kpi("queue_longest_wait_seconds", "queue", QUEUE), "{{queue}}")],
              "How long the oldest waiting customer has waited so far.", "s",
              Bands("green", ((20, "yellow"), (60, "red"))), width=8),
    ]
    teams = [
        Panel("timeseries", "Occupancy by team ($window)",
              [Query(kpi("team_occupancy_ratio", "team", TEAM, WINDOW), "{{team}}")],
              f"Green is the healthy band {_green(b['occupancy'])}; red is burnout risk, "
              "orange overstaffing.",
              "percentunit", occupancy_bands(t, b), min=0, max=1),
        Panel("timeseries", "Interactions per hour by team ($window)",
              [Query(kpi("team_interactions_per_hour", "team", TEAM, WINDOW, 'channel="all"'),
                     "{{team}}")],
              "Wrapped interactions / logged-in hours, all channels.", "none"),
    ]
    pipeline = [
        Panel("timeseries", "Events processed per second",
              [Query("sum by (topic) (ccpulse:events_processed:rate1m)", "{{topic}}")],
              "Valid events applied, per source topic, all workers.", "ops", width=8),
        Panel("timeseries", "Kafka consumer lag",
              [Query("sum by (topic) (ccpulse_consumer_lag_messages)", "{{topic}}")],
              "Messages not yet read, all workers. Rising = the workers do not keep up.",
              "short", Bands("green", ((10_000, "yellow"), (100_000, "red"))), width=8),
        Panel("timeseries", "Dead letters per second",
              [Query("sum by (reason) (ccpulse:events_dead_lettered:rate5m)", "{{reason}}")],
              "Refused events by reason; the payloads are in the dead-letter topic.",
              "ops", width=8),
        Panel("stat", "Event lag",
              [Query("max(ccpulse_event_lag_seconds)", "lag")],
              "Now minus the event time of the newest processed event. High on a quiet "
              "floor is normal; high while busy means a stuck producer or worker.", "s",
              Bands("green", ((60, "yellow"), (300, "red"))), width=6, height=5),
        Panel("stat", "Workers up", [Query('sum(up{job="ccpulse"})', "workers")],
              "Workers Prometheus can scrape.", bands=Bands("red", ((1, "green"),)),
              width=6, height=5),
        Panel("timeseries", "Redis commit latency p99",
              [Query("histogram_quantile(0.99, sum by (le) "
                     "(rate(ccpulse_redis_commit_seconds_bucket[$__rate_interval])))", "p99")],
              "Time to commit a batch and its offsets to Redis.", "s", width=6, height=5),
        Panel("stat", "Alerts firing",
              [Query("sum by (alertname) (max by (alertname, severity) "
                     "(ccpulse_alerts_firing))", "{{alertname}}")],
              "ccpulse's own alerts, by rule.", bands=Bands("green", ((1, "red"),)),
              width=6, height=5),
        Panel("timeseries", "Snapshot time p90, by worker",
              [Query("histogram_quantile(0.9, sum by (le, instance, kind) "
                     "(rate(ccpulse_snapshot_seconds_bucket[$__rate_interval])))",
                     "{{instance}} {{kind}}")],
              "How long each worker takes to compute a snapshot: most of a scrape. floor: "
              "every agent, team and queue (the worker holding the alert lease); share: a "
              "worker's own agents; drill: one agent's /api/v1 answer or page. Red: half of "
              "Prometheus' default 10 s scrape timeout.",
              "s", Bands("green", ((2.5, "yellow"), (5, "red"))), width=8),
        Panel("timeseries", "Snapshot and states age, by worker",
              [Query("max by (instance) (ccpulse_snapshot_age_seconds)", "{{instance}} KPIs"),
               Query("max by (instance) (ccpulse_states_age_seconds)", "{{instance}} states")],
              "How old the KPIs of each worker's last scrape were: a scrape takes a snapshot "
              "computed before it (the alert evaluation's) while it is within four times what "
              "a new one takes, so readers' snapshots cost a quarter of a worker at most. "
              "States: how old its agents' states, team counts and queue waits were, read "
              "just before each scrape; up to 15 s while the engine stays busy.",
              "s", Bands("green", ((15, "yellow"), (30, "red"))), width=8),
        Panel("timeseries", "Alert evaluation delay p90",
              [Query("histogram_quantile(0.9, sum by (le, instance) "
                     "(rate(ccpulse_alert_evaluation_delay_seconds_bucket[$__rate_interval])))",
                     "{{instance}}")],
              "How long after its instant each alert evaluation ran, on the worker holding "
              "the alert lease: alerts are that late. Past 15 s (the interval), instants that "
              "fall due while an evaluation runs are skipped (next panel). Either means the "
              "floor is more than one worker's evaluation keeps up with.",
              "s", Bands("green", ((5, "yellow"), (15, "red"))), width=8),
        Panel("stat", "Alert evaluations skipped (1h)",
              [Query("sum(increase(ccpulse_alert_evaluation_skipped_total[1h]))", "skipped")],
              "Evaluation instants the lease holder skipped in the last hour: due while it "
              "was still evaluating an earlier one (or, taking the lease, more than "
              "CCPULSE_ALERTS_MAX_LATE_S ago). Its alerts were checked less often than every "
              "15 s. Any is red.",
              bands=Bands("green", ((1, "red"),)), width=4, height=5),
    ]
    return dashboard(
        "ccpulse-operations", "ccpulse · Operations",
        "Queues, teams and pipeline health for the operations floor.",
        [query_variable("queue", "queue", "ccpulse_queue_queued_interactions", multi=True),
         query_variable("team", "team", "ccpulse_team_logged_in_seconds", multi=True),
         window_variable(WINDOW_15M)],
        [("Queues", queues), ("Teams", teams), ("Pipeline health", pipeline)])


def supervisor(t: Thresholds, b: Bandset, weights: Mapping[str, float]) -> Json:
    one_team = 'team="$team"'
    by_agent = "agent"
    summary = [
        Panel("stat", "Occupancy ($window)",
              [Query(kpi("team_occupancy_ratio", "team", one_team, WINDOW), "occupancy")],
              "Busy / available time of the team. Green is the healthy band.",
              unit="percentunit", bands=occupancy_bands(t, b), width=4, height=4),
        Panel("stat", "AHT ($window)",
              [Query(kpi("team_aht_seconds", "team", one_team, WINDOW), "AHT")],
              "Mean talk + hold + after-call work of interactions wrapped in the window.",
              unit="s", width=4, height=4),
        Panel("stat", "CSAT ($window)",
              [Query(kpi("team_csat_score", "team", one_team, WINDOW), "CSAT")],
              "Mean survey score (1-5) received in the window.", bands=bands_of(b["csat"]), width=4,
              height=4),
        Panel("stat", "Scorecard (shift)",
              [Query(kpi("team_scorecard_score", "team", one_team), "score")],
              "Balanced scorecard of the team over the last 8 h, 0-100: green KPIs 1 point, "
              "yellow 1/2, red 0, groups weighted "
              + ", ".join(f"{group} {weight:g}" for group, weight in weights.items() if weight)
              + ".",
              bands=SCORE_BANDS, width=4, height=4),
        Panel("stat", "Agents by activity",
              [Query(f'max by (state) (ccpulse_team_agents{{{one_team},state!="logged_out"}})',
                     "{{state}}")],
              "Logged-in agents of the team by what they are doing now.",
              bands=Bands("blue"), width=8, height=4),
    ]
    agents = [
        Panel("table", "Agents now",
              [Query(f"max by (agent, state) (ccpulse_agent_state{{{one_team}}})"),
               # contract §7.2: how long the activity has lasted; AgentStateTooLong's input
               Query(f"max by (agent) (ccpulse_agent_state_seconds{{{one_team}}})",
                     column="in it for", unit="s"),
               Query(kpi("agent_occupancy_ratio", by_agent, one_team, HOUR),
                     column="occupancy 1h", unit="percentunit", bands=occupancy_bands(t, b)),
               Query(kpi("agent_adherence_ratio", by_agent, one_team, HOUR),
                     column="adherence 1h", unit="percentunit",
                     bands=bands_of(b["adherence"])),
               Query(_aht_vs_baseline(one_team), column="AHT 1h / 8h", unit="percentunit",
                     bands=aht_change_bands(t)),
               Query(kpi("agent_csat_score", by_agent, one_team, SHIFT),
                     column="CSAT 8h", bands=bands_of(b["csat"])),
               Query(kpi("agent_idle_between_interactions_seconds", by_agent, one_team,
                         HOUR), column="idle between 1h", unit="s",
                     bands=_idle_bands(t, b)),
               Query(kpi("agent_scorecard_score", by_agent, one_team), column="scorecard",
                     bands=SCORE_BANDS)],
              "One line per agent, its activity now and for how long. Occupancy: green "
              "healthy, red "
              "burnout risk. AHT compares the last hour with the agent's own 8 h baseline, "
              "emotional interactions left out.", width=24, height=10),
        Panel("timeseries", "Occupancy by agent (1h)",
              [Query(kpi("agent_occupancy_ratio", by_agent, one_team, HOUR),
                     "{{agent}}")],
              "Sustained red is the burnout-risk signal.", "percentunit", occupancy_bands(t, b),
              min=0, max=1),
        Panel("timeseries", "AHT vs own 8h baseline",
              [Query(_aht_vs_baseline(one_team), "{{agent}}")],
              "1.0 = as usual. A range, not a cap: far below can mean rushed calls.",
              "percentunit", aht_change_bands(t)),
    ]
    wellbeing = [
        Panel("timeseries", "Idle time between interactions (1h)",
              [Query(kpi("agent_idle_between_interactions_seconds", by_agent, one_team,
                         HOUR), "{{agent}}")],
              f"Below {t.idle_between_below_s:.0f} s on average: no breathing space between "
              "contacts (a burnout signal).", "s", _idle_bands(t, b), width=8),
        Panel("timeseries", "ACW share (1h)",
              [Query(kpi("agent_acw_share_ratio", by_agent, one_team, HOUR),
                     "{{agent}}")],
              "After-call work / handle time.", "percentunit", width=8),
        Panel("table", "Firing alerts for this team",
              [Query(f"max by (alertname, severity, agent) "
                     f"(ccpulse_alert_firing_info{{{one_team}}})")],
              "What ccpulse has raised for the team right now; runbooks in docs/runbooks.md.",
              width=8),
    ]
    scorecard = [
        Panel("stat", "Efficiency · occupancy 8h",
              [Query(kpi("team_occupancy_ratio", "team", one_team, SHIFT), "occ")],
              "Efficiency: time busy while available, over the shift.",
              unit="percentunit", bands=occupancy_bands(t, b), width=4, height=4),
        Panel("stat", "Efficiency · AHT 8h",
              [Query(kpi("team_aht_seconds", "team", one_team, SHIFT), "AHT")],
              "Efficiency: a range to stay in, not a number to push down.",
              unit="s", width=4, height=4),
        Panel("stat", "Quality · FCR 8h",
              [Query(kpi("team_fcr_ratio", "team", one_team, SHIFT), "FCR")],
              f"Quality: resolved on first contact; {_green(b['fcr'])} is good.",
              unit="percentunit", bands=bands_of(b["fcr"]), width=4, height=4),
        Panel("stat", "Quality · QA score 8h",
              [Query(kpi("team_qa_score", "team", one_team, SHIFT), "QA")],
              "Quality: mean QA score (0-100) of reviewed interactions.",
              bands=bands_of(b["qa_score"]), width=4, height=4),
        Panel("stat", "Empathy · CSAT 8h",
              [Query(kpi("team_csat_score", "team", one_team, SHIFT), "CSAT")],
              "Empathy: mean survey score over the shift.", bands=bands_of(b["csat"]), width=4,
              height=4),
        Panel("stat", "Empathy · felt heard 8h",
              [Query(kpi("team_felt_heard_ratio", "team", one_team, SHIFT), "heard")],
              "Empathy: share of surveyed customers who felt heard.",
              unit="percentunit", bands=bands_of(b["felt_heard"]), width=4, height=4),
        Panel("bargauge", "Consistency: spread across the team's agents (shift)",
              [Query(kpi("team_kpi_spread_ratio", "kpi", one_team), "{{kpi}}")],
              "Standard deviation / mean of the agents' values: above 25 % the team works "
              "very unevenly on that KPI - look for a coaching or a process gap.",
              "percentunit", Bands("green", ((0.15, "yellow"), (0.25, "red"))), width=24,
              height=6),
    ]
    return dashboard(
        "ccpulse-supervisor", "ccpulse · Supervisor",
        "One team's agents: activity, load, handle time against their own baseline, "
        "wellbeing signals and the balanced scorecard.",
        [query_variable("team", "team", "ccpulse_team_logged_in_seconds", multi=False),
         window_variable(WINDOW_1H)],
        [("Team now", summary), ("Agents", agents), ("Wellbeing signals", wellbeing),
         ("Balanced scorecard (efficiency · quality · empathy)", scorecard)])


def _schedule_panels(b: Bandset) -> list[Panel]:
    """Contract §7.1 for workforce management: is each team doing what the plan says, and
    who is missing."""
    return [
        Panel("timeseries", "Adherence by team (1h)",
              [Query(kpi("team_adherence_ratio", "team", TEAM, HOUR), "{{team}}")],
              "Scheduled time spent as scheduled / scheduled time. Low: the plan and the day "
              "have drifted apart (reschedule breaks rather than letting them lapse).",
              "percentunit", bands_of(b["adherence"]), min=0, max=1),
        Panel("timeseries", "Absence by team (1h)",
              [Query(kpi("team_absence_ratio", "team", TEAM, HOUR), "{{team}}")],
              "Scheduled work time with the agent logged out / scheduled work time.",
              "percentunit", bands_of(b["absence"]), min=0),
        Panel("bargauge", "Agents absent now",
              [Query(f"max by (team) (ccpulse_team_absent_agents{{{TEAM}}})", "{{team}}")],
              "Scheduled to work and not logged in, right now.", "none",
              Bands("green", ((1, "yellow"), (3, "red")))),
    ]


def _green(band: Band) -> str:
    """A band's green range in words: "0.75-0.85", "0.70 and above"."""
    low, high = band.green
    if low is not None and high is not None:
        return f"{low:.2f}-{high:.2f}"
    return f"{low:.2f} and above" if low is not None else f"up to {high:.2f}"


def _idle_bands(t: Thresholds, b: Bandset) -> Bands:
    """Red where the burnout signal counts it (idle_between_below_s), green from the band."""
    return Bands("red", ((t.idle_between_below_s, "yellow"),
                         (b["idle_between_seconds"].green[0], "green")))


def _aht_vs_baseline(team: str) -> str:
    hour = kpi("agent_aht_non_emotional_seconds", "agent", team, HOUR)
    baseline = kpi("agent_aht_non_emotional_seconds", "agent", team, SHIFT)
    return f"{hour} / {baseline}"


def workforce(t: Thresholds, b: Bandset) -> Json:
    qc = "queue, channel"
    staffing = [
        Panel("table", "Staffing now and in the next hour",
              [Query(kpi("queue_required_agents", qc, QUEUE, 'horizon="now"'),
                     column="required now"),
               Query(kpi("queue_staffed_agents", qc, QUEUE), column="serving now"),
               Query(kpi("queue_staffing_gap_agents", qc, QUEUE, 'horizon="now"'),
                     column="gap now", bands=GAP_BANDS),
               Query(kpi("queue_required_agents", qc, QUEUE, 'horizon="60m"'),
                     column="required in 60m"),
               Query(kpi("queue_staffing_gap_agents", qc, QUEUE, 'horizon="60m"'),
                     column="gap in 60m", bands=GAP_BANDS),
               Query(kpi("queue_predicted_service_level_ratio", qc, QUEUE),
                     column="predicted SL now", unit="percentunit",
                     bands=bands_of(b["service_level"]))],
              "Erlang C on live arrivals and AHT, never planned above "
              f"{t.occupancy_high:.0%} occupancy. Gap > 0: add agents; < 0: agents could "
              "move elsewhere.", width=24, height=8),
        Panel("timeseries", "Required vs serving agents",
              [Query(kpi("queue_required_agents", qc, QUEUE, 'horizon="now"'),
                     "{{queue}} required"),
               Query(kpi("queue_staffed_agents", qc, QUEUE), "{{queue}} serving")],
              "Required agents (now) against the agents serving each queue.", "none"),
        Panel("timeseries", "Staffing gap: now and forecast",
              [Query(kpi("queue_staffing_gap_agents", "queue, horizon", QUEUE),
                     "{{queue}} {{horizon}}")],
              "Agents to add (positive) or release (negative), now and 15/30/60 minutes "
              "ahead.", "none", GAP_BANDS),
    ]
    load = [
        Panel("timeseries", "Offered load (Erlangs, 15m)",
              [Query(kpi("queue_offered_load_erlangs", qc, QUEUE, window(WINDOW_15M)),
                     "{{queue}}")],
              "Arrivals per second x AHT: the agents' worth of work arriving.", "none"),
        Panel("timeseries", "Arrivals per hour: measured and forecast",
              [Query(kpi("queue_arrivals_per_hour", "queue, horizon", QUEUE),
                     "{{queue}} {{horizon}}")],
              "'now' is measured over 15 minutes; the horizons are the forecast.", "none"),
    ]
    teams = [
        Panel("timeseries", "Occupancy vs the healthy band ($window)",
              [Query(kpi("team_occupancy_ratio", "team", TEAM, WINDOW), "{{team}}")],
              f"Inside green ({_green(b['occupancy'])}) is healthy. Above: move work away or "
              "add people. "
              f"Below {t.overstaffed_below:.2f}: lend agents or schedule coaching.",
              "percentunit", occupancy_bands(t, b), min=0, max=1),
        Panel("bargauge", "Team occupancy 1h (overstaffing below "
              f"{t.overstaffed_below:.2f})",
              [Query(kpi("team_occupancy_ratio", "team", TEAM, HOUR), "{{team}}")],
              "Sorted view of every team against the bands.", "percentunit",
              occupancy_bands(t, b), min=0, max=1),
        Panel("timeseries", "Logged-in agents by activity",
              [Query(f'sum by (state) (max by (team, state) '
                     f'(ccpulse_team_agents{{{TEAM},state!="logged_out"}}))', "{{state}}")],
              "Handling, after-call work, idle and not ready, stacked.", "none",
              stacked=True, width=24),
    ]
    return dashboard(
        "ccpulse-wfm", "ccpulse · Workforce management",
        "Staffing per queue (required, serving, gap, forecast), load, and team occupancy "
        "against the healthy band.",
        [query_variable("queue", "queue", "ccpulse_queue_required_agents", multi=True),
         query_variable("team", "team", "ccpulse_team_logged_in_seconds", multi=True),
         window_variable(WINDOW_1H)],
        [("Staffing", staffing), ("Queue load", load), ("Teams", teams),
         ("Schedules: adherence and absence", _schedule_panels(b))])


def agent_view(t: Thresholds, b: Bandset) -> Json:
    """An agent's own view: progress, wins (green), focus (red), and their own wellbeing."""
    me = 'agent="$agent"'
    card = [
        Panel("stat", "My scorecard (this shift)",
              [Query(kpi("agent_scorecard_score", "agent", me), "score")],
              "0-100 over the last 8 h: each KPI green 1 point, yellow 1/2, red 0.",
              bands=SCORE_BANDS, width=6, height=6),
        Panel("table", "My KPIs: wins in green, focus in red",
              [Query(f"max by (group, kpi) (ccpulse_agent_scorecard_points{{{me}}})",
                     column="points", bands=POINT_BANDS)],
              "Green KPIs are wins to keep; a red one is the thing to talk about at the next "
              "1:1. Breathing room (experience) is there for you, it never lowers the score.",
              width=18, height=6),
        Panel("timeseries", "My scorecard over time",
              [Query(kpi("agent_scorecard_score", "agent", me), "score")],
              "Progress through the shift and the week.", bands=SCORE_BANDS, min=0, max=100),
    ]
    detail = [
        Panel("table", "My schedule now",
              [Query(f"max by (activity) (ccpulse_agent_scheduled_activity{{{me}}})",
                     column=None),
               Query(f"max by (state) (ccpulse_agent_state{{{me}}})", column=None),
               Query(kpi("agent_adherence_ratio", "agent", me, HOUR), column="adherence 1h",
                     unit="percentunit", bands=bands_of(b["adherence"]))],
              "What the schedule plans for now, what I am doing, and how closely the last "
              "hour followed the plan.", width=8),
        Panel("timeseries", "My occupancy (1h)",
              [Query(kpi("agent_occupancy_ratio", "agent", me, HOUR), "occupancy")],
              "Green is a healthy pace. Red for long is too much: tell your supervisor.",
              "percentunit", occupancy_bands(t, b), min=0, max=1, width=8),
        Panel("timeseries", "My handle time vs my usual",
              [Query(_aht_vs_baseline(me), "AHT 1h / 8h")],
              "Emotional calls are left out: take the time they need.", "percentunit",
              aht_change_bands(t), width=8),
        Panel("timeseries", "Breathing room between contacts (1h)",
              [Query(kpi("agent_idle_between_interactions_seconds", "agent", me,
                         HOUR), "seconds")],
              "Average time between finishing one contact and the next one.", "s",
              _idle_bands(t, b), width=8),
        Panel("stat", "CSAT (shift)",
              [Query(kpi("agent_csat_score", "agent", me, SHIFT), "CSAT")],
              "Mean survey score.", bands=bands_of(b["csat"]), width=6, height=4),
        Panel("stat", "Felt heard (shift)",
              [Query(kpi("agent_felt_heard_ratio", "agent", me, SHIFT), "heard")],
              "Share of surveyed customers who felt heard.", "percentunit",
              bands_of(b["felt_heard"]), width=6, height=4),
        Panel("stat", "First-contact resolution (shift)",
              [Query(kpi("agent_fcr_ratio", "agent", me, SHIFT), "FCR")],
              "Resolved on first contact.", "percentunit", bands_of(b["fcr"]), width=6, height=4),
        Panel("stat", "QA score (shift)",
              [Query(kpi("agent_qa_score", "agent", me, SHIFT), "QA")],
              "Mean QA score of reviewed interactions.", bands=bands_of(b["qa_score"]), width=6,
              height=4),
    ]
    return dashboard(
        "ccpulse-agent", "ccpulse · My shift",
        "An agent's own progress, wins and focus areas, and their wellbeing signals.",
        [query_variable("agent", "agent", "ccpulse_agent_scorecard_score", multi=False)],
        [("Scorecard", card), ("How the shift is going", detail)])


def all_dashboards(t: Thresholds, card: Scorecard | None = None) -> dict[str, Json]:
    """``card``: the floor's configured scorecard (its bands and group weights)."""
    card = card or Scorecard()
    b = bands_in_force(t, card)
    return {"operations": operations(t, b), "supervisor": supervisor(t, b, card.weights),
            "wfm": workforce(t, b), "agent": agent_view(t, b)}


def write_dashboards(t: Thresholds, directory: Path, card: Scorecard | None = None,
                     costs: Costs | None = None) -> list[Path]:
    """The live dashboards (Prometheus) and the history store's (PostgreSQL)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    boards = all_dashboards(t, card) | history_dashboards(t, card, costs)
    for name, board in boards.items():
        path = directory / f"{name}.json"
        path.write_bytes(orjson.dumps(board, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
                         + b"\n")
        paths.append(path)
    return paths
