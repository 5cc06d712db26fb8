"""The faust-streaming application of ``ccpulse worker``: thin, as faust's docs advise.

One agent with ``concurrency=1`` (faust-streaming issue 606: with more, commits can pass
unprocessed messages) reads both input topics as raw bytes in batches (``take_events``),
hands them to :class:`~streams.consumer.BatchProcessor`, sends refusals to the dead-letter
topic with their provenance in headers, and commits the batch to Redis. Events are acked by
hand after the commit, so Kafka's committed offsets never pass Redis's; a Redis outage
blocks the agent (with backoff) instead of acknowledging work that was not stored.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import mode.loop
from faust.types import TP

from ccpulse.streams.consumer import BatchProcessor, Prepared, RawMessage
from ccpulse.streams.pipeline import SCHEDULE_TOPIC, DeadLetter
from ccpulse.streams.redis_log import RedisEventLog, decode_offsets, partition_key
from ccpulse.streams.retry import async_retrying
from ccpulse.streams.throttle import Throttle

log = logging.getLogger("ccpulse.worker")



def use_uvloop() -> None:
    """Run faust on uvloop (libuv) instead of asyncio's own event loop, as faust's
    ``--loop uvloop`` does. Its consumer awaits several event-loop round trips per message,
    so the loop is what bounds a worker: a bare faust agent read 5,100-6,700 messages/s on
    asyncio's loop and 7,300-7,700 on uvloop from the same broker (BENCHMARKS.md). Call
    before the app's worker starts; where uvloop has no wheel (Windows) asyncio's loop
    stays."""
    if importlib.util.find_spec("uvloop") is not None:
        mode.loop.use("uvloop")


class DataDirError(Exception):
    """The worker's data directory cannot be created or written; the message names it."""


def prepare_datadir(base: Path, app_name: str) -> Path:
    """Create (parents included) and return the directory faust is given for ``app_name``.

    faust makes one even with the in-memory store — by default ``<group>-data/`` in the
    working directory, littering wherever a worker ran — and creates it with a plain
    ``mkdir``, without parents: given a path under a folder that did not exist yet, the
    worker died at start with a ``FileNotFoundError`` on every machine that had never run it
    (issue 17). The state is in Redis; the serving process writes its replica's checkpoint in the
    base directory (ccpulse.streams.checkpoint), which saves replay time, nothing else."""
    path = base / app_name
    try:
        path.mkdir(parents=True, exist_ok=True)
        # a probe of this process's own: workers of one group share the directory and start
        # together (a fixed name let one delete another's probe, and that worker exited)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise DataDirError(f"cannot use {path} as the worker's data directory "
                           f"({exc.strerror or exc}): point --data-dir, CCPULSE_DATA_DIR or "
                           "the config key data_dir at a writable directory") from exc
    return path


def current_messages(events: Iterable[Any], owned: Set[TP], generation: int | None,
                     ) -> list[RawMessage]:
    """The messages of a taken batch that belong to the current assignment.

    A batch collected across a rebalance holds messages fetched before it: of partitions
    revoked since (their new owner's now), and of partitions assigned to us again, read
    *after* events the aligner forgot at the revoke. Those must go too: applied, they moved
    the partition's commit offset past the forgotten events, which the seek back to Redis's
    offset then skipped as already stored (a rebalance run ended with 781 of 783 events in
    the log and every offset committed). faust stamps each message with the group
    generation it was fetched in, as its own stream does to skip stale ones; messages of an
    older generation come again from the new owner's seek."""
    return [RawMessage(m.topic, m.partition, m.offset, m.key, m.value, e)
            for e in events
            if (m := e.message).generation_id == generation and m.tp in owned]


