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


def test_only_the_lease_holder_sends_and_a_successor_neither_repeats_nor_misses(
        redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    first_out, second_out = Collect(), Collect()
    first_eval, second_eval = AlertEvaluator(), AlertEvaluator()
    first = LeaderNotifier(client, first_eval, [first_out])
    second = LeaderNotifier(client, second_eval, [second_out])
    for i in range(42):  # both evaluate the same history; TeamOccupancyHigh fires at 40
        snap = team(T0 + i * STEP, 0.9)
        first.notify(first_eval.evaluate(snap))
        second.notify(second_eval.evaluate(snap))
    assert [a.status for a in first_out.got] == ["firing"] and second_out.got == []
    assert first.leading and not second.leading
    client.delete("{ccpulse}:alerts:leader")  # the leader died and its lease ran out
    snap = team(T0 + 42 * STEP, 0.9)
    second.notify(second_eval.evaluate(snap))  # takes over: nothing owed, nothing repeated
    assert second.leading and second_out.got == []
    cool = team(T0 + 43 * STEP, 0.5)
    second.notify(second_eval.evaluate(cool))
    first.notify(first_eval.evaluate(cool))
    assert [a.status for a in second_out.got] == ["resolved"]
    assert len(first_out.got) == 1  # the old leader, back, is not the sender any more


def test_state_saved_by_the_leader_is_restored_on_start(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    evaluator = AlertEvaluator()
    evaluator.next_due_ms = 123_000
    LeaderNotifier(client, evaluator, []).notify([])
    fresh = AlertEvaluator()
    LeaderNotifier(client, fresh, []).restore()
    assert fresh.next_due_ms == 123_000
