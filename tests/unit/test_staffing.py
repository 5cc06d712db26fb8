"""Live staffing: a hand-worked floor, the forecast, and a simulated M/M/c queue."""

from __future__ import annotations

import statistics

import pytest

from ccpulse.processors.config import HOUR_MS, MINUTE_MS, EngineConfig, StaffingConfig
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.erlang import average_speed_of_answer, service_level
from ccpulse.processors.staffing import NOW, holt_forecast
from tests.mmc import mmc_events
from tests.support import EventFactory, at, run, staffing_floor


def test_hand_workedstaffing_floor():
    plan = run(staffing_floor(), "10:00:00").staffing
    billing = plan[("billing", "voice")]
    assert billing.offered_load["15m"] == pytest.approx(5.0)  # 25 / 900 s x 180 s
    assert billing.offered_load["1h"] == pytest.approx(1.25)
    assert billing.arrivals_per_hour[NOW] == pytest.approx(100)
    # 80 % in 20 s at 5 Erlangs: 6 agents answer 47 %, 7 74 %, 8 88 %: 8 needed.
    assert billing.required_agents[NOW] == 8
    # a0..a6 count fully, a7 for 2 of its 3 answers, a8 (at lunch) not at all.
    assert billing.staffed_agents == pytest.approx(7 + 2 / 3)
    assert billing.gap(NOW) == pytest.approx(1 / 3)
    assert billing.predicted_service_level == pytest.approx(0.74044, abs=1e-5)  # 7 agents
    assert billing.predicted_asa_seconds == pytest.approx(average_speed_of_answer(7, 5.0, 180))

    sales = plan[("sales", "chat")]
    # one 600 s chat in 15 minutes = 0.67 slot-Erlangs; 2 slots meet 80/20, and a chat agent
    # has 3 slots, so one agent; a7 gives it a third of its time.
    assert sales.offered_load["15m"] == pytest.approx(600 / 900)
    assert sales.capacity == pytest.approx(3)
    assert sales.required_agents[NOW] == 1
    assert sales.staffed_agents == pytest.approx(1 / 3)
    assert sales.predicted_service_level == pytest.approx(service_level(1, 600 / 900, 600, 20))


def test_forecast_uses_five_minute_bins_of_the_last_hour():
    plan = run(staffing_floor(), "10:00:00").staffing[("billing", "voice")]
    bins = [0.0] * 9 + [10.0, 10.0, 5.0]  # (09:45, 09:50], (09:50, 09:55], (09:55, 10:00]
    cfg = StaffingConfig()
    for horizon, steps in (("15m", 3), ("30m", 6), ("60m", 12)):
        assert plan.arrivals_per_hour[horizon] == pytest.approx(
            holt_forecast(bins, steps, cfg) * 12)


def test_a_queue_with_no_handle_time_yet_is_left_out():
    ev = EventFactory()
    events = [ev("interaction.queued", "09:59:00", interaction_id="x", queue_id="new",
                 channel="voice")]
    assert run(events, "10:00:00").staffing == {}


def test_occupancy_cap_in_the_plan():
    capped = EngineConfig()
    uncapped = EngineConfig(staffing=StaffingConfig(occupancy_cap=1.0, service_level_target=0.0))
    assert run(staffing_floor(), "10:00:00", KpiEngine(uncapped)).staffing[
        ("billing", "voice")].required_agents[NOW] == 6  # 5 / 6 = 0.83: the ceiling allows it
    cap_only = EngineConfig(staffing=StaffingConfig(occupancy_cap=0.7, service_level_target=0.0))
    assert run(staffing_floor(), "10:00:00", KpiEngine(cap_only)).staffing[
        ("billing", "voice")].required_agents[NOW] == 8  # 5 / 0.7 = 7.1 -> 8
    assert run(staffing_floor(), "10:00:00", KpiEngine(capped)).staffing[
        ("billing", "voice")].required_agents[NOW] == 8


@pytest.mark.parametrize(
    ("bins", "expected"),
    [
        ([], 0.0),
        ([7.0] * 12, 7.0),  # flat stays flat
        ([0.0] * 12, 0.0),
    ],
)
def test_holt_forecast_tables(bins: list[float], expected: float):
    assert holt_forecast(bins, 3, StaffingConfig()) == pytest.approx(expected)


def test_holt_forecast_never_goes_negative_after_a_collapse():
    collapse = [40.0, 30.0, 20.0, 10.0] + [0.0] * 8
    assert holt_forecast(collapse, 12, StaffingConfig()) == 0.0


def test_holt_forecast_follows_a_ramp_but_damps_it():
    ramp = [float(i) for i in range(12)]  # +1 arrival per bin
    cfg = StaffingConfig()
    one, twelve = holt_forecast(ramp, 1, cfg), holt_forecast(ramp, 12, cfg)
    assert 9 < one < 12  # smoothing lags a ramp a little
    assert one < twelve < 11 + 12  # keeps rising, never as fast as the raw trend


def test_measured_service_level_and_asa_match_erlang_c_on_an_m_m_c_queue():
    """13 agents, 200 calls/h, AHT 180 s (10 Erlangs): Erlang C predicts 79.6 % within 20 s
    and ASA 17.1 s. Eight independent simulated days, measured by the engine over a 24h
    window, agree within three standard errors of their mean."""
    config = EngineConfig(windows={"15m": 15 * MINUTE_MS, "1h": HOUR_MS, "8h": 8 * HOUR_MS,
                                   "24h": 24 * HOUR_MS})
    end = at("00:00:00")
    sls, asas = [], []
    for seed in range(1, 9):
        events = mmc_events(13, 200, 180, hours=24, start_ms=end - 24 * HOUR_MS, seed=seed)
        snap = run(events, end, KpiEngine(config))
        queue = snap.windows["24h"].queue["q-mmc"]
        sls.append(queue["service_level"])
        asas.append(queue["asa_seconds"])
        assert snap.staffing[("q-mmc", "voice")].staffed_agents == pytest.approx(13)
    for measured, predicted in ((sls, service_level(13, 10.0, 180, 20)),
                                (asas, average_speed_of_answer(13, 10.0, 180))):
        error = statistics.stdev(measured) / len(measured) ** 0.5
        assert error < 0.15 * predicted  # the replications are informative
        assert abs(statistics.mean(measured) - predicted) <= 3 * error
