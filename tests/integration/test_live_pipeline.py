"""The live pipeline on a real Kafka broker and a real redis-server.

Each test simulates a short recent shift that ends with every agent logged out, so once it is
consumed every KPI is constant for a few minutes: whatever instant the worker is scraped at,
``ccpulse replay --now <that instant>`` of the same file must give the same numbers.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from kafka import KafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from alerts.engine import fingerprint
from processors.timefmt import format_ms
from streams.kafka_io import ensure_topics, make_producer, produce
from tests.integration.conftest import WorkerProcess
from tests.integration.servers import require, start_alertmanager, start_redis
from tests.integration.test_alertmanager import wait_for_alerts

# Series that depend on the process or on the instant, not on the events.
NOT_KPIS = ("ccpulse_events_", "ccpulse_event_lag", "ccpulse_alerts_firing", "ccpulse_alert_firing",
            "ccpulse_queue_longest_wait_seconds", "ccpulse_redis_commit", "ccpulse_consumer_lag")


def ccpulse(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "ccpulse", *args], capture_output=True,
                            text=True, check=True, timeout=300, env=env)
    return result.stdout


def recent_shift(path: Path, *, agents: int, minutes: float, seed: int) -> Path:
    start = int(time.time() * 1000) - int((minutes + 0.5) * 60_000)
    ccpulse("simulate", "--out", str(path), "--agents", str(agents), "--hours",
            str(minutes / 60), "--seed", str(seed), "--start", format_ms(start), "--end-shift")
    return path


def kpis(text: str) -> dict[tuple[str, frozenset], float]:
    # Forecast horizons come from 5-minute bins ending at the scrape instant: they move with
    # it even when nothing else does; the "now" horizon is compared.
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
            if not s.name.startswith(NOT_KPIS) and s.labels.get("horizon", "now") == "now"}


def expected_kpis(path: Path) -> dict[tuple[str, frozenset], float]:
    return kpis(ccpulse("replay", str(path), "--metrics-out", "-",
                        "--now", format_ms(int(time.time() * 1000))))


def send(path: Path, bootstrap: str, topics: dict[str, str]) -> None:
    ccpulse("replay", str(path), "--kafka", bootstrap, env={**os.environ, **topics})


def differences(got: dict, want: dict) -> list[str]:
    out = [f"missing {k}" for k in want.keys() - got.keys()]
    out += [f"unexpected {k}" for k in got.keys() - want.keys()]
    out += [f"{k}: {got[k]} != {want[k]}" for k in want.keys() & got.keys()
            if got[k] != pytest.approx(want[k], rel=1e-9, abs=1e-9)]
    return out


def assert_converges(worker: WorkerProcess, path: Path, timeout_s: float = 90) -> None:
    want = expected_kpis(path)
    assert len(want) > 200
    deadline = time.monotonic() + timeout_s
    diff: list[str] = ["never scraped"]
    while time.monotonic() < deadline:
        status, text = worker.get("/metrics")
        if status == 200:
            diff = differences(kpis(text), want)
            if not diff:
                return
        time.sleep(1)
    raise AssertionError(f"{len(diff)} differences, e.g. {sorted(diff)[:: max(1, len(diff) // 8)]}")


def log_length(redis_url: str) -> int:
    return int(redis.Redis.from_url(redis_url).xlen("{ccpulse}:log"))


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


BAD_LINES = [
    b'{"event_id": "bad-1", "type": "agent.login", "agent_id": "x"',
    b'{"event_id": "bad-2", "type": "agent.teleport", "ts": "2026-11-22T09:00:00Z"}',
    b'{"event_id": "bad-3", "type": "interaction.survey", "ts": "2026-11-22T09:00:00Z", '
    b'"interaction_id": "i", "agent_id": "a", "csat": 9}',
    b'{"event_id": "bad-4", "type": "agent.available", "ts": "2026-11-22T09:00:00Z"}',
    b"[1, 2, 3]",
    b'{"event_id": "bad-6", "type": "agent.available", "agent_id": "a", "ts": "'
    + b"2099-01-01T00:00:00Z" + b'"}',
    b'{"pad": "' + b"x" * 70_000 + b'"}',
]
BAD_REASONS = {"not_json": 1, "unknown_type": 1, "invalid_value": 1, "missing_field": 1,
               "not_object": 1, "future_timestamp": 1, "too_large": 1}


def with_noise(clean: Path, out: Path, seed: int) -> tuple[Path, int]:
    """The clean file plus duplicates (redeliveries) and bad lines scattered through it."""
    rng = random.Random(seed)
    lines = clean.read_bytes().splitlines()
    noisy = list(lines)
    for line in rng.sample(lines, 40):  # a redelivery comes after the original
        noisy.insert(rng.randrange(noisy.index(line) + 1, len(noisy) + 1), line)
    for line in BAD_LINES:
        noisy.insert(rng.randrange(len(noisy) + 1), line)
    out.write_bytes(b"\n".join(noisy) + b"\n")
    return out, len(lines)


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

    values = {(s.name, s.labels.get("reason")): s.value
              for f in text_string_to_metric_families(worker.get("/metrics")[1])
              for s in f.samples}
    for reason, count in BAD_REASONS.items():
        assert values[("ccpulse_events_dead_lettered_total", reason)] == count
    assert values[("ccpulse_events_duplicate_total", None)] == 40
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


def produce_slowly(path: Path, bootstrap: str, topics: dict[str, str],
                   seconds: float) -> threading.Thread:
    """Send the file's lines evenly over ``seconds`` from a background thread."""
    lines = path.read_bytes().splitlines()
    pause = seconds / len(lines)
    ensure_topics(bootstrap, [topics["CCPULSE_AGENT_TOPIC"],
                              topics["CCPULSE_INTERACTION_TOPIC"]], partitions=4)

    def run() -> None:
        producer = make_producer(bootstrap)
        for i in range(0, len(lines), 20):
            produce(producer, lines[i:i + 20], agent_topic=topics["CCPULSE_AGENT_TOPIC"],
                    interaction_topic=topics["CCPULSE_INTERACTION_TOPIC"])
            time.sleep(pause * 20)
        producer.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_kill_9_at_random_points_ends_with_the_same_numbers(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    clean = recent_shift(tmp_path / "clean.jsonl", agents=150, minutes=8, seed=22)
    noisy, unique = with_noise(clean, tmp_path / "noisy.jsonl", seed=2)
    producer = produce_slowly(noisy, kafka_bootstrap, topics, seconds=20)
    rng = random.Random(5)
    kills_mid_stream = 0
    while producer.is_alive():
        worker = worker_factory(CCPULSE_BATCH_SIZE="50")
        time.sleep(rng.uniform(2.0, 5.0))  # start-up, assignment, some batches, then…
        worker.kill()  # SIGKILL: no flush, no commit, no leaving the group
        if 0 < log_length(redis_url) < unique:
            kills_mid_stream += 1
    assert kills_mid_stream >= 2
    final = worker_factory()
    final.wait_healthy()
    wait_for(lambda: log_length(redis_url) >= unique, 120, "the rest of the stream")
    assert_converges(final, clean)
    assert log_length(redis_url) == unique


def test_two_workers_report_what_one_reports(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    clean = recent_shift(tmp_path / "clean.jsonl", agents=60, minutes=8, seed=23)
    first, second = worker_factory(), worker_factory()
    first.wait_healthy()
    second.wait_healthy()
    send(clean, kafka_bootstrap, topics)
    unique = len(clean.read_bytes().splitlines())
    wait_for(lambda: log_length(redis_url) >= unique, 120, "events in the Redis log")
    assert_converges(first, clean)
    assert_converges(second, clean)
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


def test_worker_waits_through_a_redis_restart_and_loses_nothing(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "redis-own").mkdir()
    own_redis = start_redis(tmp_path / "redis-own")
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    try:
        clean = recent_shift(tmp_path / "clean.jsonl", agents=100, minutes=8, seed=24)
        unique = len(clean.read_bytes().splitlines())
        worker = worker_factory(CCPULSE_REDIS_URL=url, CCPULSE_BATCH_SIZE="50")
        worker.wait_healthy()
        producer = produce_slowly(clean, kafka_bootstrap, topics, seconds=15)
        wait_for(lambda: log_length(url) > unique // 5, 60, "some of the stream")
        own_redis.stop()  # graceful: the AOF is flushed, as on a Redis restart
        time.sleep(5)  # the stream goes on in Kafka; the worker must wait, not drop
        assert worker.proc.poll() is None, "the worker must not crash while Redis is away"
        own_redis = start_redis(own_redis.workdir, own_redis.port)
        producer.join(60)
        wait_for(lambda: log_length(url) >= unique, 120, "the rest of the stream")
        assert_converges(worker, clean)
        assert log_length(url) == unique
        assert "redis_unavailable" in worker.log.read_text()
    finally:
        own_redis.stop()
