"""``ccpulse worker`` is two processes (consumer, and replica → /metrics, alerts) that live and
die together: no orphan keeps the metrics port, no half-worker keeps running."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from ccpulse.worker import STOP_GRACE_S
from tests.live import WorkerProcess, log_length, recent_shift, send, wait_for
from tests.servers import start_kafka


def test_a_killed_worker_takes_its_serving_process_with_it(
        worker_factory: Callable[..., WorkerProcess]) -> None:
    worker = worker_factory()
    worker.wait_healthy()
    assert worker.serving_pid() in worker.children()
    worker.kill()  # raises if a child process outlives the worker
    try:
        worker.get("/healthz")
    except OSError:
        pass  # nobody listens on the metrics port any more
    else:
        raise AssertionError("the metrics port still answers after kill -9 of the worker")


def test_a_worker_whose_serving_process_died_stops_with_an_error(
        worker_factory: Callable[..., WorkerProcess]) -> None:
    worker = worker_factory()
    worker.wait_healthy()
    os.kill(worker.serving_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 60
    while worker.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker.proc.returncode == 1, worker.log.read_text()[-2000:]
    assert "serving_process_stopped" in worker.log.read_text()


def test_a_worker_asked_to_stop_stops_even_when_kafka_is_gone(
        worker_factory: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    """SIGTERM with the broker gone: faust's orderly stop waits out its requests (more than
    30 s); the worker exits after its grace instead, its serving process with it, and says
    why."""
    (tmp_path / "kafka-own").mkdir()
    broker = start_kafka(tmp_path / "kafka-own")
    try:
        worker = worker_factory(CCPULSE_KAFKA_BOOTSTRAP=f"127.0.0.1:{broker.port}")
        worker.wait_healthy()
        serving = worker.serving_pid()
    finally:
        broker.stop(signal.SIGKILL)
    asked = time.monotonic()
    worker.proc.terminate()
    deadline = asked + STOP_GRACE_S + 15  # the grace, and the process's own exit
    while worker.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker.proc.returncode == 0, worker.log.read_text()[-2000:]
    wait_for(lambda: not Path(f"/proc/{serving}").exists(), 15, "the serving process gone")
    assert "stop_forced" in worker.log.read_text()


def test_the_consumer_lag_reaches_the_metrics(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    """The lag of the partitions that hold events goes from the consumer's reports to
    /metrics and reaches 0 once they are read; the other pipeline counters are checked in
    test_live_pipeline."""
    shift = recent_shift(tmp_path / "shift.jsonl", agents=30, minutes=3, seed=5)
    worker = worker_factory()
    worker.wait_healthy()  # healthy needs a first report
    send(shift, kafka_bootstrap, topics)
    wait_for(lambda: log_length(redis_url) == len(shift.read_bytes().splitlines()), 60,
             "the shift in the Redis log")

    def lag() -> dict[tuple[str, str], float]:
        return {(s.labels["topic"], s.labels["partition"]): s.value
                for f in text_string_to_metric_families(worker.get("/metrics")[1])
                if f.name == "ccpulse_consumer_lag_messages" for s in f.samples}

    inputs = {topics["CCPULSE_AGENT_TOPIC"], topics["CCPULSE_INTERACTION_TOPIC"],
              topics["CCPULSE_SCHEDULE_TOPIC"]}
    wait_for(lambda: {topic for topic, _ in lag()} == inputs and not any(lag().values()), 30,
             "a zero lag for the partitions of the input topics (and of nothing else)")
