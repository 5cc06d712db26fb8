"""``ccpulse worker``: Kafka → validation → Redis event log → replica engine → /metrics, alerts.

The composition root of the live pipeline. Its "now" is the wall clock. Redis must be
reachable before consuming starts (the worker waits with backoff and says why); Kafka
outages are retried by the client library. This process consumes (faust); a second one,
started here, replicates the log into the engine and serves metrics and alerts
(:mod:`ccpulse.serving`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import ssl
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import faust
import redis
import redis.asyncio as aioredis
from kafka.errors import KafkaError

from ccpulse.logs import logging_config
from ccpulse.serving import ConsumerReport, serve_then_exit, wall_ms
from ccpulse.settings import ConfigError, Settings, kafka_python_security, mask_url
from ccpulse.streams.consumer import BatchProcessor
from ccpulse.streams.kafka_io import ensure_topics
from ccpulse.streams.pipeline import PipelineStats
from ccpulse.streams.redis_log import RedisEventLog, partition_key
from ccpulse.streams.retry import retrying
from ccpulse.streams.worker import (
    DataDirError,
    WorkerTopics,
    build_app,
    prepare_datadir,
    use_uvloop,
)

log = logging.getLogger("ccpulse.worker")
T = TypeVar("T")

REPORT_EVERY_S = 1.0
# How long an orderly stop may take before the process exits anyway. faust's stop commits
# and leaves the group; with the broker gone it waits out every request timeout (over 30 s
# in the tests, where systemd's default of 90 s would then SIGKILL it). Exiting early loses
# nothing: Redis, not Kafka, holds where the worker resumes (its log and positions are
# written in one transaction), so a forced exit is a kill -9, which the reliability suite
# shows ends with the same numbers.
STOP_GRACE_S = 10.0


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
    return retrying(event, fields, errors, level=logging.ERROR)(attempt)


def wait_for_redis(url: str) -> None:
    client = redis.Redis.from_url(url)
    until_reachable(client.ping, redis.RedisError, "redis_unreachable", {
        "redis": mask_url(url), "hint": "start Redis or set CCPULSE_REDIS_URL / --redis"})
    client.close()


def wait_for_kafka(settings: Settings, names: list[str], partitions: int) -> None:
    """Create the topics once Kafka can be reached."""
    security = kafka_python_security(settings)
    until_reachable(lambda: ensure_topics(settings.kafka, names, partitions, **security),
                    KafkaError, "kafka_unreachable", {
                        "kafka": settings.kafka,
                        "hint": "start Kafka or set CCPULSE_KAFKA_BOOTSTRAP / --kafka"})


def run_worker(settings: Settings, *, partitions: int) -> int:
    """The consumer here, replica/metrics/alerts in a second process (:mod:`ccpulse.serving`).
    Returns non-zero when that process died: the worker is not doing its job then."""
    log.info("starting", extra={"fields": settings.describe()})
    try:  # first: a worker that cannot start should say so before waiting for servers
        datadir = prepare_datadir(settings.data_dir, settings.group)
    except DataDirError as exc:
        raise ConfigError(str(exc)) from None
    wait_for_redis(settings.redis)
    event_log = RedisEventLog(aioredis.Redis.from_url(settings.redis), settings.group)
    topics = WorkerTopics(settings.agent_topic, settings.interaction_topic,
                          settings.deadletter_topic, settings.schedule_topic)
    wait_for_kafka(settings, [*topics.inputs, topics.deadletter, settings.alerts_topic],
                   partitions)

    context = multiprocessing.get_context("spawn")  # no inherited threads or sockets
    reports, report_sender = context.Pipe(duplex=False)
    serving = context.Process(target=serve_then_exit, args=(settings, reports),
                              name="ccpulse-serving", daemon=True)
    serving.start()
    reports.close()  # the child's end: only the child holds it now

    stats = PipelineStats()
    processor = BatchProcessor(stats, settings.engine.lateness_ms, wall_ms)
    commit_seconds: list[float] = []
    assigned: list[bool] = []  # non-empty once the group has given this worker partitions
    app = build_app(group=settings.group, bootstrap=settings.kafka, topics=topics,
                    processor=processor, event_log=event_log, batch_size=settings.batch_size,
                    broker_credentials=kafka_credentials(settings),
                    on_commit=commit_seconds.append,
                    instance_id=settings.instance_id or None,
                    datadir=datadir, on_assigned=lambda: assigned.append(True))

    lost: list[int | None] = []  # the serving process's exit code, once it is gone

    def exit_code() -> int:
        """Non-zero once the serving process died, however the stop ends."""
        return 1 if lost else 0

    @app.timer(REPORT_EVERY_S)
    async def report() -> None:
        """Send this process's numbers to the serving process; stop if it is gone."""
        if not serving.is_alive():
            if not lost:
                lost.append(serving.exitcode)
                log.error("serving_process_stopped", extra={"fields": {
                    "exitcode": serving.exitcode,
                    "hint": "its log lines say why; the worker stops so that it is restarted"}})
                os.kill(os.getpid(), signal.SIGTERM)  # faust's orderly shutdown
            return
        observed = commit_seconds[:]
        commit_seconds.clear()
        try:
            report_sender.send(ConsumerReport(
                processed=dict(stats.processed), dead_lettered=dict(stats.dead_lettered),
                duplicates=stats.duplicates, lag=consumer_lag(app, processor, topics),
                commit_seconds=observed, assigned=bool(assigned),
                **agent_partitions(app, topics.agent_states)))
        except OSError:  # it died since is_alive(): the next tick stops the worker
            return

    try:
        _run_faust(app, settings.log_format, exit_code)
    finally:
        report_sender.close()  # the serving process sees the pipe close and exits
        serving.join(timeout=10)
        if serving.is_alive():
            serving.terminate()
    return exit_code()


