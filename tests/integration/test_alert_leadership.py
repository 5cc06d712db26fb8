"""The alert lease and saved state on a real redis-server."""

from __future__ import annotations

import redis

from ccpulse.alerts.engine import Alert, AlertEvaluator
from ccpulse.alerts.leader import LeaderNotifier
from ccpulse.processors.snapshot import Snapshot, WindowKpis


class Collect:
    def __init__(self) -> None:
        self.got: list[Alert] = []

    def notify(self, alerts: list[Alert]) -> None:
        self.got.extend(alerts)


STEP = 15_000
T0 = 1_795_420_800_000


def team(now: int, occupancy: float) -> Snapshot:
    w15, w1h, w8h = WindowKpis(), WindowKpis(), WindowKpis()
    w1h.team["t1"] = {"occupancy": occupancy}
    return Snapshot(now, {"15m": w15, "1h": w1h, "8h": w8h}, {}, {}, {})


def turn(leader: LeaderNotifier, evaluator: AlertEvaluator, occupancy: dict[int, float],
         now: int) -> None:
    """One worker's round at ``now``, as ``Monitor.advance`` runs it: evaluate what is due
    only while holding the lease."""
    if leader.lead():
        for due in evaluator.due_times(now, inclusive=True):
            leader.notify(evaluator.evaluate(team(due, occupancy[due])))


def test_only_the_lease_holder_evaluates_and_a_successor_sends_what_the_old_one_would_have(
        redis_url: str) -> None:
    """Followers compute nothing for alerts (they mirror the sender's state); a worker taking
    over after a gap evaluates each instant of the gap, so its transitions equal those of a
    run without hand-over, to the millisecond of ``startsAt`` and ``endsAt``."""
    occupancy = {T0 + i * STEP: 0.9 if i < 44 else 0.5 for i in range(60)}
    steps = sorted(occupancy)
    alone, alone_out = AlertEvaluator(), Collect()
    for now in steps:  # the reference: one worker, never interrupted
        alone_out.notify(alone.evaluate(team(now, occupancy[now])))

    client = redis.Redis.from_url(redis_url)
    first_out, second_out = Collect(), Collect()
    first_eval, second_eval = AlertEvaluator(), AlertEvaluator()
    first = LeaderNotifier(client, first_eval, [first_out])
    second = LeaderNotifier(client, second_eval, [second_out])
    for now in steps[:42]:  # TeamOccupancyHigh fires at the 41st evaluation
        turn(first, first_eval, occupancy, now)
        turn(second, second_eval, occupancy, now)
    assert [a.status for a in first_out.got] == ["firing"] and second_out.got == []
    assert first.leading and not second.leading
    # the follower evaluated nothing, yet shows what fires (its /metrics and pages read it)
    assert [a.labels["alertname"] for a in second_eval.firing()] == ["TeamOccupancyHigh"]

    client.delete(first.lease_key)  # the leader died and its lease ran out ...
    gap_end = steps[50]  # ... and nobody evaluated for two minutes, while occupancy fell
    turn(second, second_eval, occupancy, gap_end)
    assert second.leading
    for now in steps[51:]:
        turn(second, second_eval, occupancy, now)
        turn(first, first_eval, occupancy, now)  # the old leader, back: a follower now
    assert first_out.got + second_out.got == alone_out.got  # same alerts, same instants
    assert [a.status for a in second_out.got] == ["resolved"]
    assert not first.leading


def test_state_saved_by_the_leader_is_restored_on_start(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    evaluator = AlertEvaluator()
    evaluator.next_due_ms = 123_000
    LeaderNotifier(client, evaluator, []).notify([])
    fresh = AlertEvaluator()
    LeaderNotifier(client, fresh, []).restore()
    assert fresh.next_due_ms == 123_000


def test_each_consumer_group_has_its_own_holder(redis_url: str) -> None:
    """Two groups on one Redis (a second deployment reading the same log): each group's
    workers elect one of their own, so each group exports its teams and queues; within a
    group still one holder; a group's saved state is its own."""
    client = redis.Redis.from_url(redis_url)
    blue = [LeaderNotifier(client, AlertEvaluator(), [], group="blue") for _ in range(2)]
    green = LeaderNotifier(client, AlertEvaluator(), [], group="green")
    assert [n.lead() for n in blue] == [True, False]
    assert green.lead()
    saved = AlertEvaluator()
    saved.next_due_ms = 456_000
    LeaderNotifier(client, saved, [], group="blue").notify([])
    assert not LeaderNotifier(client, AlertEvaluator(), [], group="green").restore()
