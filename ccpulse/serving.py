"""The worker's second process: replica engine → ``/metrics``, alerts.

``ccpulse worker`` runs two processes so the two halves do not share one interpreter lock:
the faust consumer (Kafka → validation → Redis commit, :mod:`ccpulse.worker`) and this one,
which tails the shared Redis log into its own engine, serves ``/metrics`` and ``/healthz``,
and evaluates and sends alerts. Profiling showed the replica taking the consumer's time
slices: on two cores each half now has one.

The consumer reports its own numbers (events processed and dead-lettered, duplicates,
partition lag, commit latencies) over a pipe once a second; they are exported from here.
The pipe is also the lifeline: when the consumer process ends — even by kill -9 — the pipe
closes and this process exits at once, so no orphan keeps the metrics port.
"""

from __future__ import annotations

import logging
import logging.config
import os
import re
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as CounterMetric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ccpulse.alerts.alertmanager import AlertmanagerNotifier
from ccpulse.alerts.engine import AlertEvaluator
from ccpulse.alerts.leader import LeaderNotifier
from ccpulse.alerts.notify import LogNotifier, TopicNotifier
from ccpulse.api import RecentSnapshot, api, readers
from ccpulse.exporter import KpiCollector
from ccpulse.heap import release_free_heap
from ccpulse.history import DAY_MS, HistoryStore, IntervalWriter
from ccpulse.http import MetricsServer
from ccpulse.logs import logging_config
from ccpulse.processors.config import EngineConfig
from ccpulse.runtime import LeaseKeeper, Monitor, alert_evaluator, tune_gc
from ccpulse.scrape_ahead import ScrapeAhead
from ccpulse.settings import Settings, kafka_python_security
from ccpulse.sharding import AgentShards
from ccpulse.snapshot_cost import SnapshotCosts
from ccpulse.streams.checkpoint import Checkpoints
from ccpulse.streams.checkpoint import header as checkpoint_header
from ccpulse.streams.kafka_io import make_producer
from ccpulse.streams.pipeline import Pipeline, PipelineStats
from ccpulse.streams.redis_log import KEY_PREFIX, log_key, trim_log
from ccpulse.streams.replica import Replica
from ccpulse.web import web_app

log = logging.getLogger("ccpulse.worker")

# Commits are one Lua call on loopback or in the same zone: milliseconds, not seconds.
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
# An evaluation runs a moment after its instant; one interval (15 s) late, it is falling behind.
EVALUATION_DELAY_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)
# A consumer silent this long is stuck (it reports every second): the worker is unhealthy.
REPORT_STALE_S = 30.0
TRIM_EVERY_MS = 10 * 60_000
# Entry ids carry Redis's clock, the horizon is judged by ours: room for clocks that disagree.
TRIM_SLACK_MS = 60 * 60_000


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class ConsumerReport:
    """What the consumer process knows and this one exports; sent once a second."""

    processed: dict[tuple[str, str], int] = field(default_factory=dict)  # (topic, type)
    dead_lettered: dict[str, int] = field(default_factory=dict)  # reason
    duplicates: int = 0
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition)
    commit_seconds: list[float] = field(default_factory=list)  # since the previous report
    assigned: bool = False  # the group has given this worker its partitions (maybe none)
    # the agent-state topic's partition count and the ones this worker owns (sharding);
    # None: not known at this report (no consumer yet, metadata missing): the last known stand
    agent_partitions: int | None = None
    owned_agent_partitions: frozenset[int] | None = None


