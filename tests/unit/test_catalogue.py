"""The KPI catalogue: in step with the formulas, the contract's names, and one source of bands
for the console, the dashboards and the scorecard."""

from __future__ import annotations

import json
import re

import pytest

from ccpulse.alerts.rules import Thresholds
from ccpulse.bands import bands_in_force
from ccpulse.console import _cell
from ccpulse.dashboards import all_dashboards
from ccpulse.grafana import Bands, bands_of
from ccpulse.processors import catalogue, kpis
from ccpulse.processors.catalogue import AGENT, CATALOGUE, CHANNEL, QUEUE, TEAM, Band
from ccpulse.processors.measures import WIDTH, Wrap
from ccpulse.processors.scorecard import Scorecard

# Counts the formulas return beside the KPIs, for the alert rules' minimum samples only.
INTERNAL = {"idle_between_samples", "multi_slot_share"}


def computed_keys() -> set[str]:
    ones = [1.0] * 32
    none_emotional = [0.0 if i == Wrap.EMOTIONAL_HANDLED else 1.0 for i in range(32)]
    out: set[str] = set(kpis.wrap_kpis(none_emotional))
    for part in (kpis.time_kpis(ones), kpis.wrap_kpis(ones), kpis.survey_kpis(ones),
                 kpis.answer_kpis(ones), kpis.queue_kpis(ones, ones, ones)):
        out |= set(part)
    # kpis.interactions_per_hour, split by channel; adherence and absence from the schedules
    # (processors.snapshot._adherence)
    return out | {"interactions_per_hour", "adherence", "absence"}


def test_every_computed_kpi_has_one_row_and_every_row_is_computed() -> None:
    assert max(WIDTH.values()) <= 32  # the vectors of ones are wide enough
    keys = [kpi.key for kpi in CATALOGUE]
    assert len(keys) == len(set(keys))
    assert computed_keys() - INTERNAL == set(keys)


def test_metric_names_follow_the_contract() -> None:
    """§3: ccpulse_<scope>_<kpi>_<unit>, and the required metrics are there."""
    names = {f"ccpulse_{scope}_{kpi.metric}" for kpi in CATALOGUE for scope in kpi.scopes
             if scope != AGENT or kpi.agent_windows}
    required = {
        "ccpulse_agent_occupancy_ratio", "ccpulse_team_occupancy_ratio",
        "ccpulse_agent_utilization_ratio", "ccpulse_team_utilization_ratio",
        "ccpulse_agent_load_ratio", "ccpulse_agent_aht_seconds", "ccpulse_team_aht_seconds",
        "ccpulse_agent_interactions_per_hour", "ccpulse_team_csat_score",
        "ccpulse_agent_csat_score", "ccpulse_team_fcr_ratio",
        "ccpulse_team_sales_conversion_ratio", "ccpulse_team_request_capture_ratio",
        "ccpulse_team_revenue_per_interaction", "ccpulse_queue_service_level_ratio",
        "ccpulse_queue_abandon_ratio", "ccpulse_queue_asa_seconds"}
    assert required <= names
    for kpi in CATALOGUE:
        if kpi.key.endswith("_seconds"):
            assert kpi.unit == "seconds", kpi.key
        assert kpi.scopes and kpi.scopes <= {AGENT, TEAM, QUEUE, CHANNEL}


def dashboard_agent_series() -> set[tuple[str, str]]:
    """(KPI key, window) of every per-agent KPI query of the generated dashboards."""
    metric_to_key = {f"ccpulse_agent_{kpi.metric}": kpi.key for kpi in CATALOGUE}
    out = set()
    for board in all_dashboards(Thresholds()).values():
        for expr in re.findall(r'"expr": "([^"]*)"', json.dumps(board).replace('\\"', "'")):
            for metric, window in re.findall(r"(ccpulse_agent_[a-z_]+)\{[^}]*window='(\w+)'",
                                             expr):
                if metric in metric_to_key:
                    out.add((metric_to_key[metric], window))
    return out


def test_the_per_agent_budget_serves_the_dashboards_and_the_contract() -> None:
    """Issue 19: at most 25 series per agent by default (KPIs, state, time in it, scheduled
    activity, scorecard score and up to 7 points), and nothing a dashboard or contract §3
    asks of an agent is left out."""
    budget = catalogue.DEFAULT_AGENT_SERIES
    kpi_series = sum(len(keys) for keys in budget.values())
    assert kpi_series + 3 + 1 + 7 <= 25
    wanted = dashboard_agent_series()
    assert len(wanted) >= 8  # the parser found the dashboards' queries
    assert all(key in budget[window] for key, window in wanted), wanted
    required = {"occupancy", "utilization", "load", "aht_seconds", "interactions_per_hour",
                "csat"}  # contract §3's agent metrics
    assert required <= set().union(*budget.values())
    chosen = catalogue.agent_series(["occupancy", "csat:15m"])
    assert chosen == {"15m": {"occupancy", "csat"}, "1h": {"occupancy"}, "8h": {"occupancy"}}
    assert catalogue.agent_series("all")["15m"] >= budget["1h"]
    for bad in (["nonsense"], ["csat:2h"], ["service_level"], "some"):
        with pytest.raises(ValueError, match=r"nonsense|2h|service_level|some"):
            catalogue.agent_series(bad)


def test_the_scorecard_bands_are_the_catalogue_bands() -> None:
    card = Scorecard()
    for key, _ in card.kpis:
        assert card.bands[key] is catalogue.BY_KEY[key].band


@pytest.mark.parametrize(("band", "grafana"), [
    (Band((4.0, None), (3.5, None)), Bands("red", ((3.5, "yellow"), (4.0, "green")))),
    (Band((None, 0.04), (None, 0.05)), Bands("green", ((0.04, "yellow"), (0.05, "red")))),
    (Band((0.75, 0.85), (0.60, 0.90)),
     Bands("red", ((0.60, "yellow"), (0.75, "green"), (0.85, "yellow"), (0.90, "red")))),
    (Band((0.85, None), (None, None)), Bands("yellow", ((0.85, "green"),))),
])
def test_a_band_becomes_grafana_colour_steps(band: Band, grafana: Bands) -> None:
    assert bands_of(band) == grafana


def test_queue_bands_follow_the_alert_thresholds_and_config_bands_win() -> None:
    bands = bands_in_force(Thresholds(service_level_target=0.9, abandon_high=0.1),
                           Scorecard(bands={**Scorecard().bands,
                                            "csat": Band((4.5, None), (4.2, None))}))
    assert bands["service_level"].colour(0.88) == "red"  # QueueServiceLevelLow fires there
    assert bands["service_level"].colour(0.92) == "yellow"
    assert bands["abandon"].colour(0.09) == "yellow" and bands["abandon"].colour(0.11) == "red"
    assert bands["csat"].colour(4.3) == "yellow"  # the configured band, not the default
    assert bands_in_force(Thresholds())["csat"].colour(4.3) == "green"


def test_the_console_colours_by_the_bands_in_force() -> None:
    """Issue 18: the console hard-coded SL 0.80; it follows the configured target now."""
    row = {"service_level": 0.86, "aht_seconds": 300.0}
    assert _cell(row, "service_level", ".2f", bands_in_force(Thresholds())).style == "green"
    strict = bands_in_force(Thresholds(service_level_target=0.9))
    assert _cell(row, "service_level", ".2f", strict).style == "red"
    assert _cell(row, "aht_seconds", ".0f", strict).style == ""  # no band: plain
    assert str(_cell(row, "csat", ".2f", strict)) == "–"
