"""The worker's pure parts: event-time alignment, batch preparation, dead-letter logging."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from ccpulse import runtime
from ccpulse.alerts.engine import Alert, AlertEvaluator
from ccpulse.alerts.leader import LEASE_MS, LeaderNotifier
from ccpulse.alerts.notify import TopicNotifier
from ccpulse.alerts.rules import AGENT_WINDOWS
from ccpulse.exporter import KpiCollector
from ccpulse.processors.backoff import backoff_s
from ccpulse.processors.decode import Decoded
from ccpulse.processors.snapshot import AgentKpis, Reading, Snapshot, snapshot
from ccpulse.runtime import Monitor
from ccpulse.serving import ConsumerView, _scrapes, wall_ms
from ccpulse.settings import Settings
from ccpulse.streams import pipeline as pipeline_module
from ccpulse.streams.align import Aligner
from ccpulse.streams.consumer import BatchProcessor, RawMessage
from ccpulse.streams.pipeline import DeadLetter, Pipeline, PipelineStats
from ccpulse.streams.redis_log import RedisEventLog
from ccpulse.streams.retry import retrying
from ccpulse.streams.worker import (
    DataDirError,
    DeadLetterLog,
    WorkerTopics,
    _retry,
    build_app,
    current_messages,
    prepare_datadir,
)
from ccpulse.textformat import render
from ccpulse.worker import exit_after_grace
from tests.support import EventFactory, at, one_call_morning


def test_aligner_holds_until_every_backlogged_partition_has_caught_up_in_time() -> None:
    backlog = {"a:0": True, "b:0": True}
    aligner = Aligner(lambda key: backlog[key])
    aligner.track(["a:0", "b:0"])
    aligner.add("a:0", 0, 100, "a100")
    aligner.add("a:0", 1, 300, "a300")
    assert aligner.release() == []  # b:0 has a backlog and has shown nothing yet
    aligner.add("b:0", 0, 200, "b200")
    assert aligner.release() == ["a100", "b200"]  # up to min(300, 200)
    assert aligner.commit_offsets() == {"a:0": 1, "b:0": 1}  # a300 (offset 1) still held
    backlog["b:0"] = False  # b caught up: it cannot send anything older any more
    assert aligner.release() == ["a300"]
    assert aligner.commit_offsets() == {"a:0": 2, "b:0": 1}


def test_aligner_passes_straight_through_when_nothing_is_behind() -> None:
    aligner = Aligner(lambda _: False)
    aligner.add("a:0", 7, 500, "late-ish")
    aligner.add("b:3", 2, 100, "early")
    assert aligner.release() == ["early", "late-ish"]
    aligner.passed("b:3", 3)  # a bad message still moves the commit point
    assert aligner.commit_offsets() == {"a:0": 8, "b:3": 4}


def test_aligner_releases_oldest_first_beyond_its_memory_bound() -> None:
    aligner = Aligner(lambda _: True, max_held=2)
    aligner.track(["a:0", "b:0"])  # b:0 never shows up: everything would wait for it
    for offset, ts in enumerate((30, 10, 20)):
        aligner.add("a:0", offset, ts, ts)
    assert aligner.release() == [10]
    assert len(aligner) == 2


def test_aligner_forgets_revoked_partitions_and_their_held_events() -> None:
    aligner = Aligner(lambda _: True)
    aligner.track(["a:0", "b:0"])
    aligner.add("a:0", 0, 10, "a")
    aligner.forget(["b:0"])
    assert aligner.release() == ["a"]  # nothing left to wait for
    aligner.add("a:0", 1, 20, "a2")
    aligner.track(["c:0"])
    aligner.forget(["a:0"])
    assert aligner.release() == [] and len(aligner) == 0


def messages(events: list[dict], topic: str = "cc.agent-states") -> list[RawMessage]:
    return [RawMessage(topic, 0, i, None, orjson.dumps(e), handle=i)
            for i, e in enumerate(events)]


def test_batch_processor_skips_committed_offsets_and_refuses_bad_and_late() -> None:
    ev = EventFactory()
    stats = PipelineStats()
    processor = BatchProcessor(stats, lateness_ms=600_000, clock_ms=lambda: at("12:00:00"))
    processor.offsets["cc.agent-states:0"] = 1  # offset 0 was committed before a restart
    batch = messages([
        ev("agent.login", "09:00:00", agent_id="a1", team_id="t"),
        ev("agent.available", "10:00:00", agent_id="a1"),
        ev("agent.not_ready", "09:50:00", agent_id="a1", reason="x"),  # same batch: reordered
        {"type": "agent.available"},
    ])
    prepared = processor.prepare(batch)
    assert prepared.skipped == 1
    assert [a.event_id for a in prepared.accepted] == ["e3", "e2"]  # event-time order
    assert [letter.reason for letter, _ in prepared.dead] == ["missing_field"]
    assert sorted(prepared.done) == [0, 1, 2, 3]  # everything may be acknowledged
    assert prepared.offsets == {"cc.agent-states:0": 4}
    processor.committed(prepared, added=2)
    # a later batch brings an event more than 10 min behind what was already released
    late = [RawMessage("cc.agent-states", 0, 4, None,
                       orjson.dumps(ev("agent.available", "09:49:59", agent_id="a1")), 4)]
    prepared = processor.prepare(late)
    assert prepared.dead == [] and len(prepared.late) == 1  # until the log is asked
    processor.settle_late(prepared, [False])  # its id is not in the log: really too late
    assert [letter.reason for letter, _ in prepared.dead] == ["too_late"]
    processor.committed(prepared, added=0)
    assert stats.dead_lettered == {"too_late": 1, "missing_field": 1}
    assert stats.processed[("cc.agent-states", "agent.available")] == 1


def test_a_late_resend_of_a_known_event_is_a_duplicate_not_a_dead_letter() -> None:
    """Issue 17: known ids are checked before lateness, as the engine does."""
    ev = EventFactory()
    stats = PipelineStats()
    processor = BatchProcessor(stats, lateness_ms=600_000, clock_ms=lambda: at("12:00:00"))
    original = ev("agent.available", "09:00:00", agent_id="a1")
    first = processor.prepare(messages([original, ev("agent.not_ready", "10:00:00",
                                                     agent_id="a1", reason="x")]))
    processor.committed(first, added=2)
    resent = [RawMessage("cc.agent-states", 0, 2, None, orjson.dumps(original), 2)]
    prepared = processor.prepare(resent)
    assert [a.event_id for _, _, a in prepared.late] == [original["event_id"]]
    processor.settle_late(prepared, [True])  # the log has its id: a redelivery
    assert prepared.dead == [] and prepared.done == [2]
    processor.committed(prepared, added=0)
    assert stats.dead_lettered == {} and stats.duplicates == 1


def test_batch_processor_acknowledges_only_below_the_offset_stored_in_redis() -> None:
    """Released out of offset order, events are acknowledged in offset order: Kafka's
    committed offset must never pass an event still held (faust commits the first run of
    consecutive acknowledged offsets even past a hole)."""
    ev = EventFactory()
    backlog = {"cc.agent-states:0": True, "cc.agent-states:1": True}
    processor = BatchProcessor(PipelineStats(), lateness_ms=3_600_000,
                               clock_ms=lambda: at("12:00:00"))
    processor.aligner.has_backlog = lambda key: backlog[key]
    processor.aligner.track(list(backlog))
    first = messages([
        ev("agent.login", "09:30:00", agent_id="a1", team_id="t"),  # offset 0: held longest
        ev("agent.login", "09:00:00", agent_id="a2", team_id="t"),
        ev("agent.login", "09:01:00", agent_id="a3", team_id="t"),
    ])
    other = [RawMessage("cc.agent-states", 1, 0, None, orjson.dumps(
        ev("agent.login", "09:10:00", agent_id="a4", team_id="t")), handle="p1-0")]
    prepared = processor.prepare(first + other)
    assert [a.event_id for a in prepared.accepted] == ["e2", "e3", "e4"]  # up to 09:10
    assert prepared.offsets == {"cc.agent-states:0": 0, "cc.agent-states:1": 1}
    assert prepared.done == ["p1-0"]  # offsets 1 and 2 are stored, but 0 is not yet
    assert processor.next_to_read("cc.agent-states:0") == 3  # read, though not all released
    processor.offsets["cc.interactions:5"] = 7  # found in Redis, nothing read yet
    assert processor.next_to_read("cc.interactions:5") == 7
    backlog["cc.agent-states:1"] = False
    prepared = processor.prepare([])
    assert [a.event_id for a in prepared.accepted] == ["e1"]
    assert sorted(prepared.done) == [0, 1, 2]


def test_batch_processor_drops_what_it_waited_to_acknowledge_of_revoked_partitions() -> None:
    ev = EventFactory()
    processor = BatchProcessor(PipelineStats(), lateness_ms=3_600_000,
                               clock_ms=lambda: at("12:00:00"))
    processor.aligner.has_backlog = lambda _: True
    processor.aligner.track(["cc.agent-states:0", "cc.agent-states:1"])
    prepared = processor.prepare(messages([
        ev("agent.login", "09:30:00", agent_id="a1", team_id="t"),
        ev("agent.login", "09:00:00", agent_id="a2", team_id="t")]))
    assert prepared.done == [] and prepared.accepted == []  # partition 1 has shown nothing
    processor.forget(["cc.agent-states:0"])
    assert processor.prepare([]).done == []  # its next owner reads them again


def test_a_batch_taken_across_a_rebalance_loses_no_event_the_aligner_forgot() -> None:
    """Partition 0 held offsets 0-2 when it was revoked and assigned to us again; a batch
    collected before the rebalance still brings offsets 3-4. Only the current generation's
    messages count, so the commit offset never passes the forgotten ones."""
    ev = EventFactory()
    lines = [orjson.dumps(ev("agent.login", f"09:0{i}:00", agent_id=f"a{i}", team_id="t"))
             for i in range(5)]

    def fetched(offsets: range, generation: int, partition: int = 0) -> list[SimpleNamespace]:
        return [SimpleNamespace(message=SimpleNamespace(
            topic="cc.agent-states", partition=partition, offset=o, key=None, value=lines[o],
            generation_id=generation, tp=TP("cc.agent-states", partition))) for o in offsets]

    owned = {TP("cc.agent-states", 0), TP("cc.agent-states", 1)}
    backlog = {"cc.agent-states:0": True, "cc.agent-states:1": True}
    processor = BatchProcessor(PipelineStats(), lateness_ms=3_600_000,
                               clock_ms=lambda: at("12:00:00"))
    processor.aligner.has_backlog = backlog.__getitem__
    processor.aligner.track(list(backlog))
    held = processor.prepare(current_messages(fetched(range(3), 1), owned, 1))
    assert held.accepted == [] and held.offsets == {"cc.agent-states:0": 0}
    processor.forget(list(backlog))  # revoked; then assigned again at Redis's offset, 0
    processor.aligner.track(list(backlog))
    backlog["cc.agent-states:1"] = False
    stale = fetched(range(3, 5), 1) + fetched(range(1), 1, partition=1)
    assert current_messages(stale, owned, 2) == []
    # in its own generation, a message of a partition we no longer own is dropped too
    assert [(m.partition, m.offset, m.value, m.handle) for m in current_messages(
        stale, {TP("cc.agent-states", 0)}, 1)] == [(0, 3, lines[3], stale[0]),
                                                   (0, 4, lines[4], stale[1])]
    # the seek brings offset 0 on: everything is applied, the commit stops at what was read
    backlog["cc.agent-states:0"] = False
    redelivered = processor.prepare(current_messages(fetched(range(5), 2), owned, 2))
    assert len(redelivered.accepted) == 5
    assert redelivered.offsets == {"cc.agent-states:0": 5}
    # what the stale batch would have done: offsets 3-4 first, the commit offset past 0-2
    processor.forget(list(backlog))
    processor.aligner.track(list(backlog))
    assert processor.prepare(current_messages(stale, owned, 1)).offsets[
        "cc.agent-states:0"] == 5


def test_dead_letter_log_lines_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    limiter = DeadLetterLog(every_s=3600)
    with caplog.at_level("WARNING", logger="ccpulse.worker"):
        for offset in range(1000):
            limiter.record(DeadLetter("cc.interactions", 0, offset, "not_json", "x"))
        limiter.record(DeadLetter("cc.interactions", 0, 5, "too_large", "x"))
    assert len(caplog.records) == 2
    assert {r.fields["reason"] for r in caplog.records} == {"not_json", "too_large"}  # type: ignore[attr-defined]


def test_the_faust_app_keeps_its_data_directory_out_of_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """faust makes ``<group>-data/`` even with the in-memory store; a worker run from a
    checkout must not leave one there. Its data directory is the one prepared under the
    setting, whose parents did not exist before (a fresh machine: issue 17)."""

    class NoRedis:
        def register_script(self, _script: str) -> None:
            return None

    workdir, base = tmp_path / "checkout", tmp_path / "fresh" / "tmp" / "ccpulse"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    processor = BatchProcessor(PipelineStats(), lateness_ms=0, clock_ms=lambda: 0)
    datadir = prepare_datadir(base, "ccpulse-test")
    app = build_app(group="ccpulse-test", bootstrap="127.0.0.1:9", processor=processor,
                    topics=WorkerTopics("a", "i", "d"), event_log=RedisEventLog(NoRedis(), "g"),
                    datadir=datadir)
    app._create_directories()  # faust's own step at start: mkdir without parents

    assert list(workdir.iterdir()) == []
    assert app.conf.datadir == base / "ccpulse-test"


def test_the_data_directory_is_created_with_its_parents(tmp_path: Path) -> None:
    made = prepare_datadir(tmp_path / "a" / "b", "group-1")
    assert made.is_dir() and list(made.iterdir()) == []
    assert prepare_datadir(tmp_path / "a" / "b", "group-1") == made  # again: fine


def test_an_unusable_data_directory_is_one_line_naming_the_path_and_the_setting(
        tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(DataDirError) as refused:
        prepare_datadir(blocker, "group-1")
    message = str(refused.value)
    assert str(blocker / "group-1") in message
    assert "--data-dir" in message and "CCPULSE_DATA_DIR" in message and "data_dir" in message
    assert "\n" not in message


def test_one_backoff_policy_doubles_from_half_a_second_to_its_cap() -> None:
    assert [backoff_s(n) for n in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert backoff_s(9, cap_s=60) == 60.0


def test_retrying_waits_logs_each_failure_and_returns_the_result(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("ccpulse.streams.retry.time.sleep", slept.append)
    failures = iter([ConnectionError(), ConnectionError(), None])

    def flaky() -> str:
        error = next(failures)
        if error is not None:
            raise error
        return "answer"

    with caplog.at_level("WARNING", logger="ccpulse.retry"):
        assert retrying("redis_unreachable", {"hint": "start Redis"}, ConnectionError)(
            flaky) == "answer"
    assert slept == [0.5, 1.0]
    fields = [r.fields for r in caplog.records]  # type: ignore[attr-defined]
    assert fields == [{"hint": "start Redis", "error": "ConnectionError", "retry_in_s": 0.5},
                      {"hint": "start Redis", "error": "ConnectionError", "retry_in_s": 1.0}]
    with pytest.raises(ValueError, match="not retried"):  # other errors go straight through
        retrying("x", {}, ConnectionError)(lambda: (_ for _ in ()).throw(ValueError(
            "not retried")))


def test_a_stopped_retry_ends_its_wait_at_once() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(ConnectionError):
        retrying("x", {}, ConnectionError, until=stop)(
            lambda: (_ for _ in ()).throw(ConnectionError()))


def test_the_stream_retry_awaits_what_a_plain_callable_returns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """redis.asyncio's calls are plain methods returning awaitables (found by the live
    benchmark: the worker crashed on a coroutine where it expected offsets)."""
    failures = iter([ConnectionError(), None])

    async def answer() -> dict[str, int]:
        return {"a:0": 7}

    def stored_offsets() -> Any:  # not a coroutine function, like redis.asyncio's methods
        error = next(failures)
        if error is not None:
            raise error
        return answer()

    async def no_sleep(_seconds: float) -> None:
        return None

    monkeypatch.setattr("asyncio.sleep", no_sleep)
    assert asyncio.run(_retry(stored_offsets)) == {"a:0": 7}


class CountingLease:
    def __init__(self, leading: bool) -> None:
        self.leading, self.asked = leading, 0

    def lead(self) -> bool:
        self.asked += 1
        return self.leading


@pytest.mark.parametrize("leading", [True, False])
def test_the_lease_is_asked_for_once_per_evaluation_not_at_every_idle_moment(
        leading: bool) -> None:
    """A worker's replica calls advance whenever it is idle, many times a second: the lease
    (a Redis round trip) is asked for when an evaluation is due, and a follower, once
    refused, waits an evaluation interval before asking again."""
    lease = CountingLease(leading)
    evaluator = AlertEvaluator()
    monitor = Monitor(Pipeline(), evaluator, lease=lease)
    start = at("09:00:00")
    for step in range(600):  # a minute of idle calls, ten a second
        monitor.advance(start + step * 100)
    assert lease.asked == 60_000 // evaluator.interval_ms  # at 0, 15, 30 and 45 s


def test_a_snapshot_lets_events_apply_while_it_computes_from_what_it_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's lock is held while a snapshot reads, not while it computes the ratios and
    plans: an event arriving then is applied at once, and the snapshot stays of its instant."""
    ev = EventFactory()
    pipeline = Pipeline()
    for event in one_call_morning(ev):
        pipeline.feed(orjson.dumps(event), None, None)
    now = at("09:30:00")
    meanwhile: list[object] = []
    real_finish = pipeline_module.finish

    def finish_while_an_event_comes(reading: Reading) -> Snapshot:
        event = orjson.dumps(ev("agent.not_ready", "09:20:00", agent_id="a1", reason="x"))
        late = threading.Thread(target=lambda: meanwhile.append(
            pipeline.feed(event, None, None)))
        late.start()
        late.join(timeout=5)  # blocks for good if the lock were still held
        return real_finish(reading)

    monkeypatch.setattr(pipeline_module, "finish", finish_while_an_event_comes)
    got = pipeline.snapshot(now)
    assert len(meanwhile) == 1 and isinstance(meanwhile[0], Decoded)
    assert got.agents["a1"].state == "idle"  # the instant it read, before the late event
    assert pipeline.latest is got
    assert snapshot(pipeline.engine, now).agents["a1"].state == "not_ready"


