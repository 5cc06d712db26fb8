"""The consumer's own work per Kafka message, without a broker (``python -m bench consumer``):
what a worker adds to its Kafka library's per-message cost — decode and validation, the
event-time aligner, the lateness check, the acknowledgement bookkeeping and the commit's
arguments (zstd included) — over a simulated shift cut into the worker's 2,000-message
batches, against the same run's bare ``msgspec`` decode of the same messages. The live
worker's rate against a bare faust agent (``python -m bench live``) varies more from run to
run than this work is worth, so it is measured here alone."""

from __future__ import annotations

import time

import msgspec

from bench.live import backlog
from ccpulse.streams.consumer import BatchProcessor, RawMessage
from ccpulse.streams.pipeline import PipelineStats, topic_for_type
from ccpulse.streams.redis_log import RedisEventLog

BATCH = 2000  # the worker's default batch size
PARTITIONS = 4


class _NoRedis:
    """The commit script is never run: its arguments are what the consumer builds."""

    def register_script(self, _script: str) -> object:
        return lambda keys, args: 0


def bench_consumer(agents: int, hours: float) -> dict[str, object]:
    lines = backlog(agents, hours)
    types = [msgspec.json.decode(line)["type"] for line in lines]
    sources = [(topic_for_type(kind), index % PARTITIONS, index, None, line)
               for index, (kind, line) in enumerate(zip(types, lines, strict=True))]
    event_log = RedisEventLog(_NoRedis(), "bench")

    def consume() -> float:
        processor = BatchProcessor(PipelineStats(), lateness_ms=600_000,
                                   clock_ms=lambda: 2**62)
        started = time.perf_counter()
        for start in range(0, len(sources), BATCH):
            batch = [RawMessage(*source, handle=index)
                     for index, source in enumerate(sources[start:start + BATCH])]
            prepared = processor.prepare(batch)
            event_log.commit_args(prepared.offsets, prepared.accepted)
            processor.committed(prepared, len(prepared.accepted))
        return time.perf_counter() - started

    runs = sorted(consume() for _ in range(5))
    started = time.perf_counter()
    for line in lines:
        msgspec.json.decode(line)
    bare = time.perf_counter() - started
    median = runs[len(runs) // 2]
    return {"messages": len(lines), "consumer_us_per_message": round(median / len(lines) * 1e6, 2),
            "runs_s": [round(r, 3) for r in runs],
            "bare_decode_us_per_message": round(bare / len(lines) * 1e6, 2)}
