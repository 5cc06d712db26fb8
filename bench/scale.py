"""Several workers on one floor, against one worker on the same backlog (issue 19).

Starts its own Kafka (8 partitions a topic) and redis-server, produces a simulated shift,
then:

1. **one worker** joins its group on empty topics; once it is ready the backlog is produced
   and it consumes all of it into the Redis log; once its replica has the floor its
   ``/metrics`` is scraped as Prometheus scrapes, at a fixed interval, and its processes'
   memory read;
2. Redis is emptied and **N workers** (static members of a new group, on topics of their
   own) do the same with the same backlog, and each is scraped and measured the same way.

Reported: events/s from the first event in the log to the last (the group has settled before
the first event is sent; the backlog is produced while the workers read, an hour of events
in seconds and unevenly across partitions, so an event may be dead-lettered as more than the
lateness limit behind its queue: ``in_log`` says how many got in), the ratio N/1, each
worker's median scrape, the agents it exports (the N workers' must be the one worker's
agents, each exactly once), event → ``/metrics`` latency two ways
(:func:`bench.live.latency`: a scraper polling back to back, each probe timed to the end of
the first scrape showing it; :func:`freshness`: scrapes at Prometheus' rhythm, each timed
from the newest probe it shows), how long it answers ``/api/v1/agent/ID`` (the same few
agents on every worker), how late its alert evaluations ran (all, and those after the
backlog was applied), and each process's resident memory. This machine has 2 cores: N
workers share them, so the ratio here says what the design allows on 2 cores, not on N
machines.
"""

from __future__ import annotations

import math
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import quote

import redis

from bench.live import (
    SCRAPE_TIMEOUT_S,
    backlog,
    latency,
    load_in_background,
    percentiles,
    probe_login,
    probe_plan,
    probes_shown,
    producing,
    send,
    start_worker,
    topics,
)
from bench.procfs import rss_kib
from bench.served import prometheus_slots, scrape
from ccpulse.scrape_ahead import RHYTHM_ARRIVALS
from ccpulse.streams.kafka_io import ensure_topics, make_producer
from ccpulse.streams.redis_log import log_key
from tests.live import WorkerProcess, owned_partitions, wait_for, wait_settled
from tests.servers import start_kafka, start_redis

PARTITIONS = 8
ANSWERS = 3  # agents asked of each worker's /api/v1
AGENT = re.compile(r'agent="([^"]*)"')
APPLIED = re.compile(r'^ccpulse_replica_entries_applied_total (\S+)$', re.MULTILINE)
AGE = re.compile(r'^ccpulse_snapshot_age_seconds (\S+)$', re.MULTILINE)
STATES_AGE = re.compile(r'^ccpulse_states_age_seconds (\S+)$', re.MULTILINE)
DELAY = re.compile(r'^ccpulse_alert_evaluation_delay_seconds_(sum|count) (\S+)$', re.MULTILINE)
SKIPPED = re.compile(r'^ccpulse_alert_evaluation_skipped_total (\S+)$', re.MULTILINE)
SNAPSHOTS = re.compile(r'^ccpulse_snapshot_seconds_(sum|count)\{kind="(\w+)"\} (\S+)$',
                       re.MULTILINE)


def snapshot_means(text: str) -> dict[str, float]:
    """Mean seconds of the snapshots a worker computed since it started, by kind (floor:
    scrapes while it holds the alert lease and its alert evaluations; share: its own agents'
    scrapes), from its own ccpulse_snapshot_seconds."""
    found: dict[tuple[str, str], float] = {(kind, part): float(value)
                                           for part, kind, value in SNAPSHOTS.findall(text)}
    return {kind: round(found[(kind, "sum")] / count, 3)
            for (kind, part), count in found.items() if part == "count" and count}


@dataclass
class Scrapes:
    """What a worker's scrapes gave: each one's seconds to its last byte, the ages of its
    numbers and of its states, the last one's text and the bytes it was sent in."""

    seconds: list[float] = field(default_factory=list)
    ages: list[float] = field(default_factory=list)
    states_ages: list[float] = field(default_factory=list)
    text: str = ""
    sent: int = 0


