"""``ccpulse worker``: Kafka → validation → Redis event log → replica engine → /metrics, alerts.

The composition root of the live pipeline. Its "now" is the wall clock. Redis must be
reachable before consuming starts (the worker waits with backoff and says why); Kafka
outages are retried by the client library.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import faust
import redis
import redis.asyncio as aioredis
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily

from alerts.alertmanager import AlertmanagerNotifier
from alerts.leader import LeaderNotifier
from alerts.notify import LogNotifier, TopicNotifier
from ccpulse.exporter import KpiCollector
from ccpulse.http import MetricsServer
from ccpulse.logs import logging_config
from ccpulse.runtime import Monitor, alert_evaluator
from ccpulse.settings import Settings, kafka_python_security, mask_url
from streams.consumer import BatchProcessor
from streams.kafka_io import ensure_topics, make_producer
from streams.pipeline import Pipeline, PipelineStats
from streams.redis_log import RedisEventLog, partition_key
from streams.replica import Replica
from streams.worker import WorkerTopics, build_app

log = logging.getLogger("ccpulse.worker")
T = TypeVar("T")

MAX_BACKOFF_S = 15.0
# Commits are one Lua call on loopback or in the same zone: milliseconds, not seconds.
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


def wall_ms() -> int:
    return int(time.time() * 1000)


def kafka_credentials(settings: Settings) -> Any:
    """faust's credentials object for the configured Kafka security (None for PLAINTEXT)."""
    options = kafka_python_security(settings)  # validates the combination
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=options.get("ssl_cafile"))
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=options["sasl_plain_username"], password=options["sasl_plain_password"],
        mechanism=options["sasl_mechanism"],
        ssl_context=context if protocol == "SASL_SSL" else None)


def until_reachable(attempt: Callable[[], T], errors: type[Exception] | tuple[type[Exception], ...],
                    event: str, fields: dict[str, object]) -> T:
    """Call ``attempt`` until it stops raising ``errors``, backing off and saying why: a
    worker started before its dependencies should wait for them, not crash-loop."""
    backoff = 0.5
    while True:
        try:
            return attempt()
        except errors as exc:
            log.error(event, extra={"fields": {**fields, "error": type(exc).__name__,
                                               "retry_in_s": backoff}})
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


def wait_for_redis(url: str) -> redis.Redis:
    client = redis.Redis.from_url(url)
    until_reachable(client.ping, redis.RedisError, "redis_unreachable", {
        "redis": mask_url(url), "hint": "start Redis or set CCPULSE_REDIS_URL / --redis"})
    return client


def wait_for_kafka(settings: Settings, names: list[str], partitions: int) -> None:
    """Create the topics once Kafka can be reached."""
    security = kafka_python_security(settings)
    until_reachable(lambda: ensure_topics(settings.kafka, names, partitions, **security),
                    KafkaError, "kafka_unreachable", {
                        "kafka": settings.kafka,
                        "hint": "start Kafka or set CCPULSE_KAFKA_BOOTSTRAP / --kafka"})


def run_worker(settings: Settings, *, partitions: int, batch_size: int,
               log_format: str = "text") -> int:
    log.info("starting", extra={"fields": settings.describe()})
    sync_client = wait_for_redis(settings.redis)
    event_log = RedisEventLog(aioredis.Redis.from_url(settings.redis), settings.group)
    topics = WorkerTopics(settings.agent_topic, settings.interaction_topic,
                          settings.deadletter_topic)
    wait_for_kafka(settings, [topics.agent_states, topics.interactions, topics.deadletter,
                              settings.alerts_topic], partitions)

    pipeline = Pipeline(settings.engine)
    evaluator = alert_evaluator(settings)
    alert_producer = make_producer(settings.kafka, **kafka_python_security(settings))
    senders: list[Any] = [LogNotifier(), TopicNotifier(
        lambda key, value: alert_producer.send(settings.alerts_topic, key=key, value=value),
        flush=lambda: alert_producer.flush(timeout=10))]
    alertmanager = None
    if settings.alertmanager:
        alertmanager = AlertmanagerNotifier(settings.alertmanager, firing=evaluator.firing)
        senders.append(alertmanager.start())
    leader = LeaderNotifier(sync_client, evaluator, senders, prefix=event_log.prefix)
    leader.restore()
    monitor = Monitor(pipeline, evaluator, [leader])
    replica = Replica(sync_client, event_log.stream_key, pipeline,
                      on_idle=lambda: monitor.advance(wall_ms()))

    stats = PipelineStats()
    registry = CollectorRegistry()
    registry.register(KpiCollector(  # type: ignore[arg-type]
        lambda: pipeline.snapshot(wall_ms()), stats, alerts=evaluator, clock_ms=wall_ms,
        last_event_ms=lambda: pipeline.stats.last_event_ms, scorecards=settings.scorecards))

    def health() -> tuple[bool, str]:
        if not replica.is_alive():
            return False, "replica thread stopped"
        return (True, "ok") if replica.caught_up.is_set() else (False, "catching up")

    server = MetricsServer(registry, settings.metrics_host, settings.metrics_port, health,
                           settings.metrics_credentials)
    processor = BatchProcessor(stats, settings.engine.lateness_ms, wall_ms)
    commit_seconds = Histogram("ccpulse_redis_commit_seconds",
                               "latency of committing a batch and its offsets to Redis",
                               registry=registry, buckets=COMMIT_BUCKETS)
    app = build_app(group=settings.group, bootstrap=settings.kafka, topics=topics,
                    processor=processor, event_log=event_log, batch_size=batch_size,
                    broker_credentials=kafka_credentials(settings),
                    on_commit=commit_seconds.observe,
                    instance_id=os.environ.get("CCPULSE_INSTANCE_ID") or None)
    registry.register(ConsumerLagCollector(app, processor))  # type: ignore[arg-type]
    server.start()
    replica.start()
    log.info("serving_metrics", extra={"fields": {"port": server.port}})
    try:
        _run_faust(app, log_format)
    finally:
        replica.stop()
        server.stop()
        if alertmanager is not None:
            alertmanager.stop()
        alert_producer.close(timeout=5)
    return 0


class ConsumerLagCollector:
    """``ccpulse_consumer_lag_messages{topic,partition}``: what Kafka holds, unread by us."""

    def __init__(self, app: faust.App, processor: BatchProcessor) -> None:
        self._app = app
        self._processor = processor

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily("ccpulse_consumer_lag_messages",
                                "messages in Kafka not yet read by this worker",
                                labels=["topic", "partition"])
        try:
            assigned = self._app.consumer.assignment()
        except Exception:
            assigned = set()
        for tp in sorted(assigned):
            highwater = self._app.consumer.highwater(tp)
            key = partition_key(tp.topic, tp.partition)
            read = max(self._processor.aligner.next_offset(key) or 0,
                       self._processor.offsets.get(key, 0))
            if highwater is not None:
                lag.add_metric([tp.topic, str(tp.partition)], max(highwater - read, 0))
        yield lag


def _run_faust(app: faust.App, log_format: str) -> None:
    worker: Any = faust.Worker(app, loglevel="INFO", quiet=True, redirect_stdouts=False,
                               logging_config=logging_config(log_format))
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
