"""One agent's answer from its own snapshot (``Pipeline.drill``, ``ccpulse.api.AgentSnapshots``):
the same document as the floor's snapshot gives, and the floor's once drill-downs would cost
more than it."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from ccpulse.api import AgentSnapshots, RecentSnapshot, api, readers, scope_view
from ccpulse.bands import bands_in_force
from ccpulse.http import MetricsServer
from ccpulse.processors.scorecard import Scorecards
from ccpulse.processors.snapshot import Snapshot, teammates
from ccpulse.processors.timefmt import format_ms
from ccpulse.settings import Thresholds
from ccpulse.streams.pipeline import Pipeline
from ccpulse.streams.simulator import HOUR, MINUTE, SimConfig, Simulator
from ccpulse.tokens import AgentLinks
from ccpulse.web import WebApp, agent_view
from tests.live import http_get
from tests.support import EventFactory

AGENTS = 36
MOVED = "agent-00003"  # moves to the team of agent-00020 near the end
NEVER_IN = "agent-99999"  # scheduled, never logged in


@pytest.fixture(scope="module")
def floor() -> tuple[Pipeline, int]:
    pipeline = Pipeline()
    config = SimConfig(agents=AGENTS, duration_ms=2 * HOUR, seed=11)
    for event in Simulator(config).events():
        pipeline.feed(orjson.dumps(event), None, None)
    end = config.start_ms + config.duration_ms
    engine = pipeline.engine
    other = engine.agents["agent-00020"].team
    assert other != engine.agents[MOVED].team
    ev = EventFactory("drill")
    for event in (ev("agent.available", end - 10 * MINUTE, agent_id=MOVED, team_id=other),
                  ev("schedule.published", end - 3 * HOUR, agent_id=NEVER_IN, team_id=other,
                     segments=[{"start": format_ms(end - 2 * HOUR), "end": format_ms(end),
                                "activity": "work"}])):
        pipeline.feed(orjson.dumps(event), None, None)
    return pipeline, end


def _documents(snap: Snapshot, drilled: Snapshot, team: Snapshot, agent: str,
               ) -> tuple[Any, Any]:
    bands = bands_in_force(Thresholds())
    return ((scope_view(snap, "agent", agent), agent_view(snap, agent, Scorecards(), bands, None)),
            (scope_view(drilled, "agent", agent),
             agent_view(team, agent, Scorecards(), bands, None)))


def test_an_agents_answer_from_its_own_snapshot_is_the_floors(
        floor: tuple[Pipeline, int]) -> None:
    pipeline, end = floor
    for now in (end - 90 * MINUTE, end - 5 * MINUTE, end):
        snap = pipeline.snapshot(now)
        agents = sorted(pipeline.engine.agents)  # the scheduled one is tracked too
        assert len(agents) == AGENTS + 1 and NEVER_IN in agents
        for agent in [*agents, "nobody"]:
            whole, drilled = _documents(snap, pipeline.drill(now, agent),
                                        pipeline.drill(now, agent, team=True), agent)
            assert drilled == whole, (now, agent)
            if agent not in (NEVER_IN, "nobody"):
                assert whole[0] is not None and whole[1]["marks"]
                assert whole[1]["score"] is not None
    # the moved agent is compared with its new team, which its old team's members are not in
    moved = agent_view(pipeline.drill(end, MOVED, team=True), MOVED, Scorecards(),
                       bands_in_force(Thresholds()), None)
    assert moved is not None and moved["team"] == pipeline.engine.agents["agent-00020"].team


def test_teammates_are_the_agents_of_its_team_at_that_instant(
        floor: tuple[Pipeline, int]) -> None:
    pipeline, end = floor
    engine = pipeline.engine
    new_team = engine.agents["agent-00020"].team
    before, after = end - 20 * MINUTE, end
    old_team = engine.agents[MOVED].timeline.team_at(before)
    assert old_team is not None and old_team != new_team
    assert MOVED in teammates(engine, "agent-00020", after)
    assert MOVED not in teammates(engine, "agent-00020", before)
    assert teammates(engine, MOVED, before) == {
        a for a, m in engine.agents.items() if m.timeline.team_at(before) == old_team}
    assert 1 < len(teammates(engine, MOVED, after)) < AGENTS
    assert teammates(engine, "nobody", end) == {"nobody"}


def test_a_drill_down_computes_its_agents_alone(floor: tuple[Pipeline, int]) -> None:
    pipeline, end = floor
    alone = pipeline.drill(end, "agent-00007")
    assert list(alone.agents) == ["agent-00007"] and not alone.floor
    team = pipeline.drill(end, "agent-00007", team=True)
    assert set(team.agents) == teammates(pipeline.engine, "agent-00007", end)
    assert set(team.windows["8h"].team) <= {a.team for a in team.agents.values()} | {"unknown"}


def test_the_agent_routes_answer_from_a_drill_down_and_the_others_from_the_floor(
        floor: tuple[Pipeline, int]) -> None:
    pipeline, end = floor
    now = end + HOUR  # the other tests' floor snapshots are too old to be taken
    kinds: list[str] = []
    pipeline.on_snapshot = lambda cost: kinds.append(cost.kind)
    floor_snaps, agents = readers(pipeline, lambda: now, lambda: pipeline.floor_ms)
    secret = "a-secret-of-the-floor-0123456789"
    web = WebApp(floor_snaps, bands_in_force(Thresholds()), Scorecards(),
                 links=AgentLinks(secret), agent_snapshots=agents)
    server = MetricsServer(CollectorRegistry(), "127.0.0.1", 0, lambda: (True, "ok"),
                           ("prom", "pw"), api=api(floor_snaps, agents), web=web).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        status, body = http_get(f"{base}/api/v1/agent/agent-00005", ("prom", "pw"))
        assert status == 200 and kinds == ["drill"]
        drilled = json.loads(body)
        kinds.clear()
        token = AgentLinks(secret).token("agent-00005")
        status, body = http_get(f"{base}/api/v1/me/agent-00005?t={token}", None)
        assert status == 200 and json.loads(body)["agent"] == "agent-00005"
        assert kinds == ["drill"]
        status, _ = http_get(f"{base}/api/v1/team/{pipeline.engine.agents['agent-00005'].team}",
                             ("prom", "pw"))
        assert status == 200 and kinds == ["drill", "floor"]
        assert drilled == orjson.loads(orjson.dumps(
            scope_view(pipeline.snapshot(now), "agent", "agent-00005")))
    finally:
        server.stop()
        pipeline.on_snapshot = None


class _Clock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


def _snap(now: int) -> Snapshot:
    return Snapshot(now, {}, {}, {}, {})


def test_the_floor_serves_while_recent_then_drill_downs_within_one_floors_cost() -> None:
    clock = _Clock()
    floors: list[int] = []
    drills: list[tuple[int, str, bool]] = []

    def compute_floor(now: int) -> Snapshot:
        floors.append(now)
        clock.ms += 2_000  # a floor takes 2 s
        return _snap(now)

    def drill(now: int, agent: str, team: bool) -> Snapshot:
        drills.append((now, agent, team))
        clock.ms += 300  # a drill-down 0.3 s
        return _snap(now)

    recent = RecentSnapshot(compute_floor, clock)
    agents = AgentSnapshots(recent, drill, clock)
    # no floor computed yet: drill-downs until a second of them, then the floor
    for _ in range(4):
        agents("a1")
    assert (len(drills), floors) == (4, [])  # 0, 0.3, 0.6, 0.9 s spent before each
    clock.ms += 1
    first = agents("a2", team=True)
    assert floors == [first.now] and len(drills) == 4
    # recent (within 4 x 2 s): served to every agent without computing anything
    clock.ms += 5_000
    assert agents("a3") is first and agents("a4", team=True) is first
    assert len(floors) == 1 and len(drills) == 4
    # aged: drill-downs again, now within what a floor takes (2 s: seven of 0.3 s)
    clock.ms += 2_000
    for agent in ("a5", "a6", "a7", "a8", "a9", "a10", "a11"):
        assert agents(agent).now == clock.ms - 300
    assert len(drills) == 11 and drills[-1][1:] == ("a11", False)
    assert agents("a12").now == floors[-1] and len(floors) == 2


def test_drill_downs_take_at_most_a_floor_time_in_four() -> None:
    clock = _Clock()
    floors: list[int] = []
    recent = RecentSnapshot(lambda now: floors.append(now) or _snap(now), clock,
                            recent=lambda since, wait: None, cost_ms=lambda: 1_000)
    spent: list[str] = []

    def drill(now: int, agent: str, team: bool) -> Snapshot:
        spent.append(agent)
        clock.ms += 600
        return _snap(now)

    agents = AgentSnapshots(recent, drill, clock)  # a floor takes 1 s: 1 s of them in 4
    start = clock.ms
    agents("a1")
    agents("a2")
    clock.ms = start + 4_200  # a1's went out of the last 4 s; a2's (from start + 600) not
    agents("a3")
    agents("a4")  # at start + 4,800: a2's went out too
    assert spent == ["a1", "a2", "a3", "a4"] and not floors
    assert agents("a5").now == floors[-1] == start + 5_400  # a3's and a4's: 1.2 s of 4
    assert spent[-1] == "a4"
    clock.ms = start + 30_000  # the floor aged, the drill-downs with it
    agents("a6")
    assert spent[-1] == "a6" and len(floors) == 1


def test_a_floor_cost_measured_on_an_empty_floor_leaves_the_drill_downs_a_second_in_four(
        ) -> None:
    """A worker's first floor snapshot, at its start, is of a nearly empty floor: a few
    milliseconds. Counted as what a floor takes, it made every drill-down but the first a
    whole floor; they get a second in four at least."""
    clock = _Clock()
    floors: list[int] = []
    recent = RecentSnapshot(lambda now: floors.append(now) or _snap(now), clock,
                            cost_ms=lambda: 5)
    spent: list[str] = []

    def drill(now: int, agent: str, team: bool) -> Snapshot:
        spent.append(agent)
        clock.ms += 2  # 2 ms each: ten are 20 ms, four times the 5 ms "floor"
        return _snap(now)

    agents = AgentSnapshots(recent, drill, clock)
    asked = [f"a{n}" for n in range(10)]
    for agent in asked:
        agents(agent)
    assert spent == asked and floors == []
