"""The engine against the independent oracle on simulated floors, at many instants, including
instants that fall exactly on event times (window edges on an event)."""

from __future__ import annotations

import random

import orjson
import pytest

from ccpulse.processors.decode import Decoded, decode
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import snapshot
from ccpulse.processors.timefmt import parse_ms
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator
from tests import oracle


@pytest.fixture(scope="module")
def floor() -> tuple[list[dict], KpiEngine]:
    events = list(Simulator(SimConfig(agents=45, duration_ms=3 * HOUR, seed=11)).events())
    engine = KpiEngine()
    for event in events:
        decoded = decode(orjson.dumps(event))
        assert isinstance(decoded, Decoded)
        assert engine.apply(decoded) == "applied"
    return events, engine


def _instants(events: list[dict]) -> list[int]:
    rng = random.Random(3)
    times = [parse_ms(e["ts"]) for e in events]
    last = times[-1]
    picks = [last, times[len(times) // 2], times[len(times) // 3] + 1]
    # an instant exactly 15 min / 1 h after an event puts that event on the window's edge
    picks += [rng.choice(times) + 15 * 60_000, rng.choice(times[: len(times) // 2]) + HOUR]
    return [p for p in picks if p <= last]


def _close(engine_kpis: dict, oracle_kpis: dict, keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        assert (key in engine_kpis) == (key in oracle_kpis), (where, key)
        if key in oracle_kpis:
            assert engine_kpis[key] == pytest.approx(oracle_kpis[key], rel=1e-9, abs=1e-9), \
                (where, key)


@pytest.mark.parametrize("window", ["15m", "1h", "8h"])
def test_time_kpis_match_the_oracle(floor: tuple[list[dict], KpiEngine], window: str) -> None:
    events, engine = floor
    for now in _instants(events):
        start = now - engine.config.windows[window]
        seen = [e for e in events if parse_ms(e["ts"]) <= now]
        agents, teams = oracle.agent_times(seen, start, now)
        snap = snapshot(engine, now)
        kpis = snap.windows[window]
        keys = ("occupancy", "utilization", "load", "logged_in_seconds")
        for agent, times in agents.items():
            expected = oracle.time_kpis(times)
            if expected:
                _close(kpis.agent[agent], expected, keys, f"{agent}@{now}")
        for team, times in teams.items():
            _close(kpis.team[team], oracle.time_kpis(times), keys, f"{team}@{now}")


@pytest.mark.parametrize("window", ["15m", "1h", "8h"])
def test_counted_kpis_match_the_oracle(floor: tuple[list[dict], KpiEngine], window: str,
                                       ) -> None:
    events, engine = floor
    for now in _instants(events):
        start = now - engine.config.windows[window]
        kpis = snapshot(engine, now).windows[window]
        agents, queues = oracle.wrapped_kpis(events, start, now)
        for agent, expected in agents.items():
            _close(kpis.agent[agent], expected, ("aht_seconds", "fcr", "csat"), agent)
            assert kpis.agent[agent]["wrapped"] == expected.get("wrapped", 0)
        for queue, expected in oracle.queue_kpis(events, start, now).items():
            _close(kpis.queue[queue], expected, ("service_level", "abandon", "asa_seconds"),
                   queue)
        for queue, expected in queues.items():
            _close(kpis.queue[queue], expected, ("aht_seconds",), queue)


@pytest.mark.parametrize("window", ["15m", "1h", "8h"])
def test_adherence_and_absence_match_the_oracle(floor: tuple[list[dict], KpiEngine],
                                                window: str) -> None:
    """The simulated floor publishes every agent's schedule (§7.1)."""
    events, engine = floor
    compared = 0
    for now in _instants(events):
        start = now - engine.config.windows[window]
        seen = [e for e in events if parse_ms(e["ts"]) <= now]
        agents, teams = oracle.adherence(seen, start, now)
        kpis = snapshot(engine, now).windows[window]
        for agent, expected in agents.items():
            _close(kpis.agent[agent], {"adherence": expected}, ("adherence",), agent)
            compared += 1
        for team, expected in teams.items():
            _close(kpis.team[team], expected, ("adherence", "absence"), team)
        assert all("adherence" not in k for a, k in kpis.agent.items() if a not in agents)
    assert compared > 0
