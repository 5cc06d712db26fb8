"""The alert lease and saved state on a real redis-server."""

from __future__ import annotations

import redis

from ccpulse.alerts.engine import Alert, AlertEvaluator
from ccpulse.alerts.leader import LEASE_MS, LeaderNotifier
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


def test_a_renewal_extends_only_the_holder_s_lease_and_changes_nothing_else(
        redis_url: str) -> None:
    """The lease keeper's renewal (another thread than the evaluations'): it extends the
    lease this worker holds, refuses one another worker holds, and never takes a free one
    nor switches a worker between leading and following."""
    client = redis.Redis.from_url(redis_url)
    first = LeaderNotifier(client, AlertEvaluator(), [], group="renewal")
    second = LeaderNotifier(client, AlertEvaluator(), [], group="renewal")
    assert not first.renew() and client.get(first.lease_key) is None  # free: not taken
    assert first.lead() and not second.lead()
    client.pexpire(first.lease_key, 1_000)  # nearly run out
    assert first.renew() and client.pttl(first.lease_key) > LEASE_MS - 5_000
    assert not second.renew() and not second.leading and first.leading
    assert client.get(first.lease_key) == first.holder.encode()


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


class Killed(BaseException):
    """kill -9 of the sender right after its transitions reached the receivers."""


class DiesAfter(Collect):
    """Receives like the others, then kills its sender when it has received ``status``."""

    def __init__(self, status: str) -> None:
        super().__init__()
        self.status = status

    def notify(self, alerts: list[Alert]) -> None:
        super().notify(alerts)
        if any(alert.status == self.status for alert in alerts):
            raise Killed


class Refuses(Collect):
    """A receiver that is away for its first ``times`` deliveries."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def notify(self, alerts: list[Alert]) -> None:
        if self.times:
            self.times -= 1
            raise ConnectionError("receiver away")
        super().notify(alerts)


def last_status(*outs: Collect) -> dict[str, str]:
    """What a fingerprint-keyed receiver (``cc.alerts`` compacted) shows: the last status."""
    return {alert.fingerprint: alert.status for out in outs for alert in out.got}


def shown(evaluator: AlertEvaluator) -> dict[str, str]:
    return {alert.fingerprint: "firing" for alert in evaluator.firing()}


def sender_killed_at(client: redis.Redis, status: str, occupancy: dict[int, float],
                     ) -> tuple[DiesAfter, int]:
    """One sender runs until it has sent ``status``, and is killed before saving."""
    dying_eval, dying_out = AlertEvaluator(), DiesAfter(status)
    dying = LeaderNotifier(client, dying_eval, [dying_out])
    for now in sorted(occupancy):
        try:
            turn(dying, dying_eval, occupancy, now)
        except Killed:
            client.delete(dying.lease_key)  # ... and its lease ran out
            return dying_out, now
    raise AssertionError(f"never sent {status}")


def test_a_successor_resolves_what_a_killed_sender_fired_on_a_log_still_filling(
        redis_url: str) -> None:
    """The sender fired at an instant it evaluated on part of the log and died before saving.
    Its successor re-evaluates that instant on the whole log, where the alert does not fire:
    it resolves it, so receivers do not show it firing for ever."""
    client = redis.Redis.from_url(redis_url)
    occupancy = {T0 + i * STEP: 0.9 for i in range(60)}
    dead_out, died_at = sender_killed_at(client, "firing", occupancy)
    assert [a.status for a in dead_out.got] == ["firing"]
    fuller = {**occupancy, died_at: 0.5}  # the rest of that instant's events were in Kafka
    successor_eval, successor_out = AlertEvaluator(), Collect()
    successor = LeaderNotifier(client, successor_eval, [successor_out])
    turn(successor, successor_eval, fuller, died_at)
    assert successor.leading and shown(successor_eval) == {}
    (resolved,) = successor_out.got
    assert resolved.status == "resolved" and resolved.labels == dead_out.got[0].labels
    assert resolved.startsAt == dead_out.got[0].startsAt
    assert resolved.endsAt == dead_out.got[0].startsAt  # resolved at the instant re-evaluated
    assert last_status(dead_out, successor_out) == {resolved.fingerprint: "resolved"}
    # reconciled once: the following evaluations send nothing more
    for now in sorted(fuller)[sorted(fuller).index(died_at) + 1:][:3]:
        turn(successor, successor_eval, {**fuller, now: 0.5}, now)
    assert len(successor_out.got) == 1


def test_a_successor_fires_again_what_a_killed_sender_resolved_on_a_log_still_filling(
        redis_url: str) -> None:
    """The converse: the sender resolved at an instant whose remaining events keep the alert
    firing, and died before saving. Receivers saw "resolved"; the successor's state fires:
    it fires again, with the startsAt the alert has had all along."""
    client = redis.Redis.from_url(redis_url)
    occupancy = {T0 + i * STEP: 0.9 if i < 44 else 0.5 for i in range(60)}
    dead_out, died_at = sender_killed_at(client, "resolved", occupancy)
    firing, _resolved = dead_out.got
    successor_eval, successor_out = AlertEvaluator(), Collect()
    successor = LeaderNotifier(client, successor_eval, [successor_out])
    turn(successor, successor_eval, {**occupancy, died_at: 0.9}, died_at)
    assert successor_out.got == [firing]  # the same alert, the same startsAt
    assert last_status(dead_out, successor_out) == shown(successor_eval) == {
        firing.fingerprint: "firing"}


def test_the_state_is_saved_only_after_delivery_and_a_failed_delivery_is_retried(
        redis_url: str) -> None:
    """A receiver away keeps the transitions for the next evaluation, and the state unsaved
    meanwhile: a restart then re-evaluates those instants instead of forgetting them."""
    client = redis.Redis.from_url(redis_url)
    occupancy = {T0 + i * STEP: 0.9 for i in range(45)}
    evaluator, out = AlertEvaluator(), Refuses(times=0)
    leader = LeaderNotifier(client, evaluator, [out])
    steps = sorted(occupancy)
    for now in steps[:40]:
        turn(leader, evaluator, occupancy, now)
    out.times = 2  # away from the evaluation that fires on
    saved_before = client.get(leader._state_key)
    turn(leader, evaluator, occupancy, steps[40])  # fires; refused
    turn(leader, evaluator, occupancy, steps[41])  # refused again
    assert out.got == [] and client.get(leader._state_key) == saved_before
    turn(leader, evaluator, occupancy, steps[42])  # delivered, then saved
    assert [a.status for a in out.got] == ["firing"]
    restored = AlertEvaluator()
    LeaderNotifier(client, restored, []).restore()
    assert restored.next_due_ms == steps[42] + STEP and shown(restored) == shown(evaluator)