def anchor_recovery_seek(consumer: Any,
                        seek: Callable[[set[TP]], Awaitable[dict[TP, int]]]) -> None:
    """faust ends every rebalance with its recovery's ``perform_seek``: each partition back to
    Kafka's committed offset. It runs concurrently with ``on_partitions_assigned`` and its
    seek, done in the consumer's thread, can land after ours. This makes ``seek`` (to Redis's
    positions) the last word of that step, and reports its positions as the committed
    offsets, so faust's own bookkeeping (read and committed offsets) agrees. Without it, a
    group whose Kafka offsets ran ahead of Redis's resumed past events that never reached
    Redis, and the aligner waited for them forever (a kill -9 reliability run stalled with
    half the log missing; ``test_redis_not_kafka_decides_where_a_worker_resumes``)."""
    seek_to_kafka = consumer.seek_to_committed

    async def seek_to_committed() -> Mapping[TP, int]:
        committed = dict(await seek_to_kafka())
        committed.update(await seek(consumer.assignment()))
        return committed

    consumer.seek_to_committed = seek_to_committed


@dataclass(frozen=True)
class WorkerTopics:
    agent_states: str
    interactions: str
    deadletter: str
    schedules: str = SCHEDULE_TOPIC

    @property
    def inputs(self) -> tuple[str, str, str]:
        """The topics events are read from."""
        return (self.agent_states, self.interactions, self.schedules)


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
    on_commit: Callable[[float], None] | None = None,
    instance_id: str | None = None,
    datadir: Path,
    on_assigned: Callable[[], None] | None = None,
) -> faust.App:
    """``on_commit(seconds)`` observes each Redis commit's latency. ``instance_id`` turns on
    Kafka static membership: a restarted worker with the same id takes its partitions back at
    once instead of waiting for the dead member's session to expire. ``datadir`` comes from
    :func:`prepare_datadir`; ``on_assigned()`` runs after each partition assignment."""
    app = faust.App(
        group,
        broker=[f"kafka://{host}" for host in bootstrap.split(",")],
        broker_credentials=broker_credentials,
        store="memory://",
        datadir=datadir,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=True,
        # The aligner holds events unacknowledged on purpose; a rebalance must not wait for
        # them (they are re-read by the partition's next owner, and dedup absorbs repeats).
        stream_wait_empty=False,
        # A worker killed without leaving the group blocks its partitions until its session
        # expires: 10 s instead of faust's 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        consumer_group_instance_id=instance_id,
    )
    source = app.topic(*topics.inputs, key_serializer="raw", value_serializer="raw")
    deadletter = app.topic(topics.deadletter, key_serializer="raw", value_serializer="raw")

    async def seek_to_stored(partitions: Iterable[TP]) -> dict[TP, int]:
        """Seek each input partition to where Redis says it resumes: the offset stored with
        the state, or the beginning where Redis holds nothing of it. Never Kafka's committed
        offset: events the aligner still held when a partition was taken away must come
        again, and faust acknowledges — so commits — messages it skips around a rebalance,
        which can put Kafka's offset past events that never reached Redis. Redis's offsets
        are read each time: this runs from ``on_partitions_assigned`` and from faust's
        recovery, concurrently and in either order."""
        processor.offsets.update(decode_offsets(await _retry(event_log.stored_offsets)))
        positions = {tp: processor.offsets.get(partition_key(tp.topic, tp.partition), 0)
                     for tp in partitions if tp.topic in topics.inputs}
        for tp, offset in positions.items():
            await app.consumer.seek(tp, offset)
        return positions

    @app.on_partitions_assigned.connect
    async def resume(_app: faust.App, assigned: set, **_: Any) -> None:  # type: ignore[misc]
        """Skipping below the offsets stored with the state makes redeliveries free."""
        keys = [partition_key(tp.topic, tp.partition)
                for tp in await seek_to_stored(assigned)]
        processor.aligner.track(keys)
        log.info("partitions_assigned", extra={"fields": {"partitions": len(keys)}})
        if on_assigned is not None:
            on_assigned()

    anchored = False

    @app.on_partitions_revoked.connect
    async def release_revoked(_app: faust.App, revoked: set, **_: Any) -> None:  # type: ignore[misc]
        """Also where Redis's positions take over faust's recovery seek: this signal comes
        before every group join, the first one included (with nothing revoked), so before
        the recovery of any assignment."""
        nonlocal anchored
        if not anchored:
            anchor_recovery_seek(app.consumer, seek_to_stored)
            anchored = True
        processor.forget([partition_key(tp.topic, tp.partition) for tp in revoked])

    def has_backlog(key: str) -> bool:
        """Kafka holds messages of this partition that we have not read yet. A partition with
        nothing new since the offsets restored from Redis delivers nothing, so those offsets
        count as read: otherwise it would hold every other partition back forever."""
        topic, partition = key.rsplit(":", 1)
        tp = TP(topic, int(partition))
        if tp not in app.consumer.assignment():
            # Revoked in a rebalance still under way: it delivers nothing more to us, and
            # asking for its highwater raised and stopped the stream (found by the
            # reliability suite's rebalance runs).
            return False
        highwater = app.consumer.highwater(tp)
        read = processor.next_to_read(key)
        return highwater is None or read < highwater

    processor.aligner.has_backlog = has_backlog
    dead_letter_log = DeadLetterLog()

    @app.agent(source, concurrency=1)
    async def consume(stream: faust.StreamT) -> None:
        # noack_take: events are acknowledged by hand, only once released by the aligner and
        # committed to Redis, so Kafka's committed offsets never pass a held event.
        async for events in stream.noack_take(batch_size, within=batch_within_s):
            messages = current_messages(events, app.consumer.assignment(),
                                        app.consumer_generation_id)
            prepared = processor.prepare(messages)
            if prepared.late:
                known = await _retry(lambda p=prepared: event_log.known(
                    [accepted for _, _, accepted in p.late]))
                processor.settle_late(prepared, [bool(k) for k in known])
            await _dead_letters(deadletter, prepared, dead_letter_log)
            started = time.perf_counter()
            added = await _retry(lambda p=prepared: event_log.commit(p.offsets, p.accepted))
            if on_commit is not None:
                on_commit(time.perf_counter() - started)
            processor.committed(prepared, int(added))
            for event in prepared.done:
                await stream.ack(event)

    return app