def _forced_exit(code: int) -> None:
    exit_after_grace(lambda: code)


@pytest.mark.parametrize("code", [0, 1])
def test_a_forced_stop_exits_with_the_status_the_orderly_one_would_have(code: int) -> None:
    """A worker whose serving process died stops with 1 so that it is restarted, even when
    its stop runs out of grace (the broker gone as well)."""
    process = multiprocessing.get_context("fork").Process(target=_forced_exit, args=(code,))
    process.start()
    process.join(30)
    assert process.exitcode == code


class LeaseScript:
    """Stands in for Redis' lease script: grants or refuses as told."""

    def __init__(self) -> None:
        self.grant = True

    def register_script(self, _script: str) -> LeaseScript:
        return self

    def __call__(self, keys: list[str], args: list[Any]) -> int:
        return int(self.grant)

    def get(self, _key: str) -> None:
        return None


def test_the_floor_is_exported_only_while_the_last_renewal_holds() -> None:
    """A holder that has not renewed within the lease may have a successor already: it stops
    claiming the floor when its lease runs out by its own clock, counted from before it asked
    (two workers exported the teams at once at 50,000 agents, a busy holder among them)."""
    now = [100.0]
    redis_lease = LeaseScript()
    leader = LeaderNotifier(redis_lease, AlertEvaluator(), [], clock=lambda: now[0])
    assert not leader.holds()  # never asked
    assert leader.lead() and leader.holds()
    now[0] += LEASE_MS / 1000 - 0.001
    assert leader.holds()
    now[0] += 0.002  # not renewed in time: still "leading", no longer holding
    assert leader.leading and not leader.holds()
    assert leader.lead() and leader.holds()  # renewed
    redis_lease.grant = False
    assert not leader.lead() and not leader.holds()


