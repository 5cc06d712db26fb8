"""A replayed simulated day with injected scenarios raises the alerts each scenario should,
for the right scope, inside the scenario's time, and nothing that contradicts it."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import defaultdict

import pytest

from ccpulse.processors.timefmt import parse_ms
from ccpulse.streams.simulator import HOUR, MINUTE, SimConfig, Simulator

AGENTS, HOURS, SEED = 60, 6, 13


@pytest.fixture(scope="module")
def transitions(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    base = tmp_path_factory.mktemp("day")
    day = base / "day.jsonl"
    subprocess.run([sys.executable, "-m", "ccpulse", "simulate", "--out", str(day), "--agents",
                    str(AGENTS), "--hours", str(HOURS), "--seed", str(SEED)], check=True)
    # two replays of the same file, side by side (two cores): they must agree
    outs = [base / f"{name}.jsonl" for name in ("a", "b")]
    runs = [subprocess.Popen([sys.executable, "-m", "ccpulse", "replay", str(day),
                              "--alerts-out", str(out)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE) for out in outs]
    for run in runs:
        _, err = run.communicate(timeout=240)
        assert run.returncode == 0, err.decode()[-2000:]
    outputs = [out.read_bytes() for out in outs]
    assert outputs[0] == outputs[1], "the same file must give the same transitions"
    return [json.loads(line) for line in outputs[0].splitlines()]


def scenario(kind: str) -> tuple[str, int, int]:
    """(team id, start ms, end ms) of a default scenario of the simulated day."""
    simulator = Simulator(SimConfig(agents=AGENTS, duration_ms=HOURS * HOUR, seed=SEED))
    start = simulator.config.start_ms
    for s in simulator.scenarios:
        if s.kind == kind:
            return f"team-{s.team + 1:03d}", start + s.start, start + s.end
    raise KeyError(kind)


def fired(transitions: list[dict], alertname: str, **labels: str) -> list[int]:
    return [parse_ms(t["startsAt"]) for t in transitions
            if t["status"] == "firing" and t["labels"]["alertname"] == alertname
            and all(t["labels"].get(k) == v for k, v in labels.items())]


def test_every_alert_alternates_firing_and_resolved(transitions: list[dict]) -> None:
    history: dict[tuple, list[str]] = defaultdict(list)
    for t in transitions:
        history[tuple(sorted(t["labels"].items()))].append(t["status"])
    for key, statuses in history.items():
        assert statuses[0] == "firing", key
        assert all(a != b for a, b in itertools.pairwise(statuses)), key
    for t in transitions:
        assert parse_ms(t["endsAt" if t["status"] == "resolved" else "startsAt"]) % 15_000 == 0


def test_hot_team_fires_team_occupancy_high_during_its_scenario(transitions: list[dict]) -> None:
    team, start, end = scenario("hot")
    times = fired(transitions, "TeamOccupancyHigh", team=team)
    assert any(start + 10 * MINUTE <= t <= end for t in times)
    assert not [t for t in fired(transitions, "TeamOverstaffed", team=team) if start <= t <= end]


def test_idle_team_is_reported_overstaffed(transitions: list[dict]) -> None:
    team, start, end = scenario("idle")
    assert any(start + 15 * MINUTE <= t <= end for t in
               fired(transitions, "TeamOverstaffed", team=team))
    assert not [t for t in fired(transitions, "TeamOccupancyHigh", team=team)
                if start + HOUR <= t <= end]


def test_strained_team_shows_csat_aht_divergence(transitions: list[dict]) -> None:
    team, start, end = scenario("csat_aht")
    assert any(start <= t <= end for t in fired(transitions, "CsatAhtDivergence", team=team))


def test_burst_breaks_the_queue_service_level(transitions: list[dict]) -> None:
    team, start, end = scenario("sl_miss")
    index = int(team.rsplit("-", 1)[1])
    queues = {t["labels"]["queue"] for t in transitions if "queue" in t["labels"]}
    queue = next(q for q in queues if q.endswith(f"-{index:03d}"))
    assert any(start <= t <= end for t in fired(transitions, "QueueServiceLevelLow",
                                                queue=queue))