class LogTrimmer:
    """Every 10 minutes, drops from the shared log what no replica needs any more (older
    than the engine's log horizon, about 32 h by default): the log stays a day and a half of
    events instead of growing without end. Every worker may do it; it is idempotent."""

    def __init__(self, client: Any, stream_key: str, horizon_ms: int) -> None:
        self._client = client
        self._stream_key = stream_key
        self._keep_ms = horizon_ms + TRIM_SLACK_MS
        self._next_ms: int | None = None

    def __call__(self, now_ms: int) -> None:
        if self._next_ms is not None and now_ms < self._next_ms:
            return
        self._next_ms = now_ms + TRIM_EVERY_MS
        try:
            removed = trim_log(self._client, self._stream_key, now_ms - self._keep_ms)
        except redis.RedisError as exc:
            log.warning("log_trim_failed", extra={"fields": {
                "error": type(exc).__name__, "retry_in_s": TRIM_EVERY_MS // 1000}})
            return
        if removed:
            log.info("log_trimmed", extra={"fields": {
                "entries": removed, "kept_hours": round(self._keep_ms / 3_600_000, 1)}})


class ConsumerView:
    """The consumer's latest report, as pipeline stats and metrics of this process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.stats = PipelineStats()
        self._lag: dict[tuple[str, int], int] = {}
        self.assigned = False
        self.shards = AgentShards()
        self.received_at: float | None = None
        self._commit = Histogram("ccpulse_redis_commit_seconds",
                                 "latency of committing a batch and its offsets to Redis",
                                 registry=registry, buckets=COMMIT_BUCKETS)

    def update(self, report: ConsumerReport) -> None:
        self.stats.processed = Counter(report.processed)
        self.stats.dead_lettered = Counter(report.dead_lettered)
        self.stats.duplicates = report.duplicates
        self._lag = report.lag
        self.assigned = report.assigned
        self.shards.update(report.agent_partitions, report.owned_agent_partitions)
        for seconds in report.commit_seconds:
            self._commit.observe(seconds)
        self.received_at = time.monotonic()

    @property
    def lag(self) -> int:
        """Messages Kafka holds that this worker has not read, over its partitions."""
        return sum(self._lag.values())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """``ccpulse_consumer_lag_messages{topic,partition}``: what Kafka holds, unread."""
        lag = GaugeMetricFamily("ccpulse_consumer_lag_messages",
                                "messages in Kafka not yet read by this worker",
                                labels=["topic", "partition"])
        for (topic, partition), count in sorted(self._lag.items()):
            lag.add_metric([topic, str(partition)], count)
        yield lag
        owned = GaugeMetricFamily("ccpulse_agent_shard_partitions",
                                  "agent-state partitions whose agents' series this worker "
                                  "exports (1 each), of how many (ccpulse.sharding)",
                                  labels=["partition", "of"])
        if self.shards.partitions:
            for partition in sorted(self.shards.owned):
                owned.add_metric([str(partition), str(self.shards.partitions)], 1)
        yield owned

    def follow(self, reports: Connection) -> None:
        """Apply reports until the consumer process closes the pipe (or dies)."""
        while True:
            try:
                self.update(reports.recv())
            except (EOFError, OSError):
                return


class ReplicaProgress:
    """``ccpulse_replica_entries_applied_total``: entries of the shared log this worker's
    replica has applied since it started. Its numbers include an event once this has passed
    the event's place in the log: against the log's length (``XLEN``), or another worker's
    count, it says how far behind this worker's numbers are."""

    def __init__(self, replica: Replica) -> None:
        self._replica = replica

    def collect(self) -> Iterator[CounterMetricFamily]:
        applied = CounterMetricFamily("ccpulse_replica_entries_applied",
                                      "shared-log entries applied to this worker's engine "
                                      "since it started")
        applied.add_metric([], self._replica.applied)
        yield applied


def readiness(health: tuple[bool, str], consumer: ConsumerView, max_lag: int,
              ) -> tuple[bool, str]:
    """``/readyz``: healthy, *and* the consumer holds its partitions and has read Kafka up to
    ``max_lag`` messages. ``/healthz`` turns ok as soon as the replica has read the Redis log,
    while a backlog in Kafka may still be unread: numbers shown then are minutes old. An
    orchestrator sends traffic, or a rolling update moves on, once this says ready."""
    ok, why = health
    if not ok:
        return ok, why
    if not consumer.assigned:
        return False, "waiting for partitions"
    if consumer.lag > max_lag:
        return False, f"catching up: {consumer.lag} messages behind (ready at {max_lag})"
    return True, "ready"


def serve_then_exit(settings: Settings, reports: Connection) -> None:
    """The second process's entry point (``multiprocessing`` target): :func:`serve`, then out
    at once. Once the consumer has gone nothing here needs finalizing, and Python's own
    teardown of a large engine (millions of objects freed, a last full collection) took 5 s
    at 50,000 agents, longer on a busy machine: seconds in which a killed worker's metrics
    port stayed taken. So the process leaves with ``os._exit`` after flushing its logs."""
    code = 0
    try:
        serve(settings, reports)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _history_writer(settings: Settings, ready: Callable[[], bool]) -> IntervalWriter | None:
    """Every worker writes; the store keeps each interval once. ``ready``: Kafka has been
    read, so no interval closes on a half-read backlog."""
    if not settings.history:
        return None
    writer = IntervalWriter(
        HistoryStore(settings.history), settings.engine.lateness_ms, gate=ready,
        retention_ms=settings.history_retention_days * DAY_MS,
        records_retention_ms=settings.history_records_days * DAY_MS)
    writer.prime()
    return writer


def _alert_senders(settings: Settings, evaluator: AlertEvaluator,
                   ) -> tuple[list[Any], Any, AlertmanagerNotifier | None]:
    """Where the lease holder's transitions go: the log, the alerts topic, and Alertmanager
    when configured (started here: it queues and retries on its own thread)."""
    producer = make_producer(settings.kafka, **kafka_python_security(settings))
    senders: list[Any] = [LogNotifier(), TopicNotifier(
        lambda key, value: producer.send(settings.alerts_topic, key=key, value=value),
        flush=lambda: producer.flush(timeout=10))]
    alertmanager = None
    if settings.alertmanager:
        alertmanager = AlertmanagerNotifier(settings.alertmanager, firing=evaluator.firing)
        senders.append(alertmanager.start())
    return senders, producer, alertmanager


def replica_checkpoints(settings: Settings, stream_key: str) -> Checkpoints:
    """The replica's checkpoint file: in the data directory, named after the log it is of."""
    every_s = settings.checkpoint_every_s
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # the consumer process says so too, and stops the worker
        log.warning("replica_checkpoints_off", extra={"fields": {
            "path": str(settings.data_dir), "error": exc.strerror or type(exc).__name__,
            "hint": "point CCPULSE_DATA_DIR at a writable directory"}})
        every_s = 0
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stream_key)
    checkpoints = Checkpoints(settings.data_dir / f"replica-{name}.pickle", every_s)
    checkpoints.tidy()
    return checkpoints


@dataclass
class ReplicaCheckpoint:
    """The replica's engine on disk (:mod:`ccpulse.streams.checkpoint`), with what was fed
    beside it: the pipeline's counters and the history writer's unwritten intervals."""

    checkpoints: Checkpoints
    stream_key: str
    config: EngineConfig
    pipeline: Pipeline
    history: IntervalWriter | None

    def save_when_due(self, replica: Replica) -> None:
        """Between the replica's batches (so it holds every entry it names), on its thread."""
        if not self.checkpoints.due(replica.position):
            return
        unwritten = None if self.history is None else self.history.unwritten()
        with self.pipeline.lock:  # for the fork only: scrapes read the engine meanwhile
            self.checkpoints.save(
                checkpoint_header(self.stream_key, self.config, replica.position,
                                  replica.applied),
                (self.pipeline.engine, self.pipeline.stats, unwritten))

    def resume(self, replica: Replica, holds: Callable[[str], bool]) -> None:
        """Before the replica starts: take the checkpoint's engine if it matches."""
        saved = self.checkpoints.load(checkpoint_header(self.stream_key, self.config), holds)
        if saved is None:
            return
        self.pipeline.engine, self.pipeline.stats, unwritten = saved.state
        if self.history is not None and unwritten is not None:
            self.history.restore(unwritten)
        replica.resume(saved.last_id, saved.entries)


def log_holds(client: Any, stream_key: str, entry: str) -> bool:
    """The log still holds ``entry`` (not trimmed away), as far as Redis answers now."""
    try:
        return bool(client.xrange(stream_key, entry, entry, count=1))
    except redis.RedisError:
        return False


def _monitor(settings: Settings, pipeline: Pipeline, evaluator: AlertEvaluator,
             leader: LeaderNotifier, ready: Callable[[], bool], *,
             registry: CollectorRegistry) -> Monitor:
    """The worker's alert evaluations (while it holds the lease) and history, from the alert
    state the last holder saved. The evaluations' snapshots are finished on a thread of their
    own: the replica, which runs the evaluations when it is idle, applies events meanwhile
    instead of waiting for a whole snapshot of the floor (BENCHMARKS.md, eleventh round).
    How late each evaluation runs is on /metrics: a floor whose evaluation takes longer than
    the interval falls behind, and its alerts with it (BENCHMARKS.md, twelfth round); the
    instants it misses meanwhile are skipped and counted (Monitor.max_late_ms). While
    this worker leads, the lease is also renewed from a thread of its own (LeaseKeeper)."""
    delay = Histogram("ccpulse_alert_evaluation_delay_seconds",
                      "seconds from an alert evaluation's instant to its run (the lease "
                      "holder's; alerts are that late)", registry=registry,
                      buckets=EVALUATION_DELAY_BUCKETS)
    skipped = CounterMetric("ccpulse_alert_evaluation_skipped",
                            "alert evaluation instants skipped: due while an earlier one "
                            "was evaluated, or, taking the lease, longer ago than "
                            "CCPULSE_ALERTS_MAX_LATE_S (the lease holder is overloaded)",
                            registry=registry)
    leader.restore()
    monitor = Monitor(pipeline, evaluator, [leader], lease=leader,
                      history=_history_writer(settings, ready), release_heap=release_free_heap,
                      finisher=ThreadPoolExecutor(1, thread_name_prefix="evaluation-snapshot"),
                      on_evaluated=lambda late_ms: delay.observe(late_ms / 1000),
                      max_late_ms=settings.alerts_max_late_s * 1000 or None,
                      on_skipped=skipped.inc)
    LeaseKeeper(leader, monitor, wall_ms).start()
    return monitor


def _scrapes(settings: Settings, snapshots: RecentSnapshot, pipeline: Pipeline,
             evaluator: AlertEvaluator, *, leader: LeaderNotifier, consumer: ConsumerView,
             registry: CollectorRegistry) -> ScrapeAhead:
    """/metrics: this worker's KPI series (rendered ahead of the scrapes once they keep a
    rhythm), then ``registry``'s, read at each scrape."""
    sharded = settings.metrics.shard_agents
    kpis = KpiCollector(
        snapshots, consumer.stats, alerts=evaluator,
        clock_ms=wall_ms, last_event_ms=lambda: pipeline.stats.last_event_ms,
        scorecards=settings.scorecards, metrics=settings.metrics,
        owns_agent=consumer.shards.owns if sharded else None,
        # while another worker holds the alert lease, it exports the teams, queues and
        # channels; this one computes and exports its own agents only, in the windows asked
        share=lambda windows: pipeline.share(wall_ms(), consumer.shards.owns, windows),
        floor=leader.holds if sharded else None,
        shard_key=lambda: (consumer.shards.partitions, consumer.shards.owned),
        # the states and waits of the scrape's instant: of the floor, or of its own agents;
        # the lease holder counts every agent and exports its own agents' states
        floor_now=(lambda now, whole, wait_s: pipeline.floor_now(
            now, None if whole else consumer.shards.owns, wait_s,
            detail=consumer.shards.owns if whole and sharded else None))
        if settings.metrics.states_at_scrape else None)
    return ScrapeAhead(kpis, registry, wall_ms, ahead=settings.metrics.render_ahead)


def serve(settings: Settings, reports: Connection) -> None:
    """The second process's body: runs until ``reports`` closes."""
    logging.config.dictConfig(logging_config(settings.log_format))
    tune_gc()  # a spawned process starts with CPython's defaults
    client = redis.Redis.from_url(settings.redis)
    # The log holds each event once (its commit refused duplicates): no ids to keep here.
    pipeline = Pipeline(settings.engine, dedup=False)
    evaluator = alert_evaluator(settings)
    senders, alert_producer, alertmanager = _alert_senders(settings, evaluator)
    leader = LeaderNotifier(client, evaluator, senders, prefix=KEY_PREFIX, group=settings.group)
    registry = CollectorRegistry()
    monitor = _monitor(settings, pipeline, evaluator, leader, lambda: ready()[0],
                       registry=registry)
    stream_key = log_key()
    trim = LogTrimmer(client, stream_key, settings.engine.log_horizon_ms)
    checkpoint = ReplicaCheckpoint(replica_checkpoints(settings, stream_key), stream_key,
                                   settings.engine, pipeline, monitor.history)

    def idle() -> None:
        """The replica has read everything: evaluate the alerts due, tidy the log, save the
        engine when a checkpoint is due (between batches: it holds every entry it names)."""
        now = wall_ms()
        monitor.advance(now)
        trim(now)
        consumer.shards.forget(pipeline.engine.agents.keys())  # after expiry, same thread
        checkpoint.save_when_due(replica)

    replica = Replica(client, stream_key, pipeline, on_idle=idle)
    checkpoint.resume(replica, lambda entry: log_holds(client, stream_key, entry))
    consumer = ConsumerView(registry)
    pipeline.on_snapshot = SnapshotCosts(registry)
    # /metrics, /api/v1 and the alert evaluation share a snapshot: the evaluation's, even one
    # still being finished, while it is within four times what a new one takes to compute;
    # one agent's answer takes its own snapshot where no floor's is that recent
    snapshots, agents = readers(pipeline, wall_ms, lambda: pipeline.floor_ms)
    scrapes = _scrapes(settings, snapshots, pipeline, evaluator, leader=leader,
                       consumer=consumer, registry=registry)
    registry.register(consumer)  # type: ignore[arg-type]
    registry.register(ReplicaProgress(replica))  # type: ignore[arg-type]

    def health() -> tuple[bool, str]:
        if not replica.is_alive():
            return False, "replica thread stopped"
        if consumer.received_at is None:
            return False, "consumer starting"
        if time.monotonic() - consumer.received_at > REPORT_STALE_S:
            return False, "consumer not reporting"
        return (True, "ok") if replica.caught_up.is_set() else (False, "catching up")

    def ready() -> tuple[bool, str]:
        return readiness(health(), consumer, settings.ready_max_lag)

    server = MetricsServer(scrapes.body, settings.metrics_host, settings.metrics_port, health,
                           settings.metrics_credentials, ready=ready,
                           api=api(snapshots, agents,
                                   floor_now=lambda: pipeline.floor_now(wall_ms())),
                           web=web_app(settings, snapshots, pipeline, evaluator, agents,
                                       clock_ms=wall_ms))
    server.start()
    replica.start()
    log.info("serving_metrics", extra={"fields": {"port": server.port}})
    try:
        consumer.follow(reports)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()  # the port first: a restarted worker may want it
        scrapes.close()
        replica.stop()
        monitor.close()
        if alertmanager is not None:
            alertmanager.stop()
        alert_producer.close(timeout=5)
