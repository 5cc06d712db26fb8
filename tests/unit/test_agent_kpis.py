"""A snapshot's agents' KPIs are computed as they are read (processors.snapshot.AgentKpis):
each agent's own, in the order every agent's computed at once had, and none that nobody
reads — the alert rules and a worker's /metrics read no agent's 15m KPIs."""

from __future__ import annotations

import gc
import weakref

import orjson
import pytest

from ccpulse.alerts.engine import AlertEvaluator
from ccpulse.alerts.rules import AGENT_WINDOWS
from ccpulse.api import scope_view
from ccpulse.exporter import KpiCollector, MetricsConfig, exposition
from ccpulse.processors.catalogue import WINDOW_1H, WINDOW_8H, WINDOW_15M
from ccpulse.processors.decode import decode
from ccpulse.processors.engine import KpiEngine
from ccpulse.processors.snapshot import AgentKpis, Snapshot, snapshot
from ccpulse.sharding import AgentShards
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator
from tests.support import EventFactory, at, feed

AGENTS = 40


@pytest.fixture(scope="module")
def floor() -> tuple[KpiEngine, int]:
    engine = KpiEngine()
    for event in Simulator(SimConfig(agents=AGENTS, duration_ms=2 * HOUR, seed=5)).events():
        engine.apply(decode(orjson.dumps(event)))  # type: ignore[arg-type]
    assert engine.max_ts is not None
    return engine, engine.max_ts + 1


def agent_kpis(snap: Snapshot, window: str) -> AgentKpis:
    kpis = snap.windows[window].agent
    assert isinstance(kpis, AgentKpis)
    return kpis


def test_each_agent_gets_its_own_kpis_in_order(floor: tuple[KpiEngine, int]) -> None:
    engine, now = floor
    snap = snapshot(engine, now)
    for window in snap.windows:
        kpis = agent_kpis(snap, window)
        assert list(kpis) == sorted(kpis) and len(kpis) == AGENTS
        for agent in list(kpis)[::7]:  # read in an order of their own, not the mapping's
            alone = snapshot(engine, now, agents=lambda a, agent=agent: a == agent)
            assert dict(alone.windows[window].agent) == {agent: kpis[agent]}
            assert kpis[agent]["logged_in_seconds"] > 0
    # equal to a dict of the same, as the tests' snapshots (and N workers against one) compare
    again = snapshot(engine, now)
    assert agent_kpis(snap, WINDOW_1H) == dict(agent_kpis(again, WINDOW_1H).items())


def test_an_agent_read_is_computed_once_and_others_not_at_all(
        floor: tuple[KpiEngine, int]) -> None:
    engine, now = floor
    kpis = agent_kpis(snapshot(engine, now), WINDOW_15M)
    first = next(iter(kpis))
    assert kpis.computed == 0 and first in kpis
    assert kpis[first] is kpis.get(first) is kpis[first]
    assert kpis.computed == 1
    assert "nobody" not in kpis and kpis.get("nobody") is None and kpis.get("nobody", {}) == {}
    with pytest.raises(KeyError):
        kpis["nobody"]
    assert kpis.computed == 1
    last = list(kpis)[-1]
    kpis[last]  # read out of order: iterated in order all the same, before and after
    assert [agent for agent, _ in kpis.items()] == list(kpis)
    kpis.compute_all()
    assert kpis.computed == AGENTS and kpis[last] is kpis.get(last)
    assert [agent for agent, _ in kpis.items()] == list(kpis) == sorted(kpis)
    assert list(kpis.values()) == [kpis[agent] for agent in kpis]


