"""A secured deployment: Kafka with SASL (PLAIN), Redis with a password, /metrics behind
basic auth. The worker works through all three, and no secret ever shows up in its log, its
/metrics or its /healthz."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.live import (
    WorkerProcess,
    produce_slowly,
    recent_shift,
    remaining_differences,
    wait_for_log,
)
from tests.servers import start_kafka, start_redis

KAFKA_SECRET = "kafka-s3cret-9f2e"
REDIS_SECRET = "redis-s3cret-71ac"
METRICS_SECRET = "metrics-s3cret-04bd"


def test_secured_kafka_redis_and_metrics_and_no_secret_ever_printed(
        worker_factory: Callable[..., WorkerProcess], topics: dict[str, str], tmp_path: Path,
        record: Callable[..., None]) -> None:
    (tmp_path / "kafka").mkdir()
    (tmp_path / "redis").mkdir()
    broker = start_kafka(tmp_path / "kafka", sasl_users={"ccpulse": KAFKA_SECRET})
    redis_server = start_redis(tmp_path / "redis", password=REDIS_SECRET)
    redis_url = f"redis://:{REDIS_SECRET}@127.0.0.1:{redis_server.port}/0"
    worker: WorkerProcess | None = None
    try:
        clean = recent_shift(tmp_path / "clean.jsonl", agents=40, minutes=8, seed=29)
        unique = len(clean.read_bytes().splitlines())
        worker = worker_factory(
            CCPULSE_KAFKA_BOOTSTRAP=f"127.0.0.1:{broker.sasl_port}",
            CCPULSE_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
            CCPULSE_KAFKA_SASL_MECHANISM="PLAIN",
            CCPULSE_KAFKA_USERNAME="ccpulse",
            CCPULSE_KAFKA_PASSWORD=KAFKA_SECRET,
            CCPULSE_REDIS_URL=redis_url,
            CCPULSE_METRICS_USER="prometheus",
            CCPULSE_METRICS_PASSWORD=METRICS_SECRET)
        worker.wait_healthy()
        # the test's producer uses the broker's plaintext listener; the worker only SASL
        produce_slowly(clean, f"127.0.0.1:{broker.port}", topics, seconds=4).join(60)
        wait_for_log(redis_url, unique, 120, worker)

        assert worker.get("/metrics")[0] == 401  # no credentials, no numbers
        worker.auth = ("prometheus", METRICS_SECRET)
        diff = remaining_differences(worker, clean)
        record("secured stack (SASL Kafka, Redis AUTH, metrics basic auth)", events=unique,
               injected=0, differences=len(diff))
        assert not diff, diff[:8]

        shown = worker.log.read_text() + worker.get("/metrics")[1] + worker.get("/healthz")[1]
        for secret in (KAFKA_SECRET, REDIS_SECRET, METRICS_SECRET):
            assert secret not in shown
        assert "redis://:***@" in worker.log.read_text()  # the URL is logged, masked
    finally:
        if worker is not None:  # before its broker: without one it waits out its 10 s grace
            worker.stop()
        broker.stop(grace_s=3)  # thrown away, its worker still connected: no graceful wait
        redis_server.stop()