def _scrapes(worker: WorkerProcess, interval_s: float, reported: int) -> Scrapes:
    """Scrapes in slots ``interval_s`` apart, as Prometheus scrapes (asking for gzip; a slot
    passed during a scrape is skipped): those that tell the interval (ccpulse.scrape_ahead)
    and ``reported`` more."""
    out = Scrapes()
    for _ in prometheus_slots(interval_s, RHYTHM_ARRIVALS + reported):
        scraped = scrape(f"http://127.0.0.1:{worker.port}/metrics", timeout_s=SCRAPE_TIMEOUT_S)
        out.seconds.append(scraped.seconds)
        out.text, out.sent = scraped.text.decode(), scraped.sent_bytes
        out.ages.extend(float(age) for age in AGE.findall(out.text))
        out.states_ages.extend(float(age) for age in STATES_AGE.findall(out.text))
    return out


def _measure(workers: list[WorkerProcess], interval_s: float, reported: int,
             ) -> list[tuple[dict[str, object], set[str]]]:
    """Every worker scraped at once at ``interval_s`` (:func:`_scrapes`, on a thread each, as
    one Prometheus scrapes its targets): the first scrape (no rhythm yet: rendered while
    asked, unless its snapshot was rendered already, e.g. for the polls that waited for the
    log) and those after the interval was told (rendered ahead: ccpulse.scrape_ahead), the
    agents each exports series of, its processes' memory."""
    with ThreadPoolExecutor(len(workers)) as pool:
        found = list(pool.map(partial(_scrapes, interval_s=interval_s, reported=reported),
                              workers))
    return [_figures(worker, scraped) for worker, scraped in zip(workers, found, strict=True)]


def _figures(worker: WorkerProcess, scrapes: Scrapes) -> tuple[dict[str, object], set[str]]:
    seconds, ages, states_ages, text = (scrapes.seconds, scrapes.ages, scrapes.states_ages,
                                        scrapes.text)
    # the per-agent series (alerts firing name agents too, on every worker: not counted)
    agent_lines = [line for line in text.splitlines() if line.startswith("ccpulse_agent_")]
    agents = {found.group(1) for line in agent_lines if (found := AGENT.search(line))}
    ahead = seconds[RHYTHM_ARRIVALS:]
    return ({"first_scrape_s": round(seconds[0], 3),
             # once the interval is told, each scrape's text is rendered before it comes
             "scrape_s": round(statistics.median(ahead), 3),
             "scrape_max_s": round(max(ahead), 3),
             # how old the numbers were (the lease holder's may be the alert evaluation's
             # snapshot: ccpulse.api.RecentSnapshot), the first scrape's and the later ones'
             "first_snapshot_age_s": round(ages[0], 3) if ages else None,
             "snapshot_age_s": round(statistics.median(ages[RHYTHM_ARRIVALS:]), 3)
             if len(ages) > RHYTHM_ARRIVALS else None,
             # and of its states, read just before each scrape once the interval is told
             # (the last read, up to 15 s old, while the engine stays busy)
             "states_age_s": round(statistics.median(states_ages[RHYTHM_ARRIVALS:]), 3)
             if len(states_ages) > RHYTHM_ARRIVALS else None,
             "states_age_max_s": round(max(states_ages[RHYTHM_ARRIVALS:]), 3)
             if len(states_ages) > RHYTHM_ARRIVALS else None,
             # the alert lease holder exports teams, queues and channels; the others their
             # own agents only, from a snapshot of those agents
             "exports_floor": any(line.startswith("ccpulse_team_") for line in
                                  text.splitlines()),
             "snapshot_mean_s": snapshot_means(text),
             "exposition_bytes": len(text), "sent_bytes": scrapes.sent,
             "agent_series": len(agent_lines),
             "agents": len(agents), "partitions_owned": owned_partitions(text)[0],
             "serving_rss_mib": round(rss_kib(worker.serving_pid()) / 1024, 1),
             "consumer_rss_mib": round(rss_kib(worker.proc.pid) / 1024, 1)}, agents)


@dataclass
class Freshness:
    """Of each scrape at Prometheus' rhythm that shows a probe, how stale (s): its states
    (any series of the probe) and its KPIs (a series of a window: :func:`probes_shown`)."""

    states: list[float] = field(default_factory=list)
    kpis: list[float] = field(default_factory=list)