def consumer_lag(app: faust.App, processor: BatchProcessor, topics: WorkerTopics,
                 ) -> dict[tuple[str, int], int]:
    """Per assigned input partition, what Kafka holds that this worker has not read yet
    (faust's own internal topics left out)."""
    try:
        assigned = app.consumer.assignment()
    except Exception:
        return {}
    lag = {}
    for tp in assigned:
        if tp.topic not in topics.inputs:
            continue
        highwater = app.consumer.highwater(tp)
        read = processor.next_to_read(partition_key(tp.topic, tp.partition))
        if highwater is not None:
            lag[(tp.topic, tp.partition)] = max(highwater - read, 0)
    return lag


def agent_partitions(app: faust.App, topic: str) -> dict[str, Any]:
    """The agent-state topic's partition count and the partitions of it this worker owns:
    which agents' series it exports (:mod:`ccpulse.sharding`)."""
    try:
        owned = frozenset(tp.partition for tp in app.consumer.assignment() if tp.topic == topic)
        count = partition_count(app, topic)
    except Exception:  # no consumer yet, or in the middle of a rebalance
        return {}
    return {"agent_partitions": count, "owned_agent_partitions": owned}


def partition_count(app: faust.App, topic: str) -> int | None:
    """How many partitions ``topic`` has, from the consumer's cluster metadata. faust's own
    ``topic_partitions`` reads aiokafka's group-coordinator snapshot, which only the group's
    leader fills (a second worker exported no agent at all); aiokafka's
    ``partitions_for_topic`` is public, reached through faust's consumer thread (hence the
    upper bound on faust-streaming)."""
    thread = getattr(app.consumer, "_thread", None)
    if thread is not None:
        partitions = thread._ensure_consumer().partitions_for_topic(topic)
        if partitions:
            return len(partitions)
    return app.consumer.topic_partitions(topic)


class _BoundedStopWorker(faust.Worker):
    """faust's worker, whose stop ends the process after :data:`STOP_GRACE_S` at most,
    with the status :func:`run_worker` would have returned."""

    exit_code: Callable[[], int]

    async def on_stop(self) -> None:
        timer = threading.Timer(STOP_GRACE_S, exit_after_grace, args=(self.exit_code,))
        timer.daemon = True  # a stop that finishes in time exits without waiting for it
        timer.start()
        await super().on_stop()


def exit_after_grace(exit_code: Callable[[], int]) -> None:
    """End the process now, with ``exit_code()``: the serving process sees the pipe close.
    The stop that took too long was waiting for Kafka (commit, leave the group) or for the
    serving process to go."""
    code = exit_code()
    log.warning("stop_forced", extra={"fields": {
        "after_s": STOP_GRACE_S, "exitcode": code,
        "hint": "the orderly stop did not finish (Kafka unreachable?); nothing is lost, the "
                "next start resumes from the positions in Redis"}})
    logging.shutdown()
    os._exit(code)


def _run_faust(app: faust.App, log_format: str, exit_code: Callable[[], int]) -> None:
    use_uvloop()
    worker: Any = _BoundedStopWorker(app, loglevel="INFO", quiet=True,
                                     redirect_stdouts=False,
                                     logging_config=logging_config(log_format))
    worker.exit_code = exit_code
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
