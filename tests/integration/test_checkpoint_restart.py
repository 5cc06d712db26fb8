"""A killed worker restarted on the same data directory resumes from its replica's
checkpoint — it replays only the log's tail — and ends with the numbers of a full replay."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.live import (
    WorkerProcess,
    assert_converges,
    log_length,
    recent_shift,
    send,
    wait_for,
    wait_for_log,
)

LOADED = re.compile(r"replica_checkpoint_loaded .*entries=(\d+)")
WRITTEN = re.compile(r"replica_checkpoint_written .*entries=(\d+)")
APPLIED = re.compile(r"^ccpulse_replica_entries_applied_total (\S+)$", re.MULTILINE)


def test_a_restarted_worker_resumes_from_its_checkpoint_with_the_same_numbers(
        worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str, redis_url: str,
        topics: dict[str, str], tmp_path: Path) -> None:
    shift = recent_shift(tmp_path / "shift.jsonl", agents=40, minutes=8, seed=31)
    lines = shift.read_bytes().splitlines(keepends=True)
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    first.write_bytes(b"".join(lines[:len(lines) // 2]))
    rest.write_bytes(b"".join(lines[len(lines) // 2:]))
    saving = {"CCPULSE_CHECKPOINT_EVERY_S": "1", "CCPULSE_DATA_DIR": str(tmp_path / "data")}

    worker = worker_factory(**saving)
    worker.wait_healthy()
    send(first, kafka_bootstrap, topics)
    wait_for_log(redis_url, 1, 60, worker)
    wait_for(lambda: log_length(redis_url) == int(float(APPLIED.search(
        worker.get("/metrics")[1]).group(1))), 60, "the replica to apply the first half")
    # a checkpoint of at least that much (one forked earlier may be logged after this point)
    applied = log_length(redis_url)

    def checkpointed() -> int:
        return max(map(int, WRITTEN.findall(worker.log.read_text())), default=0)

    wait_for(lambda: checkpointed() >= applied, 30,
             "a checkpoint written after the first half was applied")
    worker.kill()

    send(rest, kafka_bootstrap, topics)
    restarted = worker_factory(**saving)
    restarted.wait_healthy()
    loaded = LOADED.search(restarted.log.read_text())
    assert loaded is not None, restarted.log.read_text()[-3000:]
    assert int(loaded.group(1)) > 0  # it resumed, it did not replay the log from its start
    assert_converges(restarted, shift)
    # its progress counts the checkpoint's entries too: the log's length once caught up
    wait_for(lambda: log_length(redis_url) == int(float(APPLIED.search(
        restarted.get("/metrics")[1]).group(1))), 30, "the replica's progress to be the log's")