def test_the_rules_metrics_and_api_compute_what_they_read(floor: tuple[KpiEngine, int]) -> None:
    engine, now = floor
    snap = snapshot(engine, now)
    AlertEvaluator().evaluate(snap)  # every agent's 1h and 8h
    assert agent_kpis(snap, WINDOW_1H).computed == AGENTS
    assert agent_kpis(snap, WINDOW_8H).computed == AGENTS
    exposition(KpiCollector(lambda: snap, metrics=MetricsConfig()))
    assert agent_kpis(snap, WINDOW_15M).computed == 0  # no agent series of 15m by default
    view = scope_view(snap, "agent", "agent-00003")
    assert view is not None and view["windows"][WINDOW_15M]["logged_in_seconds"] > 0
    assert agent_kpis(snap, WINDOW_15M).computed == 1

    # a worker exporting a share of the agents computes theirs alone
    shards = AgentShards()
    shards.update(8, frozenset({0, 1}))
    snap = snapshot(engine, now)
    body = exposition(KpiCollector(lambda: snap, metrics=MetricsConfig(),
                                   owns_agent=shards.owns))
    mine = [agent for agent in snap.agents if shards.owns(agent)]
    assert 0 < len(mine) < AGENTS
    assert agent_kpis(snap, WINDOW_1H).computed == len(mine)
    assert all(f'agent="{agent}"'.encode() in body for agent in mine)


def test_an_agent_scheduled_and_absent_has_its_adherence_added_last() -> None:
    ev = EventFactory()
    engine = KpiEngine()
    feed(engine, [
        ev("schedule.published", "08:55:00", agent_id="a9", team_id="t1", segments=[
            {"start": "2026-11-22T09:00:00Z", "end": "2026-11-22T12:00:00Z",
             "activity": "work"}]),
        ev("agent.login", "09:00:00", agent_id="a1", team_id="t1"),
        ev("agent.available", "09:00:00", agent_id="a1", team_id="t1"),
    ])
    kpis = agent_kpis(snapshot(engine, at("09:30:00")), WINDOW_1H)
    assert list(kpis) == ["a1", "a9"]
    assert list(kpis["a9"].items()) == [("logged_in_seconds", 0.0), ("wrapped", 0),
                                        ("surveys", 0), ("answered", 0),
                                        ("idle_between_samples", 0), ("adherence", 0.0)]
    assert "adherence" not in kpis["a1"] and kpis["a1"]["logged_in_seconds"] == 1800


def test_the_rules_read_every_agent_in_their_windows_alone(floor: tuple[KpiEngine, int]) -> None:
    """AGENT_WINDOWS is what a worker computes ahead of the rules, off its replica's thread:
    with those computed, evaluating computes no agent's KPIs more."""
    engine, now = floor
    snap = snapshot(engine, now)
    for window in AGENT_WINDOWS:
        agent_kpis(snap, window).compute_all()
    before = {window: agent_kpis(snap, window).computed for window in snap.windows}
    AlertEvaluator().evaluate(snap)
    assert {window: agent_kpis(snap, window).computed for window in snap.windows} == before
    assert all(before[window] == AGENTS for window in AGENT_WINDOWS)



class _Sums:
    """Stands for the window's sums a computing function reads (weakly referable)."""


@pytest.mark.parametrize("how", ["compute_all", "each_read"])
def test_the_sums_are_let_go_once_every_agent_is_computed(how: str) -> None:
    """A snapshot kept for the scrapes after the rules read every agent's 1h and 8h no longer
    holds the window's per-agent sums (the computing function's): at 50,000 agents two floor
    snapshots alive took 0.67 of the memory. Until the last agent is read, they stay."""
    sums = _Sums()
    seen = weakref.ref(sums)
    ids = ["a1", "a2", "a3"]

    def compute(agent: str, sums: _Sums = sums) -> dict[str, float]:
        assert isinstance(sums, _Sums)
        return {"occupancy": float(ids.index(agent))}

    kpis = AgentKpis(ids, compute)
    del sums, compute
    gc.collect()
    if how == "compute_all":
        kpis.compute_all()
    else:
        assert kpis["a2"] == {"occupancy": 1.0} and kpis.get("a1") == {"occupancy": 0.0}
        gc.collect()
        assert seen() is not None  # a3 still to be read
        assert kpis["a3"] == {"occupancy": 2.0}
    gc.collect()
    assert seen() is None
    assert [kpis[a]["occupancy"] for a in ids] == [0.0, 1.0, 2.0]  # still read as before
    assert dict(kpis.items()) == {a: {"occupancy": float(i)} for i, a in enumerate(ids)}
    with pytest.raises(KeyError):
        kpis["a4"]