class DeadLetterLog:
    """At most one log line per reason every ``every_s``, with the count and a sample position:
    a flood of bad input must not become a flood of log lines."""

    def __init__(self, every_s: float = 10.0) -> None:
        self._every_s = every_s
        self._by_reason: dict[str, Throttle] = {}

    def record(self, letter: DeadLetter) -> None:
        throttle = self._by_reason.setdefault(letter.reason, Throttle(self._every_s))
        count = throttle.count(time.monotonic())
        if count is not None:
            log.warning("dead_lettered", extra={"fields": {
                "reason": letter.reason, "count": count, "topic": letter.topic,
                "partition": letter.partition, "offset": letter.offset}})


async def _dead_letters(topic: faust.TopicT, prepared: Prepared, log_: DeadLetterLog) -> None:
    for letter, message in prepared.dead:
        headers = {
            "ccpulse-source-topic": letter.topic.encode(),
            "ccpulse-source-partition": str(letter.partition).encode(),
            "ccpulse-source-offset": str(letter.offset).encode(),
            "ccpulse-reason": letter.reason.encode(),
            "ccpulse-detail": letter.detail.encode(),
        }
        await topic.send(key=message.key, value=message.value, headers=headers)
        log_.record(letter)


async def _retry(call: Callable[[], Awaitable[Any]]) -> Any:
    """Await ``call()`` until Redis answers, backing off; the stream waits rather than drops."""
    retry = async_retrying("redis_unavailable", {
        "hint": "check CCPULSE_REDIS_URL and that Redis is up"})
    started = time.monotonic()

    async def attempt() -> Any:
        # a coroutine function: tenacity runs a plain callable synchronously, and would hand
        # back the awaitable that redis.asyncio returns instead of its result
        return await call()

    result = await retry(attempt)
    if retry.statistics.get("attempt_number", 1) > 1:
        log.info("redis_reachable", extra={"fields": {
            "away_s": round(time.monotonic() - started, 1)}})
    return result