def freshness(workers: list[WorkerProcess], bootstrap: str, rate: int, interval_s: float,
              reported: int, *, prefix: str, every_s: float = 0.1) -> Freshness:
    """How fresh the states and KPIs are that Prometheus gets: each worker scraped as
    Prometheus scrapes it, at ``interval_s``, while ``rate`` events/s of background load
    flow and a probe agent logs in every ``every_s``. Of each scrape after those that tell
    the interval (:data:`RHYTHM_ARRIVALS`: its states are then read just before it comes,
    its KPIs rendered ahead of it), the seconds from the newest probe it shows to the
    scrape's start — the instant Prometheus stamps its samples with — in any series (its
    states) and in a KPI's (its snapshot). A worker shows its own agents' probes only (which
    they are is known once every scrape is in), and shows a probe once its replica has
    applied it and its states are read, or a snapshot taken: so this is event → Kafka →
    Redis → replica → ``/metrics``, as Prometheus gets it, without the wait for the next
    scrape. An upper bound by up to the probes' spacing, ``every_s`` times the number of
    workers; 0 where the scrape shows a probe sent after it began (its states read late in
    a long scrape)."""
    slots = RHYTHM_ARRIVALS + reported
    seconds = math.ceil(interval_s * (slots + 1)) + 2
    loader = load_in_background(bootstrap, rate, seconds, prefix)
    sent: dict[str, float] = {}  # probe -> when it was sent (perf_counter)
    probing = threading.Event()
    probing.set()

    def probe() -> None:
        producer, produce_to = make_producer(bootstrap), producing(prefix)
        while probing.is_set():
            agent = f"probe-f{time.time_ns()}"
            produce_to(producer, [probe_login(agent, int(time.time() * 1000))])
            sent[agent] = time.perf_counter()
            time.sleep(every_s)
        producer.close()

    def scrapes(worker: WorkerProcess) -> list[tuple[float, set[str], set[str]]]:
        out = []
        for _ in prometheus_slots(interval_s, slots):
            began = time.perf_counter()
            text = scrape(f"http://127.0.0.1:{worker.port}/metrics",
                          timeout_s=SCRAPE_TIMEOUT_S).text.decode()
            # this one's probes: latency()'s, sent before, are still logged in
            shown, in_kpis = ({p for p in found if p in sent} for found in probes_shown(text))
            out.append((began, shown, in_kpis))
        return out[RHYTHM_ARRIVALS:]

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    time.sleep(2)  # probes under way before the first scrape
    with ThreadPoolExecutor(len(workers)) as pool:
        found = list(pool.map(scrapes, workers))
    probing.clear()
    prober.join(10)
    loader.join(seconds + 30)
    # a scrape whose states were read after it began may show probes sent after its start:
    # its samples are then fresher than their timestamp, not stale
    def stale(began: float, shown: set[str]) -> float:
        return max(0.0, began - max(sent[probe] for probe in shown))

    scraped = [scrape for per_worker in found for scrape in per_worker]
    return Freshness([stale(began, shown) for began, shown, _ in scraped if shown],
                     [stale(began, kpis) for began, _, kpis in scraped if kpis])


def evaluation_totals(worker: WorkerProcess) -> tuple[float, float, float]:
    """The alert evaluations a worker ran since it started (while it held the lease), the
    seconds they ran late after their instants in all, and the instants it skipped as
    too late (CCPULSE_ALERTS_MAX_LATE_S)."""
    text = worker.get("/metrics", timeout_s=SCRAPE_TIMEOUT_S)[1]
    found = dict(DELAY.findall(text))
    skipped = SKIPPED.search(text)
    return (float(found.get("count", 0)), float(found.get("sum", 0)),
            float(skipped.group(1)) if skipped else 0.0)


def evaluation_delay(worker: WorkerProcess, since: tuple[float, float, float],
                     ) -> dict[str, object]:
    """How late a worker's alert evaluations ran on average, and how many instants it
    skipped: all since it started, and those after ``since`` (its :func:`evaluation_totals`
    once the backlog was applied, the floor at steady state); past the 15 s interval, they
    fall behind (BENCHMARKS.md, twelfth round), up to the bound past which instants are
    skipped (eighteenth round)."""
    count, late, skipped = evaluation_totals(worker)

    def mean(n: float, total: float, missed: float) -> dict[str, float]:
        return {"evaluations": int(n), "mean_s": round(total / n, 3),
                "skipped": int(missed)} if n else {"evaluations": 0, "skipped": int(missed)}
    return {**mean(count, late, skipped),
            "after_backlog": mean(count - since[0], late - since[1], skipped - since[2])}


