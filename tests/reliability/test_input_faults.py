"""Events duplicated, redelivered, reordered within the lateness limit and late beyond it: the
worker ends with the numbers of the clean, ordered stream, and the late ones are dead-lettered
as ``too_late``."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ccpulse.processors.timefmt import format_ms, parse_ms
from tests.live import (
    WorkerProcess,
    log_length,
    produce_slowly,
    recent_shift,
    remaining_differences,
    wait_for,
    wait_for_log,
    with_noise,
)
from tests.reliability.conftest import RUNS

LATE = 25


def disorder(noisy: Path, clean: Path, out: Path, seed: int) -> int:
    """Shuffle every run of 12 consecutive lines (seconds of event time apart, well within the
    10-minute lateness), then append ``LATE`` new events each 15 minutes older than its
    agent's newest; returns how many events were reordered."""
    rng = random.Random(seed)
    lines = noisy.read_bytes().splitlines()
    moved = 0
    for start in range(0, len(lines), 12):
        chunk = lines[start:start + 12]
        order = list(chunk)
        rng.shuffle(order)
        moved += sum(a != b for a, b in zip(chunk, order, strict=True))
        lines[start:start + 12] = order
    newest: dict[str, int] = {}
    for raw in clean.read_bytes().splitlines():
        event = orjson.loads(raw)
        if "agent_id" in event:
            newest[event["agent_id"]] = max(newest.get(event["agent_id"], 0),
                                            parse_ms(event["ts"]))
    for i, agent in enumerate(rng.sample(sorted(newest), LATE)):
        lines.append(orjson.dumps({
            "event_id": f"late-{i}", "type": "agent.not_ready", "agent_id": agent,
            "reason": "lunch", "ts": format_ms(newest[agent] - 15 * 60_000)}))
    out.write_bytes(b"\n".join(lines) + b"\n")
    return moved


@pytest.mark.parametrize("run", range(RUNS))
def test_duplicates_reordering_and_late_events(
        run: int, worker_factory: Callable[..., WorkerProcess], kafka_bootstrap: str,
        redis_url: str, topics: dict[str, str], tmp_path: Path, record: Callable[..., None],
        ) -> None:
    clean = recent_shift(tmp_path / "clean.jsonl", agents=100, minutes=8, seed=60 + run)
    noisy, unique = with_noise(clean, tmp_path / "noisy.jsonl", seed=run)
    shuffled = tmp_path / "shuffled.jsonl"
    moved = disorder(noisy, clean, shuffled, seed=run)
    worker = worker_factory()
    worker.wait_healthy()
    produce_slowly(shuffled, kafka_bootstrap, topics, seconds=6).join(60)
    wait_for_log(redis_url, unique, 120, worker)
    diff = remaining_differences(worker, clean)
    record("duplicates (40), reordering within lateness, late events (25)", events=unique,
           injected=40 + moved + LATE, differences=len(diff))
    assert not diff, diff[:8]
    assert log_length(redis_url) == unique  # no duplicate and no late event in the log

    def too_late() -> float:
        return next(s.value for f in text_string_to_metric_families(worker.get("/metrics")[1])
                    for s in f.samples if s.name == "ccpulse_events_dead_lettered_total"
                    and s.labels["reason"] == "too_late")

    # The late events come last and change no KPI: the numbers converge before the consumer
    # has reported them (it reports once a second, after a log lookup of their ids).
    wait_for(lambda: too_late() == LATE, 30, f"{LATE} events dead-lettered as too_late")
    assert too_late() == LATE
