"""The servers around the worker fail: Redis restarts or is unreachable for 30 s, the Kafka
broker restarts, Alertmanager is down. The stream waits or goes on; nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.live import (
    WorkerProcess,
    firing,
    log_length,
    produce_slowly,
    recent_shift,
    remaining_differences,
    wait_for,
    wait_for_alerts,
    wait_for_log,
)
from tests.reliability.conftest import RUNS
from tests.servers import free_port, restart_kafka, start_alertmanager, start_kafka, start_redis


def _redis_fault(worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str,
                 topics: dict[str, str], tmp_path: Path, away_s: float, seed: int,
                 ) -> tuple[int, list[str], WorkerProcess]:
    """Stop the worker's Redis (gracefully: the AOF is flushed) for ``away_s`` mid-stream."""
    (tmp_path / "redis-own").mkdir()
    own = start_redis(tmp_path / "redis-own")
    url = f"redis://127.0.0.1:{own.port}/0"
    worker: WorkerProcess | None = None
    try:
        clean = recent_shift(tmp_path / "clean.jsonl", agents=100, minutes=8, seed=seed)
        unique = len(clean.read_bytes().splitlines())
        worker = worker_factory(CCPULSE_REDIS_URL=url, CCPULSE_BATCH_SIZE="50")
        worker.wait_healthy()
        producer = produce_slowly(clean, kafka_bootstrap, topics, seconds=15)
        wait_for(lambda: log_length(url) > unique // 5, 60, "some of the stream")
        own.stop()
        time.sleep(away_s)  # the stream goes on in Kafka; the worker must wait, not drop
        assert worker.proc.poll() is None, "the worker must not crash while Redis is away"
        own = start_redis(own.workdir, own.port)
        producer.join(60)
        wait_for_log(url, unique, 180, worker)
        diff = remaining_differences(worker, clean)
        assert log_length(url) == unique
        return unique, diff, worker
    finally:
        if worker is not None:  # before its Redis: without one it waits out its grace
            worker.stop()
        own.stop()


@pytest.mark.parametrize("run", range(RUNS))
def test_redis_restart_mid_stream(run: int, worker_factory: Callable[..., WorkerProcess],
                                  kafka_bootstrap: str, topics: dict[str, str], tmp_path: Path,
                                  record: Callable[..., None]) -> None:
    unique, diff, worker = _redis_fault(worker_factory, kafka_bootstrap, topics, tmp_path,
                                        away_s=3, seed=40 + run)
    record("Redis restarted mid-stream (AOF)", events=unique, injected=1,
           differences=len(diff))
    assert not diff, diff[:8]
    assert "redis_unavailable" in worker.log.read_text()


def test_redis_unreachable_for_30_seconds(worker_factory: Callable[..., WorkerProcess],
                                          kafka_bootstrap: str, topics: dict[str, str],
                                          tmp_path: Path, record: Callable[..., None]) -> None:
    unique, diff, worker = _redis_fault(worker_factory, kafka_bootstrap, topics, tmp_path,
                                        away_s=30, seed=25)
    record("Redis unreachable for 30 s", events=unique, injected=1, differences=len(diff))
    assert not diff, diff[:8]
    log = worker.log.read_text()
    assert "redis_unavailable" in log and "redis_reachable" in log


@pytest.mark.parametrize("run", range(RUNS))
def test_kafka_broker_restart_mid_stream(run: int,
                                         worker_factory: Callable[..., WorkerProcess],
                                         redis_url: str, topics: dict[str, str],
                                         tmp_path: Path, record: Callable[..., None]) -> None:
    """A broker of its own, stopped mid-stream and started again on the same ports and data:
    the worker reconnects, resumes from the offsets in Redis and ends with replay's numbers."""
    (tmp_path / "kafka-own").mkdir()
    broker = start_kafka(tmp_path / "kafka-own")
    bootstrap = f"127.0.0.1:{broker.port}"
    worker: WorkerProcess | None = None
    try:
        clean = recent_shift(tmp_path / "clean.jsonl", agents=100, minutes=8, seed=50 + run)
        unique = len(clean.read_bytes().splitlines())
        worker = worker_factory(CCPULSE_KAFKA_BOOTSTRAP=bootstrap, CCPULSE_BATCH_SIZE="50")
        worker.wait_healthy()
        first, second = _halves(clean, tmp_path)
        produce_slowly(first, bootstrap, topics, seconds=6).join(60)
        wait_for(lambda: log_length(redis_url) > 0, 60, "some of the stream")
        broker.stop()
        time.sleep(5)
        broker = restart_kafka(broker)
        produce_slowly(second, bootstrap, topics, seconds=6).join(120)
        wait_for_log(redis_url, unique, 180, worker)
        diff = remaining_differences(worker, clean)
        record("Kafka broker restarted mid-stream", events=unique, injected=1,
               differences=len(diff))
        assert not diff, diff[:8]
        assert worker.proc.poll() is None
    finally:
        if worker is not None:  # before its broker: without one it waits out its 10 s grace
            worker.stop()
        # the test's own broker, thrown away: its worker still connected, a graceful
        # shutdown waited out the whole 30 s
        broker.stop(grace_s=3)


def _halves(path: Path, tmp_path: Path) -> tuple[Path, Path]:
    lines = path.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(lines[: len(lines) // 2]))
    second.write_bytes(b"".join(lines[len(lines) // 2:]))
    return first, second


def test_alertmanager_down_then_back(worker_factory: Callable[..., WorkerProcess],
                                     kafka_bootstrap: str, redis_url: str,
                                     topics: dict[str, str], tmp_path: Path,
                                     holdless_config: Path, record: Callable[..., None]) -> None:
    """Alertmanager is down while the whole stream is processed — the stream never waits for
    it — and receives every firing alert once it comes up on its address."""
    port = free_port()
    clean = recent_shift(tmp_path / "clean.jsonl", agents=60, minutes=8, seed=27)
    unique = len(clean.read_bytes().splitlines())
    worker = worker_factory(CCPULSE_ALERTMANAGER_URL=f"http://127.0.0.1:{port}",
                            CCPULSE_CONFIG=str(holdless_config))
    worker.wait_healthy()
    produce_slowly(clean, kafka_bootstrap, topics, seconds=5).join(60)
    wait_for_log(redis_url, unique, 120, worker)
    diff = remaining_differences(worker, clean, config=holdless_config, alerts=True)
    assert not diff, diff[:8]
    want = {s for (_, s) in firing(worker.get("/metrics")[1])}
    assert want, "the shift should fire some alerts"
    alertmanager = start_alertmanager(tmp_path, port)
    try:
        shown = wait_for_alerts(port, lambda alerts: len(alerts) >= len(want), 120)
        got = {frozenset(a["labels"].items()) for a in shown}
        expected = {frozenset((k, v) for k, v in labels if v) for labels in want}
        record("Alertmanager down for the whole stream", events=unique, injected=1,
               differences=len(expected ^ got))
        assert got == expected
    finally:
        worker.stop()  # before its Alertmanager: gone, the worker's last sends wait it out
        alertmanager.stop()
