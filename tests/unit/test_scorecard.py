"""Balanced scorecard: band edges, arithmetic worked by hand, configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccpulse.processors.scorecard import (
    AHT,
    DEFAULT_BANDS,
    Band,
    Scorecard,
    mark,
    spread,
    team_cards,
)
from ccpulse.settings import ConfigError, load_settings


@pytest.mark.parametrize(("key", "value", "colour"), [
    # occupancy: green 0.75-0.85 inclusive, yellow 0.60-0.90, red outside
    ("occupancy", 0.75, "green"), ("occupancy", 0.85, "green"),
    ("occupancy", 0.7499, "yellow"), ("occupancy", 0.8501, "yellow"),
    ("occupancy", 0.60, "yellow"), ("occupancy", 0.90, "yellow"),
    ("occupancy", 0.5999, "red"), ("occupancy", 0.9001, "red"),
    # AHT as a ratio to its target: a range, not a cap
    (AHT, 1.15, "green"), (AHT, 0.85, "green"), (AHT, 1.16, "yellow"),
    (AHT, 0.84, "yellow"), (AHT, 0.69, "red"), (AHT, 1.31, "red"),
    ("fcr", 0.70, "green"), ("fcr", 0.95, "green"), ("fcr", 0.6999, "yellow"),
    ("fcr", 0.5999, "red"),
    ("csat", 4.0, "green"), ("csat", 3.5, "yellow"), ("csat", 3.49, "red"),
    ("idle_between_seconds", 10, "yellow"), ("idle_between_seconds", 9.9, "red"),
    ("repeat_contact", 0.10, "green"), ("repeat_contact", 0.15, "yellow"),
    ("repeat_contact", 0.21, "red"),
])
def test_band_edges(key: str, value: float, colour: str) -> None:
    assert DEFAULT_BANDS[key].colour(value) == colour


def test_a_hand_worked_agent() -> None:
    kpis = {"occupancy": 0.80, AHT: 360.0, "fcr": 0.65, "qa_score": 90.0, "csat": 3.4,
            "felt_heard": 0.8, "idle_between_seconds": 6.0}
    result = mark(kpis, Scorecard(), aht_target=300.0)
    colours = {m.key: m.colour for m in result.marks}
    assert colours == {"occupancy": "green", AHT: "yellow",  # 360 / 300 = 1.2
                       "fcr": "yellow", "qa_score": "green", "csat": "red",
                       "felt_heard": "green", "idle_between_seconds": "red"}
    # efficiency (1 + 0.5) / 2 = 0.75; quality (0.5 + 1) / 2 = 0.75; empathy (0 + 1) / 2 = 0.5
    assert result.groups == {"efficiency": 0.75, "quality": 0.75, "empathy": 0.5,
                             "experience": 0.0}
    # (40 x 0.75 + 40 x 0.75 + 20 x 0.5) / 100 x 100; experience weighs 0: shown, not scored
    assert result.score == pytest.approx(70.0)


def test_kpis_without_a_value_do_not_count_and_aht_needs_a_target() -> None:
    result = mark({"occupancy": 0.95, AHT: 300.0, "csat": 4.5}, Scorecard(), aht_target=None)
    assert [m.key for m in result.marks] == ["occupancy", "csat"]
    # efficiency 0 (red occupancy), empathy 1: (40 x 0 + 20 x 1) / 60
    assert result.score == pytest.approx(100 / 3)
    assert mark({}, Scorecard(), None).score is None


def test_configured_aht_target_wins_over_the_team_baseline() -> None:
    card = Scorecard(aht_target_seconds=400)
    result = mark({AHT: 400.0}, card, aht_target=200.0)
    assert result.marks[0].judged == 1.0
    assert result.marks[0].colour == "green"


def test_team_cards_use_the_team_aht_for_agents_and_measure_spread() -> None:
    team = {AHT: 300.0, "occupancy": 0.8}
    agents = {"a1": {AHT: 300.0, "occupancy": 0.7}, "a2": {AHT: 450.0, "occupancy": 0.9}}
    cards = team_cards(team, agents, Scorecard())
    assert {m.key: m.colour for m in cards.agents["a2"].marks} == {
        "occupancy": "yellow", AHT: "red"}  # 450 / 300 = 1.5
    assert AHT not in {m.key for m in cards.team.marks}  # no target configured for the team
    # population std dev / mean: occupancy values 0.7, 0.9 -> 0.1 / 0.8
    assert cards.spread["occupancy"] == pytest.approx(0.125)
    assert spread([1.0]) is None
    assert spread([0.0, 0.0]) is None


def test_card_validation() -> None:
    with pytest.raises(ValueError, match="5 to 7 KPIs"):
        Scorecard(kpis=(("occupancy", "efficiency"),))
    with pytest.raises(ValueError, match="no band for KPI 'escalation'"):
        Scorecard(kpis=(*Scorecard().kpis[:5], ("escalation", "quality")))
    with pytest.raises(ValueError, match="group 'speed'"):
        Scorecard(kpis=(*Scorecard().kpis[:5], ("csat", "speed")))
    assert Band((1, 2), (0, 3)).colour(2.5) == "yellow"


def test_config_file_sets_cards_per_team(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[scorecard]\nweights = { efficiency = 50, quality = 30, empathy = 20 }\n'
        "[scorecard.bands.csat]\ngreen_min = 4.5\nyellow_min = 4.0\n"
        '[scorecard.teams."sales"]\n'
        'kpis = { occupancy = "efficiency", aht_non_emotional_seconds = "efficiency", '
        'sales_conversion = "quality", fcr = "quality", csat = "empathy" }\n'
        "aht_target_seconds = 420\n")
    cards = load_settings({"config": str(config)}, {}).scorecards
    assert cards.default.weights["efficiency"] == 50
    assert cards.default.bands["csat"].colour(4.2) == "yellow"
    sales = cards.for_team("sales")
    assert [k for k, _ in sales.kpis][2] == "sales_conversion"
    assert sales.aht_target_seconds == 420
    assert sales.bands["csat"].colour(4.2) == "yellow"  # inherits the floor's bands
    assert cards.for_team("other") is cards.default


@pytest.mark.parametrize(("text", "names"), [
    ("[scorecard]\nkpis = { occupancy = 'efficiency' }\n", "`scorecard`: a scorecard has 5"),
    ('[scorecard.teams."t1"]\nkpis = { occupancy = "efficiency", fcr = "quality", '
     'csat = "empathy", qa_score = "quality", escalation = "quality" }\n',
     '`scorecard.teams."t1"`: no band for KPI \'escalation\''),
    ("[scorecard.bands.csat]\ngreen_minimum = 4\n", "green_minimum"),
    ("[scorecard.bands.speed]\ngreen_min = 4\n", "`scorecard.bands.speed`"),
    ("[scorecard]\nweights = { efficiency = -1 }\n", "weights"),
])
def test_bad_scorecard_config_names_the_key(tmp_path: Path, text: str, names: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings({"config": str(config)}, {})
    assert names in str(error.value)
