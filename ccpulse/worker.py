"""``ccpulse worker``: Kafka → validation → Redis event log → replica engine → /metrics, alerts.

The composition root of the live pipeline. Its "now" is the wall clock. Redis must be
reachable before consuming starts (the worker waits with backoff and says why); Kafka
outages are retried by the client library.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust
import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from alerts.engine import AlertEvaluator
from alerts.notify import LogNotifier
from ccpulse.exporter import KpiCollector
from ccpulse.http import MetricsServer
from ccpulse.runtime import Monitor
from ccpulse.settings import Settings, mask_url
from streams.consumer import BatchProcessor
from streams.kafka_io import ensure_topics
from streams.pipeline import Pipeline, PipelineStats
from streams.redis_log import RedisEventLog
from streams.replica import Replica
from streams.worker import WorkerTopics, build_app

log = logging.getLogger("ccpulse.worker")

MAX_BACKOFF_S = 15.0


def wall_ms() -> int:
    return int(time.time() * 1000)


def wait_for_redis(url: str) -> redis.Redis:
    """Connect, retrying with backoff: a worker started before Redis should wait, not crash."""
    client = redis.Redis.from_url(url)
    backoff = 0.5
    while True:
        try:
            client.ping()
            return client
        except redis.RedisError as exc:
            log.error("redis_unreachable", extra={"fields": {
                "redis": mask_url(url), "error": type(exc).__name__, "retry_in_s": backoff,
                "hint": "start Redis or set CCPULSE_REDIS_URL / --redis"}})
            time.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)


def run_worker(settings: Settings, *, partitions: int, batch_size: int) -> int:
    log.info("starting", extra={"fields": settings.describe()})
    sync_client = wait_for_redis(settings.redis)
    event_log = RedisEventLog(aioredis.Redis.from_url(settings.redis), settings.group)
    topics = WorkerTopics(settings.agent_topic, settings.interaction_topic,
                          settings.deadletter_topic)
    ensure_topics(settings.kafka, [topics.agent_states, topics.interactions, topics.deadletter],
                  partitions)

    pipeline = Pipeline(settings.engine)
    evaluator = AlertEvaluator(settings.thresholds,
                               generator_url=f"http://localhost:{settings.metrics_port}/metrics")
    monitor = Monitor(pipeline, evaluator, [LogNotifier()])
    replica = Replica(sync_client, event_log.stream_key, pipeline,
                      on_idle=lambda: monitor.advance(wall_ms()))

    stats = PipelineStats()
    registry = CollectorRegistry()
    registry.register(KpiCollector(  # type: ignore[arg-type]
        lambda: pipeline.snapshot(wall_ms()), stats, evaluator.firing_counts, wall_ms,
        last_event_ms=lambda: pipeline.stats.last_event_ms))

    def health() -> tuple[bool, str]:
        if not replica.is_alive():
            return False, "replica thread stopped"
        return (True, "ok") if replica.caught_up.is_set() else (False, "catching up")

    server = MetricsServer(registry, settings.metrics_host, settings.metrics_port, health)
    processor = BatchProcessor(stats, settings.engine.lateness_ms, wall_ms)
    app = build_app(group=settings.group, bootstrap=settings.kafka, topics=topics,
                    processor=processor, event_log=event_log, batch_size=batch_size)
    server.start()
    replica.start()
    log.info("serving_metrics", extra={"fields": {"port": server.port}})
    try:
        _run_faust(app)
    finally:
        replica.stop()
        server.stop()
    return 0


def _run_faust(app: faust.App) -> None:
    worker: Any = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