def _answers(worker: WorkerProcess, agents: list[str]) -> dict[str, float]:
    """``/api/v1/agent/ID`` of ``agents`` on a worker, one after the other: what a
    supervisor's drill-down waits (the agent's own snapshot where the worker has no recent
    floor snapshot: ccpulse.api.AgentSnapshots)."""
    seconds = []
    for agent in agents:
        began = time.perf_counter()
        status, _ = worker.get(f"/api/v1/agent/{quote(agent, safe='')}",
                               timeout_s=SCRAPE_TIMEOUT_S)
        if status != 200:
            raise RuntimeError(f"/api/v1/agent/{agent}: {status}")
        seconds.append(time.perf_counter() - began)
    return {"agent_answer_s": round(statistics.median(seconds), 3),
            "agent_answer_max_s": round(max(seconds), 3)}


def _ready(worker: WorkerProcess) -> bool:
    try:
        return worker.get("/readyz")[0] == 200
    except OSError:  # not listening yet
        return False


def _wait_ready(workers: list[WorkerProcess], timeout_s: float = 120) -> None:
    """Every worker has its partitions and no lag: the group has settled."""
    deadline = time.monotonic() + timeout_s
    for worker in workers:
        while not _ready(worker):
            if time.monotonic() > deadline:
                raise TimeoutError("workers not ready: see their logs in the run's directory")
            time.sleep(0.2)


def _wait_settled(workers: list[WorkerProcess], timeout_s: float = 120) -> None:
    """Every worker is ready and the group has settled (:func:`tests.live.settled`),
    checked on empty topics, where a scrape costs nothing."""
    _wait_ready(workers, timeout_s)
    wait_settled(workers, timeout_s)


def _wait_applied(workers: list[WorkerProcess], client: redis.Redis,
                  timeout_s: float = 3600) -> None:
    """Every worker's replica has applied the whole log, and each serves a snapshot of an
    instant after that: what is measured next is the whole backlog's floor (the log filling
    says nothing of how far each replica has read it, and a scrape may serve a snapshot
    computed before it: its ``ccpulse_snapshot_age_seconds`` says of when)."""
    length = client.xlen(log_key())
    deadline = time.monotonic() + timeout_s

    def applied(worker: WorkerProcess) -> bool:
        found = APPLIED.search(worker.get("/metrics", timeout_s=SCRAPE_TIMEOUT_S)[1])
        return found is not None and float(found.group(1)) >= length

    for worker in workers:
        wait_for(partial(applied, worker), deadline - time.monotonic(),
                 f"a replica has not applied the {length} log entries")
    applied_at = time.time()

    def serves_it(worker: WorkerProcess) -> bool:  # the snapshot's instant: the ask minus its age
        asked_at = time.time()
        found = AGE.search(worker.get("/metrics", timeout_s=SCRAPE_TIMEOUT_S)[1])
        return found is not None and asked_at - float(found.group(1)) > applied_at

    for worker in workers:
        wait_for(partial(serves_it, worker), deadline - time.monotonic(),
                 "a worker serves no snapshot of its whole log")


def _wait_consumed(workers: list[WorkerProcess], client: redis.Redis, sent: int,
                   producing: Callable[[], bool], timeout_s: float = 3600,
                   ) -> tuple[float, int]:
    """Seconds from the first event in the log to the last, and how many got there: every
    event, or (once ``producing()`` is false, every worker has read Kafka to its end and the log
    has stood still for 3 s) fewer, the rest dead-lettered (a backlog sent at full speed
    reaches the partitions unevenly: an event more than the lateness limit behind its queue's
    newest is refused, as it would be live)."""
    started = time.perf_counter()
    first = last_change = None
    length = client.xlen(log_key())
    while length < sent:
        time.sleep(0.05)
        now = time.perf_counter()
        grown = client.xlen(log_key())
        if grown != length:
            first = first or now
            last_change, length = now, grown
        quiet = last_change is not None and now - last_change > 3
        if quiet and not producing() and all(_ready(w) for w in workers):
            break
        if now - started > timeout_s:
            raise TimeoutError(f"{length} of {sent} events in the log")
    return (last_change or time.perf_counter()) - (first or started), length