class ScriptedLease:
    def __init__(self, answers: list[bool]) -> None:
        self.answers, self.asked = answers, 0

    def lead(self) -> bool:
        self.asked += 1
        return self.answers.pop(0) if self.answers else False


class CountingNotifier:
    def __init__(self) -> None:
        self.evaluations = 0

    def notify(self, _alerts: list) -> None:
        self.evaluations += 1


def test_a_holder_catching_up_renews_the_lease_before_each_instant_and_stops_when_refused(
        ) -> None:
    """Twenty instants due at once (a restart, a hand-over): at 50,000 agents each is a
    snapshot of seconds, longer together than the lease. The holder renews before each one
    after the first and stops where the lease went elsewhere (its successor goes on from the
    state saved after the last one evaluated here)."""
    lease = ScriptedLease([True, True, True, False])
    counted = CountingNotifier()
    monitor = Monitor(Pipeline(), AlertEvaluator(), [counted], lease=lease)
    start = at("09:00:00")
    monitor.advance(start)  # the first instant: asked once
    assert (lease.asked, counted.evaluations) == (1, 1)
    monitor.advance(start + 20 * 15_000)  # twenty due: asked, evaluated, renewed, …, refused
    assert (lease.asked, counted.evaluations) == (4, 3)


class Receipt:
    def __init__(self, refused: Exception | None) -> None:
        self.refused = refused

    def get(self, timeout: float | None = None) -> object:
        if self.refused is not None:
            raise self.refused
        return "metadata"


