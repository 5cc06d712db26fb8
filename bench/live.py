"""The live pipeline on real servers: throughput against a bare aiokafka consumer, recovery
after kill -9, and event-to-metric latency.

Starts its own single-node Kafka and redis-server on loopback (the test suite's launchers,
``tests/servers.py``), so it needs ``make setup`` and nothing else.

- **throughput**: a backlog of simulated events is produced to both input topics; a bare
  aiokafka consumer reads it all (the baseline: what the client library alone does on this
  broker), a bare faust agent reads it all (:mod:`bench.bare_faust`: what the stream
  framework alone delivers), a librdkafka consumer (confluent-kafka, batches of 5,000, each
  value decoded: what a user might write instead of a framework), then one ``ccpulse
  worker`` consumes it into Redis; events/s of
  each, from the first event on (start-up apart, reported separately), and the ratios.
- **recovery**: the caught-up worker is killed (-9), a further backlog of events is produced,
  and a new worker is started: seconds from its start to the backlog in Redis. Twice: a new
  group member (it waits until the dead member's 10 s session expires), then a restart under
  the dead worker's ``CCPULSE_INSTANCE_ID`` (Kafka static membership: it takes the
  partitions back at once).
- **Redis memory**: ``used_memory`` once the whole simulated day is in the log (event log and
  dedup sets of ``hours`` of the floor), per agent.
- **worker memory**: resident memory of the restarted worker once its replica has caught up
  with the whole day: all its processes together, and the serving process alone (the one
  holding the KPI engine's state).
- **latency**: with the worker caught up, probe events (one a second, a fresh agent each)
  are produced while a background producer sends ``rate`` events/s; a scraper reads
  ``/metrics`` back to back, and each probe's latency is the time from its send to the end of
  the first scrape that shows it (so a scrape's own duration is part of it): in any series
  (its state, read at each scrape), and in a KPI series (from the first snapshot after it).
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import redis
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Consumer
from kafka.errors import KafkaTimeoutError

from bench.procfs import rss_kib
from ccpulse.processors.timefmt import format_ms
from ccpulse.streams.kafka_io import ensure_topics, make_producer, produce
from ccpulse.streams.redis_log import dedup_key, log_key
from ccpulse.streams.simulator import HOUR, SimConfig, Simulator
from tests.live import WorkerProcess
from tests.servers import Server, free_port, start_kafka, start_redis


def topics(prefix: str) -> tuple[str, str, str]:
    """The agent-state, interaction and schedule topics of one benchmark run."""
    return f"{prefix}.agent-states", f"{prefix}.interactions", f"{prefix}.schedules"


def env_topics(prefix: str) -> dict[str, str]:
    """A worker's settings for the topics (and consumer group) named by ``prefix``."""
    agent, interaction, schedule = topics(prefix)
    return {"CCPULSE_AGENT_TOPIC": agent, "CCPULSE_INTERACTION_TOPIC": interaction,
            "CCPULSE_SCHEDULE_TOPIC": schedule, "CCPULSE_DEADLETTER_TOPIC":
            f"{prefix}.deadletter", "CCPULSE_ALERTS_TOPIC": f"{prefix}.alerts",
            "CCPULSE_GROUP": prefix}


AGENT_TOPIC, INTERACTION_TOPIC, SCHEDULE_TOPIC = topics("bench")


def backlog(agents: int, hours: float, seed: int = 1) -> list[bytes]:
    """A simulated shift that ends now, so a live worker accepts every event."""
    start = int(time.time() * 1000) - int(hours * HOUR) - 60_000
    config = SimConfig(agents=agents, duration_ms=int(hours * HOUR), seed=seed, start_ms=start)
    return [orjson.dumps(e) for e in Simulator(config).events()]


def send(bootstrap: str, lines: list[bytes], attempts: int = 3, prefix: str = "bench") -> None:
    """Produce ``lines``; a broker seconds old may not have elected its partition leaders
    yet, so a timeout is retried (the events carry ids: a resend is deduplicated)."""
    for attempt in range(attempts):
        producer = make_producer(bootstrap)
        try:
            agent, interaction, schedule = topics(prefix)
            produce(producer, lines, agent_topic=agent, interaction_topic=interaction,
                    schedule_topic=schedule)
            return
        except KafkaTimeoutError:
            if attempt == attempts - 1:
                raise
        finally:
            producer.close(timeout=5)


