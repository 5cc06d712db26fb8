"""A machine that never ran ccpulse: an empty temporary directory, no data directory.

Issue 17: every worker died at start on such a machine (faust made its data directory under a
folder nobody had created), and CI did not see it because its machine kept that folder from
earlier runs. ``make test`` now runs the whole suite with a fresh ``TMPDIR`` too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.live import WorkerProcess, assert_converges, recent_shift, send, wait_for


def test_a_worker_starts_with_an_empty_temporary_directory(
        worker_factory: Callable[..., WorkerProcess], topics: dict[str, str],
        tmp_path: Path) -> None:
    fresh = tmp_path / "fresh-tmp"
    fresh.mkdir()
    worker = worker_factory(TMPDIR=str(fresh))
    worker.wait_healthy()
    status, text = worker.get("/metrics")
    assert status == 200
    names = {f.name for f in text_string_to_metric_families(text)}
    assert "ccpulse_events_processed" in names and "ccpulse_alerts_firing" in names
    wait_for(lambda: worker.get("/readyz")[0] == 200, 30, "/readyz")
    assert (fresh / "ccpulse" / topics["CCPULSE_GROUP"]).is_dir()  # made, parents included


def test_a_data_directory_that_cannot_be_made_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "ccpulse", "worker", "--data-dir", str(blocker),
         "--redis", "redis://127.0.0.1:9/0", "--kafka", "127.0.0.1:9"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert time.monotonic() - started < 30  # before waiting for Redis or Kafka
    lines = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert len(lines) == 1, result.stderr
    assert str(blocker / "ccpulse") in lines[0]
    assert "--data-dir" in lines[0] and "CCPULSE_DATA_DIR" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_readyz_waits_for_the_kafka_backlog_healthz_does_not(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    """Liveness and readiness: with a backlog waiting in Kafka, /readyz says 200 only once
    the consumer has read it (lag within the bound, here 0)."""
    shift = recent_shift(tmp_path / "shift.jsonl", agents=60, minutes=10, seed=17)
    send(shift, kafka_bootstrap, topics)
    worker = worker_factory(CCPULSE_READY_MAX_LAG="0")
    answers: list[tuple[int, str]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            status, body = worker.get("/readyz")
        except OSError:
            time.sleep(0.1)
            continue
        answers.append((status, body.strip()))
        if status == 200:
            break
        time.sleep(0.1)
    assert answers and answers[-1] == (200, "ready"), answers[-5:]
    assert all(status == 503 for status, _ in answers[:-1])
    assert answers[0][0] == 503  # never ready before the consumer has reported
    lag = [s.value for f in text_string_to_metric_families(worker.get("/metrics")[1])
           if f.name == "ccpulse_consumer_lag_messages" for s in f.samples]
    assert lag and sum(lag) == 0  # ready means read: nothing left in Kafka
    assert worker.get("/healthz")[0] == 200
    assert_converges(worker, shift, timeout_s=30)
