"""Sharded exposition (issue 19): three workers, one real Prometheus scraping all three.

Each worker exports the per-agent series of the agents of its agent-topic partitions only,
computed from a snapshot of those agents alone; the holder of the alert lease also exports
every team, queue and channel series. In Prometheus every series then exists once (one
instance), and together they are ``ccpulse replay``'s numbers; the dashboards (``max by``
over their scope) read them as they read one worker.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from ccpulse.streams.kafka_io import ensure_topics
from tests.integration.test_prometheus_dashboards import (
    TARGET_LABELS,
    PromApi,
    eight_hour_series_of_replay,
    prometheus_config,
)
from tests.live import (
    WorkerProcess,
    assert_union_converges,
    log_length,
    recent_shift,
    send,
    shares,
    wait_for,
    wait_settled,
)
from tests.servers import start_prometheus


def test_three_sharded_workers_in_prometheus_equal_replay(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    events = recent_shift(tmp_path / "shift.jsonl", agents=60, minutes=12, seed=9)
    count = sum(1 for _ in events.open("rb"))
    # the input topics exist before the workers: a group owns no partitions of a topic that
    # the first event has yet to create, and the wait below is for a settled group. Six
    # partitions, so that each of the three workers is likely to hold some of the agent topic
    ensure_topics(kafka_bootstrap, [topics[f"CCPULSE_{kind}_TOPIC"]
                                    for kind in ("AGENT", "INTERACTION", "SCHEDULE")], 6)
    workers = [worker_factory() for _ in range(3)]
    for worker in workers:
        worker.wait_healthy()
    # every agent partition has its owner before the events come: the asserts below are
    # about a settled group, not about a worker still joining
    wait_settled(workers, 120)
    prometheus = start_prometheus(tmp_path, prometheus_config(*(w.port for w in workers)))
    try:
        api = PromApi(prometheus)
        send(events, kafka_bootstrap, topics)
        wait_for(lambda: log_length(redis_url) >= count, 90, "events in the Redis log")
        assert_union_converges(workers, events)
        # each worker's report of its own processed events adds up to the stream
        wait_for(lambda: bool(api.query(f"sum(ccpulse_events_processed_total) == {count}")),
                 60, "Prometheus to scrape the caught-up workers")
        # the agent series come from exactly the workers holding agent-topic partitions
        holders = {f"127.0.0.1:{w.port}"
                   for w, (owned, _) in zip(workers, shares(workers), strict=True) if owned}
        assert len(holders) >= 2, "the agent series are not sharded at all"

        def exporting() -> set[str]:
            return {s["metric"]["instance"]
                    for s in api.query("count by (instance) (ccpulse_agent_state)")}
        try:
            wait_for(lambda: exporting() == holders, 30,
                     "agent series from each worker holding agent partitions")
        except TimeoutError as exc:  # say which worker, and whether Prometheus reaches it
            up = {s["metric"]["instance"]: s["value"][1] for s in api.query("up")}
            raise AssertionError(f"{exc}: exporting {exporting()}, holders {holders}, up {up}, "
                                 f"partitions {shares(workers)}") from exc

        by_series: dict[tuple[str, frozenset], dict[str, float]] = defaultdict(dict)
        for sample in api.query('{__name__=~"ccpulse_.+", window="8h"}'):
            labels = dict(sample["metric"])
            instance = labels["instance"]
            name = labels.pop("__name__")
            key = (name, frozenset((k, v) for k, v in labels.items() if k not in TARGET_LABELS))
            by_series[key][instance] = float(sample["value"][1])
        want = eight_hour_series_of_replay(events)
        assert len(want) > 300
        assert by_series.keys() == want.keys()
        floor_instances = set()
        for key, values in by_series.items():
            assert len(values) == 1, (key, values)  # from one worker: its agent or the floor
            if not any(k == "agent" for k, _ in key[1]):
                floor_instances |= values.keys()
            assert all(v == pytest.approx(want[key], rel=1e-9, abs=1e-12)
                       for v in values.values()), key
        owners = {sample["metric"]["agent"]: sample["metric"]["instance"]
                  for sample in api.query("ccpulse_agent_state")}
        assert len(owners) == 60 and len(set(owners.values())) == 3  # all agents, all workers
        assert len(floor_instances) == 1  # teams, queues and channels: the lease holder
        # what a dashboard panel does: one series per team, whatever the number of workers
        teams = api.query('max by (team) (ccpulse_team_occupancy_ratio{window="8h"})')
        assert len(teams) == len({dict(k[1])["team"] for k in want
                                  if k[0] == "ccpulse_team_occupancy_ratio"})
    finally:
        prometheus.stop()
