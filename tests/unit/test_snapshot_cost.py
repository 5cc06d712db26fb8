"""What each snapshot costs reaches /metrics, and a slow one the log, once per interval."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from ccpulse.snapshot_cost import SLOW_SNAPSHOT_S, WARN_EVERY_S, SnapshotCosts
from ccpulse.streams.pipeline import SnapshotCost
from tests.support import EventFactory, at, morning_pipeline

NOW = at("09:20:00")


def test_the_pipeline_reports_each_snapshot_it_computes() -> None:
    ev = EventFactory()
    pipeline = morning_pipeline(ev, ev("agent.login", "09:00:00", agent_id="a2", team_id="t2"))
    agents = len(pipeline.engine.agents)
    costs: list[SnapshotCost] = []
    pipeline.on_snapshot = costs.append
    pipeline.snapshot(NOW)
    pipeline.share(NOW, lambda agent: agent == "a2")
    assert [(c.kind, c.agents) for c in costs] == [("floor", agents), ("share", 1)]
    assert agents > 1
    assert all(0 <= c.engine_held_s <= c.total_s for c in costs)


class Clock:
    def __init__(self) -> None:
        self.s = 1000.0

    def __call__(self) -> float:
        return self.s


def sample(registry: CollectorRegistry, name: str, kind: str) -> float | None:
    return registry.get_sample_value(name, {"kind": kind})


def test_costs_are_histograms_by_kind_and_a_slow_one_is_logged_once_per_interval(
        caplog: pytest.LogCaptureFixture) -> None:
    registry, clock = CollectorRegistry(), Clock()
    observe = SnapshotCosts(registry, clock_s=clock)
    slow = SnapshotCost("floor", 50_000, 4.0, SLOW_SNAPSHOT_S + 7.0)
    with caplog.at_level(logging.WARNING, logger="ccpulse.snapshot"):
        observe(SnapshotCost("share", 120, 0.01, 0.03))
        assert not caplog.records  # fast: counted, not logged
        observe(slow)
        observe(slow)  # within the interval: counted for the next line
        clock.s += WARN_EVERY_S
        observe(slow)
    assert sample(registry, "ccpulse_snapshot_seconds_count", "share") == 1
    assert sample(registry, "ccpulse_snapshot_seconds_count", "floor") == 3
    assert sample(registry, "ccpulse_snapshot_seconds_sum", "floor") == pytest.approx(36.0)
    assert sample(registry, "ccpulse_snapshot_engine_held_seconds_sum", "floor") == 12.0
    # every floor snapshot took 12 s: none in the 5 s bucket, all three in the 30 s one
    assert registry.get_sample_value("ccpulse_snapshot_seconds_bucket",
                                     {"kind": "floor", "le": "5.0"}) == 0
    assert registry.get_sample_value("ccpulse_snapshot_seconds_bucket",
                                     {"kind": "floor", "le": "30.0"}) == 3
    lines = [r for r in caplog.records if r.getMessage() == "snapshot_slow"]
    assert [r.fields["slow_snapshots"] for r in lines] == [1, 2]  # type: ignore[attr-defined]
    fields = lines[0].fields  # type: ignore[attr-defined]
    assert (fields["kind"], fields["agents"], fields["seconds"]) == ("floor", 50_000, 12.0)
    assert "scrape_timeout" in fields["hint"]