async def _bare_consume(bootstrap: str, count: int) -> float:
    consumer = AIOKafkaConsumer(AGENT_TOPIC, INTERACTION_TOPIC, SCHEDULE_TOPIC,
                                bootstrap_servers=bootstrap,
                                group_id=f"bare-{time.time_ns()}", auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    seen = 0
    started = time.perf_counter()
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for messages in batches.values():
                for message in messages:
                    orjson.loads(message.value)  # the least a consumer does with a message
                seen += sum(len(m) for m in batches.values())
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def _bare_confluent(bootstrap: str, count: int) -> float:
    """What a user might write instead of a stream framework: librdkafka's consumer
    (confluent-kafka) in batches, decoding each value as JSON."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"conf-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([AGENT_TOPIC, INTERACTION_TOPIC, SCHEDULE_TOPIC])
    seen = 0
    started: float | None = None
    try:
        while seen < count:
            batch = consumer.consume(num_messages=5000, timeout=1.0)
            if batch and started is None:
                started = time.perf_counter()  # from the first message, as the others
            for message in batch:
                if message.error() is None:
                    orjson.loads(message.value())
                    seen += 1
        return time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close()


def start_worker(bootstrap: str, redis_url: str, workdir: Path,
                 instance_id: str | None = None, *, prefix: str = "bench",
                 log_name: str = "worker.log", extra: dict[str, str] | None = None,
                 ) -> WorkerProcess:
    env = {**os.environ, **env_topics(prefix), "CCPULSE_KAFKA_BOOTSTRAP": bootstrap,
           "CCPULSE_REDIS_URL": redis_url, "CCPULSE_METRICS_PORT": str(free_port()),
           "CCPULSE_METRICS_HOST": "127.0.0.1", **(extra or {})}
    if instance_id is not None:
        env["CCPULSE_INSTANCE_ID"] = instance_id
    return WorkerProcess(env, workdir / log_name)


def wait_log(client: redis.Redis, count: int, timeout_s: float = 3600) -> tuple[float, float]:
    """Seconds until ``count`` events are in the log: from now, and from the first new one."""
    started = time.perf_counter()
    before = client.xlen(log_key())
    first: float | None = None
    while (length := client.xlen(log_key())) < count:
        if first is None and length > before:
            first = time.perf_counter()
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"{length} of {count} events in Redis")
        time.sleep(0.02)
    done = time.perf_counter()
    return done - started, done - (first or started)


def _bare_faust(bootstrap: str, count: int, workdir: Path) -> float:
    out = workdir / "bare-faust.json"
    subprocess.run([sys.executable, "-m", "bench.bare_faust", bootstrap, str(count), str(out),
                    AGENT_TOPIC, INTERACTION_TOPIC, SCHEDULE_TOPIC], capture_output=True,
                   check=True,
                   timeout=3600)
    return float(orjson.loads(out.read_bytes())["seconds"])


def _load_events(rate: int, seconds: int) -> list[bytes]:
    """Background load: ``rate`` events a second of a pool of synthetic agents switching
    between available and not ready (their own ids, so the simulated floor is untouched)."""
    now = int(time.time() * 1000)
    out = []
    for i in range(rate * seconds):
        agent = f"load-{i % max(1, rate)}"
        kind = "agent.available" if (i // max(1, rate)) % 2 else "agent.not_ready"
        event = {"event_id": f"load-{now}-{i}", "type": kind, "agent_id": agent,
                 "ts": format_ms(now + i * 1000 // max(1, rate))}
        if kind == "agent.not_ready":
            event["reason"] = "meeting"
        out.append(orjson.dumps(event))
    return out


def producing(prefix: str) -> Callable[[object, list[bytes]], None]:
    """Sends lines with a producer to the run's topics (by ``prefix``)."""
    agent_topic, interaction_topic, schedule_topic = topics(prefix)

    def produce_to(producer: object, lines: list[bytes]) -> None:
        produce(producer, lines, agent_topic=agent_topic,  # type: ignore[arg-type]
                interaction_topic=interaction_topic, schedule_topic=schedule_topic)
    return produce_to


def load_in_background(bootstrap: str, rate: int, seconds: int, prefix: str,
                       ) -> threading.Thread:
    """Starts :func:`_load_events` of ``rate`` events/s for ``seconds``, produced second by
    second on a thread of its own, and returns it."""
    load = _load_events(rate, seconds)
    produce_to = producing(prefix)

    def background() -> None:
        producer = make_producer(bootstrap)
        started = time.perf_counter()
        for second in range(seconds):
            produce_to(producer, load[second * rate:(second + 1) * rate])
            time.sleep(max(0.0, started + second + 1 - time.perf_counter()))
        producer.close()

    loader = threading.Thread(target=background, daemon=True)
    loader.start()
    return loader


def probe_login(agent: str, at_ms: int) -> bytes:
    """A probe: a new agent of its own team, logging in at ``at_ms``."""
    return orjson.dumps({"event_id": agent, "type": "agent.login", "ts": format_ms(at_ms),
                         "agent_id": agent, "team_id": "probe"})


@dataclass
class Probes:
    """Probes sent (by agent id, when) and not yet seen; what each took to be seen."""

    sent: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)