def test_the_alerts_topic_raises_a_message_the_broker_refused() -> None:
    """A flush waits for every message but does not fail for a refused one; its receipt does.
    Raised, the sender keeps the transitions and does not save its state (LeaderNotifier)."""
    alert = Alert("firing", {"alertname": "X"}, {}, "2026-12-05T00:00:00.000Z", "u")
    sent, flushed = [], []
    answers = [None, TimeoutError("broker refused")]

    def send(key: bytes, value: bytes) -> Receipt:
        sent.append(key)
        return Receipt(answers.pop(0))

    notifier = TopicNotifier(send, flush=lambda: flushed.append(True))
    notifier.notify([alert])
    assert sent == [alert.fingerprint.encode()] and flushed == [True]
    with pytest.raises(TimeoutError):
        notifier.notify([alert])
    notifier.notify([])  # nothing to send: no flush either
    assert flushed == [True, True]


class LaterExecutor(Executor):
    """Finishes what it is given when told to (:meth:`run`), as the worker's thread would
    whenever it gets there."""

    def __init__(self) -> None:
        self.queued: list[tuple[Future, Callable[..., Any], tuple]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        self.queued.append((future, fn, args))
        return future

    def run(self) -> None:
        while self.queued:
            future, fn, args = self.queued.pop(0)
            future.set_result(fn(*args))


def test_an_evaluation_finished_on_another_thread_evaluates_what_was_read_and_waits_for_it(
        ) -> None:
    """The worker's replica runs the evaluations when idle; with a finisher it only reads
    the engine and goes back to applying events. The evaluation is of the instant it read
    (an event applied meanwhile is not in it), and history and expiry wait for it."""
    ev = EventFactory()
    pipeline = Pipeline()
    for event in one_call_morning(ev):
        pipeline.feed(orjson.dumps(event), None, None)
    later, counted, expiries = LaterExecutor(), CountingNotifier(), []
    monitor = Monitor(pipeline, AlertEvaluator(), [counted], finisher=later,
                      release_heap=lambda: expiries.append(1))
    due = at("09:30:00")
    assert monitor.advance(due) == []
    assert (counted.evaluations, len(later.queued), expiries) == (0, 1, [])
    applied = pipeline.feed(orjson.dumps(ev("agent.not_ready", "09:25:00", agent_id="a1",
                                            reason="x")), None, None)
    assert isinstance(applied, Decoded)  # applied while the evaluation is pending
    monitor.advance(due)  # not finished yet: nothing more
    assert (counted.evaluations, expiries) == (0, [])
    later.run()
    monitor.advance(due)
    assert (counted.evaluations, expiries) == (1, [1])
    assert pipeline.latest is not None and pipeline.latest.now == due
    assert pipeline.latest.agents["a1"].state == "idle"  # as read, before the late event


def test_the_agents_kpis_the_rules_read_are_computed_where_the_snapshot_is_finished(
        ) -> None:
    """The rules run on the replica's thread, which applies no event while they do; an
    agent's KPIs are computed when first read: those the rules read are computed on the
    finisher's thread, with the snapshot (at 50,000 agents, 1.2 s an evaluation)."""
    ev = EventFactory()
    pipeline = Pipeline()
    for event in one_call_morning(ev):
        pipeline.feed(orjson.dumps(event), None, None)
    later = LaterExecutor()
    monitor = Monitor(pipeline, AlertEvaluator(), [], finisher=later)
    monitor.advance(at("09:30:00"))
    later.run()
    snap = pipeline.latest
    assert snap is not None
    for window, kpis in snap.windows.items():
        assert isinstance(kpis.agent, AgentKpis) and len(kpis.agent)
        assert kpis.agent.computed == (len(kpis.agent) if window in AGENT_WINDOWS else 0)


def test_a_holder_keeps_its_lease_while_an_evaluation_is_finished_and_drops_it_if_refused(
        ) -> None:
    """At 50,000 agents on a busy machine a floor's snapshot can outlast the 45 s lease;
    the holder renews it once an evaluation interval while one is being finished, so the
    floor is not handed to another worker in the middle of it. If Redis refuses (the lease
    went elsewhere), the evaluation under way is not sent; an evaluation that looks stuck
    stops renewing."""
    lease, later, counted = ScriptedLease([True] * 30), LaterExecutor(), CountingNotifier()
    interval = AlertEvaluator().interval_ms
    monitor = Monitor(Pipeline(), AlertEvaluator(), [counted], lease=lease, finisher=later)
    due = at("09:00:00")
    monitor.advance(due)  # asked for the lease, read the engine, finishing elsewhere
    assert (lease.asked, len(later.queued)) == (1, 1)
    for ms in range(100, 60_000, 100):  # a minute of idle calls while it is finished
        monitor.advance(due + ms)
    assert lease.asked == 1 + 60_000 // interval - 1  # renewed at 15, 30 and 45 s
    later.run()
    monitor.advance(due + 60_000)
    assert counted.evaluations >= 1

    lease, later, counted = ScriptedLease([True, False]), LaterExecutor(), CountingNotifier()
    monitor = Monitor(Pipeline(), AlertEvaluator(), [counted], lease=lease, finisher=later)
    monitor.advance(due)
    monitor.advance(due + interval)  # refused: another worker holds it now
    later.run()
    monitor.advance(due + interval + 100)
    assert (lease.asked, counted.evaluations) == (2, 0)

    lease, later = ScriptedLease([True] * 100), LaterExecutor()
    monitor = Monitor(Pipeline(), AlertEvaluator(), [], lease=lease, finisher=later)
    monitor.advance(due)
    for ms in range(0, 2 * runtime.STUCK_EVALUATION_MS, 1000):
        monitor.advance(due + ms)
    assert lease.asked == 1 + runtime.STUCK_EVALUATION_MS // interval  # then no more


class RenewCounting:
    def __init__(self, leading: bool) -> None:
        self.leading, self.renewed = leading, 0

    def renew(self) -> bool:
        self.renewed += 1
        return True


def test_the_lease_keeper_renews_while_leading_unless_the_monitor_is_stuck() -> None:
    """The replica calls the monitor only when idle, and on a busy 50,000-agent floor it can
    go longer than the lease without an idle moment: the keeper renews from its own thread.
    Not for a follower, and not for a monitor that has not advanced or has been finishing
    one evaluation for five minutes (stuck: another worker should take over)."""
    clock, later = SimpleNamespace(ms=at("09:00:00")), LaterExecutor()
    lease = RenewCounting(leading=True)
    monitor = Monitor(Pipeline(), AlertEvaluator(), [], lease=ScriptedLease([True] * 10),
                      finisher=later)
    keeper = runtime.LeaseKeeper(lease, monitor, lambda: clock.ms)
    assert not keeper.tick()  # never advanced: nothing to vouch for
    monitor.advance(clock.ms)  # an evaluation read, being finished
    clock.ms += runtime.STUCK_EVALUATION_MS
    assert keeper.tick() and lease.renewed == 1  # slow, not stuck: no advance since
    clock.ms += 1
    assert not keeper.tick()  # five minutes without advancing, or finishing one: stuck
    later.run()
    monitor.advance(clock.ms)
    assert keeper.tick() and lease.renewed == 2
    lease.leading = False
    assert not keeper.tick() and lease.renewed == 2  # a follower renews nothing


@pytest.mark.parametrize("finished_later", [False, True])
def test_catching_up_renews_the_lease_the_same_with_evaluations_finished_elsewhere(
        finished_later: bool) -> None:
    lease = ScriptedLease([True, True, True, False])
    counted = CountingNotifier()
    later = LaterExecutor() if finished_later else None
    monitor = Monitor(Pipeline(), AlertEvaluator(), [counted], lease=lease, finisher=later)
    start = at("09:00:00")

    def advance(now: int) -> None:
        monitor.advance(now)
        while later is not None and later.queued:
            later.run()
            monitor.advance(now)

    advance(start)
    assert (lease.asked, counted.evaluations) == (1, 1)
    advance(start + 20 * 15_000)
    assert (lease.asked, counted.evaluations) == (4, 3)


@pytest.mark.parametrize("finished_later", [False, True])
def test_each_evaluation_reports_how_late_it_ran_after_its_instant(finished_later: bool,
                                                                     ) -> None:
    """A worker exports it (ccpulse_alert_evaluation_delay_seconds): alerts are that late.
    Two instants due at once (a process falling behind) run 15 s and 0 s late; one finished
    on another thread counts until the call that evaluates it."""
    later = LaterExecutor() if finished_later else None
    delays: list[int] = []
    monitor = Monitor(Pipeline(), AlertEvaluator(), [CountingNotifier()], finisher=later,
                      on_evaluated=delays.append)
    start = at("09:00:00")
    monitor.advance(start)
    assert delays == ([] if finished_later else [0])
    if later is not None:
        later.run()
        monitor.advance(start + 2_500)  # finished: evaluated now
        assert delays == [2_500]
        delays.clear()
        monitor.advance(start + 30_000)  # two due: the first read, the second queued
        later.run()
        monitor.advance(start + 31_000)  # the first evaluated, the second read
        later.run()
        monitor.advance(start + 32_000)
        assert delays == [16_000, 2_000]
    else:
        delays.clear()
        monitor.advance(start + 30_000)
        assert delays == [15_000, 0]


def test_a_holder_catches_up_within_its_bound_then_skips_the_instants_it_missed(
        caplog: pytest.LogCaptureFixture) -> None:
    """Taking the lease five minutes after the last instant evaluated (a long restart), the
    holder evaluates the nine instants due within its two-minute bound, one by one, and
    counts the eleven before them as skipped (one log line). Caught up, instants that fell
    due while it was busy are missed: the newest alone is evaluated. Unbounded (replay, the
    demo), every one is."""
    start = at("09:00:00")
    for bound, evaluated in ((120_000, 9), (None, 21)):
        delays: list[int] = []
        skipped: list[int] = []
        evaluator = AlertEvaluator()
        evaluator.next_due_ms = start  # as restored from the last holder's state
        monitor = Monitor(Pipeline(), evaluator, [CountingNotifier()],
                          on_evaluated=delays.append, max_late_ms=bound,
                          on_skipped=skipped.append)
        with caplog.at_level(logging.WARNING, logger="ccpulse.alerts"):
            monitor.advance(start + 20 * 15_000)
        assert len(delays) == evaluated and delays[-1] == 0
        assert max(delays) == (bound if bound is not None else 20 * 15_000)
        assert skipped == ([12] if bound is not None else [])
        lines = [r for r in caplog.records if r.getMessage() == "alert_evaluations_skipped"]
        assert len(lines) == (1 if bound is not None else 0)
        caplog.clear()
        delays.clear()
        monitor.advance(start + 21 * 15_000)  # on time: the next instant, and only it
        assert delays == [0]
        delays.clear()
        monitor.advance(start + 24 * 15_000 + 500)  # three fell due: missed but the newest
        assert delays == ([500] if bound is not None else [30_500, 15_500, 500])
        assert skipped == ([12, 2] if bound is not None else [])


def test_a_holder_evaluating_elsewhere_catches_up_then_goes_on_with_the_newest() -> None:
    """Evaluations finished on another thread. Catching up (the lease just taken, two
    minutes behind), each instant within the bound is read in turn, those falling due
    meanwhile taken too; caught up, an evaluation that ran for four minutes is followed by
    the newest instant due, the fifteen before it missed."""
    later, skipped, delays = LaterExecutor(), [], []
    evaluator = AlertEvaluator()
    start = at("09:00:00")
    evaluator.next_due_ms = start - 60_000
    monitor = Monitor(Pipeline(), evaluator, [CountingNotifier()], finisher=later,
                      on_evaluated=delays.append, max_late_ms=120_000,
                      on_skipped=skipped.append)
    monitor.advance(start)  # five due, all within the bound: the first read, four queued
    for step in range(5):
        assert len(later.queued) == 1
        later.run()
        monitor.advance(start + 1_000 * (step + 1))
    assert delays == [61_000, 47_000, 33_000, 19_000, 5_000] and skipped == []
    monitor.advance(start + 15_000)  # on time: the next one read
    later.run()
    monitor.advance(start + 255_000)  # evaluated four minutes late; sixteen due since
    assert delays[-1] == 240_000 and skipped == [15]
    (future, _, (pending,)) = later.queued[0]
    assert pending.reading.now == start + 255_000 and not future.done()


@pytest.mark.parametrize("leading", [True, False])
def test_a_workers_scrape_reads_its_states_at_the_scrape(leading: bool) -> None:
    """A worker's /metrics, as serving wires it: an answer applied after the snapshot it
    serves shows at once in the agent's state (its own agents' on a follower), the queue's
    wait too on the lease holder, while the KPIs stay the snapshot's."""
    start = wall_ms() - 60_000
    ev = EventFactory()
    pipe = Pipeline()
    for event in (ev("agent.login", start, agent_id="a1", team_id="t1"),
                  ev("agent.available", start, agent_id="a1"),
                  ev("interaction.queued", start + 1_000, interaction_id="i1", queue_id="q1",
                     channel="voice")):
        pipe.feed(orjson.dumps(event), None, now_ms=wall_ms())
    served = pipe.snapshot(start + 2_000)
    consumer = ConsumerView(CollectorRegistry())
    consumer.shards.update(1, frozenset({0}))  # one agent partition, this worker's
    scrapes = _scrapes(Settings(), lambda: served, pipe, AlertEvaluator(),  # type: ignore[arg-type]
                       leader=SimpleNamespace(holds=lambda: leading),  # type: ignore[arg-type]
                       consumer=consumer, registry=CollectorRegistry())
    pipe.feed(orjson.dumps(ev("interaction.answered", start + 3_000, interaction_id="i1",
                              agent_id="a1", queue_id="q1", channel="voice")), None,
              now_ms=wall_ms())
    families = {f.name: f.samples
                for f in text_string_to_metric_families(scrapes.body().decode())}
    scrapes.close()
    assert [s.labels["state"] for s in families["ccpulse_agent_state"]] == ["handling"]
    assert families["ccpulse_agent_state_seconds"][0].value >= 57  # since start + 3 s
    if leading:
        waiting = families["ccpulse_queue_waiting_interactions"]
        assert [(s.labels["queue"], s.value) for s in waiting] == [("q1", 0)]
        assert families["ccpulse_agent_utilization_ratio"] == [
            s for f in text_string_to_metric_families(render(KpiCollector(
                lambda: served).collect()).decode())
            if f.name == "ccpulse_agent_utilization_ratio" for s in f.samples]
    else:
        assert "ccpulse_queue_waiting_interactions" not in families
    if not leading:
        return  # a follower's share is a snapshot of the scrape anyway
    off = Settings()  # [metrics] states_at_scrape = false: the served snapshot's states
    off = replace(off, metrics=replace(off.metrics, states_at_scrape=False))
    scrapes = _scrapes(off, lambda: served, pipe, AlertEvaluator(),  # type: ignore[arg-type]
                       leader=SimpleNamespace(holds=lambda: True),  # type: ignore[arg-type]
                       consumer=consumer, registry=CollectorRegistry())
    families = {f.name: f.samples
                for f in text_string_to_metric_families(scrapes.body().decode())}
    scrapes.close()
    assert [s.labels["state"] for s in families["ccpulse_agent_state"]] == ["idle"]
