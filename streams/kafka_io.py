"""Producing events to Kafka with kafka-python: ``ccpulse simulate --kafka``, ``replay --kafka``.

Keys follow contract §1: ``agent_id`` once an agent is involved, else ``queue_id``, so one
agent's events stay in order on one partition of each topic.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ccpulse.processors.timefmt import parse_ms
from ccpulse.streams.pipeline import SCHEDULE_TOPIC, topic_for_type

log = logging.getLogger("ccpulse.kafka")


def message_key(event: dict[str, Any]) -> bytes | None:
    key = event.get("agent_id") or event.get("queue_id")
    return str(key).encode() if key is not None else None


def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int,
                  **security: Any) -> None:
    """Create missing topics (an existing topic keeps its partitions)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, **security)
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(n, num_partitions=partitions, replication_factor=1)
               for n in names if n not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
    finally:
        admin.close()


def make_producer(bootstrap: str, **security: Any) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                         retries=10, **security)


def produce(
    producer: KafkaProducer,
    lines: Iterable[bytes],
    *,
    agent_topic: str,
    interaction_topic: str,
    schedule_topic: str = SCHEDULE_TOPIC,
    pace: Callable[[int], None] | None = None,
) -> int:
    """Send message values; each goes to the topic its ``type`` names.

    ``pace(ts_ms)`` is called before each event (real-time mode sleeps there). Lines that are
    not JSON objects with a ``type`` still go to the interactions topic, unchanged: producing
    bad input on purpose is how the dead-letter path is exercised.
    """
    sent = 0
    for raw in lines:
        try:
            event = orjson.loads(raw)
            kind = str(event.get("type", "")) if isinstance(event, dict) else ""
        except orjson.JSONDecodeError:
            event, kind = {}, ""
        if pace is not None and isinstance(event, dict) and "ts" in event:
            with contextlib.suppress(ValueError):
                pace(parse_ms(str(event["ts"])))
        topic = topic_for_type(kind, agent_topic, interaction_topic, schedule_topic)
        key = message_key(event) if isinstance(event, dict) else None
        producer.send(topic, key=key, value=raw)
        sent += 1
    try:
        producer.flush(timeout=60)
    except KafkaError as exc:
        raise RuntimeError(f"Kafka did not confirm every message: {exc}") from exc
    return sent


def realtime_pacer(speed: float = 1.0, anchor_ms: int | None = None) -> Callable[[int], None]:
    """Sleeps until the wall clock reaches each event's time (sped up by ``speed``).

    ``anchor_ms`` is the event time that corresponds to "now" (default: the first event's),
    so events before it — a warm-up history — go out at once.
    """
    start_wall = time.time() * 1000
    first: list[int] = [] if anchor_ms is None else [anchor_ms]

    def pace(ts_ms: int) -> None:
        if not first:
            first.append(ts_ms)
        due = start_wall + (ts_ms - first[0]) / speed
        delay = (due - time.time() * 1000) / 1000
        if delay > 0:
            time.sleep(delay)

    return pace
