"""The live pipeline on a real Kafka broker and a real redis-server.

Each test simulates a short recent shift that ends with every agent logged out, so once it is
consumed every KPI is constant for a few minutes: whatever instant the worker is scraped at,
``ccpulse replay --now <that instant>`` of the same file must give the same numbers.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client.parser import text_string_to_metric_families

from ccpulse.alerts.engine import fingerprint
from tests.live import (
    BAD_LINES,
    BAD_REASONS,
    WorkerProcess,
    api_differences,
    assert_converges,
    assert_states_read_at_request,
    assert_union_converges,
    dead_letters,
    log_length,
    recent_shift,
    send,
    wait_for,
    wait_for_alerts,
    with_noise,
)
from tests.servers import require, start_alertmanager


def test_worker_equals_replay_and_dead_letters_bad_input(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    clean = recent_shift(tmp_path / "clean.jsonl", agents=40, minutes=8, seed=21)
    noisy, unique = with_noise(clean, tmp_path / "noisy.jsonl", seed=1)
    worker = worker_factory()
    worker.wait_healthy()
    send(noisy, kafka_bootstrap, topics)
    wait_for(lambda: log_length(redis_url) >= unique, 90, "events in the Redis log")
    assert_converges(worker, clean)
    assert log_length(redis_url) == unique  # duplicates never reached the log
    # beyond the per-agent budget of /metrics: every KPI of an agent on request (issue 19)
    assert not api_differences(worker, clean)
    assert_states_read_at_request(worker.get, worker.get("/metrics")[1])

    def counters() -> dict[tuple[str, str | None], float]:
        return {(s.name, s.labels.get("reason")): s.value
                for f in text_string_to_metric_families(worker.get("/metrics")[1])
                for s in f.samples}

    expected = {("ccpulse_events_dead_lettered_total", reason): float(count)
                for reason, count in BAD_REASONS.items()}
    expected[("ccpulse_events_duplicate_total", None)] = 40.0
    # the replica has applied each logged event once: its progress is the log's length
    expected[("ccpulse_replica_entries_applied_total", None)] = float(unique)
    # the consumer's counters reach /metrics with its next report (once a second)
    wait_for(lambda: {key: counters().get(key) for key in expected} == expected, 10,
             f"dead-letter and duplicate counters {expected}")
    # what its snapshots cost, for whoever sizes a floor (ccpulse.snapshot_cost): the scrapes
    # above and the alert evaluations each computed the floor's
    costs = {(s.name, s.labels.get("kind")): s.value
             for f in text_string_to_metric_families(worker.get("/metrics")[1])
             for s in f.samples if s.name.startswith("ccpulse_snapshot_")}
    assert costs[("ccpulse_snapshot_seconds_count", "floor")] >= 1
    assert costs[("ccpulse_snapshot_engine_held_seconds_count", "floor")] >= 1
    assert 0 < costs[("ccpulse_snapshot_seconds_sum", "floor")] < 60
    # and how late its alert evaluations run after their instants (a floor too big for one
    # worker shows here first): a few, each under an evaluation interval on this small floor
    count, total = (("ccpulse_alert_evaluation_delay_seconds_count", None),
                    ("ccpulse_alert_evaluation_delay_seconds_sum", None))
    wait_for(lambda: counters()[count] >= 1, 30, "an alert evaluation")
    late = counters()
    assert 0 <= late[total] < 15 * late[count]
    # and how many instants it missed, overloaded (CCPULSE_ALERTS_MAX_LATE_S): exported, a
    # count (how many depends on this machine's load, so not a number here)
    skipped = late.get(("ccpulse_alert_evaluation_skipped_total", None))
    assert skipped is not None and skipped == int(skipped) >= 0
    check = subprocess.run([require("promtool", "prometheus"), "check", "metrics"],
                           input=worker.get("/metrics")[1], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr  # contract §3

    consumer = KafkaConsumer(topics["CCPULSE_DEADLETTER_TOPIC"], bootstrap_servers=kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    letters = list(consumer)
    consumer.close()
    assert sorted(m.value for m in letters) == sorted(BAD_LINES)  # unchanged payloads
    for message in letters:
        headers = dict(message.headers)
        assert headers["ccpulse-source-topic"].decode() in (
            topics["CCPULSE_AGENT_TOPIC"], topics["CCPULSE_INTERACTION_TOPIC"])
        assert int(headers["ccpulse-source-offset"]) >= 0
        assert headers["ccpulse-reason"].decode() in BAD_REASONS
    log = worker.log.read_text()
    assert "SECRET" not in log and "xxxxxxxxxx" not in log  # payloads never logged


def test_two_workers_report_what_one_reports(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    """Each shows every team, queue and channel; each agent is on one of them; together they
    are replay's numbers. With sharding off, each shows everything."""
    clean = recent_shift(tmp_path / "clean.jsonl", agents=60, minutes=8, seed=23)
    unsharded = tmp_path / "unsharded.toml"
    unsharded.write_text("[metrics]\nshard_agents = false\n")
    first, second = worker_factory(), worker_factory()
    # in a group of its own: it owns every partition there (and its commits are duplicates)
    whole = worker_factory(CCPULSE_CONFIG=str(unsharded),
                           CCPULSE_GROUP=topics["CCPULSE_GROUP"] + "-whole")
    for worker in (first, second, whole):
        worker.wait_healthy()
    send(clean, kafka_bootstrap, topics)
    unique = len(clean.read_bytes().splitlines())
    wait_for(lambda: log_length(redis_url) >= unique, 120, "events in the Redis log")
    assert_converges(whole, clean)
    assert_union_converges([first, second], clean)
    assert log_length(redis_url) == unique