@dataclass(frozen=True)
class Site:
    """The run's Kafka, Redis and directory."""

    bootstrap: str
    redis_url: str
    work: Path
    checkpoint_every_s: int = 300

    def start(self, prefix: str, index: int, *, checkpoints: bool = True) -> WorkerProcess:
        every_s = self.checkpoint_every_s if checkpoints else 0
        return start_worker(self.bootstrap, self.redis_url, self.work,
                            instance_id=f"{prefix}-{index}", prefix=prefix,
                            log_name=f"{prefix}-{index}.log",
                            extra={"CCPULSE_READY_MAX_LAG": "0",  # ready: Kafka all read
                                   "CCPULSE_DATA_DIR": str(self.work / f"data-{prefix}"),
                                   "CCPULSE_CHECKPOINT_EVERY_S": str(every_s)})


WRITTEN = re.compile(r"replica_checkpoint_written .*entries=(\d+) mib=(\S+) seconds=(\S+)")
LOADED = re.compile(r"replica_checkpoint_loaded .*entries=(\d+) seconds=(\S+)")


def _checkpoint_of_the_log(worker: WorkerProcess, entries: int, timeout_s: float,
                           ) -> dict[str, float]:
    """Waits for the worker's checkpoint of at least ``entries`` log entries (the log as it
    stands; a worker whose replica applied nothing new writes none again, so it may be one
    written already): its size and how long the child took to write it."""
    deadline = time.monotonic() + timeout_s
    while not (found := [(mib, seconds) for held, mib, seconds
                         in WRITTEN.findall(worker.log.read_text()) if int(held) >= entries]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no checkpoint of {entries} log entries written by "
                               f"{worker.log.name} in {timeout_s} s")
        time.sleep(0.5)
    mib, seconds = found[-1]
    return {"checkpoint_mib": float(mib), "checkpoint_write_s": float(seconds)}


def _recovery(site: Site, started: list[WorkerProcess], held: list[bytes], prefix: str,
              ) -> dict[str, float]:
    """Kill -9 the last worker once it has a checkpoint of the whole log, produce ``held``
    while it is down, start it again under its instance id: seconds from its start until
    the log holds the backlog, and until it is ready (its replica has loaded the checkpoint
    and replayed the log after it, and it has read Kafka to the end)."""
    client = redis.Redis.from_url(site.redis_url)
    index = len(started) - 1
    before = client.xlen(log_key())
    checkpoint = _checkpoint_of_the_log(started[index], before,
                                        2 * site.checkpoint_every_s + 600)
    started[index].kill()
    send(site.bootstrap, held, prefix=prefix)
    logged = len(started[index].log.read_text())
    restarted = started[index] = site.start(prefix, index)
    begun = time.perf_counter()
    _wait_consumed(started, client, before + len(held), lambda: False)  # all sent already
    in_log = time.perf_counter() - begun
    _wait_ready([restarted], timeout_s=3600)
    ready = time.perf_counter() - begun
    loaded = LOADED.search(restarted.log.read_text()[logged:])
    # the same run's baseline: killed again and started with checkpoints off, it replays
    # the whole log (with no backlog in Kafka this time: a figure on the short side)
    restarted.kill()
    replaying = started[index] = site.start(prefix, index, checkpoints=False)
    begun = time.perf_counter()
    _wait_ready([replaying], timeout_s=3600)
    return {"backlog_events": len(held), "in_log_s": round(in_log, 1), "ready_s": round(ready, 1),
            "full_replay_ready_s": round(time.perf_counter() - begun, 1),
            **checkpoint, "resumed_from_checkpoint": loaded is not None,
            "checkpoint_entries": int(loaded.group(1)) if loaded else 0,
            "checkpoint_load_s": float(loaded.group(2)) if loaded else None}