# A probe agent in any series (its state, which needs no window), and in a series of a
# window (an agent KPI, from a snapshot that has it). Found in one pass over a scrape's text:
# a substring search per probe took ~7 ms in a 27 MB text, and a share of 50,000 agents
# showed hundreds of probes a scrape, so the benchmark took a core from the workers it timed.
SHOWN = re.compile(r'agent="(probe-[^"]*)"')
SHOWN_IN_KPIS = re.compile(r'agent="(probe-[^"]*)",team="probe",window="')


def probes_shown(text: str) -> tuple[set[str], set[str]]:
    """The probe agents a scrape's text shows: in any series, and in a series of a window."""
    return set(SHOWN.findall(text)), set(SHOWN_IN_KPIS.findall(text))


def _scrape(worker: WorkerProcess, anywhere: Probes, in_kpis: Probes) -> None:
    """One whole scrape; every probe it shows is done, at the scrape's end: ``anywhere``
    in any series (its state, read at the scrape by a worker), ``in_kpis`` in a series of a
    window (an agent KPI, from a snapshot that has it)."""
    text = worker.get("/metrics", timeout_s=SCRAPE_TIMEOUT_S)[1]
    done = time.perf_counter()
    for probes, shown in zip((anywhere, in_kpis), probes_shown(text), strict=True):
        for probe in [p for p in shown if p in probes.sent]:  # sent grows meanwhile
            at = probes.sent.pop(probe, None)  # another worker's scraper may have seen it
            if at is not None:
                probes.latencies.append(done - at)


def latency(workers: list[WorkerProcess], bootstrap: str, client: redis.Redis, rate: int,
            seconds: int, *, prefix: str = "bench",
            ) -> tuple[list[float], list[float], list[float]]:
    """Probe latencies (s) while ``rate`` events/s of background load flow: to the Redis log
    (the commit puts its id in the dedup set), to ``/metrics`` of whichever worker exports
    the probe agent (each worker is scraped back to back by a thread of its own), and to
    that worker's first KPI series of the probe (a window of a snapshot taken after it)."""
    produce_to = producing(prefix)
    anywhere, in_kpis = Probes(), Probes()
    uncommitted: dict[str, float] = {}
    committed: list[float] = []
    probing = threading.Event()
    probing.set()

    def until_done(step: Callable[[], None], pending: dict[str, float]) -> Callable[[], None]:
        def loop() -> None:
            deadline = math.inf
            while (probing.is_set() or pending) and time.perf_counter() < deadline:
                step()
                if not probing.is_set() and deadline == math.inf:
                    deadline = time.perf_counter() + 30  # probes not seen by then are lost
        return loop

    stamps: dict[str, int] = {}  # probe -> its event time, which names its dedup set

    def poll_redis() -> None:
        for probe, at in list(uncommitted.items()):
            if client.sismember(dedup_key(stamps[probe]), probe):
                committed.append(time.perf_counter() - at)
                del uncommitted[probe]
        time.sleep(0.005)

    def scraper(worker: WorkerProcess) -> Callable[[], None]:
        return until_done(lambda: _scrape(worker, anywhere, in_kpis), in_kpis.sent)

    loader = load_in_background(bootstrap, rate, seconds, prefix)
    watchers = [*(threading.Thread(target=scraper(w), daemon=True) for w in workers),
                threading.Thread(target=until_done(poll_redis, uncommitted), daemon=True)]
    for watcher in watchers:
        watcher.start()
    producer = make_producer(bootstrap)
    started = time.perf_counter()
    for n in range(seconds):
        agent = f"probe-{time.time_ns()}-{n}"
        stamps[agent] = int(time.time() * 1000)
        produce_to(producer, [probe_login(agent, stamps[agent])])
        anywhere.sent[agent] = in_kpis.sent[agent] = uncommitted[agent] = time.perf_counter()
        time.sleep(max(0.0, started + n + 1 - time.perf_counter()))
    probing.clear()
    for watcher in watchers:
        watcher.join(60)  # the last probes, still on their way
    producer.close()
    loader.join(seconds + 30)
    return committed, anywhere.latencies, in_kpis.latencies


