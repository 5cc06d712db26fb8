"""The faust-streaming application of ``ccpulse worker``: thin, as faust's docs advise.

One agent with ``concurrency=1`` (faust-streaming issue 606: with more, commits can pass
unprocessed messages) reads both input topics as raw bytes in batches (``take_events``),
hands them to :class:`~streams.consumer.BatchProcessor`, sends refusals to the dead-letter
topic with their provenance in headers, and commits the batch to Redis. Events are acked by
hand after the commit, so Kafka's committed offsets never pass Redis's; a Redis outage
blocks the agent (with backoff) instead of acknowledging work that was not stored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP

from streams.consumer import BatchProcessor, Prepared, RawMessage
from streams.redis_log import RedisEventLog, decode_offsets

log = logging.getLogger("ccpulse.worker")

MAX_BACKOFF_S = 10.0


@dataclass(frozen=True)
class WorkerTopics:
    agent_states: str = "cc.agent-states"
    interactions: str = "cc.interactions"
    deadletter: str = "cc.deadletter"


def build_app(
    *,
    group: str,
    bootstrap: str,
    topics: WorkerTopics,
    processor: BatchProcessor,
    event_log: RedisEventLog,
    batch_size: int = 2000,
    batch_within_s: float = 0.1,
    broker_credentials: Any = None,
) -> faust.App:
    app = faust.App(
        group,
        broker=[f"kafka://{host}" for host in bootstrap.split(",")],
        broker_credentials=broker_credentials,
        store="memory://",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=True,
    )
    source = app.topic(topics.agent_states, topics.interactions,
                       key_serializer="raw", value_serializer="raw")
    deadletter = app.topic(topics.deadletter, key_serializer="raw", value_serializer="raw")

    @app.on_partitions_assigned.connect
    async def resume(_app: faust.App, assigned: set, **_: Any) -> None:  # type: ignore[misc]
        """Load the offsets stored with the state; skipping below them makes redeliveries free."""
        processor.offsets.update(decode_offsets(await _retry(event_log.stored_offsets)))
        log.info("partitions_assigned", extra={"fields": {"partitions": len(assigned)}})

    def has_backlog(key: str) -> bool:
        """Kafka holds messages of this partition that we have not read yet."""
        topic, partition = key.rsplit(":", 1)
        highwater = app.consumer.highwater(TP(topic, int(partition)))
        seen = processor.aligner.next_offset(key)
        return highwater is None or seen is None or seen < highwater

    processor.aligner.has_backlog = has_backlog

    @app.agent(source, concurrency=1)
    async def consume(stream: faust.StreamT) -> None:
        # noack_take: events are acknowledged by hand, only once released by the aligner and
        # committed to Redis, so Kafka's committed offsets never pass a held event.
        async for events in stream.noack_take(batch_size, within=batch_within_s):
            messages = [RawMessage(e.message.topic, e.message.partition, e.message.offset,
                                   e.message.key, e.message.value, e) for e in events]
            prepared = processor.prepare(messages)
            await _dead_letters(deadletter, prepared)
            added = await _retry(lambda p=prepared: event_log.commit(p.offsets, p.accepted))
            processor.committed(prepared, int(added))
            for event in prepared.done:
                await stream.ack(event)

    return app


async def _dead_letters(topic: faust.TopicT, prepared: Prepared) -> None:
    for letter, message in prepared.dead:
        headers = {
            "ccpulse-source-topic": letter.topic.encode(),
            "ccpulse-source-partition": str(letter.partition).encode(),
            "ccpulse-source-offset": str(letter.offset).encode(),
            "ccpulse-reason": letter.reason.encode(),
            "ccpulse-detail": letter.detail.encode(),
        }
        await topic.send(key=message.key, value=message.value, headers=headers)
        log.warning("dead_lettered", extra={"fields": {
            "reason": letter.reason, "topic": letter.topic, "partition": letter.partition,
            "offset": letter.offset}})


async def _retry(call: Any) -> Any:
    """Await ``call()`` until it succeeds, backing off; the stream waits rather than drops."""
    backoff = 0.5
    while True:
        try:
            return await call()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("redis_unavailable", extra={"fields": {
                "error": type(exc).__name__, "retry_in_s": backoff,
                "hint": "check CCPULSE_REDIS_URL and that Redis is up"}})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