def test_worker_sends_alerts_to_alertmanager_and_the_alerts_topic(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    alertmanager = start_alertmanager(tmp_path)
    try:
        clean = recent_shift(tmp_path / "clean.jsonl", agents=60, minutes=8, seed=21)
        worker = worker_factory(
            CCPULSE_ALERTMANAGER_URL=f"http://127.0.0.1:{alertmanager.port}")
        worker.wait_healthy()
        send(clean, kafka_bootstrap, topics)
        # the queues of a short shift miss their 80 % service level: QueueServiceLevelLow
        shown = wait_for_alerts(alertmanager.port, lambda alerts: any(
            a["labels"].get("alertname") == "QueueServiceLevelLow" for a in alerts), 120)
        alert = next(a for a in shown if a["labels"]["alertname"] == "QueueServiceLevelLow")
        assert alert["labels"]["audience"] == "operations,wfm"
        assert alert["annotations"]["description"].startswith("service level 15m")
    finally:
        alertmanager.stop()
    consumer = KafkaConsumer(topics["CCPULSE_ALERTS_TOPIC"], bootstrap_servers=kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    published = [(m.key, json.loads(m.value)) for m in consumer]
    consumer.close()
    assert published
    for key, alert in published:
        assert alert["status"] in ("firing", "resolved")
        assert {"labels", "annotations", "startsAt", "generatorURL"} <= alert.keys()
        assert key == fingerprint(alert["labels"]).encode()


def test_redis_not_kafka_decides_where_a_worker_resumes(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    """faust acknowledges messages it skips around a rebalance and commits them to Kafka, and
    its recovery then seeks every partition to Kafka's committed offset — after our seek to
    Redis's. A group whose Kafka offsets ran ahead of Redis's must still resume from Redis's
    (the reliability suite once saw a kill -9 run stall with half the log missing)."""
    shift = recent_shift(tmp_path / "shift.jsonl", agents=30, minutes=8, seed=41)
    lines = shift.read_bytes().splitlines()
    half = len(lines) // 2
    (tmp_path / "first.jsonl").write_bytes(b"\n".join(lines[:half]) + b"\n")
    (tmp_path / "second.jsonl").write_bytes(b"\n".join(lines[half:]) + b"\n")
    worker = worker_factory()
    worker.wait_healthy()
    send(tmp_path / "first.jsonl", kafka_bootstrap, topics)
    wait_for(lambda: log_length(redis_url) >= half, 90, "the first half in the Redis log")
    worker.stop()  # leaves the group: it is empty, so offsets can be committed from outside
    send(tmp_path / "second.jsonl", kafka_bootstrap, topics)
    # Kafka's committed offsets jump to the end, past the whole second half
    skipper = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=topics["CCPULSE_GROUP"],
                            enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for topic in (topics["CCPULSE_AGENT_TOPIC"],
                                                         topics["CCPULSE_INTERACTION_TOPIC"],
                                                         topics["CCPULSE_SCHEDULE_TOPIC"])
                  for p in skipper.partitions_for_topic(topic) or ()]
    ends = skipper.end_offsets(partitions)
    skipper.commit({tp: OffsetAndMetadata(ends[tp], None, -1) for tp in partitions})
    skipper.close()
    worker_factory().wait_healthy()
    wait_for(lambda: log_length(redis_url) >= len(lines), 90, "the second half in the log")
    assert log_length(redis_url) == len(lines)


def test_a_late_redelivery_is_a_duplicate_and_only_lost_events_are_dead_lettered(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    """Issue 17: an event sent again after the lateness limit (a producer's retry, a replayed
    topic) was dead-lettered as ``too_late``; it is a duplicate. Only events the log does not
    have are dead-lettered as late."""
    config = tmp_path / "lateness.toml"
    config.write_text("[engine]\nlateness_seconds = 60\n")
    clean = recent_shift(tmp_path / "clean.jsonl", agents=30, minutes=6, seed=33)
    lines = clean.read_bytes().splitlines()
    worker = worker_factory(CCPULSE_CONFIG=str(config))
    worker.wait_healthy()
    send(clean, kafka_bootstrap, topics)
    wait_for(lambda: log_length(redis_url) == len(lines), 90, "the shift in the Redis log")
    first = [json.loads(line) for line in lines[:20]]  # minutes older than their keys' newest
    lost = [{"event_id": f"lost-{i}", "type": "agent.not_ready", "reason": "lunch",
             "agent_id": e["agent_id"], "ts": e["ts"]} for i, e in enumerate(first[:5])
            if "agent_id" in e]
    again = tmp_path / "again.jsonl"
    again.write_bytes(b"\n".join(lines[:20] + [json.dumps(e).encode() for e in lost]) + b"\n")
    send(again, kafka_bootstrap, topics)

    def counters() -> tuple[float, float]:
        samples = [s for f in text_string_to_metric_families(worker.get("/metrics")[1])
                   for s in f.samples]
        dup = sum(s.value for s in samples if s.name == "ccpulse_events_duplicate_total")
        late = sum(s.value for s in samples if s.name == "ccpulse_events_dead_lettered_total"
                   and s.labels["reason"] == "too_late")
        return dup, late

    wait_for(lambda: counters() == (20.0, float(len(lost))), 60,
             f"20 duplicates and {len(lost)} too_late")
    assert lost and log_length(redis_url) == len(lines)
    letters = [json.loads(payload)["event_id"]
               for _, payload in dead_letters(kafka_bootstrap, topics["CCPULSE_DEADLETTER_TOPIC"])]
    assert sorted(letters) == sorted(e["event_id"] for e in lost)
    assert_converges(worker, clean, config=config)