# a long timeout: at 50,000 agents the floor's scrape outlasts Prometheus' 10 s, and that is
# the figure to report
SCRAPE_TIMEOUT_S = 300


def probe_plan(agents: int, hours: float, rate: int | None) -> tuple[int, int]:
    """(background events/s, seconds of probes) of the latency measurement: ``rate``
    (default 500, the issue's floor average) for 30 s; 20/s for 3 s in a CI-sized run."""
    if agents * hours < 100:
        return rate or 20, 3
    return rate or 500, 30


def percentiles(name: str, values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    return {f"{name}_p50_s": round(statistics.median(ordered), 3) if ordered else None,
            f"{name}_p99_s": round(ordered[math.ceil(len(ordered) * 0.99) - 1], 3)
            if ordered else None}


def bench_live(agents: int, hours: float, rate: int | None = None) -> dict[str, object]:
    """Sizes follow the floor: each recovery backlog is an eighth of the day (at most 30,000
    events, a minute of the issue's L peak would be 300,000), latency is probed for 30 s at
    ``rate`` background events/s (default 500; 3 s at 20/s for the CI-sized run)."""
    rate, probe_s = probe_plan(agents, hours, rate)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "kafka").mkdir()
        (work / "redis").mkdir()
        broker: Server = start_kafka(work / "kafka")
        store: Server = start_redis(work / "redis")
        bootstrap = f"127.0.0.1:{broker.port}"
        redis_url = f"redis://127.0.0.1:{store.port}/0"
        client = redis.Redis.from_url(redis_url)
        try:
            ensure_topics(bootstrap, [AGENT_TOPIC, INTERACTION_TOPIC, SCHEDULE_TOPIC],
                          partitions=8)
            day = backlog(agents, hours)
            # the day's last events arrive while a worker is down: the recovery backlogs
            size = min(30_000, len(day) // 8)
            lines, extra, last = day[:-2 * size], day[-2 * size:-size], day[-size:]
            send(bootstrap, lines)
            bare_s = asyncio.run(_bare_consume(bootstrap, len(lines)))
            confluent_s = _bare_confluent(bootstrap, len(lines))
            faust_s = _bare_faust(bootstrap, len(lines), work)
            worker = start_worker(bootstrap, redis_url, work)
            with_start_s, worker_s = wait_log(client, len(lines))
            worker.kill()
            send(bootstrap, extra)
            worker = start_worker(bootstrap, redis_url, work, instance_id="bench-1")
            recovery_s, _ = wait_log(client, len(day) - size)
            worker.kill()
            send(bootstrap, last)
            worker = start_worker(bootstrap, redis_url, work, instance_id="bench-1")
            static_recovery_s, _ = wait_log(client, len(day))
            memory = client.info("memory")["used_memory"]  # the whole day is in: 8 h a floor
            worker.wait_healthy(600)  # latency is a caught-up worker's, not a replaying one's
            serving_kib = rss_kib(worker.serving_pid())
            worker_kib = rss_kib(worker.proc.pid) + sum(map(rss_kib, worker.children()))
            committed, latencies, kpi_latencies = latency([worker], bootstrap, client, rate,
                                                          probe_s)
            worker.kill()
        finally:
            broker.stop()
            store.stop()
    bare_rate, worker_rate = len(lines) / bare_s, len(lines) / worker_s
    faust_rate = len(lines) / faust_s
    return {
        "events": len(lines), "bare_aiokafka_per_s": round(bare_rate),
        "bare_faust_per_s": round(faust_rate), "worker_per_s": round(worker_rate),
        "bare_confluent_kafka_per_s": round(len(lines) / confluent_s),
        "ratio_to_bare_confluent_kafka": round(worker_rate * confluent_s / len(lines), 3),
        "worker_start_s": round(with_start_s - worker_s, 1),
        "ratio_to_bare": round(worker_rate / bare_rate, 3),
        "ratio_to_bare_faust": round(worker_rate / faust_rate, 3),
        "redis_used_memory_mib": round(memory / 2**20, 1),
        "redis_kib_per_agent": round(memory / 1024 / agents, 1),
        "worker_rss_mib": round(worker_kib / 1024, 1),
        "serving_process_rss_mib": round(serving_kib / 1024, 1),
        "recovery_backlog_events": size, "recovery_s": round(recovery_s, 1),
        "recovery_same_instance_id_s": round(static_recovery_s, 1),
        "latency_rate_per_s": rate, "latency_probes": len(latencies),
        **percentiles("latency_to_redis", committed), **percentiles("latency", latencies),
        **percentiles("latency_to_kpis", kpi_latencies),
    }
