"""What a replica's checkpoint costs and saves (``python -m bench checkpoint``): the engine
of a simulated floor is fed through a worker's pipeline, then checkpointed exactly as a worker
does (:class:`ccpulse.streams.checkpoint.Checkpoints`): how long the fork holds the caller,
how long the child writes, how much memory the child makes private (the pages whose objects'
reference counts it touches), the file's size, and the load a restart does — against the
same run's replay of the same events, which is what a restart without it does."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.live import backlog
from bench.procfs import private_kib
from ccpulse.processors.config import EngineConfig
from ccpulse.runtime import tune_gc
from ccpulse.streams.checkpoint import Checkpoints, header
from ccpulse.streams.pipeline import Pipeline

STREAM = "{ccpulse}:log"


def bench_checkpoint(agents: int, hours: float) -> dict[str, object]:
    lines = backlog(agents, hours)
    tune_gc()
    pipeline = Pipeline(dedup=False)
    started = time.perf_counter()
    for line in lines:
        pipeline.feed(line, None, now_ms=None)
    replay_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "replica.pickle"
        checkpoints = Checkpoints(path, every_s=1, clock=lambda: 1.0)
        state = (pipeline.engine, pipeline.stats, None)
        started = time.perf_counter()
        checkpoints.save(header(STREAM, EngineConfig(), "1-0", len(lines)), state)
        fork_s = time.perf_counter() - started
        child, peak_private = checkpoints.writing(), 0
        while child is not None and not checkpoints.finished():
            peak_private = max(peak_private, private_kib(child))
            time.sleep(0.05)
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        saved = Checkpoints(path, every_s=1).load(header(STREAM, EngineConfig()),
                                                   holds=lambda entry: True)
        load_s = time.perf_counter() - started
        size = path.stat().st_size if path.exists() else 0
    assert saved is not None and saved.entries == len(lines), "the checkpoint did not load"
    return {"events": len(lines), "replay_s": round(replay_s, 2), "fork_s": round(fork_s, 3),
            "child_write_s": round(write_s, 2),
            "child_peak_private_mib": round(peak_private / 1024, 1),
            "file_mib": round(size / 2**20, 1), "load_s": round(load_s, 2),
            "load_vs_replay": round(load_s / replay_s, 3)}