def _run(site: Site, workers: int, day: list[bytes], held: list[bytes], *, rate: int,
         probe_s: int, scrapes: tuple[float, int]) -> dict[str, object]:
    """One run of ``workers``: ingest of ``day``, scrapes and memory, latency under ``rate``
    events/s, recovery of a killed worker with ``held`` produced while it was down."""
    prefix = f"scale{workers}"
    ensure_topics(site.bootstrap, list(topics(prefix)), partitions=PARTITIONS)
    started = [site.start(prefix, i) for i in range(workers)]
    try:
        _wait_settled(started)
        client = redis.Redis.from_url(site.redis_url)
        producer = threading.Thread(target=send, args=(site.bootstrap, day),
                                    kwargs={"prefix": prefix})
        producer.start()
        seconds, logged = _wait_consumed(started, client, len(day), producer.is_alive)
        producer.join()
        for worker in started:
            worker.wait_healthy(600)
        _wait_applied(started, client)
        since = [evaluation_totals(worker) for worker in started]
        measured = _measure(started, *scrapes)
        everyone = sorted(set().union(*(agents for _, agents in measured)))
        asked = everyone[:: max(1, len(everyone) // ANSWERS)][:ANSWERS]
        for (figures, _), worker in zip(measured, started, strict=True):
            figures.update(_answers(worker, asked))
        committed, latencies, kpi_latencies = latency(started, site.bootstrap, client, rate,
                                                      probe_s, prefix=prefix)
        stale = freshness(started, site.bootstrap, rate, scrapes[0], scrapes[1] * 2,
                          prefix=prefix)
        delays = [evaluation_delay(worker, before)
                  for worker, before in zip(started, since, strict=True)]
        recovery = _recovery(site, started, held, prefix)
        return {"events_per_s": logged / seconds, "in_log": logged, "measured": measured,
                "evaluation_delay": delays,
                "latency": {"rate_per_s": rate, "probes": len(latencies),
                            **percentiles("to_redis", committed),
                            **percentiles("to_metrics", latencies),
                            **percentiles("to_kpis", kpi_latencies),
                            # as Prometheus gets it: freshness()
                            "scrapes_at_rhythm": len(stale.states),
                            **percentiles("stale_at_scrape", stale.states),
                            "scrapes_at_rhythm_with_kpis": len(stale.kpis),
                            **percentiles("kpis_stale_at_scrape", stale.kpis)},
                "recovery": recovery}
    finally:
        for worker in started:
            worker.kill()


def bench_scale(agents: int, hours: float, workers: int = 4, rate: int | None = None,
                ) -> dict[str, object]:
    """``rate``: background events/s while latency is probed (:func:`probe_plan`); the
    recovery backlog is an eighth of the day, at most a minute of the issue's 50,000-agent
    peak (300,000 events)."""
    rate, probe_s = probe_plan(agents, hours, rate)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "kafka").mkdir()
        (work / "redis").mkdir()
        broker = start_kafka(work / "kafka")
        store = start_redis(work / "redis")
        try:
            whole = backlog(agents, hours)
            # recovery is measured from a checkpoint written after the backlog: the default
            # interval, or every 5 s on small floors (CI's short run waits no minutes for it)
            site = Site(f"127.0.0.1:{broker.port}", f"redis://127.0.0.1:{store.port}/0", work,
                        checkpoint_every_s=5 if len(whole) < 100_000 else 300)
            size = min(300_000, len(whole) // 8)
            day, held = whole[:-size], whole[-size:]
            # scrapes at Prometheus' default interval, two reported after those that tell
            # it; CI's short run waits seconds, not minutes
            scrapes = (2.1, 1) if len(whole) < 100_000 else (15.0, 2)
            one = _run(site, 1, day, held, rate=rate, probe_s=probe_s, scrapes=scrapes)
            redis.Redis.from_url(site.redis_url).flushdb()  # its log and its Kafka offsets
            many = _run(site, workers, day, held, rate=rate, probe_s=probe_s, scrapes=scrapes)
        finally:
            broker.stop()
            store.stop()
    [(first, one_agents)] = one.pop("measured")  # type: ignore[misc]
    measured = many.pop("measured")
    each = [figures for figures, _ in measured]  # type: ignore[attr-defined]
    shares = [found for _, found in measured]  # type: ignore[attr-defined]
    one_rate, many_rate = float(one.pop("events_per_s")), float(many.pop("events_per_s"))
    followers = [float(w["scrape_s"]) for w in each if not w["exports_floor"]]
    return {"events": len(day), "partitions": PARTITIONS, "workers": workers,
            "one_worker": {"events_per_s": round(one_rate), **first, **one},
            "n_workers": {"events_per_s": round(many_rate), "each": each, **many},
            "ingest_n_vs_one": round(many_rate / one_rate, 2),
            "slowest_scrape_n_vs_one": round(
                max(float(w["scrape_s"]) for w in each) / float(first["scrape_s"]), 2),
            "slowest_follower_scrape_n_vs_one": round(
                max(followers or [0.0]) / float(first["scrape_s"]), 2),
            # the floor's agents, each exported by exactly one of the N workers
            "agents_split_exactly": set().union(*shares) == one_agents
            and sum(map(len, shares)) == len(one_agents)}
