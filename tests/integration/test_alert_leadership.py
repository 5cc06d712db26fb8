"""The alert lease and saved state on a real redis-server."""

from __future__ import annotations

import redis

from alerts.engine import Alert, AlertEvaluator
from alerts.leader import LeaderNotifier


class Collect:
    def __init__(self) -> None:
        self.got: list[Alert] = []

    def notify(self, alerts: list[Alert]) -> None:
        self.got.extend(alerts)


ALERT = Alert(status="firing", labels={"alertname": "X", "severity": "warning",
                                       "audience": "wfm"},
              annotations={}, startsAt="2026-11-22T09:00:00.000Z", generatorURL="g")


def test_only_the_lease_holder_sends_and_another_takes_over(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    first_out, second_out = Collect(), Collect()
    first = LeaderNotifier(client, AlertEvaluator(), [first_out])
    second = LeaderNotifier(client, AlertEvaluator(), [second_out])
    first.notify([ALERT])
    second.notify([ALERT])
    assert (len(first_out.got), len(second_out.got)) == (1, 0)
    assert first.leading and not second.leading
    client.delete("{ccpulse}:alerts:leader")  # the leader died and its lease ran out
    second.notify([ALERT])
    first.notify([ALERT])
    assert (len(first_out.got), len(second_out.got)) == (1, 1)


def test_state_saved_by_the_leader_is_restored_on_start(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    evaluator = AlertEvaluator()
    evaluator.next_due_ms = 123_000
    LeaderNotifier(client, evaluator, []).notify([])
    fresh = AlertEvaluator()
    LeaderNotifier(client, fresh, []).restore()
    assert fresh.next_due_ms == 123_000
