"""What each snapshot costs, on ``/metrics`` and in the log: how close a worker is to what it
can serve.

A scrape of ccpulse is mostly one snapshot of the floor (BENCHMARKS.md), and its cost grows
with the agents a worker computes. An operator sizing a floor needs to see it before
Prometheus' ``scrape_timeout`` does: ``ccpulse_snapshot_seconds`` (and the part of it that
held the engine, during which the replica waits) by kind — ``floor`` for every agent, team
and queue, ``share`` for a sharded worker's own agents, ``drill`` for one agent's answer —
and one warning line, at most every few minutes, when a snapshot takes longer than half
Prometheus' default timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Histogram

from ccpulse.streams.pipeline import SnapshotCost
from ccpulse.streams.throttle import Throttle

log = logging.getLogger("ccpulse.snapshot")

# Half of Prometheus' default scrape_timeout (10 s): a snapshot this slow leaves the scrape
# little room for rendering, and a busier moment can push it past the timeout.
SLOW_SNAPSHOT_S = 5.0
WARN_EVERY_S = 300.0  # one line per five minutes, however many scrapes were slow
# What to do about it depends on what was slow (README, "How fast").
HINTS = {
    "floor": "a scrape of this worker may pass Prometheus' scrape_timeout (10 s by default). "
             "The floor's snapshot grows with the whole floor's agents and is computed by "
             "the worker holding the alert lease: raise scrape_timeout for it, or see README "
             "'How fast' for what one worker serves",
    "share": "a scrape of this worker may pass Prometheus' scrape_timeout (10 s by default): "
             "add workers, each computes the agents of its own partitions",
    "drill": "one agent's answer (/api/v1/agent, an agent's page) took this long: the worker "
             "is overloaded; see README 'How fast'",
}
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class SnapshotCosts:
    """Observes each :class:`SnapshotCost` (``Pipeline.on_snapshot``)."""

    def __init__(self, registry: CollectorRegistry,
                 clock_s: Callable[[], float] = time.monotonic) -> None:
        self._total = Histogram(
            "ccpulse_snapshot_seconds",
            "seconds to compute a snapshot (kind: floor, every agent, team and queue; share, "
            "a sharded worker's own agents; drill, one agent's answer): most of a scrape",
            ["kind"], registry=registry, buckets=BUCKETS)
        self._held = Histogram(
            "ccpulse_snapshot_engine_held_seconds",
            "seconds a snapshot held the engine still to read it (the replica waits)",
            ["kind"], registry=registry, buckets=BUCKETS)
        self._clock_s = clock_s
        self._slow = Throttle(WARN_EVERY_S)  # slow snapshots, one warning line for many
        self._lock = threading.Lock()  # scrapes and the alert evaluation run in threads

    def __call__(self, cost: SnapshotCost) -> None:
        self._total.labels(cost.kind).observe(cost.total_s)
        self._held.labels(cost.kind).observe(cost.engine_held_s)
        if cost.total_s > SLOW_SNAPSHOT_S:
            with self._lock:
                self._slow_one(cost)

    def _slow_one(self, cost: SnapshotCost) -> None:
        slow = self._slow.count(self._clock_s())
        if slow is None:
            return
        log.warning("snapshot_slow", extra={"fields": {
            "kind": cost.kind, "agents": cost.agents, "seconds": round(cost.total_s, 2),
            "engine_held_seconds": round(cost.engine_held_s, 2), "slow_snapshots": slow,
            "hint": HINTS[cost.kind]}})
